// End-to-end: refresh-ahead. A fresh entry read in the last --refresh-ahead part of its TTL is
// answered from the cache and refreshed in the background with the reader's token: once per
// variant (per process, and across instances with Redis), only for a token holding the grant,
// never during a rate-limit block, never stored when an invalidation overtook it, and never for
// an entry nobody reads.
//
// The TTLs here are seconds long and the reads are paced by the clock on purpose: what is under
// test is what happens around an entry's expiry. The fake answers slowly (300 ms), so that a
// caller that waited on upstream would be seen as a MISS, never as a HIT.
#include "fake_webex/demo_world.hpp"
#include "fake_webex/fake_webex.hpp"
#include "support/e2e.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace wcp;
using test::bearer;
using test::eventually;
using test::http_request;
using namespace std::chrono_literals;

namespace {

using stack = test::e2e_stack;
using clock_type = std::chrono::steady_clock;

const std::string started = "webex_cache_proxy_refreshes_started_total";
const std::string stored = "webex_cache_proxy_refreshes_stored_total";
std::string dropped(const std::string& reason) {
  return "webex_cache_proxy_refreshes_dropped_total{reason=\"" + reason + "\"}";
}

std::string park_path(const fake::demo_world& w) { return fake::call_park_path(w.loc_a1, w.park_a1); }

// Reads `path` every 50 ms for `how_long`, and yields the X-Cache value of every answer that was
// not a HIT ("" when all were hits).
template <class Read>
std::vector<std::string> non_hits_over(std::chrono::milliseconds how_long, Read read) {
  std::vector<std::string> misses;
  const auto until = clock_type::now() + how_long;
  while (clock_type::now() < until) {
    auto res = read();
    if (res.status != 200 || res.header("X-Cache") != "HIT")
      misses.push_back(std::to_string(res.status) + " " + res.header("X-Cache"));
    std::this_thread::sleep_for(50ms);
  }
  return misses;
}

}  // namespace

TEST_CASE("refresh-ahead: a hot entry read across its expiry never makes a caller wait on upstream") {
  // TTL 2 s, refreshed in its last second; the grant (3 s) lasts only as long as the refreshes
  // renew it.
  stack s({"--cache-ttl", "2s", "--refresh-ahead", "0.5", "--grant-ttl", "3s"});
  const auto& w = s.world;
  const auto path = park_path(w);
  s.fake.set_response_delay(300ms);
  REQUIRE(s.get(path, w.token_admin_a).header("X-Cache") == "MISS");

  // Three expiries' worth of reads: every one is answered from the cache.
  const auto misses = non_hits_over(6500ms, [&] { return s.get(path, w.token_admin_a); });
  CHECK(misses.empty());
  if (!misses.empty()) MESSAGE("first answer not a hit: ", misses.front());
  // The refreshes kept it fresh: at most one per half TTL (the window) and upstream's 300 ms.
  const auto upstream = s.fake.count("GET", path);
  CHECK(upstream >= 3);
  CHECK(upstream <= 1 + 6500 / 1300);
  CHECK(s.metric(stored) >= 2);
  // Every refresh started ends stored or dropped for a reason.
  CHECK(eventually([&] {
    return s.metric(started) == s.metric(stored) + s.metric(dropped("failed")) +
                                    s.metric(dropped("fenced")) + s.metric(dropped("blocked")) +
                                    s.metric(dropped("coalesced"));
  }));
}

TEST_CASE("refresh-ahead: one refresh per variant, however many readers") {
  stack s({"--cache-ttl", "2s", "--refresh-ahead", "0.5"});
  const auto& w = s.world;
  const auto path = park_path(w);
  REQUIRE(s.get(path, w.token_admin_a).header("X-Cache") == "MISS");
  // Into the refresh window: the first read there starts the refresh, which the fake holds.
  s.fake.hold_next("GET", path);
  REQUIRE(eventually([&] {
    CHECK(s.get(path, w.token_admin_a).header("X-Cache") == "HIT");
    return s.fake.held() == 1;
  }));
  // While it is under way, 16 concurrent readers with two tokens: all hits, no second refresh.
  std::atomic<int> hits{0}, done{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 16; ++i)
    readers.emplace_back([&, i] {
      const auto& token = i % 2 ? w.token_admin_a : w.token_loc_admin_a1;
      for (int k = 0; k < 5; ++k)
        if (http_request(s.proxy.port, "GET", path, bearer(token)).header("X-Cache") == "HIT") ++hits;
      ++done;
    });
  // (Released whatever happens, so that a reader waiting on the held refresh cannot hang.)
  CHECK(eventually([&] { return done == 16; }, 5s));
  CHECK(s.fake.held() == 1);
  s.fake.release_held();
  for (auto& t : readers) t.join();
  // The location admin had no grant yet: its first read went upstream (a MISS of its own).
  CHECK(hits >= 16 * 5 - 8);
  REQUIRE(eventually([&] { return s.metric(stored) == 1; }));
  CHECK(s.metric(started) == 1);
  // The fill, the location admin's grant read, and the one refresh.
  CHECK(s.fake.count("GET", path) == 3);
  CHECK(s.get(path, w.token_admin_a).header("X-Cache") == "HIT");
}

