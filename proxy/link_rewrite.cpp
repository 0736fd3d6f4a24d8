#include "proxy/link_rewrite.hpp"

#include <algorithm>
#include <cctype>

#include <boost/algorithm/string/predicate.hpp>

namespace wcp::proxy {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(ch - '0');
  }
  if (v == 0 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

// "host[:port]" or "[v6][:port]" into host (without brackets) and port (nullopt: none given).
// False when malformed.
bool split_authority(std::string_view a, std::string_view& host, std::optional<std::uint16_t>& port) {
  port.reset();
  if (a.empty()) return false;
  std::string_view port_text;
  bool has_port = false;
  if (a.front() == '[') {
    const auto close = a.find(']');
    if (close == std::string_view::npos || close < 2) return false;
    host = a.substr(1, close - 1);
    const auto after = a.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port_text = after.substr(1);
      has_port = true;
    }
    if (!std::all_of(host.begin(), host.end(), [](char ch) {
          return std::isxdigit(static_cast<unsigned char>(ch)) || ch == ':' || ch == '.';
        }))
      return false;
  } else {
    const auto colon = a.find(':');
    host = a.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = a.substr(colon + 1);
      has_port = true;
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.';
        }))
      return false;
  }
  if (has_port) {
    port = parse_port(port_text);
    if (!port) return false;
  }
  return true;
}

}  // namespace

bool is_plain_host(std::string_view host) {
  if (host.size() > 255) return false;
  std::string_view h;
  std::optional<std::uint16_t> p;
  return split_authority(host, h, p);
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
  const std::string_view scheme = tls_ ? "https://" : "http://";
  if (!boost::algorithm::istarts_with(uri, scheme)) return false;
  uri.remove_prefix(scheme.size());
  const auto end = uri.find_first_of("/?#");
  std::string_view host;
  std::optional<std::uint16_t> port;
  if (!split_authority(uri.substr(0, end), host, port)) return false;
  if (lower(host) != host_ || port.value_or(tls_ ? 443 : 80) != port_) return false;
  std::string_view path = end == std::string_view::npos ? std::string_view() : uri.substr(end);
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
