// End-to-end with Redis Sentinel: two real proxy instances on a redis+sentinel:// URL, a master,
// a replica and three redis-sentinel processes, client load running while the master is killed
// or paused, and a daemon started while every sentinel is down.
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "fake_webex/demo_world.hpp"
#include "fake_webex/fake_webex.hpp"
#include "support/e2e.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/sentinel_cluster.hpp"

using namespace wcp;
using namespace std::chrono_literals;
using test::bearer;
using test::eventually;
using test::header_list;
using test::http_request;
using test::metric;
using steady = std::chrono::steady_clock;

namespace {

std::string master_series(std::uint16_t port) {
  return R"(webex_cache_proxy_redis_master{address="127.0.0.1:)" + std::to_string(port) + R"("})";
}

// Following `port` as master: commands and the invalidation subscription both up on it.
bool on_master(const test::proxy_process& p, std::uint16_t port) {
  return metric(p.admin_port, master_series(port)) == 1 &&
         metric(p.admin_port, "webex_cache_proxy_redis_subscribed") == 1;
}

struct ha_cluster {
  explicit ha_cluster(bool wait_for_redis = true) : world(fake::populate_demo_world(fake)) {
    args = {"--upstream", fake.base_url(), "--redis", redis.url(), "--log-level", "debug"};
    a = test::start_proxy(args);
    b = test::start_proxy(args);
    if (!wait_for_redis) return;
    const auto master = redis.master_port();
    for (auto* p : {&a, &b})
      REQUIRE_MESSAGE(eventually([&] { return on_master(*p, master); }), redis.diagnostics());
  }

  test::http_response get_a(const std::string& target, header_list h) {
    return http_request(a.port, "GET", target, std::move(h));
  }
  test::http_response get_b(const std::string& target, header_list h) {
    return http_request(b.port, "GET", target, std::move(h));
  }

  test::sentinel_cluster redis;
  fake::fake_webex fake;
  fake::demo_world world;
  std::vector<std::string> args;
  test::proxy_process a, b;
};

// Clients reading through both instances until stopped; every answer is kept with its times.
struct client_load {
  struct answer {
    steady::time_point start, end;
    int instance;  // 0: a, 1: b
    std::string target;
    int status;
    std::string body;
  };

  client_load(const ha_cluster& c, std::vector<std::string> targets, std::string token) {
    const std::uint16_t ports[2] = {c.a.port, c.b.port};
    for (int t = 0; t < 2; ++t)
      threads.emplace_back([this, ports, targets, token, t] {
        std::size_t i = 0;
        while (!stop) {
          const int instance = static_cast<int>((i + t) % 2);
          const auto& target = targets[i % targets.size()];
          ++i;
          answer a{steady::now(), {}, instance, target, 0, {}};
          try {
            auto res = http_request(ports[instance], "GET", target, bearer(token));
            a.status = res.status;
            a.body = std::move(res.body);
          } catch (const std::exception& e) {
            a.status = -1;  // no answer at all
            a.body = e.what();
          }
          a.end = steady::now();
          std::lock_guard lock(mu);
          answers.push_back(std::move(a));
        }
      });
  }
  ~client_load() { finish(); }

  void finish() {
    stop = true;
    for (auto& t : threads)
      if (t.joinable()) t.join();
  }

