#include "cache/invalidation.hpp"

#include <vector>

namespace wcp::cache {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return out;
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool is_origin(std::string_view s) { return !s.empty() && s.size() <= 64 && is_valid_id(s); }

}  // namespace

std::string encode(const invalidation& m) {
  std::string out = "v1|" + m.origin + "|";
  switch (m.what) {
    case invalidation::kind::resource:
      out += "r|" + std::string(to_string(m.resource.kind)) + "|" + m.resource.location + "|" +
             m.resource.id;
      break;
    case invalidation::kind::location: out += "l|" + m.location; break;
    case invalidation::kind::token: out += "t|" + m.token_hex; break;
    case invalidation::kind::scope:
      out += "s|" + m.token_hex + "|" + m.scope.org + "|" + m.scope.location + "|" + m.scope.kind;
      break;
    case invalidation::kind::everything: out += "a"; break;
    case invalidation::kind::block:
      out += std::string("b|") + (m.blocked == backoff_kind::token ? "t" : "r") + "|" +
             m.token_hex + "|" + std::to_string(m.until_ms);
      break;
  }
  return out;
}

std::optional<invalidation> decode(std::string_view text) {
  if (text.size() > 4096) return std::nullopt;
  auto f = split(text, '|');
  if (f.size() < 3 || f[0] != "v1" || !is_origin(f[1])) return std::nullopt;
  invalidation m;
  m.origin = std::string(f[1]);
  const auto type = f[2];
  if (type == "r" && f.size() == 6) {
    const auto kind = kind_named(f[3]);
    if (!kind || !is_valid_id(f[4]) || !is_resource_name(f[5])) return std::nullopt;
    m.what = invalidation::kind::resource;
    m.resource = resource_key::of(*kind, f[4], std::string(f[5]));
  } else if (type == "l" && f.size() == 4 && is_valid_id(f[3])) {
    m.what = invalidation::kind::location;
    m.location = std::string(normalise_id(f[3]));
  } else if (type == "t" && f.size() == 4 && is_hex64(f[3])) {
    m.what = invalidation::kind::token;
    m.token_hex = std::string(f[3]);
  } else if (type == "s" && f.size() == 7 && is_hex64(f[3]) && (f[4].empty() || is_valid_id(f[4])) &&
             is_valid_id(f[5]) && is_grant_kind(f[6])) {
    m.what = invalidation::kind::scope;
    m.token_hex = std::string(f[3]);
    m.scope = {std::string(normalise_id(f[4])), std::string(normalise_id(f[5])), std::string(f[6])};
  } else if (type == "a" && f.size() == 3) {
    m.what = invalidation::kind::everything;
  } else if (type == "b" && f.size() == 6 && (f[3] == "t" || f[3] == "r") && is_hex64(f[4]) &&
             !f[5].empty() && f[5].size() <= 15 &&
             f[5].find_first_not_of("0123456789") == std::string_view::npos) {
    m.what = invalidation::kind::block;
    m.blocked = f[3] == "t" ? backoff_kind::token : backoff_kind::resource;
    m.token_hex = std::string(f[4]);
    m.until_ms = std::stoll(std::string(f[5]));
  } else {
    return std::nullopt;
  }
  return m;
}

}  // namespace wcp::cache
