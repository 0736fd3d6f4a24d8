// The Redis failover figure: time from SIGKILL of the Redis master to the first Redis hit served
// through the master Sentinel promotes, and the client errors meanwhile. Run by bench/failover.
//
// Each round starts a fresh Sentinel setup (a master, a replica, three sentinels with
// down-after-milliseconds 500), a fake Webex API and one proxy with its L1 off (so that every
// HIT is a Redis hit), caches one call park, then kills the master while a client asks for the
// call park in a loop (one request at a time, through the proxy). Before the switch the answers
// are MISSes from Webex; the first HIT is the first Redis hit through the new master.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "fake_webex/demo_world.hpp"
#include "fake_webex/fake_webex.hpp"
#include "support/e2e.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/sentinel_cluster.hpp"

using namespace wcp;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

struct round_result {
  double to_first_hit_ms = 0;    // SIGKILL -> first Redis hit through the new master
  double sentinels_ms = 0;       // SIGKILL -> every sentinel names the new master
  std::size_t requests = 0;      // client requests from SIGKILL to the first hit
  std::size_t errors = 0;        // of which 5xx or no answer
};

double ms_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

round_result one_round() {
  test::sentinel_cluster redis;
  fake::fake_webex fake;
  const auto world = fake::populate_demo_world(fake);
  auto proxy = test::start_proxy({"--upstream", fake.base_url(), "--redis", redis.url(),
                                  "--l1-max-bytes", "0", "--access-log", "off"});
  const auto master = redis.master_port();
  const std::string up_series = R"(webex_cache_proxy_redis_master{address="127.0.0.1:)" +
                                std::to_string(master) + R"("})";
  if (!test::eventually([&] { return test::metric(proxy.admin_port, up_series) == 1; }))
    throw std::runtime_error("the proxy did not connect to the master");
  const auto path = fake::call_park_path(world.loc_a1, world.park_a1);
  const auto auth = test::bearer(world.token_admin_a);
  test::http_request(proxy.port, "GET", path, auth);
  if (!test::eventually([&] {
        return test::http_request(proxy.port, "GET", path, auth).header("X-Cache") == "HIT";
      }))
    throw std::runtime_error("the call park was not cached in Redis");

  round_result r;
  const auto killed = steady::now();
  redis.kill_master();
  const auto deadline = killed + std::chrono::seconds(30);
  bool sentinels_done = false;
  for (;;) {
    if (steady::now() > deadline) throw std::runtime_error("no Redis hit within 30 s");
    ++r.requests;
    try {
      auto res = test::http_request(proxy.port, "GET", path, auth);
      if (res.status >= 500) ++r.errors;
      if (res.status == 200 && res.header("X-Cache") == "HIT") break;
    } catch (const std::exception&) {
      ++r.errors;
    }
    if (!sentinels_done) {
      // Cheap enough between requests: one redis-cli per sentinel.
      const auto p = redis.master_port();
      if (p != master && p != 0) {
        sentinels_done = true;
        r.sentinels_ms = ms_between(killed, steady::now());
      }
    }
  }
  r.to_first_hit_ms = ms_between(killed, steady::now());
  // The hit can come before this loop saw the sentinels agree: look until they do.
  while (!sentinels_done && steady::now() < deadline) {
    const auto p = redis.master_port();
    if (p != master && p != 0) {
      sentinels_done = true;
      r.sentinels_ms = ms_between(killed, steady::now());
    }
  }
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  std::vector<double> hits, sentinels;
  std::size_t requests = 0, errors = 0;
  std::printf("round  kill->first Redis hit (ms)  kill->sentinels agree (ms)  requests  errors\n");
  for (int i = 1; i <= rounds; ++i) {
    try {
      const auto r = one_round();
      hits.push_back(r.to_first_hit_ms);
      sentinels.push_back(r.sentinels_ms);
      requests += r.requests;
      errors += r.errors;
      std::printf("%5d  %26.0f  %26.0f  %8zu  %6zu\n", i, r.to_first_hit_ms, r.sentinels_ms,
                  r.requests, r.errors);
      std::fflush(stdout);
    } catch (const std::exception& e) {
      std::cerr << "round " << i << " failed: " << e.what() << "\n";
      return 1;
    }
  }
  std::printf("median of %d failovers: first Redis hit through the new master %.0f ms after SIGKILL "
              "(sentinels agree at %.0f ms); client errors %zu of %zu requests\n",
              rounds, median(hits), median(sentinels), errors, requests);
  return errors == 0 ? 0 : 1;
}