  std::size_t count() {
    std::lock_guard lock(mu);
    return answers.size();
  }

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<answer> answers;
  std::vector<std::thread> threads;
};

// The body of the checks both failover tests make. `lose_master` kills or pauses the master.
void run_failover(ha_cluster& c, const std::function<void()>& lose_master,
                  const std::function<void()>& after_failover = {}) {
  const auto auth = bearer(c.world.token_admin_a);
  const auto park = fake::call_park_path(c.world.loc_a1, c.world.park_a1);
  const auto paging = fake::paging_path(c.world.loc_a1, c.world.paging_a1);
  const auto other = fake::call_park_path(c.world.loc_a2, c.world.park_a2);
  // Cached everywhere: in Redis and in both L1s.
  for (const auto& path : {park, paging}) {
    REQUIRE(c.get_a(path, auth).status == 200);
    REQUIRE(c.get_b(path, auth).header("X-Cache") == "HIT");
  }
  const auto old_master = c.redis.master_port();
  const double resyncs_a = metric(c.a.admin_port, "webex_cache_proxy_l1_resyncs_total");
  const double resyncs_b = metric(c.b.admin_port, "webex_cache_proxy_l1_resyncs_total");

  client_load load(c, {park, paging, other}, c.world.token_admin_a);
  REQUIRE(eventually([&] { return load.count() >= 20; }));

  lose_master();
  // A rename through A while the master is away: Redis cannot take its invalidation.
  header_list put = auth;
  put.emplace_back("Content-Type", "application/json");
  REQUIRE(http_request(c.a.port, "PUT", park, put, R"({"name":"Renamed During Failover"})").status == 200);
  const auto rename_done = steady::now();
  CHECK(metric(c.a.admin_port, "webex_cache_proxy_pending_invalidations") >= 1);

  const auto new_master = c.redis.wait_for_failover(30s);
  const auto announced = steady::now();
  REQUIRE(new_master != old_master);
  // Both instances follow within 2 s of the sentinels agreeing (measured: about 0.1 s).
  const bool followed = eventually([&] { return on_master(c.a, new_master) && on_master(c.b, new_master); }, 2s);
  const auto both_followed = steady::now();
  const std::string why =
      c.redis.diagnostics() + "\nA:\n" + c.a.proc->output() + "\nB:\n" + c.b.proc->output();
  REQUIRE_MESSAGE(followed, why);
  MESSAGE("both instances on the new master "
          << std::chrono::duration_cast<std::chrono::milliseconds>(both_followed - announced).count()
          << " ms after the sentinels agreed");

  // The invalidation A could not write is replayed on the new master.
  CHECK(eventually([&] { return metric(c.a.admin_port, "webex_cache_proxy_pending_invalidations") == 0; }));
  CHECK(metric(c.a.admin_port, "webex_cache_proxy_invalidations_replayed_total") >= 1);
  // Both emptied their L1 on the new master's subscription.
  CHECK(metric(c.a.admin_port, "webex_cache_proxy_l1_resyncs_total") > resyncs_a);
  CHECK(metric(c.b.admin_port, "webex_cache_proxy_l1_resyncs_total") > resyncs_b);
  for (auto* p : {&c.a, &c.b}) {
    CHECK(metric(p->admin_port, "webex_cache_proxy_redis_failovers_total") == 1);
    CHECK(metric(p->admin_port, "webex_cache_proxy_redis_up") == 1);
    CHECK(metric(p->admin_port, master_series(old_master)) == 0);
    auto ready = http_request(p->admin_port, "GET", "/readyz");
    CHECK(ready.status == 200);
    CHECK(ready.body.find("redis master: 127.0.0.1:" + std::to_string(new_master)) != std::string::npos);
    CHECK(p->proc->wait_for_output("redis master switched", 5s).find(std::to_string(new_master)) !=
          std::string::npos);
  }
  if (after_failover) after_failover();

  // A write after the switch.
  REQUIRE(http_request(c.b.port, "PUT", paging, put, R"({"name":"Paged After Failover"})").status / 100 == 2);
  const auto paging_done = steady::now();
  // Redis serves again, from the new master: a fill through A is a Redis hit through B.
  const auto fresh = fake::call_park_path(c.world.loc_b1, c.world.park_b1);
  const auto auth_b = bearer(c.world.token_admin_b);
  const double l2_before = metric(c.b.admin_port, "webex_cache_proxy_l2_hits_total");
  REQUIRE(c.get_a(fresh, auth_b).header("X-Cache") == "MISS");
  // B never read it: its HIT comes from Redis (the load's own L2 hits count too).
  CHECK(c.get_b(fresh, auth_b).header("X-Cache") == "HIT");
  CHECK(metric(c.b.admin_port, "webex_cache_proxy_l2_hits_total") > l2_before);
  REQUIRE(eventually([&] { return load.count() >= 200; }, 20s));
  load.finish();

  // No client saw a 5xx or a dropped connection, at any time.
  std::size_t errors = 0, stale = 0;
  for (const auto& a : load.answers) {
    if (a.status >= 500 || a.status < 0) {
      ++errors;
      MESSAGE("error answer: " << a.status << " " << a.body);
    }
    // Stale: the old answer, asked for after the write. Through the writing instance from its
    // answer on; through the other with a moment for the pub/sub message, and for the rename
    // made while the master was away, once it follows the new master (it cannot hear of the
    // write before: it serves its L1 meanwhile, like any instance cut off from Redis).
    const bool renamed_park = a.target == park && a.status == 200;
    const bool old_paging =
        a.target == paging && a.body.find(fake::demo_paging_a1_name) != std::string::npos;
    const bool stale_park =
        renamed_park && (a.instance == 0 ? a.start > rename_done : a.start > both_followed + 1s);
    const bool stale_paging =
        old_paging && (a.instance == 1 ? a.start > paging_done : a.start > paging_done + 1s);
    if (stale_park || stale_paging) {
      ++stale;
      MESSAGE("stale " << (stale_park ? "call park" : "paging group") << " through "
                       << (a.instance ? "B" : "A"));
    }
  }
  MESSAGE(load.answers.size() << " client requests during the failover");
  CHECK(errors == 0);
  CHECK(stale == 0);
  CHECK(c.get_a(park, auth).status == 404);
  CHECK(c.get_b(park, auth).status == 404);
  CHECK(c.get_b(paging, auth).body.find("Paged After Failover") != std::string::npos);
  // One switch each, seconds later too: no instance was taken back to the old master by a
  // sentinel that had not heard of the failover yet.
  for (auto* p : {&c.a, &c.b})
    CHECK(metric(p->admin_port, "webex_cache_proxy_redis_failovers_total") == 1);
}

}  // namespace

