// End-to-end with Redis: two real proxy instances sharing one real redis-server, in front of
// one fake Webex API.
#include <doctest/doctest.h>

#include <signal.h>

#include <atomic>
#include <sstream>
#include <thread>

#include "cache/compression.hpp"
#include "fake_webex/demo_world.hpp"
#include "fake_webex/fake_webex.hpp"
#include "support/e2e.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"
#include "support/tcp_tap.hpp"

using namespace wcp;
using test::header_list;
using test::http_request;

namespace {

using test::bearer;
using test::eventually;
using test::metric;

struct cluster {
  explicit cluster(std::vector<std::string> extra = {}) : world(fake::populate_demo_world(fake)) {
    std::vector<std::string> args{"--upstream", fake.base_url(), "--redis", redis.url(),
                                  "--log-level", "debug"};
    args.insert(args.end(), extra.begin(), extra.end());
    a = test::start_proxy(args);
    b = test::start_proxy(args);
    for (auto* p : {&a, &b})
      REQUIRE(eventually([&] {
        return metric(p->admin_port, "webex_cache_proxy_redis_up") == 1 &&
               metric(p->admin_port, "webex_cache_proxy_redis_subscribed") == 1;
      }));
  }

  test::http_response get(const test::proxy_process& p, const std::string& target,
                          header_list h = {}) {
    return http_request(p.port, "GET", target, std::move(h));
  }

  test::redis_server redis;
  fake::fake_webex fake;
  fake::demo_world world;
  test::proxy_process a, b;
};

std::string park_path(const fake::demo_world& w) { return fake::call_park_path(w.loc_a1, w.park_a1); }

// Two instances on one Redis: `plain` logs in as the default user, `shut` as an ACL user the
// test can shut out of Redis (its links killed, its logins refused) and let in again.
struct one_shut_out {
  explicit one_shut_out(std::vector<std::string> extra = {}) : world(fake::populate_demo_world(fake)) {
    REQUIRE(redis.cli({"ACL", "SETUSER", "shut", "on", ">shutpw", "~*", "&*", "+@all"}) == "OK");
    const std::string shut_url = "redis://shut:shutpw@127.0.0.1:" + std::to_string(redis.port());
    auto with = [&](std::string url) {
      std::vector<std::string> args{"--upstream", fake.base_url(), "--redis", std::move(url)};
      args.insert(args.end(), extra.begin(), extra.end());
      return args;
    };
    plain = test::start_proxy(with(redis.url()));
    shut = test::start_proxy(with(shut_url));
    for (auto* p : {&plain, &shut})
      REQUIRE(eventually([&] {
        return metric(p->admin_port, "webex_cache_proxy_redis_up") == 1 &&
               metric(p->admin_port, "webex_cache_proxy_redis_subscribed") == 1;
      }));
  }
  void shut_out() {
    REQUIRE(redis.cli({"ACL", "SETUSER", "shut", "off"}) == "OK");
    redis.cli({"CLIENT", "KILL", "USER", "shut"});
  }
  void let_in() { REQUIRE(redis.cli({"ACL", "SETUSER", "shut", "on"}) == "OK"); }

  test::redis_server redis;
  fake::fake_webex fake;
  fake::demo_world world;
  test::proxy_process plain, shut;
};

}  // namespace

TEST_CASE("an entry filled through one instance is a hit on the other") {
  cluster c;
  const auto path = park_path(c.world);
  auto miss = c.get(c.a, path, bearer(c.world.token_admin_a));
  CHECK(miss.header("X-Cache") == "MISS");
  auto hit = c.get(c.b, path, bearer(c.world.token_admin_a));
  CHECK(hit.status == 200);
  CHECK(hit.header("X-Cache") == "HIT");
  CHECK(hit.body == miss.body);
  CHECK(c.fake.count("GET", "/callParks/") == 1);
  CHECK(metric(c.b.admin_port, "webex_cache_proxy_l2_hits_total") == 1);
}

TEST_CASE("a grant learned by one instance is used by the other - and only for its scope") {
  cluster c;
  const auto path = park_path(c.world);
  REQUIRE(c.get(c.a, path, bearer(c.world.token_loc_admin_a1)).status == 200);
  CHECK(c.get(c.b, path, bearer(c.world.token_loc_admin_a1)).header("X-Cache") == "HIT");
  CHECK(c.fake.count("GET", "/callParks/") == 1);
  // Another token, never granted, still goes upstream through either instance.
  auto foreign = c.get(c.b, path, bearer(c.world.token_admin_b));
  CHECK(foreign.status == 404);
  CHECK(foreign.body.find(fake::demo_park_a1_name) == std::string::npos);
}

