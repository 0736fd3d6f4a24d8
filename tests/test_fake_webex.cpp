// Tests of the fake Webex API itself, through the test HTTP client: the end-to-end tests rely on
// both behaving as documented.
#include "fake_webex/demo_world.hpp"
#include "fake_webex/fake_webex.hpp"
#include "support/http_client.hpp"
#include "support/test_ca.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

using wcp::fake::call_park_path;
using wcp::fake::item_path;
using wcp::fake::location_path;
using wcp::fake::paging_path;
using wcp::fake::strip_padding;
using wcp::test::header_list;
using wcp::test::http_response;

namespace {

struct world {
  wcp::fake::fake_webex fake;
  wcp::fake::demo_world w = wcp::fake::populate_demo_world(fake);

  http_response send(const std::string& method, const std::string& token, const std::string& target,
                     std::string body = {}, header_list headers = {}) {
    headers.emplace_back("Authorization", "Bearer " + token);
    return wcp::test::http_request(fake.port(), method, target, std::move(headers), std::move(body));
  }
  http_response get(const std::string& token, const std::string& target) { return send("GET", token, target); }
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string json_member(const std::string& name, const std::string& value) {
  return "\"" + name + "\":\"" + value + "\"";
}

// A Webex-shaped error whose trackingId matches the trackingid header.
void check_webex_error(const http_response& r) {
  CHECK(r.header("Content-Type") == "application/json;charset=UTF-8");
  CHECK(contains(r.body, "\"message\":"));
  CHECK(contains(r.body, "\"errors\":[{\"description\":"));
  CHECK(!r.header("trackingid").empty());
  CHECK(contains(r.body, json_member("trackingId", r.header("trackingid"))));
}

std::string with_orgid(const std::string& path, const std::string& org) { return path + "?orgId=" + org; }

// The string value of a member of a JSON body ("" if absent), e.g. the ID in {"id":"..."}.
std::string member_value(const std::string& body, const std::string& name) {
  const std::string prefix = "\"" + name + "\":\"";
  auto at = body.find(prefix);
  if (at == std::string::npos) return {};
  at += prefix.size();
  return body.substr(at, body.find('"', at) - at);
}

std::size_t occurrences(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("wcp-test-fake-webex-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("webex_id and strip_padding") {
  CHECK(wcp::fake::webex_id("CALL_PARK", "dGVjaG5pY2FsIHN1cHBvcnQgLSBpbnN1cmFuY2UgLSBjdXN0b21lciAx") ==
        "Y2lzY29zcGFyazovL3VzL0NBTExfUEFSSy9kR1ZqYUc1cFkyRnNJSE4xY0hCdmNuUWdMU0JwYm5OMWNtRnVZMlVnTFNCamRYTjBiMjFsY2lBeA==");
  CHECK(strip_padding("abc==") == "abc");
  CHECK(strip_padding("abc") == "abc");
  CHECK(strip_padding("") == "");
}

TEST_CASE("the demo world has padded and unpadded IDs") {
  world t;
  CHECK(t.w.loc_a1.ends_with("="));
  CHECK(!t.w.loc_a2.ends_with("="));
  CHECK(t.w.park_a1.ends_with("="));
  CHECK(!t.w.park_a2.ends_with("="));
  CHECK(!t.w.paging_a1.ends_with("="));
  CHECK(t.w.paging_b1.ends_with("="));
  CHECK(t.fake.resource_name(t.w.park_a1) == std::optional<std::string>(wcp::fake::demo_park_a1_name));
  CHECK(t.fake.base_url() == "http://127.0.0.1:" + std::to_string(t.fake.port()));
}

TEST_CASE("a request without a valid bearer token gets 401") {
  world t;
  const auto path = call_park_path(t.w.loc_a1, t.w.park_a1);
  auto unknown = t.get("no-such-token", path);
  CHECK(unknown.status == 401);
  check_webex_error(unknown);

  CHECK(wcp::test::http_request(t.fake.port(), "GET", path).status == 401);
  CHECK(wcp::test::http_request(t.fake.port(), "GET", path, {{"Authorization", "bearer " + t.w.token_admin_a}})
            .status == 401);
  CHECK(wcp::test::http_request(t.fake.port(), "GET", path, {{"Authorization", "Bearer  " + t.w.token_admin_a}})
            .status == 401);
  CHECK(wcp::test::http_request(t.fake.port(), "GET", "/v1/people/me").status == 401);
}

TEST_CASE("an admin gets its own call park and paging group") {
  world t;
  auto park = t.get(t.w.token_admin_a, call_park_path(t.w.loc_a1, t.w.park_a1));
  CHECK(park.status == 200);
  CHECK(park.header("Content-Type") == "application/json;charset=UTF-8");
  CHECK(park.header("trackingid").starts_with("ROUTER_"));
  CHECK(contains(park.body, json_member("id", t.w.park_a1)));
  CHECK(contains(park.body, json_member("name", wcp::fake::demo_park_a1_name)));
  CHECK(contains(park.body, "\"huntGroupName\":\"Technical Support Group - 5558675309\""));
  CHECK(contains(park.body, "\"callParkExtensions\":"));

  auto paging = t.get(t.w.token_admin_a, paging_path(t.w.loc_a1, t.w.paging_a1));
  CHECK(paging.status == 200);
  CHECK(contains(paging.body, json_member("id", t.w.paging_a1)));
  CHECK(contains(paging.body, json_member("name", wcp::fake::demo_paging_a1_name)));
  CHECK(contains(paging.body, "\"originators\":"));

  auto other = t.get(t.w.token_admin_a, call_park_path(t.w.loc_a1, t.w.park_a1));
  CHECK(other.header("trackingid") != park.header("trackingid"));
}

TEST_CASE("unknown locations and resources are 404") {
  world t;
  auto no_loc = t.get(t.w.token_admin_a, call_park_path(wcp::fake::webex_id("LOCATION", "nope"), t.w.park_a1));
  CHECK(no_loc.status == 404);
  check_webex_error(no_loc);
  auto no_park = t.get(t.w.token_admin_a, call_park_path(t.w.loc_a1, wcp::fake::webex_id("CALL_PARK", "nope")));
  CHECK(no_park.status == 404);
  check_webex_error(no_park);
  // A resource that exists, but in another location.
  CHECK(t.get(t.w.token_admin_a, call_park_path(t.w.loc_a2, t.w.park_a1)).status == 404);
  CHECK(t.get(t.w.token_admin_a, paging_path(t.w.loc_a1, t.w.park_a1)).status == 404);
}

TEST_CASE("a location admin reaches only its location") {
  world t;
  CHECK(t.get(t.w.token_loc_admin_a1, call_park_path(t.w.loc_a1, t.w.park_a1)).status == 200);
  CHECK(t.get(t.w.token_loc_admin_a1, paging_path(t.w.loc_a1, t.w.paging_a1)).status == 200);
  auto denied = t.get(t.w.token_loc_admin_a1, call_park_path(t.w.loc_a2, t.w.park_a2));
  CHECK(denied.status == 403);
  check_webex_error(denied);
  CHECK(t.get(t.w.token_loc_admin_a1, paging_path(t.w.loc_a2, wcp::fake::webex_id("PAGING_GROUP", "x"))).status ==
        403);
  // Its org's admin reaches both.
  CHECK(t.get(t.w.token_admin_a, call_park_path(t.w.loc_a2, t.w.park_a2)).status == 200);
}

TEST_CASE("the admin of another org gets 403 with orgId and 404 without") {
  world t;
  const auto path = call_park_path(t.w.loc_a1, t.w.park_a1);
  auto forbidden = t.get(t.w.token_admin_b, with_orgid(path, t.w.org_a));
  CHECK(forbidden.status == 403);
  check_webex_error(forbidden);
  CHECK(t.get(t.w.token_admin_b, path).status == 404);
  CHECK(t.get(t.w.token_admin_b, call_park_path(t.w.loc_b1, t.w.park_b1)).status == 200);
  CHECK(t.get(t.w.token_admin_b, with_orgid(call_park_path(t.w.loc_b1, t.w.park_b1), t.w.org_b)).status == 200);
}

TEST_CASE("a partner acts on a customer org through orgId") {
  world t;
  const auto path = call_park_path(t.w.loc_a1, t.w.park_a1);
  CHECK(t.get(t.w.token_partner, with_orgid(path, t.w.org_a)).status == 200);
  CHECK(t.get(t.w.token_partner, path).status == 404);
  CHECK(t.get(t.w.token_partner, with_orgid(call_park_path(t.w.loc_b1, t.w.park_b1), t.w.org_b)).status == 403);
  // orgId percent-encoded, and without its padding.
  std::string encoded = t.w.org_a;
  while (encoded.ends_with("=")) encoded = encoded.substr(0, encoded.size() - 1) + "%3D";
  CHECK(t.get(t.w.token_partner, path + "?orgId=" + encoded).status == 200);
  CHECK(t.get(t.w.token_partner, with_orgid(path, strip_padding(t.w.org_a))).status == 200);
  // An admin naming its own org.
  CHECK(t.get(t.w.token_admin_a, with_orgid(path, t.w.org_a)).status == 200);
}

TEST_CASE("IDs are found with or without their padding") {
  world t;
  REQUIRE(t.w.park_a1.ends_with("="));
  auto unpadded = t.get(t.w.token_admin_a, call_park_path(strip_padding(t.w.loc_a1), strip_padding(t.w.park_a1)));
  CHECK(unpadded.status == 200);
  CHECK(contains(unpadded.body, json_member("id", t.w.park_a1)));  // the body names the canonical ID
  CHECK(t.get(t.w.token_admin_a, call_park_path(t.w.loc_a2 + "=", t.w.park_a2 + "==")).status == 200);
  CHECK(t.get(t.w.token_admin_a, paging_path(t.w.loc_a1, t.w.paging_a1 + "=")).status == 200);
  CHECK(t.get(t.w.token_loc_admin_a1, call_park_path(strip_padding(t.w.loc_a1), t.w.park_a1)).status == 200);
}

TEST_CASE("renaming a call park gives it a new ID") {
  world t;
  const auto old_path = call_park_path(t.w.loc_a1, t.w.park_a1);
  auto put = t.send("PUT", t.w.token_admin_a, old_path, R"({"name":"Renamed \"Park\""})",
                    {{"Content-Type", "application/json"}});
  REQUIRE(put.status == 200);
  const std::string prefix = "{\"id\":\"";
  REQUIRE(put.body.starts_with(prefix));
  const std::string new_id = put.body.substr(prefix.size(), put.body.find('"', prefix.size()) - prefix.size());
  CHECK(new_id != t.w.park_a1);
  CHECK(put.body == "{\"id\":\"" + new_id + "\"}");

