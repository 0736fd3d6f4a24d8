// Rate-limit state: until when a token (after a 429) or a resource (after a 423) may not be
// sent upstream. Kept in this process and, with Redis, shared: written to Redis with a
// millisecond TTL (for instances that look later) and announced on the invalidation channel
// (for instances already running), so that no instance sends before the time.
//
// Scopes are opaque identifiers: a token's SHA-256 fingerprint in hex, or a hash of the resource.
//
// Thread-safety: may be used from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>

#include "cache/entry.hpp"
#include "cache/redis_connection.hpp"
#include "net/net.hpp"

namespace wcp::cache {

enum class backoff_kind { token, resource };

struct backoff_block {
  wall_clock::time_point until;
  backoff_kind kind = backoff_kind::token;  // a 429 on the token, or a 423 on the resource
};

class backoff_store {
 public:
  using time_point = wall_clock::time_point;
  virtual ~backoff_store() = default;
  // The later of the two blocks still running, if any. Either ID may be empty.
  virtual net::awaitable<std::optional<backoff_block>> blocked_until(
      const std::string& token, const std::string& resource) = 0;
  virtual net::awaitable<void> block(backoff_kind kind, const std::string& id, time_point until) = 0;
};

// This process only.
class memory_backoff final : public backoff_store {
 public:
  std::optional<backoff_block> until_now(const std::string& token, const std::string& resource,
                                         time_point now = wall_clock::now());
  // Keeps the later of the current and the new time.
  void block_now(backoff_kind kind, const std::string& id, time_point until);
  std::size_t size() const;
  // Blocks still running at `now`, of each kind (expired ones are dropped on the way).
  struct counts {
    std::size_t token = 0, resource = 0;
  };
  counts in_force(time_point now = wall_clock::now());

  net::awaitable<std::optional<backoff_block>> blocked_until(const std::string& token,
                                                             const std::string& resource) override;
  net::awaitable<void> block(backoff_kind kind, const std::string& id, time_point until) override;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, time_point> blocks_;  // "t:<id>" / "r:<id>"
};

// Redis keys <prefix>:v1:backoff:token:<id> and <prefix>:v1:backoff:resource:<id>, value = the
// end time in ms, PX = the time left.
class redis_backoff {
 public:
  redis_backoff(std::shared_ptr<redis_connection> conn, std::string prefix);
  net::awaitable<std::optional<backoff_block>> blocked_until(const std::string& token,
                                                             const std::string& resource);
  net::awaitable<bool> block(backoff_kind kind, const std::string& id, wall_clock::time_point until);
  std::string key(backoff_kind kind, const std::string& id) const;

 private:
  std::shared_ptr<redis_connection> conn_;
  std::string prefix_;
};

}  // namespace wcp::cache