TEST_CASE("a rename through one instance is a 404 through the other") {
  cluster c;
  const auto path = park_path(c.world);
  const auto auth = bearer(c.world.token_admin_a);
  REQUIRE(c.get(c.a, path, auth).status == 200);
  REQUIRE(c.get(c.b, path, auth).header("X-Cache") == "HIT");  // now in B's L1 too

  header_list put = auth;
  put.emplace_back("Content-Type", "application/json");
  REQUIRE(http_request(c.a.port, "PUT", path, put, R"({"name":"Renamed Park"})").status == 200);
  // B drops its L1 copy when the invalidation message arrives (pub/sub: a moment, not a TTL).
  REQUIRE(eventually([&] {
    return metric(c.b.admin_port, R"(webex_cache_proxy_invalidations_total{reason="remote"})") >= 1;
  }));
  auto old = c.get(c.b, path, auth);
  CHECK(old.status == 404);
  CHECK(old.header("X-Cache") == "MISS");
  // A writes and counts the write and the rename; B counts what it applied from A.
  CHECK(metric(c.a.admin_port, R"(webex_cache_proxy_invalidations_total{reason="write"})") == 1);
  CHECK(metric(c.a.admin_port, R"(webex_cache_proxy_invalidations_total{reason="rename"})") == 1);
  CHECK(metric(c.b.admin_port, R"(webex_cache_proxy_invalidations_total{reason="remote"})") >= 1);
  CHECK(metric(c.b.admin_port, R"(webex_cache_proxy_invalidations_total{reason="write"})") == 0);
}

TEST_CASE("a grant dropped by a 401 on one instance is dropped on the other") {
  cluster c;
  const auto path = park_path(c.world);
  const auto auth = bearer(c.world.token_admin_a);
  REQUIRE(c.get(c.a, path, auth).status == 200);
  REQUIRE(c.get(c.b, path, auth).header("X-Cache") == "HIT");
  c.fake.set_interceptor([](const fake::recorded_request&) -> std::optional<fake::scripted_response> {
    fake::scripted_response r;
    r.status = 401;
    r.body = R"({"message":"revoked","errors":[{"description":"revoked"}],"trackingId":"x"})";
    return r;
  });
  REQUIRE(c.get(c.a, "/v1/people/me", auth).status == 401);
  REQUIRE(eventually([&] {
    return metric(c.b.admin_port, R"(webex_cache_proxy_invalidations_total{reason="remote"})") >= 1;
  }));
  auto after = c.get(c.b, path, auth);
  CHECK(after.status == 401);
  CHECK(after.header("X-Cache") == "MISS");
}

