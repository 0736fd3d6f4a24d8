#include "proxy/webex_error.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <random>

#include "proxy/json_text.hpp"

namespace wcp::proxy {

std::string webex_error_body(std::string_view message, std::string_view tracking_id) {
  std::string body;
  body.reserve(2 * message.size() + tracking_id.size() + 64);
  body += R"({"message":)";
  append_json_string(body, message);
  body += R"(,"errors":[{"description":)";
  append_json_string(body, message);
  body += R"(}],"trackingId":)";
  append_json_string(body, tracking_id);
  body += "}";
  return body;
}

std::string new_tracking_id() {
  static std::atomic<std::uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  // WEBEXCACHEPROXY_<16 hex digits>_<counter>, written by hand into one buffer and copied into
  // the string once (one allocation: this is part of every cache hit).
  static constexpr std::string_view prefix = "WEBEXCACHEPROXY_";
  static constexpr char digits[] = "0123456789abcdef";
  char buf[prefix.size() + 16 + 1 + 20];
  char* p = std::copy(prefix.begin(), prefix.end(), buf);
  auto random = rng();
  for (char* d = p + 16; d-- > p;) {
    *d = digits[random & 0xf];
    random >>= 4;
  }
  p += 16;
  *p++ = '_';
  p = std::to_chars(p, buf + sizeof buf, counter.fetch_add(1, std::memory_order_relaxed) + 1).ptr;
  return std::string(buf, p);
}

}  // namespace wcp::proxy
