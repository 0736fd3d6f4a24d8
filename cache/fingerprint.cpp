#include "cache/fingerprint.hpp"

#include <openssl/sha.h>

namespace wcp::cache {

namespace {
std::string to_hex(const std::uint8_t* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    s[2 * i] = digits[p[i] >> 4];
    s[2 * i + 1] = digits[p[i] & 0xf];
  }
  return s;
}
}  // namespace

std::string token_fingerprint::hex() const { return to_hex(bytes.data(), bytes.size()); }
std::string token_fingerprint::short_hex() const { return to_hex(bytes.data(), 4); }

token_fingerprint fingerprint(std::string_view authorization) {
  token_fingerprint fp;
  SHA256(reinterpret_cast<const unsigned char*>(authorization.data()), authorization.size(),
         fp.bytes.data());
  return fp;
}

}  // namespace wcp::cache

namespace wcp::cache {

std::optional<token_fingerprint> fingerprint_from_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  token_fingerprint fp;
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    fp.bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return fp;
}

}  // namespace wcp::cache