TEST_CASE("Redis killed mid-run: requests are still answered - and Redis is used again once back") {
  // Entries stay servable from L1 while isolated: this test is about answers, not staleness.
  cluster c({"--isolated-ttl", "10m"});
  const auto path = park_path(c.world);
  const auto auth = bearer(c.world.token_admin_a);
  REQUIRE(c.get(c.a, path, auth).status == 200);
  c.redis.kill();

  for (int i = 0; i < 5; ++i) {
    auto hit = c.get(c.a, path, auth);  // from A's L1
    CHECK(hit.status == 200);
    CHECK(hit.header("X-Cache") == "HIT");
  }
  const auto a2 = fake::call_park_path(c.world.loc_a2, c.world.park_a2);
  auto miss = c.get(c.a, a2, auth);  // from upstream, Redis or not
  CHECK(miss.status == 200);
  CHECK(c.get(c.b, path, auth).status == 200);
  auto ready = http_request(c.a.admin_port, "GET", "/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.body.find("store: redis down") != std::string::npos);
  CHECK(metric(c.a.admin_port, "webex_cache_proxy_redis_up") == 0);
  CHECK(metric(c.a.admin_port, "webex_cache_proxy_redis_errors_total") > 0);
  for (const char* code : {"500", "502", "503", "504"}) {
    CAPTURE(code);
    CHECK(metric(c.a.admin_port, std::string(R"(webex_cache_proxy_responses_total{code=")") + code + "\"}") == 0);
  }

  c.redis.restart();
  // Both instances' command and subscriber connections come back, each on its own backoff.
  REQUIRE(eventually([&] {
    for (auto port : {c.a.admin_port, c.b.admin_port})
      if (metric(port, "webex_cache_proxy_redis_up") != 1 ||
          metric(port, "webex_cache_proxy_redis_subscribed") != 1)
        return false;
    return true;
  }));
  CHECK(http_request(c.a.admin_port, "GET", "/readyz").body.find("store: redis up") != std::string::npos);
  // The restarted Redis is empty: a fill through A lands there and B hits it.
  const auto paging = fake::paging_path(c.world.loc_a1, c.world.paging_a1);
  REQUIRE(c.get(c.a, paging, auth).header("X-Cache") == "MISS");
  CHECK(c.get(c.b, paging, auth).header("X-Cache") == "HIT");
}

TEST_CASE("Redis paused: requests are answered within a bounded time") {
  cluster c({"--redis-timeout", "50ms"});
  const auto auth = bearer(c.world.token_admin_a);
  c.redis.pause();
  const auto start = std::chrono::steady_clock::now();
  auto res = c.get(c.a, park_path(c.world), auth);
  const auto took = std::chrono::steady_clock::now() - start;
  c.redis.resume();
  CHECK(res.status == 200);
  CHECK(took < std::chrono::seconds(2));
  CHECK(metric(c.a.admin_port, "webex_cache_proxy_redis_timeouts_total") > 0);
}

TEST_CASE("an invalidation made while Redis is down is replayed when it is back") {
  cluster c;
  const auto path = park_path(c.world);
  const auto auth = bearer(c.world.token_admin_a);
  REQUIRE(c.get(c.a, path, auth).status == 200);
  REQUIRE(c.get(c.b, path, auth).header("X-Cache") == "HIT");
  c.redis.pause();
  header_list put = auth;
  put.emplace_back("Content-Type", "application/json");
  REQUIRE(http_request(c.a.port, "PUT", path, put, R"({"name":"Renamed Park"})").status == 200);
  CHECK(metric(c.a.admin_port, "webex_cache_proxy_pending_invalidations") >= 1);
  c.redis.resume();
  // Neither Redis nor B may keep answering with the old call park.
  REQUIRE(eventually([&] {
    return metric(c.a.admin_port, "webex_cache_proxy_pending_invalidations") == 0;
  }));
  REQUIRE(eventually([&] {
    return metric(c.b.admin_port, R"(webex_cache_proxy_invalidations_total{reason="remote"})") >= 1 ||
           metric(c.b.admin_port, "webex_cache_proxy_l1_resyncs_total") >= 2;
  }));
  CHECK(c.get(c.b, path, auth).status == 404);
}

TEST_CASE("no token is ever written to Redis - and every key has a TTL") {
  cluster c;
  const std::vector<std::string> tokens{c.world.token_admin_a, c.world.token_loc_admin_a1,
                                        c.world.token_admin_b, c.world.token_partner};
  for (const auto& t : tokens) {
    c.get(c.a, park_path(c.world), bearer(t));
    c.get(c.b, fake::paging_path(c.world.loc_a1, c.world.paging_a1), bearer(t));
    c.get(c.a, park_path(c.world) + "?orgId=" + c.world.org_a, bearer(t));
  }
  const auto keys = c.redis.cli({"--scan"});
  std::istringstream in(keys);
  std::string key;
  int n = 0;
  while (std::getline(in, key)) {
    if (key.empty()) continue;
    ++n;
    CAPTURE(key);
    CHECK(key.rfind("wcp:v1:", 0) == 0);
    CHECK(std::stoll(c.redis.cli({"PTTL", key})) > 0);
    const auto type = c.redis.cli({"TYPE", key});
    const auto value = type.find("hash") != std::string::npos ? c.redis.cli({"HGETALL", key})
                                                               : c.redis.cli({"GET", key});
    for (const auto& t : tokens) {
      CHECK(key.find(t) == std::string::npos);
      CHECK(value.find(t) == std::string::npos);
    }
  }
  CHECK(n >= 4);
}

TEST_CASE("a 429 seen by one instance blocks the token on the other") {
  cluster c({"--max-retry-wait", "0"});
  c.fake.set_interceptor([](const fake::recorded_request&) -> std::optional<fake::scripted_response> {
    fake::scripted_response r;
    r.status = 429;
    r.headers = {{"Retry-After", "30"}};
    r.body = R"({"message":"slow down","errors":[{"description":"slow down"}],"trackingId":"x"})";
    return r;
  });
  auto first = c.get(c.a, park_path(c.world), bearer(c.world.token_admin_a));
  CHECK(first.status == 429);
  REQUIRE(c.fake.requests().size() == 1);
  // B hears of the block (announced, before it has a request of its own); a block is not an
  // invalidation.
  CHECK(test::eventually([&] {
    return metric(c.b.admin_port, R"(webex_cache_proxy_rate_limit_blocks{reason="429"})") == 1;
  }));
  CHECK(metric(c.b.admin_port, R"(webex_cache_proxy_invalidations_total{reason="remote"})") == 0);
  // B has not sent anything with this token: it must not, until the window ends.
  for (const auto& p : {fake::call_park_path(c.world.loc_a2, c.world.park_a2), std::string("/v1/people/me")}) {
    auto blocked = c.get(c.b, p, bearer(c.world.token_admin_a));
    CHECK(blocked.status == 429);
    const int retry_after = std::stoi(blocked.header("Retry-After"));
    CHECK(retry_after >= 1);
    CHECK(retry_after <= 30);
  }
  CHECK(c.fake.requests().size() == 1);
  const auto keys = c.redis.cli({"--scan", "--pattern", "wcp:v1:backoff:*"});
  CHECK(keys.find("wcp:v1:backoff:token:") != std::string::npos);
}

TEST_CASE("SIGTERM in Redis mode closes Redis cleanly and exits 0 - with Redis up or down") {
  cluster c;
  const auto auth = bearer(c.world.token_admin_a);
  // Both connections busy with real work first: fills, lookups, grants, a write.
  for (int i = 0; i < 20; ++i) REQUIRE(c.get(c.a, park_path(c.world), auth).status == 200);
  header_list put = auth;
  put.emplace_back("Content-Type", "application/json");
  REQUIRE(http_request(c.a.port, "PUT", fake::paging_path(c.world.loc_a1, c.world.paging_a1), put,
                       R"({"name":"Paged"})").status / 100 == 2);
  c.a.proc->signal(SIGTERM);
  CHECK(c.a.proc->wait(std::chrono::seconds(15)) == 0);
  CHECK(c.a.proc->output().find("drained") != std::string::npos);

  // The other instance, with Redis gone: still a clean exit.
  REQUIRE(c.get(c.b, park_path(c.world), auth).status == 200);
  c.redis.kill();
  c.b.proc->signal(SIGTERM);
  CHECK(c.b.proc->wait(std::chrono::seconds(15)) == 0);
}

TEST_CASE("a 423 seen by one instance blocks the resource on the other - for every token") {
  cluster c({"--max-retry-wait", "0"});
  const auto path = park_path(c.world);
  c.fake.set_interceptor([&](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.path != path) return std::nullopt;
    fake::scripted_response locked;
    locked.status = 423;
    locked.headers = {{"Retry-After", "30"}};
    locked.body = R"({"message":"locked","errors":[{"description":"locked"}],"trackingId":"x"})";
    return locked;
  });
  auto first = http_request(c.a.port, "PUT", path, test::json_bearer(c.world.token_admin_a), R"({"name":"X"})");
  CHECK(first.status == 423);
  REQUIRE(c.fake.count("", path) == 1);
  // Instance B sends nothing for that resource until the window ends, whatever the token...
  for (const auto& token : {c.world.token_admin_a, c.world.token_loc_admin_a1}) {
    auto blocked = c.get(c.b, path, bearer(token));
    CHECK(blocked.status == 423);
    const int retry_after = std::stoi(blocked.header("Retry-After"));
    CHECK(retry_after >= 1);
    CHECK(retry_after <= 30);
  }
  CHECK(c.fake.count("", path) == 1);
  // ... and other resources of the location are not blocked.
  CHECK(c.get(c.b, fake::paging_path(c.world.loc_a1, c.world.paging_a1), bearer(c.world.token_admin_a)).status == 200);
  const auto keys = c.redis.cli({"--scan", "--pattern", "wcp:v1:backoff:*"});
  CHECK(keys.find("wcp:v1:backoff:resource:") != std::string::npos);
}

