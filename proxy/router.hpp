// The router: a pure function from a request's method and target to what the proxy does with it.
// No I/O; unit-tested and fuzzed on its own.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cache/key.hpp"
#include "proxy/route_table.hpp"

namespace wcp::proxy {

enum class route_kind {
  cached_read,         // GET/HEAD of a row of the route table (proxy/route_table.hpp)
  invalidating_write,  // PUT/DELETE of an item row: forwarded, read for a rename
  passthrough,         // everything else: forwarded unchanged, never cached
  invalid,             // answered by the proxy with error_status
};

struct route {
  route_kind kind = route_kind::passthrough;
  const route_row* row = nullptr;     // set for cached_read and invalidating_write
  cache::resource_kind resource = cache::resource_kind::call_park;  // row->kind
  std::string location_id;            // as the client sent it, percent-decoded
  std::string resource_id;            // an item's own ID (its last), as sent; "" for other shapes
  std::optional<std::string> org_id;  // the `orgId` query parameter, if present
  // A write (POST, PUT, PATCH, DELETE) under /v1/telephony/config/locations/{L} or to
  // /v1/locations/{L}: L as sent (percent-decoded, a valid ID). A 2xx, or an unknown outcome,
  // drops everything cached for L.
  std::optional<std::string> write_location;
  bool cacheable = false;             // cached_read whose query holds only key parameters
  unsigned error_status = 0;          // invalid: 400
  std::string error;                  // invalid: what is wrong, for the caller
  // The cached resource (set with row): its kind, normalised location, and canonical path and
  // key query ("callParks/<id>", "callParks?max=2&start=0", "org/huntGroups?max=5").
  cache::resource_key resource_key;

  bool is_resource() const noexcept {
    return kind == route_kind::cached_read || kind == route_kind::invalidating_write;
  }
  // REQUIRES: is_resource().
  const cache::resource_key& key() const noexcept { return resource_key; }
  // REQUIRES: is_resource(). What a grant for this read covers (see grant_kind()).
  std::string_view grant() const noexcept { return grant_kind(*row); }
  // The org form: normalised orgId, or "" for the caller's own org.
  std::string org_variant() const {
    return org_id ? std::string(cache::normalise_id(*org_id)) : std::string();
  }
};

route route_request(std::string_view method, std::string_view target);

// The same, with every target parsed by the URL library (route_request() splits a target of
// plain characters itself): for tests and the fuzzer, which check that both agree.
route route_request_with_url_library(std::string_view method, std::string_view target);

// Bounded metric label: the kind's label for cached reads and item writes ("call_park",
// "paging_group", "settings", "hunt_group", ...), else "passthrough" or "invalid".
std::string_view route_label(const route& r) noexcept;

// The target's path for the access log, with every segment that is not an API word replaced by
// {id}: /v1/telephony/config/locations/{id}/callParks/{id}. An API word is a camelCase name
// (`callParks`, `availableUsers`) or a version (`v1`); IDs, numbers and anything percent-encoded
// are not. No query string, and at most 16 segments (then `/...`).
std::string path_template(std::string_view target);

}  // namespace wcp::proxy
