// Self-test of support/sentinel_cluster: the Sentinel setup comes up, replicates, and fails over
// when its master is killed or paused. Groundwork for the daemon following a failover.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "support/sentinel_cluster.hpp"

using namespace std::chrono_literals;
using wcp::test::sentinel_cluster;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::uint16_t other_node(sentinel_cluster& c, std::uint16_t port) {
  const auto ports = c.data_ports();
  return ports[0] == port ? ports[1] : ports[0];
}

template <class Pred>
bool wait_until(Pred pred, milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  while (!pred()) {
    if (steady::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);  // polling a condition the servers change
  }
  return true;
}

long long ms_since(steady::time_point t) {
  return std::chrono::duration_cast<milliseconds>(steady::now() - t).count();
}

}  // namespace

TEST_CASE("the sentinel cluster comes up: a write on the master is read on the replica - and the sentinels restart") {
  sentinel_cluster c;
  const auto master = c.master_port();
  CHECK(master == c.data_ports()[0]);
  CHECK(c.role(master) == "master");
  const auto replica = other_node(c, master);
  CHECK(c.role(replica) == "slave");
  const auto s = c.sentinel_ports();
  REQUIRE(s.size() == 3);
  CHECK(c.url() == "redis+sentinel://127.0.0.1:" + std::to_string(s[0]) + ",127.0.0.1:" +
                       std::to_string(s[1]) + ",127.0.0.1:" + std::to_string(s[2]) + "/wcpmaster");

  REQUIRE(c.cli(master, {"SET", "wcp:harness", "hello"}) == "OK");
  CHECK(wait_until([&] { return c.cli(replica, {"GET", "wcp:harness"}) == "hello"; }, 5s));
  // A replica refuses writes.
  CHECK(c.cli(replica, {"SET", "wcp:harness", "no"}).find("READONLY") != std::string::npos);

  // The sentinels can be stopped and started again on the same ports.
  c.stop_sentinels();
  CHECK(c.cli(s[0], {"PING"}).find("PONG") == std::string::npos);
  c.start_sentinels();
  CHECK(c.sentinel_ports() == s);
  CHECK(c.master_port() == master);
}

TEST_CASE("SIGKILL of the master: the sentinels promote the replica, which takes writes") {
  sentinel_cluster c;
  const auto old_master = c.master_port();
  const auto replica = other_node(c, old_master);
  REQUIRE(c.cli(old_master, {"SET", "wcp:before", "1"}) == "OK");
  REQUIRE(wait_until([&] { return c.cli(replica, {"GET", "wcp:before"}) == "1"; }, 5s));

  const auto start = steady::now();
  c.kill_master();
  const auto new_master = c.wait_for_failover(15s);
  const auto took = ms_since(start);
  MESSAGE("failover after SIGKILL took " << took << " ms");
  CHECK(took < 15000);
  CHECK(new_master == replica);
  CHECK(c.master_port() == replica);
  CHECK(c.role(new_master) == "master");
  CHECK(c.cli(new_master, {"GET", "wcp:before"}) == "1");
  CHECK(c.cli(new_master, {"SET", "wcp:after", "2"}) == "OK");
  CHECK(c.cli(new_master, {"GET", "wcp:after"}) == "2");
}

TEST_CASE("SIGSTOP of the master: failover, and once resumed the old master becomes a replica") {
  sentinel_cluster c;
  const auto old_master = c.master_port();
  const auto replica = other_node(c, old_master);

  const auto start = steady::now();
  c.pause_master();
  const auto new_master = c.wait_for_failover(15s);
  MESSAGE("failover after SIGSTOP took " << ms_since(start) << " ms");
  CHECK(new_master == replica);
  CHECK(c.cli(new_master, {"SET", "wcp:after", "2"}) == "OK");

  const auto resumed = steady::now();
  c.resume_master();
  // Sentinel turns a returning old master into a replica about 10 s after it answers again.
  const bool demoted = wait_until([&] { return c.role(old_master) == "slave"; }, 20s);
  MESSAGE("old master became a replica " << ms_since(resumed) << " ms after SIGCONT");
  REQUIRE_MESSAGE(demoted, c.diagnostics());
  CHECK(c.master_port() == new_master);
  // It replicates from the new master.
  CHECK(wait_until([&] { return c.cli(old_master, {"GET", "wcp:after"}) == "2"; }, 10s));
}
