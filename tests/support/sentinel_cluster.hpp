// A real Redis Sentinel setup for tests: a master redis-server, one replica and three
// redis-sentinel processes monitoring it as `wcpmaster` (quorum 2, down-after-milliseconds 500,
// failover-timeout 3000, parallel-syncs 1), all on free loopback ports, persisting nothing, each
// in its own temp dir (a sentinel rewrites its own config file there). Helpers kill or pause the
// current master and wait (bounded) for the sentinels to promote the other node. The destructor
// kills everything, so a failing test cannot leave it behind.
//
// Timings of Redis 7.0 Sentinel to expect (measured by test_sentinel_harness): a killed or paused
// master is replaced in about 2-3 s; a paused old master that is resumed is turned into a replica
// only about 10 s after it answers again (Sentinel waits 4 × its 2 s publish period after the
// node first reports itself a master, and checks at its next INFO, sent every 10 s).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/redis_server.hpp"

namespace wcp::test {

class sentinel_cluster {
 public:
  static constexpr const char* master_name = "wcpmaster";

  struct options {
    std::string data_password;      // set: requirepass/masterauth on both data nodes
    std::string sentinel_password;  // set: requirepass on every sentinel (and sentinel-pass)
  };

  // Starts all five processes and waits until the replica's link to the master is up and every
  // sentinel reports the master and knows the replica and the other two sentinels.
  // Throws std::runtime_error (with the processes' logs) when that takes longer than 30 s.
  explicit sentinel_cluster(options o);
  sentinel_cluster() : sentinel_cluster(options{}) {}
  ~sentinel_cluster();
  sentinel_cluster(const sentinel_cluster&) = delete;
  sentinel_cluster& operator=(const sentinel_cluster&) = delete;

  std::vector<std::uint16_t> sentinel_ports() const;
  // The ports of the two redis-servers (the initial master first), whatever their roles now.
  std::vector<std::uint16_t> data_ports() const;
  // The current master as the sentinels report it (the first one that answers).
  std::uint16_t master_port();
  // redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/wcpmaster
  std::string url() const;

  void kill_master();    // SIGKILL the current master (it stays dead)
  void pause_master();   // SIGSTOP the current master
  void resume_master();  // SIGCONT the master paused by pause_master()

  // Waits until every running sentinel reports the same master, other than the one known before
  // (at construction or the previous failover), and that node's ROLE says master; returns its
  // port. Throws std::runtime_error (with the logs) on timeout.
  std::uint16_t wait_for_failover(std::chrono::milliseconds timeout);

  void stop_sentinels();   // SIGTERM, then waits for their exit
  // Starts them again on the same ports with their (rewritten) configs and waits as the
  // constructor does.
  void start_sentinels();

  // Runs `redis-cli -h 127.0.0.1 -p PORT args...` against any port (data node or sentinel, with
  // its password) and returns its output (stdout and stderr) without the final newline; raw replies, one per line.
  // Throws std::runtime_error when redis-cli does not finish within `timeout`.
  std::string cli(std::uint16_t port, std::vector<std::string> args,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The first line of ROLE on `port` ("master", "slave"), or "" when it does not answer in time.
  std::string role(std::uint16_t port);
  // The data node on `port`.
  redis_server& node(std::uint16_t port);

  // The sentinels' logs and every node's replication state, for failure messages.
  std::string diagnostics();

 private:
  struct sentinel {
    std::string dir;
    std::string config;  // path of its config file
    std::uint16_t port = 0;
    std::unique_ptr<process> proc;
  };

  bool launch_sentinel(sentinel& s, bool write_config);
  void remove_sentinels();  // kills them and removes their dirs
  // Waits until every sentinel reports `master_port_` and knows every running data node but
  // that one and the other sentinels.
  void wait_until_settled(std::chrono::milliseconds timeout);

  options opt_;
  std::vector<std::unique_ptr<redis_server>> nodes_;
  std::vector<sentinel> sentinels_;
  std::uint16_t master_port_ = 0;  // as last established
  std::uint16_t paused_port_ = 0;
};

}  // namespace wcp::test
