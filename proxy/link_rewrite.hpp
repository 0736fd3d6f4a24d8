// Pages stay on the proxy: Webex answers a paged list with absolute `Link` URLs on its own origin
// (`<https://webexapis.com/v1/...?start=2&max=2>; rel="next"`), which would take a client past
// the proxy from page 2 on. Every answer relayed to a client has those URLs moved to the origin
// the client used (its Host header and the listener's scheme), or to `--public-url` when set
// (a proxy behind a load balancer). Nothing else in the header changes; URLs on other origins, or
// outside the upstream's base path, are left alone. Pure: no I/O, unit-tested and fuzzed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wcp::proxy {

class link_rewriter {
 public:
  // The upstream as --upstream names it (host without brackets, base path "" or "/prefix"), and
  // --public-url ("" when not set; any trailing '/' is dropped).
  link_rewriter(bool upstream_tls, std::string upstream_host, std::uint16_t upstream_port,
                std::string upstream_base_path, std::string public_url);

  // Where one request's links go: --public-url when set, else "http[s]://<Host>" when the Host
  // header is a plain host[:port]; nullopt (links left alone) without a usable Host.
  std::optional<std::string> destination(bool client_tls, std::string_view host_header) const;

  // One Link field value with every URI reference on the upstream's origin (and under its base
  // path) moved to `destination`: scheme, host, port and base path replaced, the rest kept.
  // Returns the value unchanged when nothing matched, or when the value does not parse.
  std::string rewrite(std::string_view value, std::string_view destination) const;

  // Whether `uri` is on the upstream's origin and under its base path; if so, `rest` is what
  // follows the base path ("/v1/...?start=2").
  bool on_upstream(std::string_view uri, std::string_view& rest) const;

 private:
  bool tls_;
  std::string host_;  // lower case
  std::uint16_t port_;
  std::string base_path_;
  std::string public_url_;
};

// A Host header value that names a host and optional port and nothing else: a DNS name or IPv4
// address, or an IPv6 address in brackets; port 1-65535.
bool is_plain_host(std::string_view host);

}  // namespace wcp::proxy
