#include "proxy/router.hpp"

#include <array>
#include <algorithm>
#include <forward_list>
#include <span>
#include <vector>

#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url_view.hpp>

namespace wcp::proxy {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a == b) return true;  // the usual case, at memcmp's speed
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

route invalid(std::string error) {
  route r;
  r.kind = route_kind::invalid;
  r.error_status = 400;
  r.error = std::move(error);
  return r;
}

// The longest path the router looks at: /v1/telephony/config/locations/{L} and five more.
constexpr std::size_t max_path_segments = 10;

// One query parameter, decoded.
struct query_param {
  std::string_view key, value;
  bool has_value = false;
};

// A target split into (the first max_path_segments) path segments and query parameters, all
// decoded; `count` counts every segment. Views into the target or into `decoded`.
struct split_target {
  std::array<std::string_view, max_path_segments> segments;
  std::size_t count = 0;
  std::string_view path;  // as sent
  bool dot_segment = false;  // a segment is "." or ".." (decoded)
  std::vector<query_param> params;
  std::forward_list<std::string> decoded;  // elements never move once added
};

// Characters that need no decoding and mean the same to every URL parser: unreserved, '/', and
// one '?' with '&' and '=' in the query.
// As a table of classes (the split looks at every character of every target): plain in the
// path and the query, plain in the query only ('&' and '='), the '?' that starts the query.
enum char_class : unsigned char { not_plain, plain_anywhere, plain_in_query, query_mark };
constexpr std::array<char_class, 256> plain_chars = [] {
  std::array<char_class, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = plain_anywhere;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = plain_anywhere;
  for (int c = '0'; c <= '9'; ++c) t[c] = plain_anywhere;
  for (char c : std::string_view("-._~/")) t[static_cast<unsigned char>(c)] = plain_anywhere;
  t['&'] = t['='] = plain_in_query;
  t['?'] = query_mark;
  return t;
}();
char_class class_of(char c) { return plain_chars[static_cast<unsigned char>(c)]; }

// The common case, without a URL parser: a target of plain characters only, whose query (if any)
// has no empty parameter. Returns false for anything else, which the URL library parses.
bool split_plain(std::string_view target, split_target& out) {
  if (target.empty() || target.front() != '/') return false;
  // One pass: every character plain, at most one '?', and no '&' or '=' before it.
  std::size_t i = 0;
  while (i < target.size() && class_of(target[i]) == plain_anywhere) ++i;
  std::size_t question = std::string_view::npos;
  if (i < target.size()) {
    if (class_of(target[i]) != query_mark) return false;
    question = i++;
    while (i < target.size() && class_of(target[i]) != not_plain && class_of(target[i]) != query_mark)
      ++i;
    if (i < target.size()) return false;
  }
  out.path = target.substr(0, question);
  if (out.path.size() > 1) {
    std::string_view rest = out.path.substr(1);
    for (;;) {
      const auto slash = rest.find('/');
      const auto seg = rest.substr(0, slash);
      if (seg == "." || seg == "..") out.dot_segment = true;
      if (out.count < out.segments.size()) out.segments[out.count] = seg;
      ++out.count;
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
  }
  if (question == std::string_view::npos) return true;
  std::string_view query = target.substr(question + 1);
  if (query.empty()) return false;
  for (;;) {
    const auto amp = query.find('&');
    const auto piece = query.substr(0, amp);
    if (piece.empty()) return false;
    const auto eq = piece.find('=');
    query_param p;
    p.key = piece.substr(0, eq);
    if (eq != std::string_view::npos) {
      p.value = piece.substr(eq + 1);
      p.has_value = true;
    }
    out.params.push_back(p);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return true;
}

// Everything else, through the URL library. False: not a valid origin-form target.
bool split_with_url_library(std::string_view target, split_target& out) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return false;
  const boost::urls::url_view& url = *parsed;
  for (auto seg : url.encoded_segments()) {
    std::string_view s = seg;
    if (s.find('%') != std::string_view::npos) s = out.decoded.emplace_front(seg.decode());
    if (s == "." || s == "..") out.dot_segment = true;
    if (out.count < out.segments.size()) out.segments[out.count] = s;
    ++out.count;
  }
  out.path = url.encoded_path();
  // The URL library hides a leading "/./" (its own prefix for a first segment that is empty or
  // holds a ':'): a dot segment all the same.
  if (out.path.starts_with("/./")) out.dot_segment = true;
  for (auto param : url.params()) {
    query_param p;
    p.key = out.decoded.emplace_front(param.key);
    p.has_value = param.has_value;
    if (param.has_value) p.value = out.decoded.emplace_front(param.value);
    out.params.push_back(p);
  }
  return true;
}

route route_target(std::string_view method, split_target& t);

}  // namespace

