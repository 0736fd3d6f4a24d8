// The cached routes as data: one row per path the proxy caches (or refuses to cache although it
// sits under a location), read by the router (which rows match a request), the cache key (a
// row's canonical path and key query parameters), grants (a row's grant kind), metrics (its
// kind's label) and invalidation (every cached row belongs to one location). Adding a cached
// route is one row here and a test. The rows follow ../shared/WEBEX_ROUTES.md.
//
// Patterns are segments under /v1/telephony/config/locations/{locationId} (for org-level lists:
// under /v1/telephony/config), literal segments compared exactly, with two placeholders:
// `{id}` (any segment but a word starting with "available"; the router refuses one that is not a
// valid ID) and `{type}` (a schedule type,
// `businessHours` or `holidays`).
//
// Pure data and functions; no I/O.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "cache/key.hpp"

namespace wcp::proxy {

enum class route_shape : std::uint8_t {
  location,  // the location's own calling details (the empty pattern)
  item,      // one item of a kind
  list,      // a list of items under the location, by its query
  settings,  // a settings document under the location
  org_list,  // an org-level list of a kind filtered by one `locationId`, by its query
  never,     // under the location but never cached: depends on state outside it, or a secret
};

struct route_row {
  std::string_view pattern;  // "callParks/{id}", "queues/{id}/forcedForward", ...
  cache::resource_kind kind;
  route_shape shape;
  // Query parameters that are part of the cache key, space-separated; `orgId` always is (as
  // the org form), and an org-level list's `locationId` names its location. Any other parameter
  // makes a read uncacheable.
  std::string_view key_params = {};
  // An item whose ID changes when it is renamed (the PUT answers the new {"id"}).
  bool renames = false;
};

// Every row, in match order (a literal segment before an `{id}` in the same place).
std::span<const route_row> route_table();

// The row matching `segments` (under a location, or under /v1/telephony/config for
// `org_level`), or nullptr.
const route_row* match_route(std::span<const std::string_view> segments, bool org_level);

// What a grant for this row covers: a kind's items and lists share the kind's name
// ("callParks"); each settings row is its own, named by its pattern ("queues/{id}/forcedForward",
// never a kind's name), since Webex authorises settings paths differently from each other.
std::string_view grant_kind(const route_row& row);

// Whether `name` is one of the row's key query parameters.
bool is_key_param(const route_row& row, std::string_view name);

}  // namespace wcp::proxy
