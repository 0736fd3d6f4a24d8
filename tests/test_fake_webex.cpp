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
