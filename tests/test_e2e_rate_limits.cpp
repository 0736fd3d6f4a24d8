// End-to-end: Webex's rate limits (429/423 + Retry-After) through the real binary, against a fake
// upstream scripted to refuse.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <sstream>
#include <thread>

#include "fake_webex/demo_world.hpp"
#include "fake_webex/fake_webex.hpp"
#include "support/e2e.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"

using namespace wcp;
using test::header_list;
using test::http_request;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

namespace {

using stack = test::e2e_stack;
using test::bearer;

fake::scripted_response refusal(unsigned status, std::string retry_after) {
  fake::scripted_response r;
  r.status = status;
  if (!retry_after.empty()) r.headers = {{"Retry-After", std::move(retry_after)}};
  r.body = R"({"message":"slow down","errors":[{"description":"slow down"}],"trackingId":"x"})";
  return r;
}

// Refuses the first `n` requests that match, then lets everything through.
auto refuse_first(std::size_t n, unsigned status, std::string retry_after,
                  std::string path_part = "") {
  auto left = std::make_shared<std::atomic<std::size_t>>(n);
  return [=](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (!path_part.empty() && r.path.find(path_part) == std::string::npos) return std::nullopt;
    std::size_t cur = left->load();
    while (cur > 0 && !left->compare_exchange_weak(cur, cur - 1)) {}
    if (cur == 0) return std::nullopt;
    return refusal(status, retry_after);
  };
}

std::string park_a1(const fake::demo_world& w) { return fake::call_park_path(w.loc_a1, w.park_a1); }

// The location admin of loc_a1 learns its call park grant there, so that it may join a fetch of
// park_a1 that another token leads; upstream answers the org admin's first read of park_a1 with
// a 429 for 5 s.
void admin_refused_once_beside_a_granted_location_admin(stack& s) {
  const auto& w = s.world;
  const auto second = s.fake.add_call_park(w.loc_a1, "Second park");
  REQUIRE(s.get(fake::call_park_path(w.loc_a1, second), w.token_loc_admin_a1).status == 200);
  auto refused = std::make_shared<std::atomic<bool>>(false);
  const std::string admin = "Bearer " + w.token_admin_a;
  const std::string park = w.park_a1;
  s.fake.set_interceptor([=](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.authorization != admin || r.path.find(park) == std::string::npos) return std::nullopt;
    if (refused->exchange(true)) return std::nullopt;
    return refusal(429, "5");
  });
}
std::string park_a2(const fake::demo_world& w) { return fake::call_park_path(w.loc_a2, w.park_a2); }

}  // namespace

TEST_CASE("a 429 with Retry-After 1 is waited out: 200 after a second with two upstream requests") {
  stack s;
  s.fake.set_interceptor(refuse_first(1, 429, "1"));
  const auto start = steady_clock::now();
  auto res = s.get(park_a1(s.world), s.world.token_admin_a);
  const auto took = steady_clock::now() - start;
  CHECK(res.status == 200);
  CHECK(took >= milliseconds(1000));
  CHECK(s.fake.count("GET", "/callParks/") == 2);
  CHECK(s.metric(R"(webex_cache_proxy_backoffs_total{reason="429"})") == 1);
  CHECK(s.metric("webex_cache_proxy_retries_total") == 1);
}

