// The storage interface under the cache: lookup, insert, invalidate. HTTP semantics (freshness,
// grants, coalescing) live above it, in the proxy.
//
// A miss is not an error: lookup() yields nullptr. Every operation completes exactly once, also
// when the backend is unreachable (then as a miss / a dropped insert).
//
// Fill races: before asking upstream for a resource, the caller takes a fill_ticket; an insert
// whose ticket was taken before an invalidation of the same resource is dropped, so an answer that
// a write has since made old never re-populates the cache.
//
// Thread-safety: implementations may be used from any thread concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "cache/entry.hpp"
#include "cache/key.hpp"
#include "net/net.hpp"

namespace wcp::cache {

struct fill_ticket {
  // The in-process store's fence clock, and when the ticket was taken: a fill older than the
  // store's fence lifetime is never stored (a fence it began before may have been forgotten).
  std::uint64_t generation = 0;
  std::chrono::steady_clock::time_point taken{};
  // The shared store's generations of the resource, its location and the whole cache, as read
  // when the ticket was taken; not known when the shared store did not answer (then nothing is
  // stored there).
  // The connection session they were read in is part of them: a server reached later (a new
  // master after a failover, a restarted Redis) may have lost writes, so generations read
  // before are not compared with its own.
  struct generations {
    std::uint64_t resource = 0, location = 0, everything = 0;
    std::uint64_t session = 0;
    bool known = false;
    friend bool operator==(const generations&, const generations&) = default;
  } shared;
};

class store {
 public:
  virtual ~store() = default;

  // The stored entry for this variant, or nullptr. Entries past their keep time are not returned.
  virtual net::awaitable<entry_ptr> lookup(const variant_key& key) = 0;
  // lookup()'s answer when it is known without waiting (the in-process store), else nullopt:
  // the hit path then needs no coroutine for it.
  virtual std::optional<entry_ptr> lookup_at_once(const variant_key& key) {
    (void)key;
    return std::nullopt;
  }

  virtual net::awaitable<fill_ticket> begin_fill(const resource_key& key) = 0;

  // Stores `e` for `keep_for` from e->stored_at unless the resource was invalidated after
  // `ticket` was taken. Yields whether it was stored.
  virtual net::awaitable<bool> insert(const variant_key& key, entry_ptr e, fill_ticket ticket,
                                      std::chrono::milliseconds keep_for) = 0;

  // Whether the resource was invalidated (itself, its location, or everything) after `ticket`
  // was taken: what a fill with that ticket would be refused for. Callers use it to keep a
  // request that arrives after an invalidation away from a fetch that began before it.
  virtual net::awaitable<bool> invalidated_since(const resource_key& key, fill_ticket ticket) = 0;

  // An entry for this variant stored after `stored_after`, when the store has one beyond the
  // copy lookup() gave (with Redis: another instance refreshed it while L1 kept the older
  // copy); else nullptr. The in-process store holds one copy only.
  virtual net::awaitable<entry_ptr> lookup_newer(const variant_key& key,
                                                 wall_clock::time_point stored_after) {
    (void)key;
    (void)stored_after;
    co_return nullptr;
  }

  // Claims, for `hold`, the one background refresh of this variant among every instance that
  // shares the store; false: another instance holds the claim (or the shared store could not
  // be asked). A store no other instance shares has nobody to ask: the proxy keeps its own
  // claims.
  virtual net::awaitable<bool> claim_refresh(const variant_key& key,
                                             std::chrono::milliseconds hold) {
    (void)key;
    (void)hold;
    co_return true;
  }

  // Drops every variant of the resource and fences fills that began before now.
  virtual net::awaitable<void> invalidate(const resource_key& key) = 0;

  // Drops every resource of one location (normalised ID), fencing their fills.
  virtual net::awaitable<void> invalidate_location(std::string_view location) = 0;
};

}  // namespace wcp::cache
