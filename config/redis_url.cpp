#include "config/redis_url.hpp"

#include <algorithm>
#include <cctype>

#include <boost/algorithm/string/predicate.hpp>

namespace wcp::config {

namespace {

std::optional<unsigned> parse_number(std::string_view s, unsigned max) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(ch - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

int hex_value(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool valid_hostname(std::string_view h) {
  return !h.empty() && std::all_of(h.begin(), h.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == '_';
  });
}

bool valid_ipv6_literal(std::string_view h) {
  return h.find(':') != std::string_view::npos && std::all_of(h.begin(), h.end(), [](char ch) {
           return std::isxdigit(static_cast<unsigned char>(ch)) || ch == ':' || ch == '.';
         });
}

redis_url_result refuse(std::string why) { return {std::nullopt, std::move(why)}; }

redis_url_result parse_unix(std::string_view url) {
  redis_url o;
  std::string_view path = url.substr(7);
  std::optional<std::string_view> query;
  if (auto q = path.find('?'); q != std::string_view::npos) {
    query = path.substr(q + 1);
    path = path.substr(0, q);
  }
  if (path.size() < 2 || path.front() != '/' || path.back() == '/')
    return refuse("has no socket path (unix:///path/to/socket)");
  if (query) {
    if (!query->starts_with("db=")) return refuse("takes only ?db=N after the socket path");
    auto db = parse_number(query->substr(3), 15);
    if (!db) return refuse("has a bad database number (0-15)");
    o.db = static_cast<int>(*db);
  }
  o.unix_path = std::string(path);
  return {std::move(o), {}};
}

// user[:password] before '@', percent-decoded, into `o`; an error text when malformed.
std::string parse_userinfo(std::string_view userinfo, redis_url& o) {
  const auto colon = userinfo.find(':');
  auto user = percent_decode(userinfo.substr(0, colon));
  if (!user) return "has a bad %-escape in the user name";
  o.username = std::move(*user);
  if (colon != std::string_view::npos) {
    auto password = percent_decode(userinfo.substr(colon + 1));
    if (!password) return "has a bad %-escape in the password";
    o.password = std::move(*password);
    o.has_password = true;
  }
  if (o.username.empty() && !o.has_password) return "has an empty user name before '@'";
  if (!o.username.empty() && o.has_password && o.password.empty())
    return "has a user name and an empty password";
  return {};
}

// host[:port] (host a name, IPv4 or [IPv6]); the port stays as given when absent.
std::string parse_host_port(std::string_view authority, std::string& host_out,
                            std::uint16_t& port_out) {
  std::string_view host, port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return "has no closing ']' after an IPv6 address";
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "has something but :port after the IPv6 address";
      port = after.substr(1);
      has_port = true;
    }
    if (!valid_ipv6_literal(host)) return "has a bad IPv6 address";
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
    if (host.empty()) return "has no host";
    if (!valid_hostname(host)) return "has a bad host name";
  }
  if (has_port) {
    auto p = parse_number(port, 65535);
    if (!p || *p == 0) return "has a bad port (1-65535)";
    port_out = static_cast<std::uint16_t>(*p);
  }
  host_out = std::string(host);
  return {};
}

bool valid_master_name(std::string_view name) {
  return !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == '_';
  });
}

// redis+sentinel://[[user]:password@]host1[:port1],host2[:port2],.../MASTER_NAME[/db]
redis_url_result parse_sentinel(std::string_view rest) {
  redis_url o;
  if (rest.find_first_of("?# \t\r\n") != std::string_view::npos)
    return refuse("has a query, a fragment or a space (write redis+sentinel://host1:port1,host2:port2/MASTER_NAME[/db])");
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos)
    return refuse("has no master name (redis+sentinel://host1:port1,host2:port2/MASTER_NAME[/db])");
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = rest.substr(slash + 1);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    if (auto why = parse_userinfo(authority.substr(0, at), o); !why.empty()) return refuse(why);
    authority = authority.substr(at + 1);
  }
  if (authority.empty()) return refuse("names no sentinel");
  for (;;) {
    const auto comma = authority.find(',');
    redis_url::sentinel_address s;
    if (auto why = parse_host_port(authority.substr(0, comma), s.host, s.port); !why.empty())
      return refuse("sentinel " + std::to_string(o.sentinels.size() + 1) + " " + why);
    const bool seen = std::any_of(o.sentinels.begin(), o.sentinels.end(), [&](const auto& x) {
      return x.host == s.host && x.port == s.port;
    });
    if (seen) return refuse("names the sentinel " + s.host + ":" + std::to_string(s.port) + " twice");
    o.sentinels.push_back(std::move(s));
    if (comma == std::string_view::npos) break;
    authority = authority.substr(comma + 1);
  }
  if (o.sentinels.size() > 16) return refuse("names more than 16 sentinels");
  const auto db_slash = path.find('/');
  const std::string_view name = path.substr(0, db_slash);
  if (!valid_master_name(name))
    return refuse("has a bad master name (1-128 characters of [A-Za-z0-9_.-])");
  o.master_name = std::string(name);
  if (db_slash != std::string_view::npos && db_slash + 1 < path.size()) {
    auto db = parse_number(path.substr(db_slash + 1), 15);
    if (!db) return refuse("has a bad database number (0-15)");
    o.db = static_cast<int>(*db);
  }
  return {std::move(o), {}};
}

}  // namespace

redis_url_result parse_redis_url(std::string_view url) {
  if (boost::algorithm::istarts_with(url, "rediss://"))
    return refuse("asks for TLS to Redis (rediss://), which this build does not support");
  if (boost::algorithm::istarts_with(url, "unix://")) return parse_unix(url);
  if (boost::algorithm::istarts_with(url, "redis+sentinel://")) return parse_sentinel(url.substr(17));
  if (!boost::algorithm::istarts_with(url, "redis://"))
    return refuse("is not none, redis://[[user]:password@]host[:port][/db], "
                  "redis+sentinel://[[user]:password@]host1:port1,host2:port2/MASTER_NAME[/db] "
                  "or unix:///path[?db=N]");

  redis_url o;
  std::string_view rest = url.substr(8);
  if (rest.find_first_of("?# \t\r\n") != std::string_view::npos)
    return refuse("has a query, a fragment or a space (write redis://host[:port][/db])");
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);

  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    if (auto why = parse_userinfo(authority.substr(0, at), o); !why.empty()) return refuse(why);
    authority = authority.substr(at + 1);
  }
  if (auto why = parse_host_port(authority, o.host, o.port); !why.empty()) return refuse(why);
  if (!path.empty()) {
    auto db = parse_number(path, 15);
    if (!db) return refuse("has a bad database number (0-15)");
    o.db = static_cast<int>(*db);
  }
  return {std::move(o), {}};
}

}  // namespace wcp::config