TEST_CASE("the in-process copy of grants is swept in Redis mode - it follows the live tokens") {
  cluster c({"--grant-ttl", "1s"});
  const auto& w = c.world;
  for (const auto& token : {w.token_admin_a, w.token_loc_admin_a1})
    REQUIRE(c.get(c.a, park_path(c.world), bearer(token)).status == 200);
  // Instance B reads one grant from Redis into its copy.
  REQUIRE(c.get(c.b, park_path(c.world), bearer(w.token_admin_a)).header("X-Cache") == "HIT");
  CHECK(metric(c.a.admin_port, "webex_cache_proxy_grants_held") == 2);
  CHECK(metric(c.b.admin_port, "webex_cache_proxy_grants_held") == 1);
  // Expired grants are forgotten, on both instances, without any further request.
  CHECK(eventually([&] { return metric(c.a.admin_port, "webex_cache_proxy_grants_held") == 0; }));
  CHECK(eventually([&] { return metric(c.b.admin_port, "webex_cache_proxy_grants_held") == 0; }));
  // A token must ask Webex again.
  CHECK(c.get(c.b, park_path(c.world), bearer(w.token_admin_a)).header("X-Cache") == "MISS");
}

TEST_CASE("a slow Redis costs a request --redis-timeout in all - not once per command") {
  // Redis answers every command in 250 ms, inside the 400 ms timeout of each: a miss needs half
  // a dozen commands (grant, block, lookup, fill ticket, insert, grant learned), so waiting for
  // each would take 1.5 s at least.
  test::redis_server redis;
  test::tcp_tap slow(redis.port());
  fake::fake_webex fake;
  const auto world = fake::populate_demo_world(fake);
  auto p = test::start_proxy({"--upstream", fake.base_url(), "--redis",
                              "redis://127.0.0.1:" + std::to_string(slow.port()),
                              "--redis-timeout", "400ms"});
  REQUIRE(eventually([&] {
    return metric(p.admin_port, "webex_cache_proxy_redis_up") == 1 &&
           metric(p.admin_port, "webex_cache_proxy_redis_subscribed") == 1;
  }));
  slow.delay_answers(std::chrono::milliseconds(250));
  const auto start = std::chrono::steady_clock::now();
  auto res = http_request(p.port, "GET", park_path(world), bearer(world.token_admin_a));
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(res.status == 200);
  CHECK(res.header("X-Cache") == "MISS");
  CHECK(metric(p.admin_port, "webex_cache_proxy_redis_waits_cut_total") >= 1);
  CHECK(metric(p.admin_port, "webex_cache_proxy_redis_timeouts_total") == 0);
  // 400 ms on Redis and a fast upstream: well under the 1.5 s of waiting for every command.
  CHECK(took < std::chrono::milliseconds(1000));
}