TEST_CASE("the Redis master is killed under load: both instances follow the sentinels - no 5xx, no stale answer") {
  ha_cluster c;
  run_failover(c, [&] { c.redis.kill_master(); });
}

TEST_CASE("the Redis master is paused under load: both instances follow the sentinels and never go back to it") {
  ha_cluster c;
  const auto old_master = c.redis.master_port();
  run_failover(c, [&] { c.redis.pause_master(); }, [&] {
    // The old master answers again, still calling itself master until the sentinels demote it:
    // neither instance goes back to it.
    c.redis.resume_master();
    CHECK(c.redis.cli(old_master, {"PING"}) == "PONG");
    const auto new_master = c.redis.master_port();
    for (int i = 0; i < 20; ++i) {
      CHECK(on_master(c.a, new_master));
      CHECK(on_master(c.b, new_master));
      CHECK(c.get_a(fake::call_park_path(c.world.loc_a2, c.world.park_a2),
                    bearer(c.world.token_admin_a)).status == 200);
    }
  });
}

TEST_CASE("every sentinel down at start-up: the daemon starts degraded and uses Redis once they are back") {
  ha_cluster c(false);
  // Restart the instances with the sentinels gone.
  c.redis.stop_sentinels();
  c.a = test::start_proxy(c.args);
  const auto auth = bearer(c.world.token_admin_a);
  const auto park = fake::call_park_path(c.world.loc_a1, c.world.park_a1);
  auto first = c.get_a(park, auth);
  CHECK(first.status == 200);
  CHECK(first.header("X-Cache") == "MISS");
  CHECK(metric(c.a.admin_port, "webex_cache_proxy_redis_up") == 0);
  CHECK(metric(c.a.admin_port, R"(webex_cache_proxy_redis_master{address="none"})") == 0);
  auto ready = http_request(c.a.admin_port, "GET", "/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.body.find("redis master: unknown") != std::string::npos);

  c.redis.start_sentinels();
  const auto master = c.redis.master_port();
  REQUIRE_MESSAGE(eventually([&] { return on_master(c.a, master); }, 15s), c.a.proc->output());
  CHECK(c.a.proc->wait_for_output("redis master found", 5s).find(std::to_string(master)) !=
        std::string::npos);
  CHECK(metric(c.a.admin_port, "webex_cache_proxy_redis_failovers_total") == 0);
  CHECK(eventually([&] { return metric(c.a.admin_port, "webex_cache_proxy_redis_sentinels_up") == 3; }));
  // Fills go to Redis now: what A fetches is a Redis hit through B.
  const auto other = fake::call_park_path(c.world.loc_a2, c.world.park_a2);
  REQUIRE(c.get_a(other, auth).header("X-Cache") == "MISS");
  REQUIRE(eventually([&] { return on_master(c.b, master); }, 15s));
  CHECK(c.get_b(other, auth).header("X-Cache") == "HIT");
}

TEST_CASE("sentinels with a password of their own: --redis-sentinel-password-file - the data Redis's from the URL") {
  test::sentinel_cluster redis({"data-secret", "sentinel-secret"});
  fake::fake_webex fake;
  const auto world = fake::populate_demo_world(fake);
  const auto dir = test::make_temp_dir("wcp-sentinel-pass-");
  const auto secret = dir + "/sentinel.pass";
  std::ofstream(secret) << "sentinel-secret\n";
  // redis+sentinel://:data-secret@127.0.0.1:P1,.../wcpmaster
  const auto url = "redis+sentinel://:data-secret@" + redis.url().substr(17);
  auto with = test::start_proxy({"--upstream", fake.base_url(), "--redis", url,
                                 "--redis-sentinel-password-file", secret});
  auto without = test::start_proxy({"--upstream", fake.base_url(), "--redis", url});
  const auto master = redis.master_port();
  REQUIRE_MESSAGE(eventually([&] { return on_master(with, master); }), with.proc->output());
  CHECK(eventually([&] { return metric(with.admin_port, "webex_cache_proxy_redis_sentinels_up") == 3; }));
  const auto path = fake::call_park_path(world.loc_a1, world.park_a1);
  const auto auth = bearer(world.token_admin_a);
  REQUIRE(http_request(with.port, "GET", path, auth).status == 200);
  CHECK(redis.cli(master, {"KEYS", "wcp:v1:entry:*"}).find("callParks") != std::string::npos);

  // Without the sentinels' password no sentinel answers: degraded, as with Redis down.
  CHECK(metric(without.admin_port, "webex_cache_proxy_redis_sentinels_up") == 0);
  CHECK(metric(without.admin_port, "webex_cache_proxy_redis_up") == 0);
  CHECK(http_request(without.admin_port, "GET", "/readyz").body.find("redis master: unknown") !=
        std::string::npos);
  CHECK(http_request(without.port, "GET", path, auth).status == 200);
  CHECK(without.proc->output().find("sentinel-secret") == std::string::npos);
  CHECK(with.proc->output().find("sentinel-secret") == std::string::npos);
  CHECK(with.proc->output().find("data-secret") == std::string::npos);
}

TEST_CASE("a master name the sentinels do not know: an error line, and the daemon serves degraded") {
  test::sentinel_cluster redis;
  fake::fake_webex fake;
  const auto world = fake::populate_demo_world(fake);
  auto url = redis.url();
  url.replace(url.rfind('/') + 1, std::string::npos, "nosuchmaster");
  auto p = test::start_proxy({"--upstream", fake.base_url(), "--redis", url});
  const auto line = p.proc->wait_for_output("does not know the master name", 10s);
  CHECK(line.find("nosuchmaster") != std::string::npos);
  // The line comes with the first sentinel that answers; the others connect on their own.
  CHECK(eventually([&] { return metric(p.admin_port, "webex_cache_proxy_redis_sentinels_up") == 3; }));
  CHECK(metric(p.admin_port, "webex_cache_proxy_redis_up") == 0);
  CHECK(http_request(p.admin_port, "GET", "/readyz").body.find("redis master: unknown") !=
        std::string::npos);
  CHECK(http_request(p.port, "GET", fake::call_park_path(world.loc_a1, world.park_a1),
                     bearer(world.token_admin_a)).status == 200);
}
