// End-to-end: answers that must be exactly upstream's (or exactly this request's) where requests
// take the paths around the cache: HEAD on reads that are not served from it, the tracking ID of
// every answer.
#include <doctest/doctest.h>

#include <cctype>
#include <optional>
#include <string>
#include <thread>

#include "support/e2e.hpp"

using namespace wcp;
using test::bearer;
using test::http_request;

namespace {
using stack = test::e2e_stack;
}  // namespace

TEST_CASE("HEAD on reads not served from the cache carries upstream's Content-Length") {
  stack s;
  const auto& w = s.world;
  const auto park = fake::call_park_path(w.loc_a1, w.park_a1);
  struct head_case {
    const char* name;
    std::string target;
    test::header_list headers;
  };
  const std::vector<head_case> cases = {
      {"uncacheable query", park + "?max=5", bearer(w.token_admin_a)},
      {"no token", park, {}},
      {"passthrough", "/v1/people/me", bearer(w.token_admin_a)},
      {"never cached under the location", fake::call_park_path(w.loc_a1, "availableUsers"),
       bearer(w.token_admin_a)},
  };
  // Upstream answers every request with the same body (a HEAD with its length and no body).
  const std::string body = R"({"id":"fixed","name":"A body of a known length"})";
  s.fake.set_interceptor([&](const fake::recorded_request&) -> std::optional<fake::scripted_response> {
    fake::scripted_response r;
    r.body = body;
    return r;
  });
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto get = http_request(s.proxy.port, "GET", c.target, c.headers);
    REQUIRE(get.body == body);
    auto head = http_request(s.proxy.port, "HEAD", c.target, c.headers);
    CHECK(head.status == 200);
    CHECK(head.body.empty());
    CHECK(head.header("Content-Length") == std::to_string(body.size()));
  }
  // Each HEAD reached upstream as a HEAD.
  CHECK(s.fake.count("HEAD", "") == cases.size());
}

TEST_CASE("every answer's trackingid names that request - never the one that filled the entry") {
  stack s;
  const auto& w = s.world;
  const auto park = fake::call_park_path(w.loc_a1, w.park_a1);
  auto with = [&](const std::string& tracking) {
    auto h = bearer(w.token_admin_a);
    if (!tracking.empty()) h.emplace_back("TrackingID", tracking);
    return h;
  };
  auto miss = http_request(s.proxy.port, "GET", park, with("CLIENT_fill-1"));
  REQUIRE(miss.header("X-Cache") == "MISS");
  const auto filled_by = miss.header("trackingid");
  CHECK_FALSE(filled_by.empty());

  // A hit for a caller that sent its own TrackingID carries it.
  auto hit = http_request(s.proxy.port, "GET", park, with("CLIENT_hit-2"));
  CHECK(hit.header("X-Cache") == "HIT");
  CHECK(hit.header("trackingid") == "CLIENT_hit-2");
  auto head = http_request(s.proxy.port, "HEAD", park, with("CLIENT_head-3"));
  CHECK(head.header("trackingid") == "CLIENT_head-3");

  // Without one, the proxy makes one per answer and logs it on the access line.
  auto a = http_request(s.proxy.port, "GET", park, with(""));
  auto b = http_request(s.proxy.port, "GET", park, with(""));
  CHECK(a.header("X-Cache") == "HIT");
  const auto ta = a.header("trackingid");
  CHECK(ta.rfind("WEBEXCACHEPROXY_", 0) == 0);
  CHECK(ta != b.header("trackingid"));
  CHECK(ta != filled_by);
  CHECK_NOTHROW(s.proxy.proc->wait_for_output("trackingid=" + ta));

  // A waiter that shared another request's upstream answer gets its own trackingid too.
  s.fake.hold_next("GET", w.paging_a1);
  const auto paging = fake::paging_path(w.loc_a1, w.paging_a1);
  test::http_response leader, waiter;
  std::thread t1([&] { leader = http_request(s.proxy.port, "GET", paging, with("CLIENT_leader")); });
  REQUIRE(test::eventually([&] { return s.fake.held() == 1; }));
  std::thread t2([&] { waiter = http_request(s.proxy.port, "GET", paging, with("CLIENT_waiter")); });
  REQUIRE(test::eventually([&] {
    return s.metric("webex_cache_proxy_requests_in_flight") == 2;
  }));
  s.fake.release_held();
  t1.join();
  t2.join();
  CHECK(s.fake.count("GET", w.paging_a1) == 1);
  CHECK(leader.header("X-Cache") == "MISS");
  CHECK(waiter.header("X-Cache") == "MISS");
  CHECK(s.metric("webex_cache_proxy_coalesced_requests_total") == 1);
  CHECK(waiter.header("trackingid") == "CLIENT_waiter");
  CHECK(waiter.body == leader.body);
}

