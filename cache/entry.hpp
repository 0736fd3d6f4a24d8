// A cached answer: what upstream said for one variant of a resource, and when it was stored.
// Entries are immutable once built and shared between readers as entry_ptr.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace wcp::cache {

using wall_clock = std::chrono::system_clock;

struct entry {
  unsigned status = 200;
  std::string content_type;  // upstream's Content-Type, kept
  std::string tracking_id;   // not filled by the proxy: an answer carries its own request's
  // Upstream's Link fields (a list page's next/prev URLs), joined with ", "; moved to the
  // client's origin when the entry is served, per request.
  std::string link;
  std::string body;
  // The body gzip-compressed, made once when the entry is stored in process (gzip_if_smaller);
  // "" when that is not worth keeping. Served to clients that accept gzip.
  std::string gzip_body;
  wall_clock::time_point stored_at{};
  // When a store stops returning it (stored_at + fresh + stale windows). Set by whoever builds
  // the entry; a shared store keeps it so that every instance agrees.
  wall_clock::time_point expires_at{};

  // Bytes this entry is charged for in a bounded store (body, headers, bookkeeping).
  std::size_t charge() const noexcept {
    return body.size() + gzip_body.size() + content_type.size() + tracking_id.size() +
           link.size() + 96;
  }
};

using entry_ptr = std::shared_ptr<const entry>;

enum class freshness { fresh, stale, expired };

// Where `stored_at` stands at `now` with these windows: fresh for `ttl`, then stale for `stale`.
freshness freshness_at(const entry& e, wall_clock::time_point now, std::chrono::milliseconds ttl,
                       std::chrono::milliseconds stale) noexcept;

// Whole seconds since the entry was stored (the Age header); never negative.
std::int64_t age_seconds(const entry& e, wall_clock::time_point now) noexcept;

// Whether `v` may stand as an HTTP header value as it is: no control characters but HTAB (so no
// CR, LF or NUL that could split an answer).
bool is_header_value(std::string_view v) noexcept;

// The entry as bytes for a shared store, and back. What comes back from a shared store is not
// trusted: deserialise() checks every length and field (the kept headers must be header values)
// and yields nullopt on anything malformed.
std::string serialise(const entry& e);
std::optional<entry> deserialise(std::string_view bytes);

// Only a 200 whose body is JSON that parses is stored.
bool is_cacheable_response(unsigned status, std::string_view body);

}  // namespace wcp::cache
