// Tokens are never stored, logged or used as labels. Where the proxy must tell tokens apart
// (grants, backoff, coalescing) it uses the SHA-256 of the whole Authorization header value.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wcp::cache {

struct token_fingerprint {
  std::array<std::uint8_t, 32> bytes{};

  std::string_view raw() const noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  std::string hex() const;            // 64 hex digits
  std::string short_hex() const;      // first 8 hex digits, for logs
  friend bool operator==(const token_fingerprint&, const token_fingerprint&) = default;
};

token_fingerprint fingerprint(std::string_view authorization);

// The fingerprint whose hex() is `hex`; nullopt unless 64 lowercase hex digits.
std::optional<token_fingerprint> fingerprint_from_hex(std::string_view hex);

}  // namespace wcp::cache