TEST_CASE("the Redis budget counts time spent on Redis - not time spent waiting on Webex") {
  // Webex takes 300 ms, Redis answers at once: a write's invalidation and a miss's fill and
  // grant, all after the upstream answer, are waited for in full (nothing is cut), so another
  // instance reads what the write changed as soon as the writer has its answer.
  cluster c({"--redis-timeout", "50ms"});
  c.fake.set_response_delay(std::chrono::milliseconds(300));
  const auto path = park_path(c.world);
  const auto auth = bearer(c.world.token_admin_a);
  REQUIRE(c.get(c.a, path, auth).header("X-Cache") == "MISS");
  CHECK(c.get(c.b, path, auth).header("X-Cache") == "HIT");  // the fill reached Redis
  header_list put = auth;
  put.emplace_back("Content-Type", "application/json");
  REQUIRE(http_request(c.a.port, "PUT", path, put, R"({"name":"Renamed Park"})").status == 200);
  // The invalidation was through Redis before the writer's answer.
  CHECK(metric(c.a.admin_port, "webex_cache_proxy_pending_invalidations") == 0);
  CHECK(metric(c.a.admin_port, "webex_cache_proxy_redis_waits_cut_total") == 0);
  CHECK(metric(c.b.admin_port, "webex_cache_proxy_redis_waits_cut_total") == 0);
}

TEST_CASE("a write Redis lost - it came back from a snapshot taken before - causes misses, never a stale hit") {
  cluster c;
  const auto path = park_path(c.world);
  const auto auth = bearer(c.world.token_admin_a);
  REQUIRE(c.get(c.a, path, auth).status == 200);
  REQUIRE(c.get(c.b, path, auth).header("X-Cache") == "HIT");
  const std::string entries = "wcp:v1:entry:callParks/*";
  REQUIRE(!c.redis.cli({"KEYS", entries}).empty());
  // The snapshot Redis will come back from, with the call park cached.
  REQUIRE(c.redis.cli({"SAVE"}) == "OK");

  header_list put = auth;
  put.emplace_back("Content-Type", "application/json");
  REQUIRE(http_request(c.a.port, "PUT", path, put, R"({"name":"Renamed Park"})").status == 200);
  REQUIRE(eventually([&] {
    return metric(c.b.admin_port, R"(webex_cache_proxy_invalidations_total{reason="remote"})") >= 1;
  }));
  // The write bumped the location's generation, which every stored entry is checked against.
  const std::string location_generation = "wcp:v1:locgen:" + fake::strip_padding(c.world.loc_a1);
  CHECK(c.redis.cli({"GET", location_generation}) == "1");
  const double replays_a = metric(c.a.admin_port, "webex_cache_proxy_redis_journal_replays_total");
  const double replays_b = metric(c.b.admin_port, "webex_cache_proxy_redis_journal_replays_total");
  CHECK(metric(c.b.admin_port, "webex_cache_proxy_redis_journal_invalidations") >= 1);

  // Redis crashes and comes back without the rename's invalidation: the old call park is there
  // (until the instances, reconnecting on their own, apply their journals).
  c.redis.kill();
  c.redis.restart();
  for (auto* p : {&c.a, &c.b})
    REQUIRE(eventually([&] {
      return metric(p->admin_port, "webex_cache_proxy_redis_up") == 1 &&
             metric(p->admin_port, "webex_cache_proxy_redis_subscribed") == 1;
    }));
  REQUIRE(eventually([&] {
    return metric(c.a.admin_port, "webex_cache_proxy_redis_journal_replays_total") > replays_a &&
           metric(c.b.admin_port, "webex_cache_proxy_redis_journal_replays_total") > replays_b;
  }));
  // Both instances applied the journal before reading from Redis again: the snapshot's call park
  // (stored under generation 0) is no longer current.
  CHECK(std::atoi(c.redis.cli({"GET", location_generation}).c_str()) >= 1);
  auto via_b = c.get(c.b, path, auth);
  CHECK(via_b.status == 404);
  CHECK(via_b.body.find(fake::demo_park_a1_name) == std::string::npos);
  CHECK(c.get(c.a, path, auth).status == 404);
}