TEST_CASE("refresh-ahead with Redis: one refresh across instances, and the other instance takes it") {
  test::redis_server redis;
  fake::fake_webex fake;
  const auto w = fake::populate_demo_world(fake);
  std::vector<std::string> args{"--upstream", fake.base_url(), "--redis", redis.url(),
                                "--cache-ttl", "2s", "--refresh-ahead", "0.5"};
  auto a = test::start_proxy(args);
  auto b = test::start_proxy(args);
  for (auto* p : {&a, &b})
    REQUIRE(eventually([&] { return test::metric(p->admin_port, "webex_cache_proxy_redis_subscribed") == 1; }));
  const auto path = park_path(w);
  fake.set_response_delay(300ms);
  auto read = [&](const test::proxy_process& p) {
    return http_request(p.port, "GET", path, bearer(w.token_admin_a));
  };
  REQUIRE(read(a).header("X-Cache") == "MISS");
  REQUIRE(read(b).header("X-Cache") == "HIT");  // from Redis, now in b's L1 too
  // Both instances read it through two expiries, alternately: every answer is a hit, and each
  // expiry costs one upstream request in all (b's L1 copy is replaced by a's refresh in Redis).
  bool on_a = true;
  const auto misses = non_hits_over(4200ms, [&] {
    on_a = !on_a;
    return read(on_a ? a : b);
  });
  CHECK(misses.empty());
  if (!misses.empty()) MESSAGE("first answer not a hit: ", misses.front());
  // A refresh the last reads started may still be on its way upstream: the counts are compared
  // once they agree (a refresh is counted as started just before it is sent).
  double started_total = 0;
  CHECK(eventually([&] {
    started_total = test::metric(a.admin_port, started) + test::metric(b.admin_port, started);
    return fake.count("GET", path) == 1 + static_cast<std::size_t>(started_total);
  }));
  CHECK(started_total >= 2);
  CHECK(started_total <= 3);
}

TEST_CASE("refresh-ahead: a reader without the grant starts no refresh with anyone's token") {
  stack s({"--cache-ttl", "2s", "--refresh-ahead", "0.5"});
  const auto& w = s.world;
  const auto path = park_path(w);
  REQUIRE(s.get(path, w.token_admin_a).header("X-Cache") == "MISS");
  // In the window, readers that hold no grant for it: org B's admin (refused upstream) and the
  // partner (its own grant is for orgId=A only).
  s.fake.clear_requests();
  const auto until = clock_type::now() + 1800ms;
  while (clock_type::now() < until) {
    CHECK(s.get(path, w.token_admin_b).header("X-Cache") != "HIT");
    std::this_thread::sleep_for(100ms);
  }
  CHECK(s.metric(started) == 0);
  // Every upstream request carried the reader's own token.
  for (const auto& r : s.fake.requests()) CHECK(r.authorization == "Bearer " + w.token_admin_b);
}

TEST_CASE("refresh-ahead: no refresh while the token is blocked by a 429") {
  stack s({"--cache-ttl", "2s", "--refresh-ahead", "0.5"});
  const auto& w = s.world;
  const auto path = park_path(w);
  // A write elsewhere is answered 429 (a write is never retried: the caller gets it at once).
  const auto parks_a2 = fake::location_path(w.loc_a2, "callParks");
  s.fake.set_interceptor([&](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.method != "POST" || r.path != parks_a2) return std::nullopt;
    fake::scripted_response limited;
    limited.status = 429;
    limited.headers = {{"Retry-After", "5"}};
    limited.body = R"({"message":"Too many requests","errors":[{"description":"Too many requests"}]})";
    return limited;
  });
  REQUIRE(s.get(path, w.token_admin_a).header("X-Cache") == "MISS");
  // The token is blocked for 5 s: within --max-retry-wait, so a request could wait that out.
  REQUIRE(http_request(s.proxy.port, "POST", parks_a2, test::json_bearer(w.token_admin_a),
                       R"({"name":"Overflow Park"})").status == 429);
  s.fake.clear_requests();
  // Reads into the window are hits, and the refresh they would start is dropped unsent.
  REQUIRE(eventually([&] {
    CHECK(s.get(path, w.token_admin_a).header("X-Cache") == "HIT");
    return s.metric(dropped("blocked")) >= 1;
  }, 3s));
  CHECK(s.fake.count("", path) == 0);
  CHECK(s.metric(stored) == 0);
}

