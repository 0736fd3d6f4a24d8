// Cache keys. A *resource* is one cached thing of one location: an item (a call park, a schedule
// event, ...), a settings document, a list page with its query, or the location's own details;
// every org form a caller used to read it (with `orgId=` or without) is a *variant* of it.
// Invalidation works on resources and locations, lookups on variants.
//
// Webex IDs are base64 text whose '=' padding some clients keep and others drop; keys hold the
// ID without padding so both spellings share one entry. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace wcp::cache {

// The kinds of location-scoped configuration, in the order of config::cache_kinds (whose names
// they carry: to_string(kind) is the collection segment Webex spells the kind with).
enum class resource_kind : std::uint8_t {
  location,        // the location's own calling details
  settings,        // a location's settings paths
  call_park,
  call_pickup,
  schedule,
  schedule_event,
  selective_rule,  // an auto attendant's, hunt group's or call queue's selective forwarding rule
  hunt_group,
  queue,
  auto_attendant,
  paging_group,
  voicemail_group,
  call_park_extension,
  announcement,
  dnis,
  translation_pattern,
  digit_pattern,
  dect_network,
  base_station,
  handset,
  directory,
  ai_receptionist,
  intent,
};
inline constexpr std::size_t resource_kind_count = 23;

std::string_view to_string(resource_kind kind);  // "callParks", "paging", "settings", ...
// The kind whose collection segment is `name`, if any.
std::optional<resource_kind> kind_named(std::string_view name);
// The kind as a bounded metric label: "call_park", "paging_group", "hunt_group", ...
std::string_view label_of(resource_kind kind);

inline constexpr std::size_t max_id_length = 512;

// An ID the proxy accepts: 1..512 characters from [A-Za-z0-9=_-], not all of them '='. Whether
// it decodes as base64 does not matter (Webex's own samples don't all decode).
bool is_valid_id(std::string_view id);

// The ID with trailing '=' padding removed. REQUIRES: is_valid_id(id).
std::string_view normalise_id(std::string_view id);

// Whether `what` may be a resource_key's id: an ID, or a canonical path and query (at most 2048
// characters of [A-Za-z0-9=_-/?&%.~]; empty for a location's own details).
bool is_resource_name(std::string_view what);

// Whether `kind` may name what a grant covers (a kind's name, or a settings path pattern such as
// "queues/{id}/forcedForward"): 1-128 letters, digits and "/{}". What a message from another
// instance must hold.
bool is_grant_kind(std::string_view kind);

struct resource_key {
  resource_kind kind = resource_kind::call_park;
  std::string location;  // normalised
  // What the resource is within its location: an ID (normalised), or the router's canonical
  // form of a path and query ("callParks?max=2&start=0", "schedules/holidays/<id>"). Never
  // contains '@' or '|'.
  std::string id;

  resource_key() = default;
  // `resource_id` is an ID: its padding is removed.
  resource_key(resource_kind k, std::string_view location_id, std::string_view resource_id);
  // `what` is kept as given. REQUIRES: it is a canonical form (no '@', no '|').
  static resource_key of(resource_kind k, std::string_view location_id, std::string what);

  // "callParks/<location>/<id>": readable, unique, used as a map key and in Redis key names.
  std::string str() const;
  void append_to(std::string& out) const;  // appends str() to out
  friend bool operator==(const resource_key&, const resource_key&) = default;
};

// The org form a caller read a resource through: the normalised `orgId`, or "" for the caller's
// own org.
struct variant_key {
  resource_key resource;
  std::string org;

  std::string str() const;  // resource.str() + "@" + org
  void append_to(std::string& out) const;  // appends str() to out
  friend bool operator==(const variant_key&, const variant_key&) = default;
};

struct resource_key_hash {
  std::size_t operator()(const resource_key& k) const noexcept;
};

}  // namespace wcp::cache
