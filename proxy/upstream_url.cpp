#include "proxy/upstream_url.hpp"

#include <charconv>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace wcp::proxy {

std::optional<upstream_url> parse_upstream_url(std::string_view text) {
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) return std::nullopt;
  const auto& u = *parsed;
  upstream_url out;
  if (u.scheme() == "https") {
    out.tls = true;
    out.port = 443;
  } else if (u.scheme() == "http") {
    out.tls = false;
    out.port = 80;
  } else {
    return std::nullopt;
  }
  if (!u.has_authority() || u.encoded_host().empty()) return std::nullopt;
  out.host = u.host_address();  // IPv6 without brackets
  if (u.has_port()) {
    unsigned p = 0;
    auto ps = u.port();
    auto [ptr, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), p);
    if (ec != std::errc() || ptr != ps.data() + ps.size() || p == 0 || p > 65535)
      return std::nullopt;
    out.port = static_cast<std::uint16_t>(p);
  }
  std::string path = std::string(u.encoded_path());
  while (!path.empty() && path.back() == '/') path.pop_back();
  out.base_path = path;
  std::string host = std::string(u.encoded_host_and_port());
  out.host_header = host;
  const bool default_port = (out.tls && out.port == 443) || (!out.tls && out.port == 80);
  if (default_port) out.host_header = std::string(u.encoded_host());
  return out;
}

}  // namespace wcp::proxy
