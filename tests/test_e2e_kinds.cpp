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
using header_list_t = test::header_list;

std::string location_path(const fake::demo_world& w) { return fake::location_path(w.loc_a1); }

header_list_t json(const std::string& token) { return test::json_bearer(token); }

// The "id" member of a write's answer ({"id":"..."}), "" if there is none.
std::string id_of(const std::string& body) {
  const auto at = body.find("\"id\":\"");
  if (at == std::string::npos) return {};
  const auto rest = body.substr(at + 6);
  return rest.substr(0, rest.find('"'));
}
}  // namespace

TEST_CASE("grants are per kind: a location admin holding a call park grant is not served a cached queue") {
  stack s;
  const auto& w = s.world;
  const std::string queue = fake::item_path(w.loc_a1, "queues", w.queue_a1);
  const std::string intercept = location_path(w) + "/intercept";
  const std::string recording = location_path(w) + "/callRecording/announcements";
  // Webex lets a location admin read call parks and intercept settings, not queues (the fake
  // refuses those itself) nor call recording settings.
  s.fake.set_interceptor([&](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.authorization != "Bearer " + w.token_loc_admin_a1 || r.path != recording) return std::nullopt;
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

namespace {

// Reads `path` twice with the org admin's token: the second answer must be a hit.
void warm(stack& s, const std::string& path) {
  CAPTURE(path);
  REQUIRE(s.get(path, s.world.token_admin_a).status == 200);
  REQUIRE(s.get(path, s.world.token_admin_a).header("X-Cache") == "HIT");
}

}  // namespace

TEST_CASE("renames of a call pickup, a schedule and a schedule event: old ID gone, new ID fresh, the schedule's details fresh") {
  stack s;
  const auto& w = s.world;
  const auto token = w.token_admin_a;
  const std::string pickup = fake::item_path(w.loc_a1, "callPickups", w.pickup_a1);
  const std::string schedule = fake::item_path(w.loc_a1, "schedules/holidays", w.schedule_a1);
  const std::string events = "schedules/holidays/" + w.schedule_a1 + "/events";
  const std::string event = fake::item_path(w.loc_a1, events, w.schedule_event_a1);
  const std::string pickups = location_path(w) + "/callPickups?max=10";
  for (const auto& path : {pickup, schedule, event, pickups}) warm(s, path);

  SUBCASE("a call pickup") {
    auto res = http_request(s.proxy.port, "PUT", pickup, json(token), R"({"name":"Back Office Pickup"})");
    REQUIRE(res.status == 200);
    const auto new_path = fake::item_path(w.loc_a1, "callPickups", id_of(res.body));
    REQUIRE(new_path != pickup);
    CHECK(s.get(pickup, token).status == 404);
    auto renamed = s.get(new_path, token);
    CHECK(renamed.header("X-Cache") == "MISS");
    CHECK(renamed.body.find("Back Office Pickup") != std::string::npos);
    auto list = s.get(pickups, token);
    CHECK(list.header("X-Cache") == "MISS");
    CHECK(list.body.find("Back Office Pickup") != std::string::npos);
    CHECK(s.metric(R"(webex_cache_proxy_renames_total{kind="callPickups"})") == 1);
  }
  SUBCASE("a schedule") {
    auto res = http_request(s.proxy.port, "PUT", schedule, json(token), R"({"name":"Bank Holidays"})");
    REQUIRE(res.status == 200);
    const auto new_path =
        fake::item_path(w.loc_a1, "schedules/holidays", id_of(res.body));
    REQUIRE(new_path != schedule);
    CHECK(s.get(schedule, token).status == 404);
    CHECK(s.get(new_path, token).body.find("Bank Holidays") != std::string::npos);
    CHECK(s.metric(R"(webex_cache_proxy_renames_total{kind="schedules"})") == 1);
  }
  SUBCASE("a schedule event") {
    auto res = http_request(s.proxy.port, "PUT", event, json(token), R"({"name":"New Year's Day"})");
    REQUIRE(res.status == 200);
    const auto new_id = id_of(res.body);
    REQUIRE(new_id != w.schedule_event_a1);
    CHECK(s.get(event, token).status == 404);
    CHECK(s.get(fake::item_path(w.loc_a1, events, new_id), token).body.find("New Year's Day") != std::string::npos);
    // The parent schedule lists its events in its details: fresh too.
    auto parent = s.get(schedule, token);
    CHECK(parent.header("X-Cache") == "MISS");
    CHECK(parent.body.find('"' + new_id + '"') != std::string::npos);
    CHECK(parent.body.find('"' + w.schedule_event_a1 + '"') == std::string::npos);
    CHECK(s.metric(R"(webex_cache_proxy_renames_total{kind="events"})") == 1);
  }
}

TEST_CASE("a hunt group update answered 204 drops the location - the next read is fresh") {
  stack s;
  const auto& w = s.world;
  const std::string hunt_group = fake::item_path(w.loc_a1, "huntGroups", w.hunt_group_a1);
  const std::string org_list = "/v1/telephony/config/huntGroups?locationId=" + w.loc_a1;
  warm(s, hunt_group);
  warm(s, org_list);
  auto res = http_request(s.proxy.port, "PUT", hunt_group, json(w.token_admin_a), R"({"name":"Inside Sales"})");
  REQUIRE(res.status == 204);
  CHECK(res.body.empty());
  for (const auto& path : {hunt_group, org_list}) {
    CAPTURE(path);
    auto fresh = s.get(path, w.token_admin_a);
    CHECK(fresh.header("X-Cache") == "MISS");
    CHECK(fresh.body.find("Inside Sales") != std::string::npos);
  }
  // No new ID: not a rename.
  CHECK(s.metric(R"(webex_cache_proxy_renames_total{kind="huntGroups"})") == 0);
  CHECK(s.metric(R"(webex_cache_proxy_invalidations_total{reason="write"})") == 1);
}

TEST_CASE("a token limited to call parks reads them from the cache - and nothing else there") {
  stack s;
  const auto& w = s.world;
  const std::string park = fake::call_park_path(w.loc_a1, w.park_a1);
  const std::string pickup = fake::item_path(w.loc_a1, "callPickups", w.pickup_a1);
  const std::string details = location_path(w);
  for (const auto& path : {park, pickup, details}) warm(s, path);
  CHECK(s.get(park, w.token_park_reader_a1).header("X-Cache") == "MISS");  // learns the grant
  CHECK(s.get(park, w.token_park_reader_a1).header("X-Cache") == "HIT");
  for (const auto& path : {pickup, details}) {
    CAPTURE(path);
    auto refused = s.get(path, w.token_park_reader_a1);
    CHECK(refused.status == 403);
    CHECK(refused.body.find(fake::demo_pickup_a1_name) == std::string::npos);
    CHECK(refused.body.find(fake::demo_loc_a1_name) == std::string::npos);
  }
}
