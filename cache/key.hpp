// Cache keys. A *resource* is one call park or paging group in one location; every org form a
// caller used to read it (with `orgId=` or without) is a *variant* of it. Invalidation works on
// resources, lookups on variants.
//
// Webex IDs are base64 text whose '=' padding some clients keep and others drop; keys hold the
// ID without padding so both spellings share one entry. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace wcp::cache {

enum class resource_kind : std::uint8_t { call_park, paging_group };

std::string_view to_string(resource_kind kind);  // "callParks", "paging"

inline constexpr std::size_t max_id_length = 512;

// An ID the proxy accepts: 1..512 characters from [A-Za-z0-9=_-], not all of them '='. Whether
// it decodes as base64 does not matter (Webex's own samples don't all decode).
bool is_valid_id(std::string_view id);

// The ID with trailing '=' padding removed. REQUIRES: is_valid_id(id).
std::string_view normalise_id(std::string_view id);

struct resource_key {
  resource_kind kind = resource_kind::call_park;
  std::string location;  // normalised
  std::string id;        // normalised

  resource_key() = default;
  resource_key(resource_kind k, std::string_view location_id, std::string_view resource_id);

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
