#include "proxy/link_rewrite.hpp"

#include <cctype>
#include <charconv>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace wcp::proxy {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

// A port as written in an authority: 1-65535 (Boost.URL's port_number() wraps larger values).
bool valid_port(std::string_view p) {
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  return ec == std::errc() && end == p.data() + p.size() && v >= 1 && v <= 65535;
}

}  // namespace

bool is_plain_host(std::string_view host) {
  if (host.size() > 255) return false;
  const auto a = boost::urls::parse_authority(host);
  return a && !a->has_userinfo() && !a->encoded_host().empty() &&
         (!a->has_port() || valid_port(a->port()));
}

link_rewriter::link_rewriter(bool upstream_tls, std::string upstream_host,
                             std::uint16_t upstream_port, std::string upstream_base_path,
                             std::string public_url)
    : tls_(upstream_tls),
      host_(lower(upstream_host)),
      port_(upstream_port),
      base_path_(std::move(upstream_base_path)),
      public_url_(std::move(public_url)) {
  while (!public_url_.empty() && public_url_.back() == '/') public_url_.pop_back();
}

std::optional<std::string> link_rewriter::destination(bool client_tls,
                                                      std::string_view host_header) const {
  if (!public_url_.empty()) return public_url_;
  if (!is_plain_host(host_header)) return std::nullopt;
  return std::string(client_tls ? "https://" : "http://") + lower(host_header);
}

bool link_rewriter::on_upstream(std::string_view uri, std::string_view& rest) const {
  const auto parsed = boost::urls::parse_uri(uri);
  if (!parsed) return false;
  const boost::urls::url_view u = *parsed;
  if (u.scheme_id() != (tls_ ? boost::urls::scheme::https : boost::urls::scheme::http)) return false;
  if (u.has_userinfo() || lower(u.encoded_host_address()) != host_) return false;
  if (u.has_port() ? !valid_port(u.port()) || u.port_number() != port_ : port_ != (tls_ ? 443 : 80))
    return false;
  // What follows the authority, as written: path, query, fragment.
  std::string_view path = uri.substr(uri.size() - u.encoded_resource().size());
  if (!base_path_.empty()) {
    if (!path.starts_with(base_path_)) return false;
    const auto after = path.substr(base_path_.size());
    if (!after.empty() && after.front() != '/' && after.front() != '?' && after.front() != '#')
      return false;
    path = after;
  }
  rest = path;
  return true;
}

std::string link_rewriter::rewrite(std::string_view value, std::string_view destination) const {
  // link-value = "<" URI-Reference ">" *( ";" link-param ), comma-separated (RFC 8288). The URI
  // is everything between '<' and '>'; parameters may hold quoted strings with either in them.
  std::string out;
  out.reserve(value.size() + 64);
  bool changed = false;
  bool quoted = false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char ch = value[i];
    if (quoted) {
      out.push_back(ch);
      if (ch == '\\' && i + 1 < value.size()) {
        out.push_back(value[++i]);
      } else if (ch == '"') {
        quoted = false;
      }
      continue;
    }
    if (ch == '"') {
      quoted = true;
      out.push_back(ch);
      continue;
    }
    if (ch != '<') {
      out.push_back(ch);
      continue;
    }
    const auto close = value.find('>', i + 1);
    if (close == std::string_view::npos) return std::string(value);  // not a Link value: as is
    const std::string_view uri = value.substr(i + 1, close - i - 1);
    std::string_view rest;
    out.push_back('<');
    if (on_upstream(uri, rest)) {
      out.append(destination).append(rest);
      changed = true;
    } else {
      out.append(uri);
    }
    out.push_back('>');
    i = close;
  }
  if (quoted || !changed) return std::string(value);
  return out;
}

}  // namespace wcp::proxy
