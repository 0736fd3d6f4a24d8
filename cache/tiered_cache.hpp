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
// A Redis reached through a new link (a master promoted by Sentinel, a Redis restarted from its
// last snapshot) may have lost the last writes the old one took: among them invalidations, whose
// loss would bring back entries a write made old. So every instance keeps a journal of the
// invalidations of the last `journal_horizon` (its own and those heard from other instances) and,
// on every new link, applies them all again on that link before it reads an entry or a grant
// from Redis there; until then it answers from upstream. Fills whose tickets were read on an
// earlier link are never stored (redis_store binds tickets to the session). Together, a write
// Redis lost can cause misses only, as long as one instance that heard of it is still running.
//
// While the instance is isolated (no working subscription: it cannot hear of other instances'
// writes), and for `settle_time` after a new subscription (other instances' writes Redis could
// not take meanwhile are still being replayed), an entry stored more than the isolated TTL ago,
// in L1 or in Redis, is not served: it is fetched again from upstream. That bounds what another
// instance's write can leave behind during an outage to about the isolated TTL plus the time it
// takes to notice.
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
  std::atomic<std::uint64_t> journal_replays{0};       // journals applied on a new link
  std::atomic<std::uint64_t> journal_replayed{0};      // invalidations applied by them
  std::atomic<std::uint64_t> isolated_refetches{0};    // entries passed over: older than the isolated TTL
};

class tiered_cache final : public store, public grant_store, public backoff_store {
 public:
  // `l1` may be null (L1 disabled); `ex` runs the replay after Redis comes back.
  tiered_cache(net::any_io_executor ex, std::unique_ptr<memory_store> l1, redis_store& l2,
               redis_grants& l2_grants, redis_backoff& l2_backoff, invalidation_bus& bus,
               std::size_t max_pending = 10000,
               std::chrono::milliseconds journal_horizon = std::chrono::minutes(5));

  // store
  net::awaitable<entry_ptr> lookup(const variant_key& key) override;
  net::awaitable<fill_ticket> begin_fill(const resource_key& key) override;
  net::awaitable<bool> insert(const variant_key& key, entry_ptr e, fill_ticket ticket,
                              std::chrono::milliseconds keep_for) override;
  net::awaitable<void> invalidate(const resource_key& key) override;
  net::awaitable<void> invalidate_location(std::string_view location) override;
  net::awaitable<bool> invalidated_since(const resource_key& key, fill_ticket ticket) override;
  // Redis's copy when it is newer than `stored_after` (it then replaces L1's).
  net::awaitable<entry_ptr> lookup_newer(const variant_key& key,
                                         wall_clock::time_point stored_after) override;
  net::awaitable<bool> claim_refresh(const variant_key& key, std::chrono::milliseconds hold) override;

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

  // While isolated (and settling), entries stored longer ago than this are fetched again.
  void set_isolated_ttl(std::chrono::milliseconds ttl) noexcept { isolated_ttl_ = ttl; }
  // After a subscription comes back, the isolated rules hold this much longer.
  static constexpr std::chrono::milliseconds settle_time{1000};
  // The isolated rules hold now: isolated, or settling.
  bool careful() const noexcept;

  memory_store* l1() noexcept { return l1_.get(); }
  // The in-process copy of grants (learned here or read from Redis); swept like embedded grants.
  memory_grants& l1_grants() noexcept { return l1_grants_; }
  // The rate-limit blocks this instance knows: set here or announced by another instance.
  memory_backoff& l1_backoff() noexcept { return l1_backoff_; }
  const tiered_stats& stats() const noexcept { return stats_; }
  // Invalidations and grant drops Redis has not taken yet: being sent, remembered, replaying.
  std::size_t pending() const;
  // Invalidations in the journal now.
  std::size_t journal_size() const;
  // Whether entries and grants are read from Redis now: its link is up and the journal has been
  // applied there.
  bool reading_redis() const noexcept;

 private:
  void apply_remote(const invalidation& m);
  // Empties L1 and its grants, then replays what is pending (spawned).
  void resync();
  // `e`, or a copy of it with its gzip form, for L1.
  static entry_ptr with_gzip(entry_ptr e);
  // Whether `e` may be served now: not careful, or stored less than the isolated TTL ago.
  bool young_enough(const entry& e, bool careful) const noexcept;
  net::awaitable<void> replay_pending();
  net::awaitable<void> retry_pending();
  bool overflowed() const;
  // apply_in_redis() and publishes it; false if either failed.
  net::awaitable<bool> propagate(const invalidation& m);
  void remember(invalidation m);
  // propagate(), remembering `m` when Redis did not take it.
  net::awaitable<void> send(const invalidation& m);
  void journal(const invalidation& m);
  // The session whose link entries and grants may be read on now; 0: none.
  std::uint64_t readable_session() const noexcept;
  // Applies the journal on `session`'s link (or a later one's, if one comes up meanwhile); marks
  // the link readable when all of it went through.
  net::awaitable<void> replay_journal(std::uint64_t session);
  net::awaitable<void> replay_journal_once(std::uint64_t session);
  // The Redis side of one invalidation (on `session`'s link, 0: any), not published.
  net::awaitable<bool> apply_in_redis(const invalidation& m, std::uint64_t session);
  void prune_journal(std::chrono::steady_clock::time_point now);  // REQUIRES: journal_mu_ held

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
  std::chrono::milliseconds journal_horizon_;
  std::size_t max_journal_;
  mutable std::mutex journal_mu_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, invalidation>> journal_;
  // When the journal last overflowed (dropped what it held); within the horizon of that,
  // replaying it means dropping everything.
  std::chrono::steady_clock::time_point journal_overflowed_at_{};
  std::atomic<std::uint64_t> verified_session_{0};
  std::atomic<bool> journal_replaying_{false};
  tiered_stats stats_;
  std::function<void()> on_remote_;
  std::chrono::milliseconds isolated_ttl_{1000};
  std::atomic<std::chrono::steady_clock::rep> settled_at_{0};  // careful until then
};

}  // namespace wcp::cache
