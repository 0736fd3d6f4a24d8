// End-to-end with a client nobody here wrote: the official Webex JS SDK's request stack
// (@webex/webex-core, pinned by tests/sdk/package-lock.json) driven by tests/sdk/drive.js through
// the real binary, against the fake Webex API. The packages are installed by the CTest fixture
// that runs tests/sdk/install (npm ci); drive.js checks each step and says which failed.
#include <doctest/doctest.h>

#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "support/e2e.hpp"

using namespace wcp;


TEST_CASE("the README's JS SDK snippet is what the SDK test runs") {
  const auto readme = test::read_file(WCP_SOURCE_DIR "/README.md");
  const auto drive = test::read_file(WCP_SOURCE_DIR "/tests/sdk/drive.js");
  const auto section = readme.find("## Clients");
  REQUIRE(section != std::string::npos);
  const auto begin = readme.find("```js\n", section);
  REQUIRE(begin != std::string::npos);
  const auto end = readme.find("```", begin + 6);
  REQUIRE(end != std::string::npos);
  std::istringstream lines(readme.substr(begin + 6, end - begin - 6));
  int checked = 0;
  for (std::string line; std::getline(lines, line);) {
    line.erase(0, line.find_first_not_of(' '));
    if (line.empty()) continue;
    CAPTURE(line);
    CHECK(drive.find(line) != std::string::npos);
    ++checked;
  }
  CHECK(checked >= 3);
}

TEST_CASE("the Webex JS SDK through the proxy: a miss and a hit, a rename, a paged list, a 429") {
  // Webex's own 429 is relayed at once, so that the SDK sees it (it does not retry 429s).
  test::e2e_stack s({"--max-retry-wait", "0"});
  const auto& w = s.world;
  // Three call parks in loc_a1, listed two per page.
  s.fake.add_call_park(w.loc_a1, "SDK Park 2");
  s.fake.add_call_park(w.loc_a1, "SDK Park 3");
  const std::string refused = "telephony/config/locations/" + w.loc_a1 + "/paging/" + w.paging_a1;
  s.fake.set_interceptor([refused](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.path != "/v1/" + refused) return std::nullopt;
    fake::scripted_response out;
    out.status = 429;
    out.headers = {{"Retry-After", "7"}};
    out.body = R"({"message":"Too many requests","errors":[{"description":"Too many requests"}]})";
    return out;
  });

  const std::string base = "http://127.0.0.1:" + std::to_string(s.proxy.port);
  test::process node("/usr/bin/env", {"node", WCP_SDK_DIR "/drive.js"},
                     {"HYDRA_SERVICE_URL=" + base + "/v1", "U2C_SERVICE_URL=" + base + "/u2c/api/v1",
                      "WEBEX_TOKEN=" + w.token_admin_a, "LOCATION_ID=" + w.loc_a1,
                      "PARK_ID=" + w.park_a1, "PARKS=3", "REFUSED_PATH=" + refused});
  const auto code = node.wait(std::chrono::seconds(60));
  const auto out = node.output();
  CAPTURE(out);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(out.find("sdk: all steps passed") != std::string::npos);
  MESSAGE(out);

  // What the fake saw came through the proxy, and the SDK asked for nothing else (no catalog).
  for (const auto& r : s.fake.requests()) {
    CAPTURE(r.target);
    CHECK(r.path.starts_with("/v1/telephony/config/locations/"));
  }
  // One list request per page, each sent by the proxy (drive.js saw every Link on the proxy).
  std::size_t pages = 0;
  for (const auto& r : s.fake.requests())
    if (r.method == "GET" && r.path.ends_with("/callParks")) ++pages;
  CHECK(pages == 2);
  CHECK(s.metric(R"(webex_cache_proxy_requests_total{route="call_park",cache="hit"})") >= 1);
}
