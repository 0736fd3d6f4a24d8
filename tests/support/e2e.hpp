// Helpers shared by the end-to-end tests: a fake Webex API with the demo world and the real
// daemon in front of it, and small conveniences for asserting on what a user would see.
#pragma once

#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fake_webex/demo_world.hpp"
#include "fake_webex/fake_webex.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"

namespace wcp::test {

inline header_list bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

inline header_list json_bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
}

// The value of one series (exact name and labels) on an admin listener's /metrics; 0 when the
// series is absent, as Prometheus reads a counter that never moved.
inline double metric(std::uint16_t admin_port, const std::string& series) {
  auto res = http_request(admin_port, "GET", "/metrics");
  std::istringstream in(res.body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return 0;
}

// Waits (bounded) until `pred` holds: tests wait on conditions, not on the clock alone.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

// A fake Webex with the demo world, and the daemon in front of it.
struct e2e_stack {
  explicit e2e_stack(std::vector<std::string> args = {}, fake::options fo = {})
      : fake(std::move(fo)), world(fake::populate_demo_world(fake)) {
    args.insert(args.begin(), {"--upstream", fake.base_url(), "--log-level", "debug"});
    proxy = start_proxy(std::move(args));
  }
  http_response get(const std::string& target, header_list h = {}) {
    return http_request(proxy.port, "GET", target, std::move(h));
  }
  http_response get(const std::string& target, const std::string& token) {
    return get(target, bearer(token));
  }
  double metric(const std::string& series) { return test::metric(proxy.admin_port, series); }

  fake::fake_webex fake;
  fake::demo_world world;
  proxy_process proxy;
};

}  // namespace wcp::test
