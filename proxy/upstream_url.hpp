// The upstream base URL, split into what the connection pool needs. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wcp::proxy {

struct upstream_url {
  bool tls = true;
  std::string host;       // name or address, without brackets
  std::uint16_t port = 443;
  std::string base_path;  // "" or "/prefix" without a trailing '/'
  std::string host_header;  // "host" or "host:port" when the port is not the scheme's default
};

// nullopt for anything but an absolute http:// or https:// URL with a host.
std::optional<upstream_url> parse_upstream_url(std::string_view url);

}  // namespace wcp::proxy