TEST_CASE("with no retry wait allowed a 429 is passed on and the token is blocked for the window") {
  stack s({"--max-retry-wait", "0"});
  s.fake.set_interceptor(refuse_first(1, 429, "3"));
  auto res = s.get(park_a1(s.world), s.world.token_admin_a);
  CHECK(res.status == 429);
  const int retry_after = std::stoi(res.header("Retry-After"));
  CHECK(retry_after >= 1);
  CHECK(retry_after <= 3);
  // Webex's own answer, relayed: its words, its trackingid beside this request's, its status in
  // the access log.
  CHECK(res.body == refusal(429, "3").body);
  CHECK(res.header("Content-Type") == "application/json;charset=UTF-8");
  REQUIRE(s.fake.requests().size() == 1);
  CHECK(res.header("X-Upstream-TrackingID").starts_with("ROUTER_"));
  CHECK_FALSE(res.header("trackingid").empty());
  CHECK(res.header("trackingid") != res.header("X-Upstream-TrackingID"));
  // (The access line; the warning "upstream asked to wait" names the status too.)
  CHECK(test::eventually([&] {
    std::istringstream lines(s.proxy.proc->output());
    for (std::string line; std::getline(lines, line);)
      if (line.find(" access ") != std::string::npos && line.find(" status=429 ") != std::string::npos &&
          line.find(" upstream_status=429 ") != std::string::npos)
        return true;
    return false;
  }));

  // Other resources and routes with that token: refused here, nothing sent upstream, in the
  // Webex shape and saying that the proxy answered.
  for (const auto& p : {park_a2(s.world), fake::paging_path(s.world.loc_a1, s.world.paging_a1),
                        std::string("/v1/people/me")}) {
    auto blocked = s.get(p, s.world.token_admin_a);
    CHECK(blocked.status == 429);
    CHECK_FALSE(blocked.header("Retry-After").empty());
    CHECK(blocked.body.find("answered by webex-cache-proxy") != std::string::npos);
    CHECK(blocked.body.find("\"trackingId\"") != std::string::npos);
    CHECK_FALSE(blocked.has_header("X-Upstream-TrackingID"));
  }
  CHECK(s.fake.requests().size() == 1);
  // Another token is not blocked.
  CHECK(s.get(park_a1(s.world), s.world.token_loc_admin_a1).status == 200);
  // Those the proxy made itself.
  CHECK(s.metric(R"(webex_cache_proxy_rate_limited_total{reason="429"})") == 3);
  // The block is in force now, and only until its window ends.
  const auto blocks = R"(webex_cache_proxy_rate_limit_blocks{reason="429"})";
  CHECK(s.metric(blocks) == 1);
  CHECK(s.metric(R"(webex_cache_proxy_rate_limit_blocks{reason="423"})") == 0);
  CHECK(test::eventually([&] { return s.metric(blocks) == 0; }));
  CHECK(s.metric(R"(webex_cache_proxy_backoffs_total{reason="429"})") == 1);
}

TEST_CASE("a non-idempotent request is never retried") {
  stack s;
  s.fake.set_interceptor(refuse_first(1, 429, "1"));
  auto res = http_request(s.proxy.port, "POST", "/v1/telephony/config/locations/" + s.world.loc_a1 + "/callParks",
                          bearer(s.world.token_admin_a), R"({"name":"New Park"})");
  CHECK(res.status == 429);
  CHECK(s.fake.count("POST", "") == 1);
  // Relayed as Webex said it.
  CHECK(res.body == refusal(429, "1").body);
  CHECK(res.header("Retry-After") == "1");
  CHECK(res.header("X-Upstream-TrackingID").starts_with("ROUTER_"));
}

TEST_CASE("a stale entry answers during a block without waiting") {
  stack s({"--cache-ttl", "0"});
  REQUIRE(s.get(park_a1(s.world), s.world.token_admin_a).status == 200);
  s.fake.set_interceptor(refuse_first(100, 429, "30"));
  const auto start = steady_clock::now();
  auto stale = s.get(park_a1(s.world), s.world.token_admin_a);
  CHECK(stale.status == 200);
  CHECK(stale.header("X-Cache") == "STALE");
  CHECK(steady_clock::now() - start < seconds(5));
  const auto sent = s.fake.requests().size();
  auto again = s.get(park_a1(s.world), s.world.token_admin_a);
  CHECK(again.header("X-Cache") == "STALE");
  CHECK(s.fake.requests().size() == sent);  // blocked: not even asked
}

