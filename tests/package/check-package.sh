#!/usr/bin/env bash
# Builds the Debian package from a build directory with `cpack -G DEB` (in a scratch directory)
# and checks it: the files and where they go, the computed Depends, the conffiles, the unit's
# ExecStart, that the packaged binary runs, and - when lintian is installed - no lintian error.
#   tests/package/check-package.sh BUILD_DIR
set -euo pipefail

build=${1:?usage: $0 BUILD_DIR}
build=$(cd "$build" && pwd)
for tool in cpack dpkg-deb dpkg-shlibdeps file; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not found (.ci/install-deps installs it)"; exit 1; }
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/wcp-package.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

(cd "$scratch" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$scratch/out") >"$scratch/cpack.log" 2>&1 ||
  { cat "$scratch/cpack.log"; echo "FAIL: cpack -G DEB"; exit 1; }
debs=("$scratch"/out/webex-cache-proxy_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || { cat "$scratch/cpack.log"; echo "FAIL: no single webex-cache-proxy_*.deb"; exit 1; }
deb=${debs[0]}
echo "package: $(basename "$deb")"

# Contents: exactly these files (nothing of the plain install, no test binaries).
dpkg-deb -c "$deb" >"$scratch/contents"
cat "$scratch/contents"
awk '$1 !~ /^d/ { print $6 }' "$scratch/contents" | sort >"$scratch/files"
sort >"$scratch/expected" <<'EOF'
./etc/default/webex-cache-proxy
./etc/webex-cache-proxy/webex-cache-proxy.conf
./lib/systemd/system/webex-cache-proxy.service
./usr/bin/webex-cache-proxy
./usr/share/doc/webex-cache-proxy/changelog.Debian.gz
./usr/share/doc/webex-cache-proxy/copyright
EOF
diff -u "$scratch/expected" "$scratch/files" || fail "the package's files are not the expected ones"

# Control: a computed Depends naming the libraries the daemon links, both /etc files conffiles.
dpkg-deb -I "$deb" >"$scratch/info"
cat "$scratch/info"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libhiredis libssl3 libboost-program-options libboost-url libsystemd0; do
  [[ "$depends" == *"$lib"* ]] || fail "Depends does not name $lib: $depends"
done
[ "$(dpkg-deb -f "$deb" Package)" = webex-cache-proxy ] || fail "Package is not webex-cache-proxy"
[ "$(dpkg-deb -f "$deb" Section)" = net ] || fail "Section is not net"
dpkg-deb -e "$deb" "$scratch/control"
for conf in /etc/webex-cache-proxy/webex-cache-proxy.conf /etc/default/webex-cache-proxy; do
  grep -qx "$conf" "$scratch/control/conffiles" 2>/dev/null || fail "$conf is not a conffile"
done
for script in postinst prerm postrm; do
  [ -x "$scratch/control/$script" ] || fail "no executable $script"
done

# The packaged unit runs the packaged binary, whatever prefix the build was configured with.
dpkg-deb -x "$deb" "$scratch/root"
unit="$scratch/root/lib/systemd/system/webex-cache-proxy.service"
grep -qE '^ExecStart=/usr/bin/webex-cache-proxy( |$)' "$unit" ||
  fail "the unit's ExecStart is not /usr/bin/webex-cache-proxy: $(grep '^ExecStart=' "$unit")"
! grep -q /usr/local "$unit" || fail "the packaged unit names /usr/local"
version=$("$scratch/root/usr/bin/webex-cache-proxy" --version) || fail "the packaged binary does not run"
echo "packaged binary: $version"

if command -v lintian >/dev/null; then
  lintian "$deb" >"$scratch/lintian" 2>&1 || true
  cat "$scratch/lintian"
  ! grep -q '^E:' "$scratch/lintian" || fail "lintian reports errors"
else
  echo "lintian not installed: skipped"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "package OK"