  CHECK(t.get(t.w.token_admin_a, old_path).status == 404);
  auto renamed = t.get(t.w.token_admin_a, call_park_path(t.w.loc_a1, new_id));
  CHECK(renamed.status == 200);
  CHECK(contains(renamed.body, json_member("id", new_id)));
  CHECK(contains(renamed.body, R"("name":"Renamed \"Park\"")"));
  CHECK(t.fake.resource_name(new_id) == std::optional<std::string>("Renamed \"Park\""));
  CHECK(!t.fake.resource_name(t.w.park_a1));

  // The same name again: the ID stays.
  auto same = t.send("PUT", t.w.token_admin_a, call_park_path(t.w.loc_a1, new_id), R"({"name":"Renamed \"Park\""})");
  CHECK(same.status == 200);
  CHECK(same.body == "{\"id\":\"" + new_id + "\"}");
}

TEST_CASE("a call park update without a rename keeps the ID and shows the change") {
  world t;
  const auto path = call_park_path(t.w.loc_a1, t.w.park_a1);
  auto put = t.send("PUT", t.w.token_admin_a, path, R"({"parkOnAgentsEnabled": true, "extra": {"a": [1, 2]}})");
  CHECK(put.status == 200);
  CHECK(put.body == "{\"id\":\"" + t.w.park_a1 + "\"}");
  auto got = t.get(t.w.token_admin_a, path);
  CHECK(contains(got.body, "\"parkOnAgentsEnabled\":true"));
  CHECK(contains(got.body, "\"extra\":{\"a\":[1,2]}"));
  CHECK(contains(got.body, json_member("name", wcp::fake::demo_park_a1_name)));
}

TEST_CASE("bad PUT bodies and name clashes") {
  world t;
  const auto path = call_park_path(t.w.loc_a1, t.w.park_a1);
  auto bad = t.send("PUT", t.w.token_admin_a, path, "{not json");
  CHECK(bad.status == 400);
  check_webex_error(bad);
  CHECK(t.send("PUT", t.w.token_admin_a, path, R"({"name": 5})").status == 400);
  CHECK(t.send("PUT", t.w.token_admin_a, path, "[1]").status == 400);

  auto other = t.fake.add_call_park(t.w.loc_a1, "Second Park");
  CHECK(t.send("PUT", t.w.token_admin_a, path, R"({"name":"Second Park"})").status == 409);
  CHECK(t.get(t.w.token_admin_a, call_park_path(t.w.loc_a1, other)).status == 200);
  CHECK_THROWS_AS(t.fake.add_call_park(t.w.loc_a1, "Second Park"), std::invalid_argument);
  CHECK_THROWS_AS(t.fake.add_call_park(wcp::fake::webex_id("LOCATION", "nope"), "x"), std::invalid_argument);
}

TEST_CASE("renaming a paging group keeps its ID") {
  world t;
  const auto path = paging_path(t.w.loc_b1, t.w.paging_b1);
  auto put = t.send("PUT", t.w.token_admin_b, path, R"({"name":"Dock Paging"})");
  CHECK(put.status == 204);
  CHECK(put.body.empty());
  auto got = t.get(t.w.token_admin_b, path);
  CHECK(got.status == 200);
  CHECK(contains(got.body, json_member("id", t.w.paging_b1)));
  CHECK(contains(got.body, json_member("name", "Dock Paging")));
}

TEST_CASE("DELETE removes a resource") {
  world t;
  auto del = t.send("DELETE", t.w.token_admin_a, call_park_path(t.w.loc_a2, t.w.park_a2));
  CHECK(del.status == 204);
  CHECK(t.get(t.w.token_admin_a, call_park_path(t.w.loc_a2, t.w.park_a2)).status == 404);
  CHECK(t.send("DELETE", t.w.token_admin_a, paging_path(t.w.loc_a1, t.w.paging_a1)).status == 204);
  CHECK(t.get(t.w.token_admin_a, paging_path(t.w.loc_a1, t.w.paging_a1)).status == 404);
  CHECK(t.send("DELETE", t.w.token_admin_a, paging_path(t.w.loc_a1, t.w.paging_a1)).status == 404);
  // Another org's admin cannot delete.
  CHECK(t.send("DELETE", t.w.token_admin_b, with_orgid(call_park_path(t.w.loc_a1, t.w.park_a1), t.w.org_a)).status ==
        403);
  CHECK(t.get(t.w.token_admin_a, call_park_path(t.w.loc_a1, t.w.park_a1)).status == 200);
}

TEST_CASE("lists and the routes beside the cached ones") {
  world t;
  const std::string base = "/v1/telephony/config/locations/" + t.w.loc_a1;
  auto list = t.get(t.w.token_admin_a, base + "/callParks");
  CHECK(list.status == 200);
  CHECK(list.body == "{\"callParks\":[{\"id\":\"" + t.w.park_a1 + "\",\"name\":\"Sales Park\"}]}");
  auto paging_list = t.get(t.w.token_admin_a, base + "/paging");
  CHECK(contains(paging_list.body, json_member("id", t.w.paging_a1)));

  for (const char* route : {"callParks/settings", "callParks/availableUsers", "callParks/availableRecallHuntGroups",
                            "paging/availableNumbers"}) {
    CAPTURE(route);
    auto r = t.get(t.w.token_admin_a, base + "/" + route);
    CHECK(r.status == 200);
    CHECK(contains(r.body, json_member("route", route)));
    CHECK(t.get(t.w.token_admin_b, base + "/" + route).status == 404);
    CHECK(t.get(t.w.token_loc_admin_a1, "/v1/telephony/config/locations/" + t.w.loc_a2 + "/" + route).status == 403);
    CHECK(t.get("bogus", base + "/" + route).status == 401);
  }

  auto created = t.send("POST", t.w.token_admin_a, base + "/callParks", R"({"name":"Created Park"})");
  CHECK(created.status == 201);
  CHECK(contains(created.body, json_member("id", wcp::fake::webex_id("CALL_PARK", "Q3JlYXRlZCBQYXJr"))));
}

TEST_CASE("any other path echoes what arrived") {
  world t;
  auto r = t.send("POST", t.w.token_admin_b, "/v1/people/me?max=10&orgId=a%3D", "{\"x\":\"y\"}");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "application/json;charset=UTF-8");
  CHECK(!r.header("trackingid").empty());
  CHECK(r.body ==
        R"({"method":"POST","path":"/v1/people/me","query":"max=10&orgId=a%3D","body":"{\"x\":\"y\"}"})");