TEST_CASE("a 423 on one resource does not block the others") {
  stack s({"--max-retry-wait", "0"});
  s.fake.set_interceptor(refuse_first(1, 423, "5", s.world.park_a1));
  auto locked = s.get(park_a1(s.world), s.world.token_admin_a);
  CHECK(locked.status == 423);
  CHECK_FALSE(locked.header("Retry-After").empty());
  CHECK(s.get(park_a2(s.world), s.world.token_admin_a).status == 200);
  // The locked one stays locked for every token, without asking upstream.
  const auto sent = s.fake.requests().size();
  CHECK(s.get(park_a1(s.world), s.world.token_loc_admin_a1).status == 423);
  CHECK(s.fake.requests().size() == sent);
  CHECK(s.metric(R"(webex_cache_proxy_rate_limit_blocks{reason="423"})") == 1);
  CHECK(s.metric(R"(webex_cache_proxy_rate_limit_blocks{reason="429"})") == 0);
}

TEST_CASE("quirky Retry-After values never cause more than a few upstream requests") {
  for (const std::string value : {"rand(30),add(30)", "0", "", "-1", "1.5", "Thu, 01 Jan 1970 00:00:00 GMT"}) {
    CAPTURE(value);
    stack s({"--default-backoff", "1s", "--max-retry-wait", "1s"});
    s.fake.set_interceptor(refuse_first(1000, 429, value));
    const auto start = steady_clock::now();
    auto res = s.get(park_a1(s.world), s.world.token_admin_a);
    CHECK(res.status == 429);
    CHECK(s.fake.requests().size() <= 3);
    CHECK(steady_clock::now() - start < seconds(5));
  }
}

TEST_CASE("concurrent identical misses become one upstream request") {
  stack s;
  // The first request upstream is held until every client's request is in the proxy, so that
  // none of them can arrive after the answer (and be a plain hit), however slow the machine.
  s.fake.hold_next("GET", "/callParks/");
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  std::mutex mu;
  std::vector<std::string> bodies;
  std::vector<std::string> failures;
  for (int i = 0; i < 40; ++i)
    clients.emplace_back([&] {
      try {
        auto res = s.get(park_a1(s.world), s.world.token_admin_a);
        if (res.status == 200) ++ok;
        std::lock_guard lock(mu);
        bodies.push_back(res.body);
      } catch (const std::exception& e) {
        std::lock_guard lock(mu);
        failures.push_back(e.what());
      }
    });
  CHECK(test::eventually([&] { return s.metric("webex_cache_proxy_requests_in_flight") == 40; }));
  // In flight does not mean upstream yet: the leader may still be connecting.
  CHECK(test::eventually([&] { return s.fake.held() == 1; }));
  s.fake.release_held();
  for (auto& c : clients) c.join();
  for (const auto& f : failures) FAIL_CHECK(f);
  if (!failures.empty()) MESSAGE(s.proxy.proc->output());
  CHECK(ok == 40);
  CHECK(s.fake.count("GET", "/callParks/") == 1);
  for (const auto& b : bodies) CHECK(b == bodies.front());
  CHECK(s.metric("webex_cache_proxy_coalesced_requests_total") == 39);
}

TEST_CASE("a caller does not wait behind another token's 429: it fetches for itself") {
  stack s({"--max-retry-wait", "10s"});
  const auto& w = s.world;
  admin_refused_once_beside_a_granted_location_admin(s);
  const std::string admin = "Bearer " + w.token_admin_a;
  auto admin_reads = [&] {
    std::size_t n = 0;
    for (const auto& r : s.fake.requests())
      n += r.authorization == admin && r.path.find(w.park_a1) != std::string::npos;
    return n;
  };
  std::atomic<unsigned> a{0};
  std::thread ta([&] { a = s.get(park_a1(w), w.token_admin_a).status; });
  REQUIRE(test::eventually([&] { return admin_reads() == 1; }));
  // The admin's fetch now waits out its token's block; the location admin's read of the same
  // park is answered by a request of its own, before the admin's fetch is sent again.
  const auto b = s.get(park_a1(w), w.token_loc_admin_a1);
  CHECK(b.status == 200);
  CHECK(admin_reads() == 1);
  CHECK(a == 0);
  const std::string loc_admin = "Bearer " + w.token_loc_admin_a1;
  std::size_t own = 0;
  for (const auto& r : s.fake.requests())
    own += r.authorization == loc_admin && r.path.find(w.park_a1) != std::string::npos;
  CHECK(own == 1);
  ta.join();
  CHECK(a == 200);
  CHECK(admin_reads() == 2);
}