TEST_CASE("an instance that missed invalidation messages empties its L1 when it subscribes again") {
  one_shut_out c;
  auto& a = c.plain;
  auto& b = c.shut;
  const auto path = park_path(c.world);
  const auto auth = bearer(c.world.token_admin_a);
  REQUIRE(http_request(a.port, "GET", path, auth).status == 200);
  REQUIRE(http_request(b.port, "GET", path, auth).header("X-Cache") == "HIT");  // in B's L1

  // B is cut off from Redis (and cannot come back yet) while A renames the call park: B misses
  // the invalidation message.
  c.shut_out();
  REQUIRE(eventually([&] { return metric(b.admin_port, "webex_cache_proxy_redis_subscribed") == 0; }));
  const double resyncs = metric(b.admin_port, "webex_cache_proxy_l1_resyncs_total");
  const double replays = metric(b.admin_port, "webex_cache_proxy_redis_journal_replays_total");
  header_list put = auth;
  put.emplace_back("Content-Type", "application/json");
  REQUIRE(http_request(a.port, "PUT", path, put, R"({"name":"Renamed Park"})").status == 200);
  CHECK(metric(b.admin_port, R"(webex_cache_proxy_invalidations_total{reason="remote"})") == 0);

  c.let_in();
  REQUIRE(eventually([&] {
    return metric(b.admin_port, "webex_cache_proxy_redis_subscribed") == 1 &&
           metric(b.admin_port, "webex_cache_proxy_l1_resyncs_total") > resyncs &&
           metric(b.admin_port, "webex_cache_proxy_redis_up") == 1 &&
           metric(b.admin_port, "webex_cache_proxy_redis_journal_replays_total") > replays;
  }));
  // Its grant still holds (in Redis): only the emptied L1 keeps the old call park away.
  CHECK(metric(b.admin_port, R"(webex_cache_proxy_invalidations_total{reason="remote"})") == 0);
  CHECK(http_request(b.port, "GET", path, auth).status == 404);
}

TEST_CASE("secrets and available-* lists are never stored - read twice, through both instances") {
  cluster c;
  const auto auth = bearer(c.world.token_admin_a);
  const std::string loc = "/v1/telephony/config/locations/" + c.world.loc_a1;
  const std::vector<std::string> never = {
      loc + "/dectNetworks/RGVDVE5FVA/serviceabilityPassword",
      loc + "/callParks/availableUsers",
      loc + "/callParks/availableRecallHuntGroups",
      loc + "/paging/availableNumbers",
      loc + "/huntGroups/availableNumbers",
      loc + "/announcements/usage",
      loc + "/redSky/status",
      loc + "/callRecording/vendorUsers",
      "/v1/telephony/config/huntGroups",  // an org-wide list without one locationId
  };
  for (const auto& path : never) {
    CAPTURE(path);
    for (auto* p : {&c.a, &c.b, &c.a}) {
      auto res = c.get(*p, path, auth);
      CHECK(res.status == 200);
      CHECK(res.header("X-Cache") == "BYPASS");
    }
  }
  // Every read went to Webex, and Redis holds no entry.
  for (const auto& path : never) CHECK(c.fake.count("GET", path) == 3);
  CHECK(c.redis.cli({"KEYS", "wcp:v1:entry:*"}).empty());
}

