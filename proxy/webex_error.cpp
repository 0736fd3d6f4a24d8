#include "proxy/webex_error.hpp"

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
  // WEBEXCACHEPROXY_<16 hex digits>_<counter>, written by hand (snprintf was a visible part of
  // a cache hit's cost).
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "WEBEXCACHEPROXY_";
  out.resize(out.size() + 16);
  auto random = rng();
  for (std::size_t i = out.size(); i-- > out.size() - 16;) {
    out[i] = digits[random & 0xf];
    random >>= 4;
  }
  char number[24];
  const auto n = std::to_chars(number, number + sizeof number, counter.fetch_add(1) + 1);
  out.append("_").append(number, n.ptr);
  return out;
}

}  // namespace wcp::proxy
