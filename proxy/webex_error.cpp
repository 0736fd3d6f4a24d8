#include "proxy/webex_error.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
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
  char buf[64];
  std::snprintf(buf, sizeof buf, "WEBEXCACHEPROXY_%016llx_%llu",
                static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(counter.fetch_add(1) + 1));
  return buf;
}

}  // namespace wcp::proxy
