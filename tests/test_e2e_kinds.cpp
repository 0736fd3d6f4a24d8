// End-to-end: the whole location — every kind of the route table cached, with grants per kind,
// renames of every kind whose ID changes, and per-kind freshness.
#include "fake_webex/demo_world.hpp"
#include "fake_webex/fake_webex.hpp"
#include "support/e2e.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace wcp;
using test::bearer;
using test::http_request;

namespace {
using stack = test::e2e_stack;

std::string location_path(const fake::demo_world& w) {
  return "/v1/telephony/config/locations/" + w.loc_a1;
}
}  // namespace

TEST_CASE("grants are per kind: a location admin holding a call park grant is not served a cached queue") {
  stack s;
  const auto& w = s.world;
  const std::string queue = location_path(w) + "/queues/UVVFVUUx";
  const std::string intercept = location_path(w) + "/intercept";
  const std::string recording = location_path(w) + "/callRecording/announcements";
  // Webex lets a location admin read call parks and intercept settings, not queues nor call
  // recording settings.
  s.fake.set_interceptor([&](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.authorization != "Bearer " + w.token_loc_admin_a1) return std::nullopt;
    if (r.path != queue && r.path != recording) return std::nullopt;
    fake::scripted_response refused;
    refused.status = 403;
    refused.body = R"({"message":"Forbidden","errors":[{"description":"Forbidden"}]})";
    return refused;
  });
  const auto park = fake::call_park_path(w.loc_a1, w.park_a1);
  const std::string parks = location_path(w) + "/callParks?max=10";
  // The org admin fills the cache with all of them.
  for (const auto& path : {queue, park, parks, intercept, recording}) {
    CAPTURE(path);
    REQUIRE(s.get(path, w.token_admin_a).status == 200);
    REQUIRE(s.get(path, w.token_admin_a).header("X-Cache") == "HIT");
  }
  // The location admin reads a call park (a grant for call parks) and the intercept settings (a
  // grant for that settings path).
  REQUIRE(s.get(park, w.token_loc_admin_a1).status == 200);
  REQUIRE(s.get(intercept, w.token_loc_admin_a1).status == 200);
  s.fake.clear_requests();

  // Its call park grant covers the kind's items and lists ...
  CHECK(s.get(park, w.token_loc_admin_a1).header("X-Cache") == "HIT");
  CHECK(s.get(parks, w.token_loc_admin_a1).header("X-Cache") == "HIT");
  CHECK(s.get(intercept, w.token_loc_admin_a1).header("X-Cache") == "HIT");
  CHECK(s.fake.requests().empty());
  // ... but not the queue, nor another settings path: each is asked upstream, which refuses.
  for (const auto& path : {queue, recording}) {
    CAPTURE(path);
    auto res = s.get(path, w.token_loc_admin_a1);
    CHECK(res.status == 403);
    CHECK(res.header("X-Cache") == "MISS");
    CHECK(s.fake.count("GET", path) == 1);
  }
  // And the refusal leaves the org admin's entries alone.
  CHECK(s.get(queue, w.token_admin_a).header("X-Cache") == "HIT");
}

TEST_CASE("an org-level list is cached when filtered by one location - and belongs to that location") {
  stack s;
  const auto& w = s.world;
  const std::string by_location = "/v1/telephony/config/huntGroups?locationId=" + w.loc_a1 + "&max=20";
  const std::string org_wide = "/v1/telephony/config/huntGroups?max=20";
  CHECK(s.get(by_location, w.token_admin_a).header("X-Cache") == "MISS");
  CHECK(s.get(by_location, w.token_admin_a).header("X-Cache") == "HIT");
  CHECK(s.metric(R"(webex_cache_proxy_requests_total{route="hunt_group",cache="hit"})") == 1);
  for (int i = 0; i < 2; ++i) CHECK(s.get(org_wide, w.token_admin_a).header("X-Cache") == "BYPASS");
  CHECK(s.fake.count("GET", "/v1/telephony/config/huntGroups") == 3);

  // A write under another location leaves it; a write under its own drops it.
  auto json = test::json_bearer(w.token_admin_a);
  REQUIRE(http_request(s.proxy.port, "PUT", "/v1/telephony/config/locations/" + w.loc_a2 + "/intercept", json,
                       R"({"enabled":true})").status / 100 == 2);
  CHECK(s.get(by_location, w.token_admin_a).header("X-Cache") == "HIT");
  REQUIRE(http_request(s.proxy.port, "POST", location_path(w) + "/huntGroups", json, R"({"name":"Support"})")
              .status / 100 == 2);
  CHECK(s.get(by_location, w.token_admin_a).header("X-Cache") == "MISS");
}