  // A path below a location that is not modelled (L/numbers has no GET) ...
  auto get = t.get(t.w.token_admin_a, "/v1/telephony/config/locations/" + t.w.loc_a1 + "/numbers");
  CHECK(get.status == 200);
  CHECK(contains(get.body, "\"method\":\"GET\""));
  CHECK(contains(get.body, "\"query\":\"\""));
  CHECK(contains(get.body, "\"body\":\"\""));

  // ... and a method that a modelled path does not have: PATCH anywhere, GET on a collection that
  // Webex lists only org-wide.
  auto patch = t.send("PATCH", t.w.token_admin_a, call_park_path(t.w.loc_a1, t.w.park_a1), "{}");
  CHECK(patch.status == 200);
  CHECK(contains(patch.body, "\"method\":\"PATCH\""));
  auto hunt_groups = t.get(t.w.token_admin_a, "/v1/telephony/config/locations/" + t.w.loc_a1 + "/huntGroups");
  CHECK(hunt_groups.status == 200);
  CHECK(contains(hunt_groups.body, "\"path\":\"/v1/telephony/config/locations/"));
}

TEST_CASE("HEAD answers the headers of GET without a body") {
  world t;
  const auto path = call_park_path(t.w.loc_a1, t.w.park_a1);
  auto get = t.get(t.w.token_admin_a, path);
  auto head = t.send("HEAD", t.w.token_admin_a, path);
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.header("Content-Length") == std::to_string(get.body.size()));
  CHECK(t.send("HEAD", "bogus", path).status == 401);
}

TEST_CASE("requests are recorded as they arrived") {
  world t;
  const std::string auth = "Bearer " + t.w.token_admin_a;
  const auto path = call_park_path(t.w.loc_a1, t.w.park_a1);
  wcp::test::http_request(t.fake.port(), "GET", path + "?orgId=" + t.w.org_a,
                          {{"Authorization", auth}, {"TrackingID", "TEST_123"}, {"X-Custom", "v"}});
  wcp::test::http_request(t.fake.port(), "PUT", paging_path(t.w.loc_a1, t.w.paging_a1),
                          {{"authorization", "Bearer  odd\tvalue"}}, "{\"name\":\"n\"}");
  auto reqs = t.fake.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].method == "GET");
  CHECK(reqs[0].path == path);
  CHECK(reqs[0].target == path + "?orgId=" + t.w.org_a);
  CHECK(reqs[0].authorization == auth);
  CHECK(reqs[0].tracking_id == "TEST_123");
  CHECK(std::find(reqs[0].headers.begin(), reqs[0].headers.end(), std::pair<std::string, std::string>("X-Custom", "v")) !=
        reqs[0].headers.end());
  CHECK(reqs[1].method == "PUT");
  CHECK(reqs[1].authorization == "Bearer  odd\tvalue");
  CHECK(reqs[1].tracking_id.empty());
  CHECK(reqs[1].body == "{\"name\":\"n\"}");

  CHECK(t.fake.count("GET", "/callParks/") == 1);
  CHECK(t.fake.count("PUT", "/callParks/") == 0);
  CHECK(t.fake.count("", "/telephony/") == 2);
  t.fake.clear_requests();
  CHECK(t.fake.requests().empty());
  CHECK(t.fake.count("", "") == 0);
}

TEST_CASE("an interceptor scripts answers") {
  world t;
  const auto path = call_park_path(t.w.loc_a1, t.w.park_a1);
  std::atomic<int> seen{0};
  t.fake.set_interceptor([&](const wcp::fake::recorded_request& r) -> std::optional<wcp::fake::scripted_response> {
    ++seen;
    if (r.path.ends_with("/limited")) {
      wcp::fake::scripted_response s;
      s.status = 429;
      s.headers = {{"Retry-After", "7"}};
      s.body = R"({"message":"slow down"})";
      return s;
    }
    if (r.path.ends_with("/slow")) {
      wcp::fake::scripted_response s;
      s.delay = std::chrono::milliseconds(300);
      s.body = "{}";
      return s;
    }
    if (r.path.ends_with("/drop")) {
      wcp::fake::scripted_response s;
      s.close_without_answer = true;
      return s;
    }
    if (r.path.ends_with("/raw")) {
      wcp::fake::scripted_response s;
      s.raw = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 2\r\nX-Raw: 1\r\n\r\nno";
      return s;
    }
    return std::nullopt;
  });

  auto limited = t.get("any", "/limited");
  CHECK(limited.status == 429);
  CHECK(limited.header("Retry-After") == "7");
  CHECK(limited.header("Content-Type") == "application/json;charset=UTF-8");
  CHECK(limited.header("trackingid").starts_with("ROUTER_"));
  CHECK(limited.body == R"({"message":"slow down"})");

  auto start = std::chrono::steady_clock::now();
  CHECK(t.get("any", "/slow").status == 200);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(300));
  CHECK_THROWS_AS(wcp::test::http_request(t.fake.port(), "GET", "/slow", {}, {}, std::chrono::milliseconds(100)),
                  std::runtime_error);

  CHECK_THROWS_AS(t.get("any", "/drop"), std::runtime_error);
  auto raw = t.get("any", "/raw");
  CHECK(raw.status == 502);
  CHECK(raw.header("X-Raw") == "1");
  CHECK(raw.body == "no");

  // Not intercepted: normal handling.
  CHECK(t.get(t.w.token_admin_a, path).status == 200);
  CHECK(seen == 6);
  CHECK(t.fake.count("GET", "/drop") == 1);  // intercepted requests are recorded too

  t.fake.set_interceptor({});
  CHECK(t.get(t.w.token_admin_a, "/limited").status == 200);
}

TEST_CASE("connections are kept alive and can be closed by the fake") {
  world t;
  const auto path = call_park_path(t.w.loc_a1, t.w.park_a1);
  const header_list auth = {{"Authorization", "Bearer " + t.w.token_admin_a}};
  auto before = t.fake.connections_accepted();
  wcp::test::http_connection c(t.fake.port());
  CHECK(c.request("GET", path, auth).status == 200);
  CHECK(c.request("HEAD", path, auth).status == 200);
  CHECK(c.request("GET", path, auth).status == 200);
  CHECK(t.fake.connections_accepted() == before + 1);
  CHECK(!c.is_closed_by_peer(std::chrono::milliseconds(50)));
  CHECK(c.request("GET", path, auth).status == 200);  // still usable after the wait

  t.fake.close_connections();
  CHECK(c.is_closed_by_peer(std::chrono::seconds(2)));

  wcp::test::http_connection closing(t.fake.port());
  auto r = closing.request("GET", path, {{"Authorization", "Bearer " + t.w.token_admin_a}, {"Connection", "close"}});
  CHECK(r.status == 200);
  CHECK(closing.is_closed_by_peer(std::chrono::seconds(2)));
}

