// The embedded store: an in-process LRU bounded in bytes, split into shards that each have their
// own lock so that threads rarely contend. All variants of one resource live in one shard.
//
// Thread-safety: every member function may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/store.hpp"

namespace wcp::cache {

class memory_store final : public store {
 public:
  // `tombstone_for`: how long an invalidation keeps fencing fills that started before it. A fill
  // whose ticket is older than that is refused whatever the fences say, so a fence may be
  // forgotten safely; make it longer than an upstream exchange can take, or slow fills never
  // store.
  explicit memory_store(std::size_t max_bytes, std::size_t shard_count = 16,
                        std::chrono::milliseconds tombstone_for = std::chrono::minutes(10));
  ~memory_store() override;
  memory_store(const memory_store&) = delete;
  memory_store& operator=(const memory_store&) = delete;

  // Synchronous forms, used by the awaitable interface and directly by tests.
  entry_ptr find(const variant_key& key);
  fill_ticket ticket(const resource_key& key);
  bool put(const variant_key& key, entry_ptr e, fill_ticket t, std::chrono::milliseconds keep_for);
  // Whether a fill with ticket `t` would now be refused by a fence (see store::invalidated_since).
  bool fenced(const resource_key& key, fill_ticket t);
  void erase(const resource_key& key);
  void erase_location(std::string_view location);
  // Drops everything and fences every fill that began before now.
  void clear();

  net::awaitable<entry_ptr> lookup(const variant_key& key) override;
  std::optional<entry_ptr> lookup_at_once(const variant_key& key) override { return find(key); }
  net::awaitable<fill_ticket> begin_fill(const resource_key& key) override;
  net::awaitable<bool> insert(const variant_key& key, entry_ptr e, fill_ticket t,
                              std::chrono::milliseconds keep_for) override;
  net::awaitable<void> invalidate(const resource_key& key) override;
  net::awaitable<void> invalidate_location(std::string_view location) override;
  net::awaitable<bool> invalidated_since(const resource_key& key, fill_ticket t) override;

  std::size_t bytes() const noexcept { return bytes_.load(std::memory_order_relaxed); }
  std::size_t entries() const noexcept { return entries_.load(std::memory_order_relaxed); }
  std::uint64_t evictions() const noexcept { return evictions_.load(std::memory_order_relaxed); }
  std::size_t max_bytes() const noexcept { return max_bytes_; }

 private:
  struct shard;
  // What one stored variant costs the heap, all bookkeeping included.
  static std::size_t charge_of(const entry& e, std::size_t variant_chars,
                               std::size_t resource_chars);
  shard& shard_for(const resource_key& key);
  // Whether a purge of `location` (normalised) came after ticket `t`. Called with the resource's
  // shard lock held by put(), so that a purge either sees the stored entry or fences it.
  bool location_fenced(const std::string& location, fill_ticket t);
  void drop_resource(shard& s, const std::string& resource);
  // Whether a fill with ticket `t` is too old to be stored: fences it began before may be gone.
  bool expired(fill_ticket t, std::chrono::steady_clock::time_point now) const;

  std::size_t max_bytes_;
  std::chrono::milliseconds tombstone_for_;
  std::vector<std::unique_ptr<shard>> shards_;
  std::atomic<std::uint64_t> clock_{0};
  std::atomic<std::uint64_t> cleared_at_{0};  // clock value of the last clear()
  // Purged locations: clock value of the purge and until when it fences fills.
  std::mutex location_mu_;
  std::unordered_map<std::string, std::pair<std::uint64_t, std::chrono::steady_clock::time_point>>
      location_fences_;
  std::atomic<bool> any_location_fence_{false};
  std::atomic<std::size_t> bytes_{0};
  std::atomic<std::size_t> entries_{0};
  std::atomic<std::uint64_t> evictions_{0};
};

}  // namespace wcp::cache
