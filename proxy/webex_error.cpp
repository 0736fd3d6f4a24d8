#include "proxy/webex_error.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>

namespace wcp::proxy {

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string webex_error_body(std::string_view message, std::string_view tracking_id) {
  const std::string m = json_escape(message);
  std::string body;
  body.reserve(2 * m.size() + tracking_id.size() + 64);
  body += R"({"message":")";
  body += m;
  body += R"(","errors":[{"description":")";
  body += m;
  body += R"("}],"trackingId":")";
  body += json_escape(tracking_id);
  body += "\"}";
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
