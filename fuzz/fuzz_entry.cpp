// Fuzzes cache entry deserialisation: the input is what a shared store (Redis) handed back.
// Whatever deserialise() accepts must serialise and deserialise again to an equal entry.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "cache/entry.hpp"
#include "fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::optional<wcp::cache::entry> e = wcp::cache::deserialise(bytes);
  if (!e) return 0;

  FUZZ_CHECK(e->status >= 100 && e->status <= 599);
  FUZZ_CHECK(e->expires_at >= e->stored_at);
  FUZZ_CHECK(e->charge() >= e->body.size());
  FUZZ_CHECK(wcp::cache::is_header_value(e->content_type));
  FUZZ_CHECK(wcp::cache::is_header_value(e->tracking_id));
  (void)wcp::cache::age_seconds(*e, e->stored_at);

  const std::string again = wcp::cache::serialise(*e);
  const std::optional<wcp::cache::entry> f = wcp::cache::deserialise(again);
  FUZZ_CHECK(f.has_value());
  FUZZ_CHECK(f->status == e->status);
  FUZZ_CHECK(f->content_type == e->content_type);
  FUZZ_CHECK(f->tracking_id == e->tracking_id);
  FUZZ_CHECK(f->body == e->body);
  FUZZ_CHECK(f->stored_at == e->stored_at);
  FUZZ_CHECK(f->expires_at == e->expires_at);
  // The canonical form is a fixed point.
  FUZZ_CHECK(wcp::cache::serialise(*f) == again);
  return 0;
}
