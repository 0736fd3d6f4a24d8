// Fuzzes invalidation bus messages: the input is a payload received on the channel. Whatever
// decode() accepts must encode to a message that decodes to the same fields.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "cache/invalidation.hpp"
#include "fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using wcp::cache::invalidation;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::optional<invalidation> m = wcp::cache::decode(text);
  if (!m) return 0;

  const std::string encoded = wcp::cache::encode(*m);
  const std::optional<invalidation> n = wcp::cache::decode(encoded);
  if (!n) std::fprintf(stderr, "decode(encode(m)) failed; encode(m) = \"%s\"\n", encoded.c_str());
  FUZZ_CHECK(n.has_value());
  FUZZ_CHECK(n->what == m->what);
  FUZZ_CHECK(n->origin == m->origin);
  switch (m->what) {
    case invalidation::kind::resource: FUZZ_CHECK(n->resource == m->resource); break;
    case invalidation::kind::location: FUZZ_CHECK(n->location == m->location); break;
    case invalidation::kind::token: FUZZ_CHECK(n->token_hex == m->token_hex); break;
    case invalidation::kind::scope:
      FUZZ_CHECK(n->token_hex == m->token_hex);
      FUZZ_CHECK(n->scope.org == m->scope.org);
      FUZZ_CHECK(n->scope.location == m->scope.location);
      break;
    case invalidation::kind::everything: break;
    case invalidation::kind::block:
      FUZZ_CHECK(n->blocked == m->blocked);
      FUZZ_CHECK(n->token_hex == m->token_hex);
      FUZZ_CHECK(n->until_ms == m->until_ms);
      break;
  }
  FUZZ_CHECK(wcp::cache::encode(*n) == encoded);
  return 0;
}