TEST_CASE("interim answers (1xx) are read past - the client gets the final answer") {
  stack s({"--threads", "1"});
  const auto& w = s.world;
  const std::string body = R"({"id":"interim-park","name":"After Early Hints"})";
  const std::string final_answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   "trackingid: ROUTER_final\r\nContent-Length: " +
                                   std::to_string(body.size()) + "\r\n\r\n" + body;
  s.fake.set_interceptor([&](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.method != "GET") return std::nullopt;
    fake::scripted_response a;
    a.raw = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
            "HTTP/1.1 100 Continue\r\n\r\n" + final_answer;
    a.keep_open = true;
    return a;
  });
  const auto park = fake::call_park_path(w.loc_a1, w.park_a1);
  for (const std::string& target : {park, std::string("/v1/people/me")}) {
    CAPTURE(target);
    auto res = s.get(target, w.token_admin_a);
    CHECK(res.status == 200);
    CHECK(res.body == body);
    CHECK(res.header("trackingid") == "ROUTER_final");
  }
  // The final answer was the one cached.
  auto hit = s.get(park, w.token_admin_a);
  CHECK(hit.header("X-Cache") == "HIT");
  CHECK(hit.body == body);
  CHECK(s.metric(R"(webex_cache_proxy_upstream_requests_total{route="call_park",code="200"})") == 1);
  CHECK(s.metric(R"(webex_cache_proxy_upstream_requests_total{route="passthrough",code="200"})") == 1);
}

TEST_CASE("an upstream connection with bytes past its answer is never reused") {
  stack s({"--threads", "1"});
  const auto& w = s.world;
  // Upstream sends its answer and, on the same connection, a second answer nobody asked for.
  s.fake.set_interceptor([&](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.target.find("poison") == std::string::npos) return std::nullopt;
    fake::scripted_response a;
    a.raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n"
            R"({"id":"poisoned"})";
    a.keep_open = true;
    return a;
  });
  // A passthrough (streamed) and an uncacheable read of a cached route (buffered).
  for (const std::string& first : {std::string("/v1/poison"),
                                  fake::call_park_path(w.loc_a1, w.park_a2) + "?poison=1"}) {
    CAPTURE(first);
    CHECK(s.get(first, w.token_admin_a).body == "{}");
    // The next requests get their own answers, not the stray one.
    auto park = s.get(fake::call_park_path(w.loc_a1, w.park_a1) + "?x=1", w.token_admin_a);
    CHECK(park.status == 200);
    CHECK(park.body.find("poisoned") == std::string::npos);
    CHECK(park.body.find(fake::demo_park_a1_name) != std::string::npos);
    auto other = s.get("/v1/people/me", w.token_admin_a);
    CHECK(other.body.find("poisoned") == std::string::npos);
  }
}

