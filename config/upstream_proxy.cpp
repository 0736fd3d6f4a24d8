#include "config/upstream_proxy.hpp"

#include <algorithm>
#include <cctype>

#include <boost/algorithm/string/predicate.hpp>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace wcp::config {

namespace {

upstream_proxy_url_result refuse(std::string why) { return {std::nullopt, std::move(why)}; }

bool valid_hostname(std::string_view h) {
  return !h.empty() && std::all_of(h.begin(), h.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == '_';
  });
}

}  // namespace

upstream_proxy_url_result parse_upstream_proxy_url(std::string_view text) {
  constexpr std::string_view form = "http://HOST:PORT";
  if (boost::algorithm::istarts_with(text, "https://"))
    return refuse("is an https:// proxy, which is not supported: give the proxy's http:// address "
                  "(" + std::string(form) + "); the tunnel to Webex through it is TLS end to end");
  if (!boost::algorithm::istarts_with(text, "http://"))
    return refuse("is not an " + std::string(form) + " URL");
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return refuse("is not an " + std::string(form) + " URL");
  const boost::urls::url_view u = *parsed;
  // Boost.URL 1.81 reads "http://host:31x8" as port 31 and path "x8".
  if (const auto path = u.encoded_path(); !path.empty() && path.front() != '/')
    return refuse("is not an " + std::string(form) + " URL");
  // Before anything else: the message must not send the user to the URL's other parts first.
  if (u.has_userinfo())
    return refuse("has credentials in the URL: put user:password in a file and name it with "
                  "--upstream-proxy-credentials-file");
  if (u.has_query() || u.has_fragment()) return refuse("must not have a query or fragment");
  if (const auto path = u.encoded_path(); !path.empty() && path != "/")
    return refuse("must not have a path (" + std::string(form) + ")");

  upstream_proxy_url out;
  if (u.encoded_host().empty()) return refuse("has no host (" + std::string(form) + ")");
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6: out.host = u.host_address(); break;
    case boost::urls::host_type::name:
      if (!valid_hostname(u.encoded_host())) return refuse("has a bad host name");
      out.host = u.encoded_host();
      break;
    default: return refuse("has no host (" + std::string(form) + ")");
  }
  if (!u.has_port() || u.port().empty())
    return refuse("has no port: write " + std::string(form) +
                  " (proxies listen on no standard port; 3128 and 8080 are common)");
  const auto port = u.port();
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return refuse("has a bad port (1-65535)");
  const unsigned long n = std::stoul(std::string(port));
  if (n < 1 || n > 65535) return refuse("has a bad port (1-65535)");
  out.port = static_cast<std::uint16_t>(n);
  return {std::move(out), {}};
}

std::string check_proxy_credentials(std::string_view line) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return "does not hold user:password (no ':' on its first line)";
  if (colon == 0) return "has an empty user name before ':' (user:password)";
  const bool control = std::any_of(line.begin(), line.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
  if (control) return "has a control character on its first line (user:password)";
  return {};
}

}  // namespace wcp::config
