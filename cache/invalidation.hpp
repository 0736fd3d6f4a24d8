// The messages of the invalidation bus (invalidation_bus.hpp): what one instance tells the
// others, as a small text line, and back. What arrives is parsed strictly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cache/backoff_store.hpp"
#include "cache/grants.hpp"
#include "cache/key.hpp"

namespace wcp::cache {

struct invalidation {
  enum class kind { resource, location, token, scope, everything, block };
  kind what = kind::resource;
  resource_key resource;      // resource
  std::string location;       // location (normalised)
  std::string token_hex;      // token, scope: SHA-256 fingerprint in hex
  grant_scope scope;          // scope
  backoff_kind blocked = backoff_kind::token;  // block: what is blocked (token_hex is its ID)
  std::int64_t until_ms = 0;                   // block: until when (ms since the epoch)
  std::string origin;         // instance that made it
};

// "v1|<origin>|r|<kind>|<location>|<id>", "v1|<origin>|l|<location>", "v1|<origin>|t|<hex>",
// "v1|<origin>|s|<hex>|<org>|<location>|<grant kind>", "v1|<origin>|a", "v1|<origin>|b|t|<hex>|<until ms>"
// (a rate-limited token) and "v1|<origin>|b|r|<hex>|<until ms>" (a locked resource).
std::string encode(const invalidation& m);
std::optional<invalidation> decode(std::string_view text);

}  // namespace wcp::cache