TEST_CASE("a waiter sharing another token's answer does not renew its own grant") {
  stack s;
  const auto& w = s.world;
  // The location admin learns its grant for paging groups of loc_a1 from its own read of one
  // there; the entry is then purged (grants stay).
  const auto paging = fake::paging_path(w.loc_a1, w.paging_a1);
  REQUIRE(s.get(paging, w.token_loc_admin_a1).status == 200);
  const double learned = s.metric(R"(webex_cache_proxy_grants_total{event="learned"})");
  REQUIRE(learned == 1);
  REQUIRE(http_request(s.proxy.admin_port, "DELETE",
                       "/cache/locations/" + w.loc_a1 + "/paging/" + w.paging_a1)
              .status == 200);

  // The org admin's miss of the paging group is held upstream; the location admin (holding a
  // grant for paging groups of the location) joins it as a waiter.
  s.fake.hold_next("GET", w.paging_a1);
  test::http_response leader, waiter;
  std::thread t1([&] { leader = s.get(paging, w.token_admin_a); });
  REQUIRE(test::eventually([&] { return s.fake.held() == 1; }));
  std::thread t2([&] { waiter = s.get(paging, w.token_loc_admin_a1); });
  REQUIRE(test::eventually([&] { return s.metric("webex_cache_proxy_requests_in_flight") == 2; }));
  s.fake.release_held();
  t1.join();
  t2.join();
  REQUIRE(s.fake.count("GET", w.paging_a1) == 2);
  CHECK(waiter.status == 200);
  CHECK(waiter.body == leader.body);
  CHECK(s.metric("webex_cache_proxy_coalesced_requests_total") == 1);
  // The leader's token learned from its own answer; the waiter's grant was not renewed.
  CHECK(s.metric(R"(webex_cache_proxy_grants_total{event="learned"})") == learned + 1);
}

TEST_CASE("a fill asks for the full representation - a caller's conditional or range headers never shape it") {
  stack s;
  const auto& w = s.world;
  // An upstream that honours conditional and range requests.
  s.fake.set_interceptor([](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    for (const auto& [name, value] : r.headers) {
      std::string n = name;
      for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      fake::scripted_response a;
      if (n == "if-none-match" || n == "if-modified-since") {
        a.status = 304;
        return a;
      }
      if (n == "range") {
        a.status = 206;
        a.headers = {{"Content-Range", "bytes 0-4/100"}};
        a.body = R"({"id")";
        return a;
      }
    }
    return std::nullopt;
  });
  const auto park = fake::call_park_path(w.loc_a1, w.park_a1);
  const auto paging = fake::paging_path(w.loc_a1, w.paging_a1);
  auto with = [&](const char* name, const char* value) {
    auto h = bearer(w.token_admin_a);
    h.emplace_back(name, value);
    return h;
  };
  auto ranged = http_request(s.proxy.port, "GET", park, with("Range", "bytes=0-4"));
  CHECK(ranged.status == 200);
  CHECK(ranged.header("X-Cache") == "MISS");
  CHECK(ranged.body.find(fake::demo_park_a1_name) != std::string::npos);
  auto conditional = http_request(s.proxy.port, "GET", paging, with("If-None-Match", "\"v1\""));
  CHECK(conditional.status == 200);
  CHECK(conditional.body.find(fake::demo_paging_a1_name) != std::string::npos);
  for (const auto& r : s.fake.requests())
    for (const auto& [name, value] : r.headers) {
      CHECK(name != "Range");
      CHECK(name != "If-None-Match");
    }
  // What was stored is the full answer; a conditional GET on a hit gets it too (Webex sends no
  // validators, so entries keep none and nothing can match).
  for (const auto& [name, value] : {std::pair{"If-None-Match", "\"v1\""},
                                    std::pair{"If-Modified-Since", "Sun, 01 Jan 2090 00:00:00 GMT"}}) {
    auto hit = http_request(s.proxy.port, "GET", park, with(name, value));
    CHECK(hit.status == 200);
    CHECK(hit.header("X-Cache") == "HIT");
    CHECK(hit.body == ranged.body);
  }
}
