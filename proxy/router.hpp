// The router: a pure function from a request's method and target to what the proxy does with it.
// No I/O; unit-tested and fuzzed on its own.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cache/key.hpp"

namespace wcp::proxy {

enum class route_kind {
  cached_read,         // GET/HEAD of a call park or paging group
  invalidating_write,  // PUT/DELETE of one
  passthrough,         // everything else: forwarded unchanged, never cached
  invalid,             // answered by the proxy with error_status
};

struct route {
  route_kind kind = route_kind::passthrough;
  cache::resource_kind resource = cache::resource_kind::call_park;
  std::string location_id;            // as the client sent it, percent-decoded
  std::string resource_id;            // as the client sent it, percent-decoded
  std::optional<std::string> org_id;  // the `orgId` query parameter, if present
  // A write (POST, PUT, PATCH, DELETE) under /v1/telephony/config/locations/{L} or to
  // /v1/locations/{L}: L as sent (percent-decoded, a valid ID). A 2xx, or an unknown outcome,
  // drops everything cached for L.
  std::optional<std::string> write_location;
  bool cacheable = false;             // cached_read with no query parameter but orgId
  unsigned error_status = 0;          // invalid: 400
  std::string error;                  // invalid: what is wrong, for the caller

  bool is_resource() const noexcept {
    return kind == route_kind::cached_read || kind == route_kind::invalidating_write;
  }
  // REQUIRES: is_resource().
  cache::resource_key key() const { return {resource, location_id, resource_id}; }
  // The org form: normalised orgId, or "" for the caller's own org.
  std::string org_variant() const {
    return org_id ? std::string(cache::normalise_id(*org_id)) : std::string();
  }
};

route route_request(std::string_view method, std::string_view target);

// Bounded metric label: "call_park", "paging_group", "passthrough", "invalid".
std::string_view route_label(const route& r) noexcept;

// The target's path for the access log, with every segment that is not an API word replaced by
// {id}: /v1/telephony/config/locations/{id}/callParks/{id}. An API word is a camelCase name
// (`callParks`, `availableUsers`) or a version (`v1`); IDs, numbers and anything percent-encoded
// are not. No query string, and at most 16 segments (then `/...`).
std::string path_template(std::string_view target);

}  // namespace wcp::proxy