TEST_CASE("a caller that joined a fetch before its 429 came is let go when the leader waits it out") {
  stack s({"--max-retry-wait", "10s"});
  const auto& w = s.world;
  admin_refused_once_beside_a_granted_location_admin(s);
  // The admin's first read is held upstream (its 429 already decided) while the location admin
  // joins its fetch.
  s.fake.hold_next("GET", w.park_a1);
  std::atomic<unsigned> a{0}, b{0};
  std::thread ta([&] { a = s.get(park_a1(w), w.token_admin_a).status; });
  REQUIRE(test::eventually([&] { return s.fake.held() == 1; }));
  std::thread tb([&] { b = s.get(park_a1(w), w.token_loc_admin_a1).status; });
  REQUIRE(test::eventually([&] { return s.metric("webex_cache_proxy_requests_in_flight") == 2; }));
  CHECK(s.fake.count("GET", w.park_a1) == 1);  // the location admin waits on the admin's fetch
  s.fake.release_held();
  // The 429 comes; the admin's fetch waits it out, and the location admin fetches for itself.
  CHECK(test::eventually([&] { return b == 200; }, seconds(3)));
  CHECK(a == 0);
  tb.join();
  ta.join();
  CHECK(a == 200);
}

TEST_CASE("misses of different tokens without grants are not coalesced") {
  stack s;
  // Org A's miss is held upstream while org B's token asks for the same resource.
  s.fake.hold_next("GET", s.world.park_a1);
  std::atomic<unsigned> a{0};
  std::thread ta([&] { a = s.get(park_a1(s.world), s.world.token_admin_a).status; });
  REQUIRE(test::eventually([&] { return s.fake.held() == 1; }));
  // B is answered while A's fetch is still in flight: it went upstream on its own.
  const unsigned b = s.get(park_a1(s.world), s.world.token_admin_b).status;
  CHECK(b == 404);  // org B's token gets its own answer, never org A's body
  CHECK(s.fake.held() == 1);
  CHECK(a == 0);
  s.fake.release_held();
  ta.join();
  CHECK(a == 200);
  CHECK(s.fake.count("GET", "/callParks/") == 2);
  CHECK(s.metric("webex_cache_proxy_coalesced_requests_total") == 0);
}

TEST_CASE("a burst of 1000 requests with one token during a 429 window sends one upstream request") {
  stack s({"--max-retry-wait", "0"});
  s.fake.set_interceptor(refuse_first(1000000, 429, "30"));
  test::http_connection c(s.proxy.port);
  int refused = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto& p = i % 2 ? park_a1(s.world) : fake::paging_path(s.world.loc_a1, s.world.paging_a1);
    if (c.request("GET", p, bearer(s.world.token_admin_a)).status == 429) ++refused;
  }
  CHECK(refused == 1000);
  CHECK(s.fake.requests().size() == 1);
}

TEST_CASE("the leader's failure reaches every waiter once - and a waiter that leaves cancels nobody") {
  stack s({"--upstream-timeout", "400ms"});
  s.fake.set_response_delay(milliseconds(1500));
  // One client gives up at once; the others wait for the leader's outcome.
  {
    test::http_connection quitter(s.proxy.port);
    quitter.send_raw("GET " + park_a1(s.world) + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                     s.world.token_admin_a + "\r\n\r\n");
  }
  std::vector<std::thread> clients;
  std::atomic<int> timeouts{0};
  for (int i = 0; i < 10; ++i)
    clients.emplace_back([&] {
      try {
        if (s.get(park_a1(s.world), s.world.token_admin_a).status == 504) ++timeouts;
      } catch (const std::exception&) {
      }
    });
  for (auto& c : clients) c.join();
  CHECK(timeouts == 10);
  CHECK(s.fake.count("GET", "/callParks/") <= 2);  // the quitter's flight, and at most one more
  // Once upstream is quick again, the same resource is served normally.
  s.fake.set_response_delay(milliseconds(0));
  CHECK(s.get(park_a1(s.world), s.world.token_admin_a).status == 200);
}