TEST_CASE("a paused Redis is noticed on the subscription: the instance is isolated until Redis answers again") {
  cluster c({"--redis-timeout", "50ms"});
  for (auto* p : {&c.a, &c.b}) CHECK(metric(p->admin_port, "webex_cache_proxy_isolated") == 0);
  const double resyncs = metric(c.b.admin_port, "webex_cache_proxy_l1_resyncs_total");
  // SIGSTOP: the sockets stay open and nothing says the subscription is gone; only its check does.
  c.redis.pause();
  const auto paused_at = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] {
    return metric(c.a.admin_port, "webex_cache_proxy_isolated") == 1 &&
           metric(c.b.admin_port, "webex_cache_proxy_isolated") == 1;
  }));
  MESSAGE("noticed after " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - paused_at).count()
                           << " ms (the check gives up after 4 x 50 ms)");
  CHECK(http_request(c.a.admin_port, "GET", "/readyz").body.find("(isolated:") != std::string::npos);
  for (auto* p : {&c.a, &c.b}) {
    CHECK(metric(p->admin_port, "webex_cache_proxy_redis_subscription_check_failures_total") >= 1);
    CHECK(metric(p->admin_port, "webex_cache_proxy_isolated_periods_total") >= 1);
  }
  c.redis.resume();
  REQUIRE(eventually([&] {
    return metric(c.a.admin_port, "webex_cache_proxy_isolated") == 0 &&
           metric(c.b.admin_port, "webex_cache_proxy_isolated") == 0 &&
           metric(c.b.admin_port, "webex_cache_proxy_redis_subscribed") == 1;
  }));
  // Messages may have been missed meanwhile: L1 was emptied.
  CHECK(metric(c.b.admin_port, "webex_cache_proxy_l1_resyncs_total") > resyncs);
}

TEST_CASE("isolated: an L1 entry older than --isolated-ttl is fetched again, a younger one is served") {
  test::redis_server redis;
  fake::fake_webex fake;
  const auto world = fake::populate_demo_world(fake);
  // Redis is killed here (noticed at once): a long --redis-timeout keeps a busy machine's slow
  // probe from making the instances isolated before.
  auto patient = test::start_proxy({"--upstream", fake.base_url(), "--redis", redis.url(),
                                    "--isolated-ttl", "10m", "--redis-timeout", "500ms"});
  auto careful = test::start_proxy({"--upstream", fake.base_url(), "--redis", redis.url(),
                                    "--isolated-ttl", "0s", "--redis-timeout", "500ms"});
  for (auto* p : {&patient, &careful})
    REQUIRE(eventually([&] {
      return metric(p->admin_port, "webex_cache_proxy_redis_up") == 1 &&
             metric(p->admin_port, "webex_cache_proxy_redis_subscribed") == 1;
    }));
  const auto path = park_path(world);
  const auto auth = bearer(world.token_admin_a);
  REQUIRE(http_request(patient.port, "GET", path, auth).header("X-Cache") == "MISS");
  // Not isolated: --isolated-ttl changes nothing, the copy in Redis is a hit.
  REQUIRE(http_request(careful.port, "GET", path, auth).header("X-Cache") == "HIT");
  REQUIRE(http_request(careful.port, "GET", path, auth).header("X-Cache") == "HIT");
  CHECK(metric(careful.admin_port, "webex_cache_proxy_isolated_refetches_total") == 0);

  redis.kill();
  for (auto* p : {&patient, &careful})
    REQUIRE(eventually([&] { return metric(p->admin_port, "webex_cache_proxy_isolated") == 1; }));
  const auto fetched = fake.count("GET", path);
  CHECK(http_request(patient.port, "GET", path, auth).header("X-Cache") == "HIT");
  CHECK(fake.count("GET", path) == fetched);
  // Every read while isolated goes upstream when nothing cached is young enough.
  for (int i = 1; i <= 2; ++i) {
    auto res = http_request(careful.port, "GET", path, auth);
    CHECK(res.status == 200);
    CHECK(res.header("X-Cache") == "MISS");
    CHECK(fake.count("GET", path) == fetched + i);
  }
  CHECK(metric(careful.admin_port, "webex_cache_proxy_isolated_refetches_total") == 2);
  CHECK(metric(patient.admin_port, "webex_cache_proxy_isolated_refetches_total") == 0);
  CHECK(metric(careful.admin_port, "webex_cache_proxy_isolated_periods_total") >= 1);
}

