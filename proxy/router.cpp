#include "proxy/router.hpp"

#include <array>
#include <forward_list>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace wcp::proxy {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
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

// Sub-paths of a call park or paging group collection that are not resource IDs.
constexpr std::array<std::string_view, 4> reserved_names = {
    "settings", "availableUsers", "availableRecallHuntGroups", "availableNumbers"};

}  // namespace

route route_request(std::string_view method, std::string_view target) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return invalid("The request target is not a valid path.");
  const boost::urls::url_view& url = *parsed;

  // Segments as views: into the target itself, or (rarely: only when percent-encoded) into
  // `decoded`, whose elements never move once added.
  // Only the first 8 are kept: no route the proxy caches is longer.
  std::array<std::string_view, 8> segments;
  std::size_t count = 0;
  std::forward_list<std::string> decoded;
  for (auto seg : url.encoded_segments()) {
    std::string_view s = seg;
    if (s.find('%') != std::string_view::npos) s = decoded.emplace_front(seg.decode());
    if (s == "." || s == "..") return invalid("The request path must not contain dot segments.");
    if (count < segments.size()) segments[count] = s;
    ++count;
  }
  const std::string_view path = url.encoded_path();
  if (path.find("//") != std::string_view::npos)
    return invalid("The request path must not contain empty segments.");

  // A repeated orgId is read as the last one by some parsers and as the first by others (Webex):
  // refused on every route, so that the proxy and Webex never act on different orgs.
  std::size_t org_params = 0;
  for (auto param : url.params())
    if (param.key == "orgId" && ++org_params > 1)
      return invalid("The orgId parameter must not be given more than once.");

  route r;
  // A write anywhere under /v1/telephony/config/locations/{L}, or to /v1/locations/{L} (the common
  // locations API), may change anything cached for L: features of a location refer to each other.
  const bool write = method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
  if (write && count >= 3 && iequals(segments[0], "v1")) {
    std::string_view location;
    if (count >= 5 && iequals(segments[1], "telephony") && iequals(segments[2], "config") &&
        iequals(segments[3], "locations"))
      location = segments[4];
    else if ((count == 3 || (count == 4 && segments[3].empty())) && iequals(segments[1], "locations"))
      location = segments[2];
    if (cache::is_valid_id(location)) r.write_location = std::string(location);
  }
  // /v1/telephony/config/locations/{locationId}/{callParks|paging}/{id}, literals in any case so
  // that a write cannot slip past invalidation by spelling a route differently.
  bool shape = (count == 7 || (count == 8 && segments[7].empty())) &&
               iequals(segments[0], "v1") && iequals(segments[1], "telephony") &&
               iequals(segments[2], "config") && iequals(segments[3], "locations");
  if (!shape) return r;
  if (iequals(segments[5], "callParks")) {
    r.resource = cache::resource_kind::call_park;
  } else if (iequals(segments[5], "paging")) {
    r.resource = cache::resource_kind::paging_group;
  } else {
    return r;
  }
  for (auto name : reserved_names)
    if (iequals(segments[6], name)) return r;
  if (count == 8) return invalid("The request path must not end with '/'.");

  if (!cache::is_valid_id(segments[4]))
    return invalid("The location ID is not valid: expected 1-512 characters of [A-Za-z0-9=_-].");
  if (!cache::is_valid_id(segments[6]))
    return invalid("The resource ID is not valid: expected 1-512 characters of [A-Za-z0-9=_-].");
  r.location_id = segments[4];
  r.resource_id = segments[6];

  bool other_params = false;
  for (auto param : url.params()) {
    if (param.key == "orgId") {
      if (!param.has_value || !cache::is_valid_id(param.value))
        return invalid("The orgId parameter is not valid: expected 1-512 characters of "
                       "[A-Za-z0-9=_-].");
      r.org_id = param.value;
    } else {
      other_params = true;
    }
  }

  if (method == "GET" || method == "HEAD") {
    r.kind = route_kind::cached_read;
    r.cacheable = !other_params;
  } else if (method == "PUT" || method == "DELETE") {
    r.kind = route_kind::invalidating_write;
  } else {
    r.kind = route_kind::passthrough;
  }
  return r;
}

namespace {

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
    default: return r.resource == cache::resource_kind::call_park ? "call_park" : "paging_group";
  }
}

}  // namespace wcp::proxy