TEST_CASE("raw bytes in and one response out per request") {
  world t;
  wcp::test::http_connection c(t.fake.port());
  c.send_raw("GET /v1/people/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + t.w.token_admin_a +
             "\r\n\r\nGET /v1/other HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n\r\n");
  auto first = c.read_raw_response();
  auto second = c.read_raw_response();
  CHECK(first.status == 200);
  CHECK(contains(first.body, "\"path\":\"/v1/people/me\""));
  CHECK(second.status == 401);
}

TEST_CASE("the fake serves HTTPS with the test PKI") {
  temp_dir dir;
  auto pki = wcp::test::make_test_pki(dir.path.string());
  for (const auto& f : {pki.ca_cert, pki.server_cert, pki.server_key, pki.other_ca_cert}) {
    CHECK(std::filesystem::file_size(f) > 0);
  }

  wcp::fake::options o;
  o.tls_cert_file = pki.server_cert;
  o.tls_key_file = pki.server_key;
  wcp::fake::fake_webex fake(o);
  auto w = wcp::fake::populate_demo_world(fake);
  CHECK(fake.base_url() == "https://127.0.0.1:" + std::to_string(fake.port()));

  const header_list auth = {{"Authorization", "Bearer " + w.token_admin_a}};
  const auto path = call_park_path(w.loc_a1, w.park_a1);
  auto by_name = wcp::test::https_request(fake.port(), pki.ca_cert, "GET", path, auth);
  CHECK(by_name.status == 200);
  CHECK(contains(by_name.body, json_member("id", w.park_a1)));
  auto by_ip = wcp::test::https_request(fake.port(), pki.ca_cert, "GET", path, auth, {}, std::chrono::seconds(10),
                                        "127.0.0.1");
  CHECK(by_ip.status == 200);

  CHECK_THROWS_AS(wcp::test::https_request(fake.port(), pki.other_ca_cert, "GET", path, auth), std::runtime_error);
  CHECK_THROWS_AS(wcp::test::https_request(fake.port(), pki.ca_cert, "GET", path, auth, {}, std::chrono::seconds(10),
                                           "wrong.example"),
                  std::runtime_error);
  // Plain HTTP to the TLS port fails rather than hanging.
  CHECK_THROWS_AS(wcp::test::http_request(fake.port(), "GET", path, auth, {}, std::chrono::seconds(5)),
                  std::runtime_error);
}