TEST_CASE("a rename through one instance while Redis is down reaches the other's readers within --isolated-ttl") {
  cluster c({"--isolated-ttl", "300ms", "--cache-ttl", "10m", "--redis-timeout", "500ms"});
  const auto path = park_path(c.world);
  const auto auth = bearer(c.world.token_admin_a);
  REQUIRE(c.get(c.a, path, auth).status == 200);
  REQUIRE(c.get(c.b, path, auth).header("X-Cache") == "HIT");  // in B's L1 from here
  c.redis.kill();
  for (auto* p : {&c.a, &c.b})
    REQUIRE(eventually([&] { return metric(p->admin_port, "webex_cache_proxy_isolated") == 1; }));
  header_list put = auth;
  put.emplace_back("Content-Type", "application/json");
  REQUIRE(http_request(c.a.port, "PUT", path, put, R"({"name":"Renamed Park"})").status == 200);
  // B cannot hear of it; its copy is passed over once older than 300 ms, and Webex says the old
  // ID is gone. (Before, B served its copy for the whole --cache-ttl.)
  CHECK(eventually([&] { return c.get(c.b, path, auth).status == 404; }));
  CHECK(metric(c.b.admin_port, "webex_cache_proxy_isolated_refetches_total") >= 1);

  c.redis.restart();
  for (auto* p : {&c.a, &c.b})
    REQUIRE(eventually([&] {
      return metric(p->admin_port, "webex_cache_proxy_isolated") == 0 &&
             metric(p->admin_port, "webex_cache_proxy_redis_up") == 1;
    }));
  CHECK(metric(c.a.admin_port, "webex_cache_proxy_isolated_periods_total") >= 1);
  CHECK(c.get(c.b, path, auth).status == 404);
}

TEST_CASE("back from isolation, an instance does not serve Redis's copy of what another wrote meanwhile, while that write waits to be replayed") {
  one_shut_out c({"--isolated-ttl", "100ms", "--cache-ttl", "10m"});
  auto& a = c.shut;
  auto& b = c.plain;
  auto& redis = c.redis;
  const auto& world = c.world;
  const auto path = park_path(world);
  const auto auth = bearer(world.token_admin_a);
  REQUIRE(http_request(a.port, "GET", path, auth).status == 200);  // in Redis
  // A is shut out of Redis; its rename cannot drop Redis's copy: it waits to be replayed.
  c.shut_out();
  REQUIRE(eventually([&] { return metric(a.admin_port, "webex_cache_proxy_redis_up") == 0; }));
  header_list put = auth;
  put.emplace_back("Content-Type", "application/json");
  REQUIRE(http_request(a.port, "PUT", path, put, R"({"name":"Renamed Park"})").status == 200);
  REQUIRE(metric(a.admin_port, "webex_cache_proxy_pending_invalidations") >= 1);
  // B loses its subscription and gets it back: it may have missed messages, and writes made
  // meanwhile may not be in Redis yet. For a while its reads pass over Redis's older copies.
  const double periods = metric(b.admin_port, "webex_cache_proxy_isolated_periods_total");
  redis.cli({"CLIENT", "KILL", "TYPE", "pubsub"});
  REQUIRE(eventually([&] {
    return metric(b.admin_port, "webex_cache_proxy_isolated_periods_total") > periods &&
           metric(b.admin_port, "webex_cache_proxy_isolated") == 0;
  }));
  const double refetches = metric(b.admin_port, "webex_cache_proxy_isolated_refetches_total");
  CHECK(http_request(b.port, "GET", path, auth).status == 404);
  CHECK(metric(b.admin_port, "webex_cache_proxy_isolated_refetches_total") == refetches + 1);

  // A back: its rename is replayed, Redis's copy goes.
  c.let_in();
  REQUIRE(eventually([&] {
    return metric(a.admin_port, "webex_cache_proxy_pending_invalidations") == 0;
  }));
  CHECK(redis.cli({"--scan", "--pattern", "*entry*"}).empty());
  CHECK(http_request(b.port, "GET", path, auth).status == 404);
}

TEST_CASE("gzip through Redis: an entry another instance filled is served compressed from this one's L1") {
  cluster c;
  for (int i = 0; i < 20; ++i) c.fake.add_call_park(c.world.loc_a1, "Compressible Park " + std::to_string(i));
  const auto path = "/v1/telephony/config/locations/" + c.world.loc_a1 + "/callParks";
  const auto plain = c.get(c.a, path, bearer(c.world.token_admin_a));
  REQUIRE(plain.status == 200);
  auto gzip = bearer(c.world.token_admin_a);
  gzip.emplace_back("Accept-Encoding", "gzip");
  for (int i = 0; i < 2; ++i) {  // from Redis, then from B's L1
    const auto res = c.get(c.b, path, gzip);
    CHECK(res.header("X-Cache") == "HIT");
    CHECK(res.header("Content-Encoding") == "gzip");
    CHECK(cache::gunzip(res.body) == plain.body);
  }
  CHECK(c.fake.count("GET", "/callParks") == 1);
}
