# The Debian package: `cpack -G DEB` in the build directory, or `cmake --build <dir> --target
# package`. It installs under /usr whatever CMAKE_INSTALL_PREFIX the build was configured with
# (CI configures the default, /usr/local), so it does not reuse the plain install's unit and
# config rules. It takes the binary (install component `daemon`) and adds its own files
# (component `deb`, EXCLUDE_FROM_ALL: a plain `cmake --install` never installs them):
# - the unit, configured a second time so that it names /usr/bin, in /lib/systemd/system
#   (where Debian 12 packages put units);
# - /etc/webex-cache-proxy/webex-cache-proxy.conf and /etc/default/webex-cache-proxy as
#   conffiles: dpkg keeps an operator's edits across upgrades and reinstalls, which is what
#   the plain install's never-overwrite logic does for `cmake --install`;
# - the copyright file and changelog.Debian.gz that Debian policy asks of every package.
# Maintainer scripts, conffiles list and copyright are in cmake/deb/.

set(WCP_DEB_MAINTAINER "webex-cache-proxy maintainers <webex-cache-proxy@example.com>"
    CACHE STRING "Maintainer field of the Debian package: the team that answers for it")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME webex-cache-proxy)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Only these two components: the plain install's unit and config rules stay out.
set(CPACK_INSTALL_CMAKE_PROJECTS
    ${CMAKE_BINARY_DIR} ${PROJECT_NAME} daemon /
    ${CMAKE_BINARY_DIR} ${PROJECT_NAME} deb /)
set(CPACK_STRIP_FILES ON)
# `package_source` (made by include(CPack) too) leaves out git and the build directories.
set(CPACK_SOURCE_IGNORE_FILES "/[.]git/" "/build[^/]*/")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "caching proxy for the Webex Calling configuration API")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION [=[
A read-through cache in front of https://webexapis.com for internal services.
It answers call park and paging group reads from memory or a shared Redis,
forwards everything else with the caller's token, drops cached entries when a
write through it changes them, serves a cached body only to a token Webex has
shown may read it, and keeps the organisation inside Webex's rate limits.
Metrics, health and purges are on a separate listener.
The service is enabled on install but not started: edit
/etc/webex-cache-proxy/webex-cache-proxy.conf, then start it.]=])
set(CPACK_DEBIAN_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # webex-cache-proxy_<version>-<release>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${WCP_DEB_MAINTAINER})
# Depends: computed by dpkg-shlibdeps (dpkg-dev) from the libraries the binary links.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The default upstream is HTTPS, verified against the system trust store.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS ca-certificates)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS redis-server)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/cmake/deb/conffiles
    ${PROJECT_SOURCE_DIR}/cmake/deb/postinst
    ${PROJECT_SOURCE_DIR}/cmake/deb/prerm
    ${PROJECT_SOURCE_DIR}/cmake/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(wcp_deb_dir ${CMAKE_CURRENT_BINARY_DIR}/deb)

# The packaged unit names the binary where the package puts it, not where this build's prefix
# would: the same template, with the packaging prefix's bindir.
function(wcp_configure_deb_unit)
  set(CMAKE_INSTALL_FULL_BINDIR ${CPACK_PACKAGING_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR})
  configure_file(${PROJECT_SOURCE_DIR}/systemd/webex-cache-proxy.service.in
                 ${wcp_deb_dir}/webex-cache-proxy.service @ONLY)
endfunction()
wcp_configure_deb_unit()

# The changelog's date honours SOURCE_DATE_EPOCH, for reproducible packages.
string(TIMESTAMP wcp_deb_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
configure_file(${PROJECT_SOURCE_DIR}/cmake/deb/changelog.in ${wcp_deb_dir}/changelog.Debian @ONLY)
execute_process(COMMAND gzip -9 -n -c ${wcp_deb_dir}/changelog.Debian
                OUTPUT_FILE ${wcp_deb_dir}/changelog.Debian.gz
                COMMAND_ERROR_IS_FATAL ANY)

install(FILES ${wcp_deb_dir}/webex-cache-proxy.service
        DESTINATION /lib/systemd/system COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/webex-cache-proxy.conf
        DESTINATION /etc/webex-cache-proxy COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/webex-cache-proxy.default
        DESTINATION /etc/default RENAME webex-cache-proxy COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/cmake/deb/copyright ${wcp_deb_dir}/changelog.Debian.gz
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT deb EXCLUDE_FROM_ALL)

include(CPack)