TEST_CASE("two fakes serve independently and one stops cleanly mid-request") {
  auto a = std::make_unique<wcp::fake::fake_webex>();
  wcp::fake::fake_webex b;
  CHECK(a->port() != b.port());
  a->set_interceptor([](const wcp::fake::recorded_request&) {
    wcp::fake::scripted_response s;
    s.delay = std::chrono::seconds(30);
    return std::optional(s);
  });
  std::atomic<bool> threw{false};
  std::thread client([port = a->port(), &threw] {
    try {
      wcp::test::http_request(port, "GET", "/v1/x", {}, {}, std::chrono::seconds(5));
    } catch (const std::runtime_error&) {
      threw = true;
    }
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (a->requests().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (a->requests().empty()) client.join();  // ends by its own 5 s timeout
  REQUIRE_FALSE(a->requests().empty());
  auto start = std::chrono::steady_clock::now();
  a.reset();  // must not wait for the 30 s delay
  client.join();
  CHECK(threw);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  CHECK(wcp::test::http_request(b.port(), "GET", "/v1/x").status == 401);
}

// ---- the kinds beyond call parks and paging groups ----------------------------------------------

TEST_CASE("renaming a call pickup gives it a new ID and the old one answers 404") {
  world t;
  const auto old_path = item_path(t.w.loc_a1, "callPickups", t.w.pickup_a1);
  auto got = t.get(t.w.token_admin_a, old_path);
  REQUIRE(got.status == 200);
  CHECK(contains(got.body, json_member("id", t.w.pickup_a1)));
  CHECK(contains(got.body, json_member("name", wcp::fake::demo_pickup_a1_name)));

  auto put = t.send("PUT", t.w.token_admin_a, old_path, R"({"name":"Back Office Pickup","agents":[]})");
  REQUIRE(put.status == 200);
  const auto new_id = member_value(put.body, "id");
  CHECK(put.body == "{\"id\":\"" + new_id + "\"}");
  CHECK(new_id != t.w.pickup_a1);
  CHECK(new_id == wcp::fake::webex_id("CALL_PICKUP", "QmFjayBPZmZpY2UgUGlja3Vw"));  // the name, in base64
  auto old = t.get(t.w.token_admin_a, old_path);
  CHECK(old.status == 404);
  check_webex_error(old);
  CHECK(contains(old.body, "Call Pickup Not Found"));
  auto renamed = t.get(t.w.token_admin_a, item_path(t.w.loc_a1, "callPickups", new_id));
  CHECK(renamed.status == 200);
  CHECK(contains(renamed.body, json_member("name", "Back Office Pickup")));
  CHECK(t.fake.item_name(new_id) == std::optional<std::string>("Back Office Pickup"));
  CHECK(t.fake.resource_name(new_id) == std::optional<std::string>("Back Office Pickup"));
  CHECK(!t.fake.item_name(t.w.pickup_a1));

  // A name taken in the same location is a conflict; in another location it is not.
  t.fake.add_item(t.w.loc_a1, "callPickups", "Taken");
  CHECK(t.send("PUT", t.w.token_admin_a, item_path(t.w.loc_a1, "callPickups", new_id), R"({"name":"Taken"})")
            .status == 409);
  CHECK(t.send("POST", t.w.token_admin_a, location_path(t.w.loc_a1, "callPickups"), R"({"name":"Taken"})").status ==
        409);
  CHECK(t.send("POST", t.w.token_admin_a, location_path(t.w.loc_a2, "callPickups"), R"({"name":"Taken"})").status ==
        201);
}

TEST_CASE("schedules: the type is part of the path, the events are in the body, and renames change IDs") {
  world t;
  const auto schedule = item_path(t.w.loc_a1, "schedules/holidays", t.w.schedule_a1);
  auto got = t.get(t.w.token_admin_a, schedule);
  REQUIRE(got.status == 200);
  CHECK(contains(got.body, "\"type\":\"holidays\""));
  CHECK(contains(got.body, "\"events\":[{" + json_member("id", t.w.schedule_event_a1) + "," +
                               json_member("name", wcp::fake::demo_schedule_event_a1_name)));
  // The same ID under the other type is not there.
  CHECK(t.get(t.w.token_admin_a, item_path(t.w.loc_a1, "schedules/businessHours", t.w.schedule_a1)).status == 404);

  // Renaming the schedule: a new ID; its events stay with it.
  auto put = t.send("PUT", t.w.token_admin_a, schedule, R"({"name":"Bank Holidays"})");
  REQUIRE(put.status == 200);
  const auto schedule_id = member_value(put.body, "id");
  CHECK(schedule_id != t.w.schedule_a1);
  CHECK(t.get(t.w.token_admin_a, schedule).status == 404);
  const auto events = "schedules/holidays/" + schedule_id + "/events";
  const auto old_event = item_path(t.w.loc_a1, events, t.w.schedule_event_a1);
  CHECK(t.get(t.w.token_admin_a, old_event).status == 200);
  // The event under the schedule's old ID is gone with it.
  CHECK(t.get(t.w.token_admin_a, item_path(t.w.loc_a1, "schedules/holidays/" + t.w.schedule_a1 + "/events",
                                           t.w.schedule_event_a1))
            .status == 404);

  // Renaming the event: a new ID, shown in the schedule.
  auto put_event = t.send("PUT", t.w.token_admin_a, old_event, R"({"name":"New Year's Day","allDayEnabled":false})");
  REQUIRE(put_event.status == 200);
  const auto event_id = member_value(put_event.body, "id");
  CHECK(event_id != t.w.schedule_event_a1);
  CHECK(t.get(t.w.token_admin_a, old_event).status == 404);
  auto event = t.get(t.w.token_admin_a, item_path(t.w.loc_a1, events, event_id));
  CHECK(event.status == 200);
  CHECK(contains(event.body, "\"allDayEnabled\":false"));
  auto renamed = t.get(t.w.token_admin_a, item_path(t.w.loc_a1, "schedules/holidays", schedule_id));
  CHECK(contains(renamed.body, json_member("id", event_id)));
  CHECK(!contains(renamed.body, json_member("id", t.w.schedule_event_a1)));

  // POST creates events and schedules (the type in the body); DELETE of a schedule takes its events.
  auto created = t.send("POST", t.w.token_admin_a, location_path(t.w.loc_a1, events), R"({"name":"Labour Day"})");
  CHECK(created.status == 201);
  CHECK(t.fake.item_name(member_value(created.body, "id")) == std::optional<std::string>("Labour Day"));
  auto hours = t.send("POST", t.w.token_admin_a, location_path(t.w.loc_a1, "schedules"),
                      R"({"name":"Office Hours","type":"businessHours"})");
  CHECK(hours.status == 201);
  CHECK(t.get(t.w.token_admin_a, item_path(t.w.loc_a1, "schedules/businessHours", member_value(hours.body, "id")))
            .status == 200);
  CHECK(t.send("POST", t.w.token_admin_a, location_path(t.w.loc_a1, "schedules"), R"({"name":"No Type"})").status ==
        400);
  CHECK(t.send("POST", t.w.token_admin_a, location_path(t.w.loc_a1, "schedules"),
               R"({"name":"Odd","type":"weekends"})")
            .status == 400);
  CHECK(t.send("DELETE", t.w.token_admin_a, item_path(t.w.loc_a1, "schedules/holidays", schedule_id)).status == 204);
  CHECK(!t.fake.item_name(event_id));
  CHECK(t.send("POST", t.w.token_admin_a, location_path(t.w.loc_a1, events), R"({"name":"Orphan"})").status == 404);
}

TEST_CASE("hunt groups and queues keep their ID: PUT answers 204") {
  world t;
  for (const auto& [collection, id] : {std::pair{"huntGroups", t.w.hunt_group_a1}, std::pair{"queues", t.w.queue_a1}}) {
    CAPTURE(collection);
    const auto path = item_path(t.w.loc_a1, collection, id);
    auto put = t.send("PUT", t.w.token_admin_a, path, R"({"name":"Renamed","enabled":false})");
    CHECK(put.status == 204);
    CHECK(put.body.empty());
    auto got = t.get(t.w.token_admin_a, path);
    CHECK(got.status == 200);
    CHECK(contains(got.body, json_member("id", id)));
    CHECK(contains(got.body, json_member("name", "Renamed")));
    CHECK(contains(got.body, "\"enabled\":false"));
    CHECK(t.send("PUT", t.w.token_admin_a, path, "{bad").status == 400);
  }
}

TEST_CASE("every kind of the table: create, read, change, delete") {
  world t;
  struct kind_case {
    std::string collection;  // below the location
    unsigned put_status;     // 0: no PUT (echoed)
    bool new_id_on_rename;
    std::string created_key = "id";
  };
  const auto dect = t.fake.add_item(t.w.loc_a1, "dectNetworks", "DECT One");
  const auto ai = t.fake.add_item(t.w.loc_a1, "aiReceptionists", "Robot");
  const auto aa = t.fake.add_item(t.w.loc_a1, "autoAttendants", "Main Menu");
  const std::vector<kind_case> cases = {
      {"callParks", 200, true},
      {"callPickups", 200, true},
      {"schedules/holidays", 200, true},
      {"schedules/holidays/" + t.w.schedule_a1 + "/events", 200, true},
      {"autoAttendants/" + aa + "/callForwarding/selectiveRules", 200, true},
      {"huntGroups/" + t.w.hunt_group_a1 + "/callForwarding/selectiveRules", 200, true},
      {"queues/" + t.w.queue_a1 + "/callForwarding/selectiveRules", 200, true},
      {"huntGroups", 204, false},
      {"queues", 204, false},
      {"autoAttendants", 204, false},
      {"paging", 204, false},
      {"voicemailGroups", 204, false},
      {"callParkExtensions", 204, false},
      {"announcements", 204, false},
      {"callRouting/translationPatterns", 204, false},
      {"outgoingPermission/digitPatterns", 204, false},
      {"dectNetworks", 204, false, "dectNetworkId"},
      {"dectNetworks/" + dect + "/baseStations", 0, false},
      {"dectNetworks/" + dect + "/handsets", 204, false},
      {"receptionistContacts/directories", 200, false},
      {"aiReceptionists", 204, false},
      {"aiReceptionists/" + ai + "/intents", 204, false},
  };
  for (const auto& k : cases) {
    CAPTURE(k.collection);
    // POST on the collection (a schedule's type goes in the body).
    std::string post_path = k.collection, body = R"({"name":"First"})";
    if (k.collection == "schedules/holidays") {
      post_path = "schedules";
      body = R"({"name":"First","type":"holidays"})";
    }
    auto created = t.send("POST", t.w.token_admin_a, location_path(t.w.loc_a1, post_path), body);
    REQUIRE(created.status == 201);
    const auto id = member_value(created.body, k.created_key);
    REQUIRE(!id.empty());
    CHECK(t.fake.item_name(id) == std::optional<std::string>("First"));
    CHECK(t.send("POST", t.w.token_admin_a, location_path(t.w.loc_a1, post_path), R"({"nameless":1})").status == 400);

    const auto path = item_path(t.w.loc_a1, k.collection, id);
    auto got = t.get(t.w.token_admin_a, path);
    CHECK(got.status == 200);
    CHECK(contains(got.body, json_member("id", id)));
    CHECK(contains(got.body, json_member("name", "First")));

    auto put = t.send("PUT", t.w.token_admin_a, path, R"({"name":"Second"})");
    std::string now = id;
    if (k.put_status == 0) {
      CHECK(put.status == 200);
      CHECK(contains(put.body, "\"method\":\"PUT\""));  // echoed: Webex has no PUT here
    } else {
      CHECK(put.status == k.put_status);
      if (k.put_status == 200) {
        now = member_value(put.body, "id");
        CHECK((now != id) == k.new_id_on_rename);
      }
      CHECK(t.fake.item_name(now) == std::optional<std::string>("Second"));
      CHECK((t.get(t.w.token_admin_a, path).status == 404) == k.new_id_on_rename);
    }
    const auto now_path = item_path(t.w.loc_a1, k.collection, now);
    CHECK(t.send("DELETE", t.w.token_admin_a, now_path).status == 204);
    auto gone = t.get(t.w.token_admin_a, now_path);
    CHECK(gone.status == 404);
    check_webex_error(gone);
    CHECK(!t.fake.item_name(now));
    // Not in another location.
    CHECK(t.get(t.w.token_admin_a, item_path(t.w.loc_a2, k.collection, t.w.hunt_group_a1)).status == 404);
  }
}

TEST_CASE("selective forwarding rules are listed in their feature's callForwarding document") {
  world t;
  const auto forwarding = location_path(t.w.loc_a1, "huntGroups/" + t.w.hunt_group_a1 + "/callForwarding");
  auto empty = t.get(t.w.token_admin_a, forwarding);
  REQUIRE(empty.status == 200);
  CHECK(contains(empty.body, "\"rules\":[]"));
  CHECK(contains(empty.body, "\"always\":{"));

  const auto rule = t.fake.add_item(t.w.loc_a1, "huntGroups/" + t.w.hunt_group_a1 + "/callForwarding/selectiveRules",
                                    "After Hours");
  auto listed = t.get(t.w.token_admin_a, forwarding);
  CHECK(contains(listed.body, "\"rules\":[{" + json_member("id", rule) + "," + json_member("name", "After Hours")));

  // A rename shows the new ID there; a PUT of the document keeps the rules.
  auto put = t.send("PUT", t.w.token_admin_a, forwarding + "/selectiveRules/" + rule, R"({"name":"Night"})");
  REQUIRE(put.status == 200);
  const auto renamed = member_value(put.body, "id");
  CHECK(t.send("PUT", t.w.token_admin_a, forwarding,
               R"({"callForwarding":{"always":{"enabled":true,"destination":"+15550100"}}})")
            .status == 204);
  auto after = t.get(t.w.token_admin_a, forwarding);
  CHECK(contains(after.body, "\"always\":{\"enabled\":true,\"destination\":\"+15550100\"}"));
  CHECK(contains(after.body, json_member("id", renamed)));
  CHECK(!contains(after.body, json_member("id", rule)));
  // Another hunt group's document does not list it; a missing hunt group is a 404.
  const auto other = t.fake.add_item(t.w.loc_a1, "huntGroups", "Other");
  CHECK(contains(t.get(t.w.token_admin_a, location_path(t.w.loc_a1, "huntGroups/" + other + "/callForwarding")).body,
                 "\"rules\":[]"));
  auto missing = t.get(t.w.token_admin_a, location_path(t.w.loc_a1, "huntGroups/SFVOVA/callForwarding"));
  CHECK(missing.status == 404);
  CHECK(contains(missing.body, "Hunt Group Not Found"));
}

TEST_CASE("paged lists under a location: start, max, filters and absolute Link URLs") {
  world t;
  for (int i = 2; i <= 5; ++i) t.fake.add_item(t.w.loc_a1, "callPickups", "Pickup " + std::to_string(i));
  const auto list = location_path(t.w.loc_a1, "callPickups");
  auto all = t.get(t.w.token_admin_a, list);
  REQUIRE(all.status == 200);
  CHECK(all.body.starts_with("{\"callPickups\":[{" + json_member("id", t.w.pickup_a1) + "," +
                             json_member("name", wcp::fake::demo_pickup_a1_name) + "}"));
  CHECK(occurrences(all.body, "\"id\":") == 5);
  CHECK(!all.has_header("Link"));

  auto first = t.get(t.w.token_admin_a, list + "?max=2");
  CHECK(occurrences(first.body, "\"id\":") == 2);
  CHECK(first.header("Link") == "<" + t.fake.base_url() + list + "?max=2&start=2>; rel=\"next\"");
  auto middle = t.get(t.w.token_admin_a, list + "?max=2&start=2");
  CHECK(middle.header("Link") == "<" + t.fake.base_url() + list + "?max=2&start=0>; rel=\"prev\", <" +
                                     t.fake.base_url() + list + "?max=2&start=4>; rel=\"next\"");
  CHECK(contains(middle.body, json_member("name", "Pickup 3")));
  auto last = t.get(t.w.token_admin_a, list + "?max=2&start=4");
  CHECK(occurrences(last.body, "\"id\":") == 1);
  CHECK(last.header("Link") == "<" + t.fake.base_url() + list + "?max=2&start=2>; rel=\"prev\"");
  CHECK(t.get(t.w.token_admin_a, list + "?max=0").status == 400);
  CHECK(t.get(t.w.token_admin_a, list + "?start=x").status == 400);

  auto named = t.get(t.w.token_admin_a, list + "?name=pickup%204");
  CHECK(occurrences(named.body, "\"id\":") == 1);
  CHECK(contains(named.body, json_member("name", "Pickup 4")));

  // Schedules: filtered by type, each entry with its type.
  t.fake.add_item(t.w.loc_a1, "schedules/businessHours", "Office Hours");
  const auto schedules = location_path(t.w.loc_a1, "schedules");
  auto both = t.get(t.w.token_admin_a, schedules);
  CHECK(occurrences(both.body, "\"id\":") == 2);
  CHECK(contains(both.body, "\"name\":\"Public Holidays\",\"type\":\"holidays\""));
  auto hours = t.get(t.w.token_admin_a, schedules + "?type=businessHours");
  CHECK(occurrences(hours.body, "\"id\":") == 1);
  CHECK(contains(hours.body, "\"type\":\"businessHours\""));
  CHECK(t.get(t.w.token_admin_a, schedules + "?type=weekends").status == 400);

  // Unpaged lists: every entry, no Link.
  const auto dect = t.fake.add_item(t.w.loc_a1, "dectNetworks", "DECT");
  for (int i = 1; i <= 3; ++i) {
    t.fake.add_item(t.w.loc_a1, "dectNetworks/" + dect + "/handsets", "H" + std::to_string(i));
  }
  auto handsets = t.get(t.w.token_admin_a, location_path(t.w.loc_a1, "dectNetworks/" + dect + "/handsets?max=1"));
  CHECK(handsets.body.starts_with("{\"handsets\":["));
  CHECK(occurrences(handsets.body, "\"id\":") == 3);
  CHECK(!handsets.has_header("Link"));
  const std::vector<std::pair<std::string, std::string>> unpaged = {
      {"dectNetworks/" + dect + "/baseStations", "baseStations"},
      {"receptionistContacts/directories", "directories"},
      {"outgoingPermission/digitPatterns", "digitPatterns"}};
  for (const auto& [collection, key] : unpaged) {
    auto r = t.get(t.w.token_admin_a, location_path(t.w.loc_a1, collection));
    CHECK(r.status == 200);
    CHECK(r.body == "{\"" + key + "\":[]}");
  }
  CHECK(t.get(t.w.token_admin_a, location_path(t.w.loc_a1, "dectNetworks/RGVDVA/handsets")).status == 404);
}

TEST_CASE("org-wide lists: every location of the org the token reaches, or the one locationId names") {
  world t;
  const auto a2 = t.fake.add_item(t.w.loc_a2, "huntGroups", "Branch Hunt Group");
  const auto b1 = t.fake.add_item(t.w.loc_b1, "huntGroups", "Warehouse Hunt Group");
  const std::string list = "/v1/telephony/config/huntGroups";

  auto org = t.get(t.w.token_admin_a, list);
  REQUIRE(org.status == 200);
  CHECK(org.body == "{\"huntGroups\":[{" + json_member("id", t.w.hunt_group_a1) + "," +
                        json_member("name", wcp::fake::demo_hunt_group_a1_name) + "," +
                        json_member("locationId", t.w.loc_a1) + "," + json_member("locationName", "Headquarters") +
                        "},{" + json_member("id", a2) + "," + json_member("name", "Branch Hunt Group") + "," +
                        json_member("locationId", t.w.loc_a2) + "," + json_member("locationName", "Branch Office") +
                        "}]}");
  CHECK(!contains(org.body, b1));

  auto one = t.get(t.w.token_admin_a, list + "?locationId=" + t.w.loc_a2);
  CHECK(occurrences(one.body, "\"id\":") == 1);
  CHECK(contains(one.body, json_member("id", a2)));
  CHECK(t.get(t.w.token_admin_a, list + "?locationId=" + t.w.loc_b1).status == 404);
  CHECK(t.get(t.w.token_admin_a, list + "?locationId=" + strip_padding(t.w.loc_a1)).body.find(t.w.hunt_group_a1) !=
        std::string::npos);

  // Paged, with Link.
  auto page = t.get(t.w.token_admin_a, list + "?max=1");
  CHECK(occurrences(page.body, "\"id\":") == 1);
  CHECK(page.header("Link") == "<" + t.fake.base_url() + list + "?max=1&start=1>; rel=\"next\"");

  // A location admin sees its locations only; another org's admin, and a partner without orgId, see
  // their own org.
  auto local = t.get(t.w.token_loc_admin_a1, list);
  CHECK(occurrences(local.body, "\"id\":") == 1);
  CHECK(contains(local.body, json_member("id", t.w.hunt_group_a1)));
  CHECK(t.get(t.w.token_loc_admin_a1, list + "?locationId=" + t.w.loc_a2).status == 403);
  auto other = t.get(t.w.token_admin_b, list);
  CHECK(contains(other.body, json_member("id", b1)));
  CHECK(!contains(other.body, t.w.hunt_group_a1));
  CHECK(t.get(t.w.token_admin_b, with_orgid(list, t.w.org_a)).status == 403);
  CHECK(occurrences(t.get(t.w.token_partner, with_orgid(list, t.w.org_a)).body, "\"id\":") == 2);
  CHECK(t.get(t.w.token_partner, list).body == "{\"huntGroups\":[]}");

  // Paging groups are listed as locationPaging; DECT networks unpaged.
  auto paging = t.get(t.w.token_admin_a, "/v1/telephony/config/paging?locationId=" + t.w.loc_a1);
  CHECK(paging.body.starts_with("{\"locationPaging\":[{" + json_member("id", t.w.paging_a1)));
  t.fake.add_item(t.w.loc_a1, "dectNetworks", "D1");
  t.fake.add_item(t.w.loc_a2, "dectNetworks", "D2");
  auto dect = t.get(t.w.token_admin_a, "/v1/telephony/config/dectNetworks?max=1");
  CHECK(occurrences(dect.body, "\"id\":") == 2);
  CHECK(!dect.has_header("Link"));
  for (const char* kind : {"queues", "autoAttendants", "voicemailGroups", "callParkExtensions"}) {
    CAPTURE(kind);
    auto r = t.get(t.w.token_admin_a, std::string("/v1/telephony/config/") + kind);
    CHECK(r.status == 200);
    CHECK(r.body.starts_with(std::string("{\"") + kind + "\":["));
  }
  // Kinds without an org-wide list here are echoed.
  CHECK(contains(t.get(t.w.token_admin_a, "/v1/telephony/config/callParks").body, "\"method\":\"GET\""));
}

TEST_CASE("settings documents: GET answers the document, PUT merges it and answers 204") {
  world t;
  const auto intercept = location_path(t.w.loc_a1, "intercept");
  auto got = t.get(t.w.token_admin_a, intercept);
  REQUIRE(got.status == 200);
  CHECK(got.body.starts_with("{" + json_member("route", "intercept") + "," + json_member("locationId", t.w.loc_a1)));
  CHECK(contains(got.body, "\"enabled\":false"));
  CHECK(contains(got.body, "\"outgoing\":{"));

  auto put = t.send("PUT", t.w.token_admin_a, intercept, R"({"enabled":true,"route":"ignored"})");
  CHECK(put.status == 204);
  CHECK(put.body.empty());
  auto after = t.get(t.w.token_admin_a, intercept);
  CHECK(contains(after.body, "\"enabled\":true"));
  CHECK(contains(after.body, "\"outgoing\":{"));  // members the PUT did not name stay
  CHECK(contains(after.body, json_member("route", "intercept")));
  // Per location.
  CHECK(contains(t.get(t.w.token_admin_a, location_path(t.w.loc_a2, "intercept")).body, "\"enabled\":false"));
  CHECK(t.send("PUT", t.w.token_admin_a, intercept, "[1]").status == 400);

  const std::string queue = "queues/" + t.w.queue_a1;
  const std::vector<std::string> documents = {
      "internalDialing", "musicOnHold", "voicemail", "voicePortal", "callCaptions", "privateNetworkConnect",
      "outgoingPermission", "outgoingPermission/accessCodes", "outgoingPermission/autoTransferNumbers",
      "emergencyCallNotification", "features/emergencyCallbackNumber", "features/hotDesking", "callParks/settings",
      "callRecording/announcements", "callRecording/complianceAnnouncement", queue + "/forcedForward",
      queue + "/holidayService", queue + "/nightService", queue + "/strandedCalls", queue + "/dnis/settings",
      queue + "/callForwarding", "huntGroups/" + t.w.hunt_group_a1 + "/callForwarding"};
  for (const auto& path : documents) {
    CAPTURE(path);
    auto r = t.get(t.w.token_admin_a, location_path(t.w.loc_a1, path));
    CHECK(r.status == 200);
    CHECK(contains(r.body, json_member("route", path)));
    CHECK(t.send("PUT", t.w.token_admin_a, location_path(t.w.loc_a1, path), R"({"fakeMarker":42})").status == 204);
    CHECK(contains(t.get(t.w.token_admin_a, location_path(t.w.loc_a1, path)).body, "\"fakeMarker\":42"));
    CHECK(t.get(t.w.token_admin_b, location_path(t.w.loc_a1, path)).status == 404);
  }
  CHECK(contains(t.get(t.w.token_admin_a, location_path(t.w.loc_a1, "callParks/settings")).body,
                 "\"callParkRecall\":{"));
  // A queue's document needs the queue.
  CHECK(t.get(t.w.token_admin_a, location_path(t.w.loc_a1, "queues/UVVFVUU/nightService")).status == 404);
  // Each queue has its own.
  const auto other = t.fake.add_item(t.w.loc_a1, "queues", "Other Queue");
  CHECK(!contains(t.get(t.w.token_admin_a, location_path(t.w.loc_a1, "queues/" + other + "/nightService")).body,
                  "fakeMarker"));
}

TEST_CASE("read-only answers stay reachable") {
  world t;
  for (const std::string path :
       {"callParks/availableUsers", "callParks/availableRecallHuntGroups", "callPickups/availableUsers",
        "paging/availableNumbers", "huntGroups/availableNumbers", "queues/dnis/availableNumbers", "availableNumbers",
        "announcements/usage", "redSky/status", "callRecording/vendorUsers",
        "dectNetworks/RGVDVE5FVA/serviceabilityPassword", "aiReceptionists/voices"}) {
    CAPTURE(path);
    auto r = t.get(t.w.token_admin_a, location_path(t.w.loc_a1, path));
    CHECK(r.status == 200);
    CHECK(r.body.starts_with("{" + json_member("route", path) + ",\"method\":\"GET\","));
  }
}

TEST_CASE("a token limited to some kinds gets 403 for the others") {
  world t;
  const auto& token = t.w.token_park_reader_a1;
  CHECK(t.get(token, call_park_path(t.w.loc_a1, t.w.park_a1)).status == 200);
  CHECK(t.get(token, location_path(t.w.loc_a1, "callParks")).status == 200);
  CHECK(t.get(token, location_path(t.w.loc_a1, "callParks/availableUsers")).status == 200);
  CHECK(t.send("PUT", token, call_park_path(t.w.loc_a1, t.w.park_a1), R"({"parkOnAgentsEnabled":true})").status == 200);
  for (const auto& [method, path] :
       {std::pair<std::string, std::string>{"GET", item_path(t.w.loc_a1, "callPickups", t.w.pickup_a1)},
        {"GET", location_path(t.w.loc_a1, "callPickups")},
        {"POST", location_path(t.w.loc_a1, "huntGroups")},
        {"DELETE", item_path(t.w.loc_a1, "schedules/holidays", t.w.schedule_a1)},
        {"GET", item_path(t.w.loc_a1, "schedules/holidays/" + t.w.schedule_a1 + "/events", t.w.schedule_event_a1)},
        {"GET", location_path(t.w.loc_a1, "callParks/settings")},
        {"PUT", location_path(t.w.loc_a1, "intercept")},
        {"GET", location_path(t.w.loc_a1)},
        {"GET", "/v1/locations/" + t.w.loc_a1},
        {"GET", "/v1/telephony/config/huntGroups"}}) {
    CAPTURE(method);
    CAPTURE(path);
    auto r = t.send(method, token, path, R"({"name":"x"})");
    CHECK(r.status == 403);
    check_webex_error(r);
  }
  // Still a location admin of loc_a1 only.
  CHECK(t.get(token, call_park_path(t.w.loc_a2, t.w.park_a2)).status == 403);
  CHECK(t.fake.item_name(t.w.schedule_a1));  // the DELETE did nothing
}

TEST_CASE("a location admin may write a call queue but not read it") {
  world t;
  const auto& token = t.w.token_loc_admin_a1;
  const auto queue = item_path(t.w.loc_a1, "queues", t.w.queue_a1);
  auto denied = t.get(token, queue);
  CHECK(denied.status == 403);
  check_webex_error(denied);
  CHECK(t.get(token, "/v1/telephony/config/queues?locationId=" + t.w.loc_a1).status == 403);
  CHECK(t.send("PUT", token, queue, R"({"name":"Renamed Queue"})").status == 204);
  CHECK(t.fake.item_name(t.w.queue_a1) == std::optional<std::string>("Renamed Queue"));
  CHECK(t.send("POST", token, location_path(t.w.loc_a1, "queues"), R"({"name":"New Queue"})").status == 201);
  // The queue's settings and the hunt groups stay readable; the full admin reads the queue.
  CHECK(t.get(token, location_path(t.w.loc_a1, "queues/" + t.w.queue_a1 + "/nightService")).status == 200);
  CHECK(t.get(token, location_path(t.w.loc_a1, "queues/availableNumbers")).status == 200);
  CHECK(t.get(token, item_path(t.w.loc_a1, "huntGroups", t.w.hunt_group_a1)).status == 200);
  CHECK(t.get(t.w.token_admin_a, queue).status == 200);
  CHECK(t.send("DELETE", token, queue).status == 204);
}

TEST_CASE("the location: its calling details and the common API share its name") {
  world t;
  const auto details = location_path(t.w.loc_a1);
  const auto common = "/v1/locations/" + t.w.loc_a1;
  auto got = t.get(t.w.token_admin_a, details);
  REQUIRE(got.status == 200);
  CHECK(got.body.starts_with("{" + json_member("id", t.w.loc_a1) + "," + json_member("name", "Headquarters") + ","));
  CHECK(contains(got.body, "\"callingLineId\":{"));
  auto got_common = t.get(t.w.token_admin_a, common);
  CHECK(got_common.status == 200);
  CHECK(contains(got_common.body, json_member("orgId", t.w.org_a)));
  CHECK(contains(got_common.body, "\"address\":{"));

  auto put = t.send("PUT", t.w.token_admin_a, details, R"({"name":"Main Campus","outsideDialDigit":"0"})");
  CHECK(put.status == 204);
  CHECK(put.body.empty());
  CHECK(t.fake.location_name(t.w.loc_a1) == "Main Campus");
  auto renamed = t.get(t.w.token_admin_a, details);
  CHECK(contains(renamed.body, json_member("name", "Main Campus")));
  CHECK(contains(renamed.body, json_member("outsideDialDigit", "0")));
  CHECK(contains(t.get(t.w.token_admin_a, common).body, json_member("name", "Main Campus")));

  auto put_common = t.send("PUT", t.w.token_admin_a, common, R"({"name":"North Campus","timeZone":"Europe/Berlin"})");
  CHECK(put_common.status == 204);
  CHECK(contains(t.get(t.w.token_admin_a, details).body, json_member("name", "North Campus")));
  CHECK(contains(t.get(t.w.token_admin_a, common).body, json_member("timeZone", "Europe/Berlin")));
  CHECK(contains(t.get(t.w.token_admin_a, "/v1/telephony/config/huntGroups").body,
                 json_member("locationName", "North Campus")));
  CHECK(t.send("PUT", t.w.token_admin_a, common, R"({"name":""})").status == 400);

  // The same reach as below the location.
  CHECK(t.get(t.w.token_loc_admin_a1, details).status == 200);
  CHECK(t.get(t.w.token_loc_admin_a1, location_path(t.w.loc_a2)).status == 403);
  CHECK(t.send("PUT", t.w.token_loc_admin_a1, "/v1/locations/" + t.w.loc_a2, R"({"name":"x"})").status == 403);
  CHECK(t.get(t.w.token_admin_b, details).status == 404);
  CHECK(t.get(t.w.token_admin_b, common).status == 404);
  CHECK(t.get(t.w.token_partner, with_orgid(common, t.w.org_a)).status == 200);
  CHECK(t.get(t.w.token_admin_a, "/v1/locations/" + wcp::fake::webex_id("LOCATION", "nope")).status == 404);
  CHECK(contains(t.get(t.w.token_admin_a, "/v1/locations").body, "\"method\":\"GET\""));  // the list: echoed
  CHECK(t.fake.location_name(t.w.loc_a2) == "Branch Office");
  CHECK_THROWS_AS(t.fake.location_name("nope"), std::invalid_argument);
}

TEST_CASE("add_item: collections, parents, names and paths") {
  world t;
  CHECK(item_path("L", "schedules/holidays", "S") == "/v1/telephony/config/locations/L/schedules/holidays/S");
  CHECK(location_path("L") == "/v1/telephony/config/locations/L");
  CHECK(location_path("L", "intercept") == "/v1/telephony/config/locations/L/intercept");
  CHECK(item_path("L", "callParks", "P") == call_park_path("L", "P"));

  CHECK_THROWS_AS(t.fake.add_item("nope", "callPickups", "x"), std::invalid_argument);
  CHECK_THROWS_AS(t.fake.add_item(t.w.loc_a1, "nothing", "x"), std::invalid_argument);
  CHECK_THROWS_AS(t.fake.add_item(t.w.loc_a1, "schedules", "x"), std::invalid_argument);  // the type is needed
  CHECK_THROWS_AS(t.fake.add_item(t.w.loc_a1, "schedules/weekends", "x"), std::invalid_argument);
  CHECK_THROWS_AS(t.fake.add_item(t.w.loc_a1, "huntGroups/SFVOVA/callForwarding/selectiveRules", "x"),
                  std::invalid_argument);
  CHECK_THROWS_AS(t.fake.add_item(t.w.loc_a2, "schedules/holidays/" + t.w.schedule_a1 + "/events", "x"),
                  std::invalid_argument);  // the schedule is in loc_a1
  CHECK_THROWS_AS(t.fake.add_item(t.w.loc_a1, "callPickups", wcp::fake::demo_pickup_a1_name), std::invalid_argument);
  // Kinds that keep their ID may share a name.
  CHECK(t.fake.add_item(t.w.loc_a1, "huntGroups", wcp::fake::demo_hunt_group_a1_name) != t.w.hunt_group_a1);

  // Same-named items of name-encoded kinds in two schedules share an ID, each found in its own.
  const auto second = t.fake.add_item(t.w.loc_a1, "schedules/holidays", "Second");
  const auto e2 = t.fake.add_item(t.w.loc_a1, "schedules/holidays/" + second + "/events",
                                  wcp::fake::demo_schedule_event_a1_name);
  CHECK(e2 == t.w.schedule_event_a1);
  CHECK(t.send("DELETE", t.w.token_admin_a, item_path(t.w.loc_a1, "schedules/holidays/" + second + "/events", e2))
            .status == 204);
  CHECK(t.get(t.w.token_admin_a,
              item_path(t.w.loc_a1, "schedules/holidays/" + t.w.schedule_a1 + "/events", t.w.schedule_event_a1))
            .status == 200);
}