route route_request(std::string_view method, std::string_view target) {
  split_target t;
  if (!split_plain(target, t)) {
    t = split_target{};
    if (!split_with_url_library(target, t)) return invalid("The request target is not a valid path.");
  }
  return route_target(method, t);
}

route route_request_with_url_library(std::string_view method, std::string_view target) {
  split_target t;
  if (!split_with_url_library(target, t)) return invalid("The request target is not a valid path.");
  return route_target(method, t);
}

namespace {

route route_target(std::string_view method, split_target& t) {
  const auto& segments = t.segments;
  const std::size_t count = t.count;
  if (t.dot_segment) return invalid("The request path must not contain dot segments.");
  if (t.path.find("//") != std::string_view::npos)
    return invalid("The request path must not contain empty segments.");

  // A repeated orgId is read as the last one by some parsers and as the first by others (Webex):
  // refused on every route, so that the proxy and Webex never act on different orgs.
  std::size_t org_params = 0;
  for (const auto& param : t.params)
    if (param.key == "orgId" && ++org_params > 1)
      return invalid("The orgId parameter must not be given more than once.");

  route r;
  const bool telephony = count >= 4 && iequals(segments[0], "v1") &&
                         iequals(segments[1], "telephony") && iequals(segments[2], "config");
  const bool under_location = telephony && count >= 5 && iequals(segments[3], "locations");
  // A write anywhere under /v1/telephony/config/locations/{L}, or to /v1/locations/{L} (the common
  // locations API), may change anything cached for L: features of a location refer to each other.
  const bool write = method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
  if (write && count >= 3 && iequals(segments[0], "v1")) {
    std::string_view location;
    if (under_location)
      location = segments[4];
    else if ((count == 3 || (count == 4 && segments[3].empty())) && iequals(segments[1], "locations"))
      location = segments[2];
    if (cache::is_valid_id(location)) r.write_location = std::string(location);
  }
  if (!telephony || count > max_path_segments) return r;

  // Which row: under the location, or an org-level list of a kind. A trailing '/' is looked up
  // without it, and refused if that finds a row.
  const bool trailing_slash = segments[count - 1].empty();
  const std::size_t first = under_location ? 5 : 3;
  const std::size_t used = count - (trailing_slash ? 1 : 0);
  if (used < first) return r;
  const std::span<const std::string_view> under(segments.data() + first, used - first);
  const route_row* row = match_route(under, !under_location);
  if (!row || row->shape == route_shape::never) return r;
  if (trailing_slash) return invalid("The request path must not end with '/'.");

  const bool read = method == "GET" || method == "HEAD";
  if (row->shape == route_shape::org_list && !read) return r;
  if (under_location && !cache::is_valid_id(segments[4]))
    return invalid("The location ID is not valid: expected 1-512 characters of [A-Za-z0-9=_-].");
  // The resource's name within its location: the row's path with every ID in it checked and
  // normalised (padding removed); an org-level list's under "org/".
  std::string what;
  what.reserve(t.path.size() + 8);  // one allocation for the usual key; "org/" is not in the path
  if (row->shape == route_shape::org_list) what = "org/";
  std::string_view pattern = row->pattern;
  for (std::size_t i = 0; i < under.size(); ++i) {
    const auto slash = pattern.find('/');
    const bool id = pattern.substr(0, slash) == "{id}";
    if (id && !cache::is_valid_id(under[i]))
      return invalid("The resource ID is not valid: expected 1-512 characters of [A-Za-z0-9=_-].");
    if (id && row->shape == route_shape::item) r.resource_id = under[i];  // the last one stays
    if (i > 0) what += '/';
    what += id ? cache::normalise_id(under[i]) : under[i];
    pattern.remove_prefix(slash == std::string_view::npos ? pattern.size() : slash + 1);
  }

  // The query: orgId (the org form), an org list's locationId, and the row's key parameters, each
  // at most once; anything else makes the read uncacheable.
  bool cacheable = true;
  std::optional<std::string_view> location;
  if (under_location) location = segments[4];
  std::vector<std::pair<std::string, std::string>> key_params;  // (name, canonical "name=value")
  for (const auto& param : t.params) {
    if (param.key == "orgId") {
      if (!param.has_value || !cache::is_valid_id(param.value))
        return invalid("The orgId parameter is not valid: expected 1-512 characters of "
                       "[A-Za-z0-9=_-].");
      r.org_id = param.value;
    } else if (row->shape == route_shape::org_list && param.key == "locationId") {
      // Not one valid location: an org-wide list, forwarded.
      if (location || !param.has_value || !cache::is_valid_id(param.value)) return r;
      r.location_id = param.value;
      location = r.location_id;
    } else if (is_key_param(*row, param.key)) {
      for (const auto& [name, value] : key_params)
        if (name == param.key) cacheable = false;
      std::string canonical = boost::urls::encode(param.key, boost::urls::unreserved_chars);
      if (param.has_value)
        canonical.append("=").append(boost::urls::encode(param.value, boost::urls::unreserved_chars));
      key_params.emplace_back(std::string(param.key), std::move(canonical));
    } else {
      cacheable = false;
    }
  }
  if (!location) return r;  // an org-level list without a locationId
  if (under_location) r.location_id = *location;

  if (!key_params.empty()) {
    std::sort(key_params.begin(), key_params.end());
    char sep = '?';
    for (const auto& p : key_params) {
      what += sep;
      what += p.second;
      sep = '&';
    }
  }
  r.row = row;
  r.resource = row->kind;
  r.resource_key = cache::resource_key::of(row->kind, r.location_id, std::move(what));
  if (read) {
    r.kind = route_kind::cached_read;
    r.cacheable = cacheable;
  } else if (row->shape == route_shape::item && (method == "PUT" || method == "DELETE")) {
    r.kind = route_kind::invalidating_write;
  } else {
    r.row = nullptr;
  }
  return r;
}

bool api_word(std::string_view s) {
  if (s.empty() || s.size() > 48) return false;
  if (s[0] == 'v' && s.size() > 1) {
    bool digits = true;
    for (char c : s.substr(1)) digits = digits && c >= '0' && c <= '9';
    if (digits) return true;
  }
  if (s[0] < 'a' || s[0] > 'z') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
  return true;
}

}  // namespace

std::string path_template(std::string_view target) {
  const auto path = target.substr(0, target.find('?'));
  if (path.empty() || path[0] != '/') return "-";
  std::string out;
  out.reserve(path.size());
  std::size_t at = 1, count = 0;
  for (;;) {
    const auto slash = path.find('/', at);
    const auto seg = path.substr(at, slash == std::string_view::npos ? path.npos : slash - at);
    if (++count > 16) {
      out += "/...";
      break;
    }
    out += '/';
    if (api_word(seg)) out += seg;
    else if (!seg.empty()) out += "{id}";
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  return out;
}

std::string_view route_label(const route& r) noexcept {
  switch (r.kind) {
    case route_kind::invalid: return "invalid";
    case route_kind::passthrough: return "passthrough";
    default: return cache::label_of(r.resource);
  }
}

}  // namespace wcp::proxy