TEST_CASE("refresh-ahead: a refresh an invalidation overtook stores nothing") {
  stack s({"--cache-ttl", "2s", "--refresh-ahead", "0.5"});
  const auto& w = s.world;
  const auto path = park_path(w);
  REQUIRE(s.get(path, w.token_admin_a).header("X-Cache") == "MISS");
  // The refresh is answered with the call park as it is now, but held at the fake ...
  s.fake.hold_next("GET", path);
  REQUIRE(eventually([&] {
    CHECK(s.get(path, w.token_admin_a).header("X-Cache") == "HIT");
    return s.fake.held() == 1;
  }));
  // ... while a write to the location goes through (another kind: the whole location is dropped).
  const auto paging = fake::paging_path(w.loc_a1, w.paging_a1);
  auto put = http_request(s.proxy.port, "PUT", paging, test::json_bearer(w.token_admin_a),
                          R"({"name":"All Staff Paging 2"})");
  REQUIRE(put.status / 100 == 2);
  s.fake.release_held();
  REQUIRE(eventually([&] { return s.metric(dropped("fenced")) == 1; }));
  CHECK(s.metric(stored) == 0);
  // So the next read goes upstream.
  CHECK(s.get(path, w.token_admin_a).header("X-Cache") == "MISS");
}

TEST_CASE("refresh-ahead: nothing read, nothing refreshed") {
  stack s({"--cache-ttl", "1s", "--refresh-ahead", "0.5"});
  const auto& w = s.world;
  const auto path = park_path(w);
  REQUIRE(s.get(path, w.token_admin_a).header("X-Cache") == "MISS");
  // What is asserted is an absence over the entry's whole life: the clock is the event.
  std::this_thread::sleep_for(1500ms);
  CHECK(s.metric(started) == 0);
  CHECK(s.fake.count("GET", path) == 1);
  CHECK(s.get(path, w.token_admin_a).header("X-Cache") == "MISS");
}

TEST_CASE("refresh-ahead: a read before the window starts no refresh") {
  stack s({"--cache-ttl", "2s", "--refresh-ahead", "0.25"});
  const auto& w = s.world;
  const auto path = park_path(w);
  REQUIRE(s.get(path, w.token_admin_a).header("X-Cache") == "MISS");
  // Read at once: the entry is in the first three quarters of its life, not in its window.
  REQUIRE(s.get(path, w.token_admin_a).header("X-Cache") == "HIT");
  // What is asserted is an absence over the entry's whole life: the clock is the event.
  std::this_thread::sleep_for(2300ms);
  CHECK(s.metric(started) == 0);
  CHECK(s.fake.count("GET", path) == 1);
  CHECK(s.get(path, w.token_admin_a).header("X-Cache") == "MISS");
}

TEST_CASE("refresh-ahead 0 is off: the caller after the expiry waits on upstream") {
  stack s({"--cache-ttl", "1s", "--refresh-ahead", "0"});
  const auto& w = s.world;
  const auto path = park_path(w);
  REQUIRE(s.get(path, w.token_admin_a).header("X-Cache") == "MISS");
  const auto misses = non_hits_over(1500ms, [&] { return s.get(path, w.token_admin_a); });
  CHECK(misses.size() == 1);
  CHECK(s.metric(started) == 0);
}

TEST_CASE("refresh-ahead: SIGTERM with a refresh under way waits for it (within --drain-timeout) and exits 0") {
  stack s({"--cache-ttl", "2s", "--refresh-ahead", "0.5", "--drain-timeout", "1s"});
  const auto& w = s.world;
  const auto path = park_path(w);
  REQUIRE(s.get(path, w.token_admin_a).header("X-Cache") == "MISS");
  // A refresh that upstream does not answer.
  s.fake.hold_next("GET", path);
  REQUIRE(eventually([&] {
    s.get(path, w.token_admin_a);
    return s.fake.held() == 1;
  }));
  s.proxy.proc->signal(SIGTERM);
  const auto code = s.proxy.proc->wait(10s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(s.proxy.proc->output().find("drain timeout") != std::string::npos);
  s.fake.release_held();
}
