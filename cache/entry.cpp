#include "cache/entry.hpp"

#include <simdjson.h>

namespace wcp::cache {

freshness freshness_at(const entry& e, wall_clock::time_point now, std::chrono::milliseconds ttl,
                       std::chrono::milliseconds stale) noexcept {
  auto age = now - e.stored_at;
  if (age < ttl) return freshness::fresh;
  if (age < ttl + stale) return freshness::stale;
  return freshness::expired;
}

std::int64_t age_seconds(const entry& e, wall_clock::time_point now) noexcept {
  auto age = std::chrono::duration_cast<std::chrono::seconds>(now - e.stored_at).count();
  return age < 0 ? 0 : age;
}

bool is_cacheable_response(unsigned status, std::string_view body) {
  if (status != 200 || body.empty()) return false;
  // One parser per thread: it keeps its buffers between calls.
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element doc;
  return parser.parse(padded).get(doc) == simdjson::SUCCESS;
}

}  // namespace wcp::cache
