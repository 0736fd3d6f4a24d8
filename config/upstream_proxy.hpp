// The --upstream-proxy URL grammar and the proxy credentials file: the one parser that
// --check-config, start-up and reload all use.
//
//   http://HOST:PORT[/]    HOST a name, IPv4 or [IPv6]; PORT 1-65535 and required (proxies
//                          listen on no standard port)
//
// The scheme is case-insensitive. Refused: https:// (a TLS connection to the proxy itself; the
// tunnel to Webex is TLS end to end either way), credentials in the URL (they belong in the
// --upstream-proxy-credentials-file), a path, a query or a fragment.
//
// Pure: no I/O. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wcp::config {

struct upstream_proxy_url {
  std::string host;  // name or address, without brackets
  std::uint16_t port = 0;
};

struct upstream_proxy_url_result {
  std::optional<upstream_proxy_url> url;
  std::string error;  // why not, when url is empty: "has no port ...", ... (never echoes a secret)
};

upstream_proxy_url_result parse_upstream_proxy_url(std::string_view text);

// Whether `line` (the first line of the credentials file) is `user:password`: a non-empty user
// without ':', then ':', then the password; no control characters. The reason when not, else "".
// The reason never quotes the line.
std::string check_proxy_credentials(std::string_view line);

}  // namespace wcp::config
