// Finding and following the Redis master that Redis Sentinel names (hiredis 0.14 has no Sentinel
// support; this speaks to the sentinels over the same Asio-driven connections).
//
// The monitor keeps one command connection and one subscriber connection to every sentinel:
// - it asks every sentinel (`SENTINEL MASTER NAME`) at start, every `requery_every`, whenever a
//   sentinel connection comes (back) up, and when a follower finds a replica where the master
//   should be, and believes the answer with the highest config epoch (a sentinel that has not
//   yet heard of a failover names the old master under the old epoch);
// - it listens for `+switch-master` on every sentinel, so a failover is followed as soon as any
//   sentinel announces it; answers older than the announced switch are ignored from then on.
// When the named master changes, every follower connection is pointed at it: each drops its old
// link at once (even if the old master still answers) and connects to the new one, where it
// confirms with ROLE that the server really is a master before using it.
//
// With no sentinel reachable, the followers stay where they are (or, before the first answer,
// unconnected: the store runs degraded, as with a Redis that is down) until one answers.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "cache/redis_connection.hpp"

namespace wcp::cache {

struct sentinel_options {
  std::vector<std::pair<std::string, std::uint16_t>> sentinels;  // host, port
  std::string master_name;
  std::string password;  // set: AUTH to every sentinel (their own requirepass)
  std::chrono::milliseconds command_timeout{500};
  std::chrono::milliseconds requery_every{1000};
  std::chrono::milliseconds reconnect_max{1000};  // a sentinel that went away is retried this often
};

class sentinel_monitor {
 public:
  sentinel_monitor(net::any_io_executor ex, sentinel_options options,
                   std::vector<std::shared_ptr<redis_connection>> followers);
  ~sentinel_monitor();
  sentinel_monitor(const sentinel_monitor&) = delete;
  sentinel_monitor& operator=(const sentinel_monitor&) = delete;

  // Called on the monitor's strand when the master changes: `from` is "" the first time one is
  // found. REQUIRES: before start().
  void on_switch(std::function<void(const std::string& from, const std::string& to)> f);
  // Called on the monitor's strand when a sentinel that answers does not know the master name
  // (a misspelt MASTER_NAME, a sentinel not yet configured); once per sentinel until it does.
  // REQUIRES: before start().
  void on_unknown_master(std::function<void(const std::string& sentinel)> f);

  void start();
  // Stops asking and listening; completes once the sentinel connections are closed.
  net::awaitable<void> close();

  // Asks the sentinels again now.
  void requery();

  // The master's "host:port" as last named by a sentinel; "" before any answered.
  std::string master() const;
  // Times the master changed after the first one was found.
  std::uint64_t failovers() const noexcept;
  // Sentinels whose command connection is up.
  std::size_t sentinels_up() const noexcept;

 private:
  struct state;
  std::shared_ptr<state> st_;
};

}  // namespace wcp::cache
