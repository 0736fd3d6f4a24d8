// The cache when Redis is configured: a small in-process store (L1) in front of Redis (L2) for
// entries, and in-process grants in front of Redis grants. A lookup goes L1 → Redis; a fill
// writes both; an invalidation drops both and is published so that every other instance drops
// its L1 copy.
//
// Redis down or slow never blocks a request longer than the Redis command timeout: lookups fall
// back to L1 (then upstream), fills still fill L1. Invalidations and grant drops that Redis could
// not take are remembered (bounded) and replayed when Redis is back; if too many were lost,
// every entry in Redis is dropped instead. After every (re)subscription L1 is emptied, since
// messages from other instances may have been missed.
//
// Thread-safety: may be used from any thread.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include <boost/asio/any_io_executor.hpp>

#include "cache/grants.hpp"
#include "cache/invalidation_bus.hpp"
#include "cache/memory_store.hpp"
#include "cache/redis_store.hpp"
#include "cache/store.hpp"

namespace wcp::cache {

struct tiered_stats {
  std::atomic<std::uint64_t> l1_hits{0};
  std::atomic<std::uint64_t> l2_hits{0};
  std::atomic<std::uint64_t> remote_invalidations{0};  // applied from other instances
  std::atomic<std::uint64_t> replayed{0};              // lost invalidations replayed
  std::atomic<std::uint64_t> resyncs{0};               // L1 emptied after (re)subscription
};

class tiered_cache final : public store, public grant_store, public backoff_store {
 public:
  // `l1` may be null (L1 disabled); `ex` runs the replay after Redis comes back.
  tiered_cache(net::any_io_executor ex, std::unique_ptr<memory_store> l1, redis_store& l2,
               redis_grants& l2_grants, redis_backoff& l2_backoff, invalidation_bus& bus,
               std::size_t max_pending = 10000);

  // store
  net::awaitable<entry_ptr> lookup(const variant_key& key) override;
  net::awaitable<fill_ticket> begin_fill(const resource_key& key) override;
  net::awaitable<bool> insert(const variant_key& key, entry_ptr e, fill_ticket ticket,
                              std::chrono::milliseconds keep_for) override;
  net::awaitable<void> invalidate(const resource_key& key) override;
  net::awaitable<void> invalidate_location(std::string_view location) override;
  net::awaitable<bool> invalidated_since(const resource_key& key, fill_ticket ticket) override;

  // grant_store
  net::awaitable<bool> holds(const token_fingerprint& token, const grant_scope& scope) override;
  net::awaitable<void> learn(const token_fingerprint& token, const grant_scope& scope,
                             std::chrono::milliseconds ttl) override;
  net::awaitable<void> drop_scope(const token_fingerprint& token, const grant_scope& scope) override;
  net::awaitable<void> drop_token(const token_fingerprint& token) override;

  // backoff_store
  net::awaitable<std::optional<backoff_block>> blocked_until(const std::string& token,
                                                             const std::string& resource) override;
  net::awaitable<void> block(backoff_kind kind, const std::string& id, time_point until) override;

  // Wires the bus's callbacks to this cache. REQUIRES: before bus.start().
  void attach();
  // Called (on the bus's thread) for every invalidation from another instance applied here.
  // REQUIRES: before bus.start().
  void on_remote_invalidation(std::function<void()> f) { on_remote_ = std::move(f); }

  memory_store* l1() noexcept { return l1_.get(); }
  // The in-process copy of grants (learned here or read from Redis); swept like embedded grants.
  memory_grants& l1_grants() noexcept { return l1_grants_; }
  // The rate-limit blocks this instance knows: set here or announced by another instance.
  memory_backoff& l1_backoff() noexcept { return l1_backoff_; }
  const tiered_stats& stats() const noexcept { return stats_; }
  // Invalidations and grant drops Redis has not taken yet: being sent, remembered, replaying.
  std::size_t pending() const;

 private:
  void apply_remote(const invalidation& m);
  net::awaitable<void> resync();
  net::awaitable<void> replay_pending();
  net::awaitable<void> retry_pending();
  bool overflowed() const;
  // Does the Redis side of an invalidation and publishes it; false if either failed.
  net::awaitable<bool> propagate(const invalidation& m);
  void remember(invalidation m);
  // propagate(), remembering `m` when Redis did not take it.
  net::awaitable<void> send(const invalidation& m);

  net::any_io_executor ex_;
  std::unique_ptr<memory_store> l1_;
  memory_grants l1_grants_;
  redis_store& l2_;
  redis_grants& l2_grants_;
  memory_backoff l1_backoff_;
  redis_backoff& l2_backoff_;
  invalidation_bus& bus_;
  std::size_t max_pending_;
  mutable std::mutex pending_mu_;
  std::deque<invalidation> pending_;
  bool overflowed_ = false;
  std::size_t replaying_count_ = 0;  // taken out of pending_ by a replay, not yet through
  std::atomic<std::size_t> propagating_{0};  // being sent for the first time
  std::atomic<bool> replaying_{false};
  tiered_stats stats_;
  std::function<void()> on_remote_;
};

}  // namespace wcp::cache
