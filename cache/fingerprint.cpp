#include "cache/fingerprint.hpp"

#include <openssl/evp.h>

#include <stdexcept>

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

namespace {
// OpenSSL 3 looks the algorithm up by name on every one-shot SHA256() call; fetched once here,
// with one digest context per thread, a fingerprint costs the hashing alone.
const EVP_MD* sha256() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct digest_context {
  digest_context() : ctx(EVP_MD_CTX_new()) {}
  ~digest_context() { EVP_MD_CTX_free(ctx); }
  digest_context(const digest_context&) = delete;
  digest_context& operator=(const digest_context&) = delete;
  EVP_MD_CTX* ctx;
};
}  // namespace

token_fingerprint fingerprint(std::string_view authorization) {
  token_fingerprint fp;
  thread_local digest_context d;
  unsigned int n = 0;
  if (!d.ctx || !sha256() || EVP_DigestInit_ex2(d.ctx, sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(d.ctx, authorization.data(), authorization.size()) != 1 ||
      EVP_DigestFinal_ex(d.ctx, fp.bytes.data(), &n) != 1 || n != fp.bytes.size())
    throw std::runtime_error("SHA-256 is not available from OpenSSL");
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
