// Redis as the shared store: entries, fill generations and grants that several proxy instances
// share. Every key has a Redis TTL and carries a versioned prefix, e.g. with prefix "wcp":
//
//   wcp:v1:entry:<kind>/<location>/<what>    hash, field "@" + org form → "<locgen> <epoch>\n"
//                                            + serialised entry
//   wcp:v1:gen:<kind>/<location>/<what>      integer, bumped by every invalidation of the resource
//   wcp:v1:locgen:<location>                 integer, bumped by every write to or purge of the
//                                            location
//   wcp:v1:epoch                             integer, bumped when everything is dropped
//   wcp:v1:grant:<sha256 of token, hex>      hash, field "<org form>|<location>|<grant kind>" →
//                                            expiry (ms)
//
// Dropping a location is one INCR of its generation: an entry is served only while the location
// generation and epoch it was stored under are current (checked by the lookup, in Redis).
//
// Nothing token-bearing is stored: grants are keyed by the token's SHA-256 fingerprint.
// A fill stores only if no generation moved since its ticket was taken (checked atomically
// by a Lua script), so a fill that began before an invalidation on any instance is dropped.
// A ticket is also bound to the connection session it was read in: a fill is never stored
// through a later link (a new master, a restarted Redis), where the generations it read may
// have been lost and counted up again to the same values.
//
// Operations that take `in_session` run only on that session's link (0: on whichever is up),
// failing otherwise as Redis being unreachable does.
//
// When Redis fails or is slow, operations complete within the connection's command timeout as a
// miss, a dropped insert or a failed invalidation; the caller decides what that means.
//
// Thread-safety: may be used from any thread; all I/O goes through the redis_connection.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "cache/grants.hpp"
#include "cache/redis_connection.hpp"
#include "cache/store.hpp"

namespace wcp::cache {

enum class shared_write { done, fenced, failed };

class redis_store final : public store {
 public:
  redis_store(std::shared_ptr<redis_connection> conn, std::string prefix);

  net::awaitable<entry_ptr> lookup(const variant_key& key) override;
  net::awaitable<fill_ticket> begin_fill(const resource_key& key) override;
  net::awaitable<bool> insert(const variant_key& key, entry_ptr e, fill_ticket ticket,
                              std::chrono::milliseconds keep_for) override;
  net::awaitable<void> invalidate(const resource_key& key) override;
  net::awaitable<void> invalidate_location(std::string_view location) override;
  net::awaitable<bool> invalidated_since(const resource_key& key, fill_ticket ticket) override;
  // SET NX PX on `refresh:<entry key>@<org form>`.
  net::awaitable<bool> claim_refresh(const variant_key& key, std::chrono::milliseconds hold) override;

  // lookup() on one session's link only.
  net::awaitable<entry_ptr> fetch(const variant_key& key, std::uint64_t in_session);
  // The same operations, saying whether Redis did them.
  net::awaitable<shared_write> store_entry(const variant_key& key, const entry& e,
                                           fill_ticket ticket, std::chrono::milliseconds keep_for);
  net::awaitable<bool> drop_resource(const resource_key& key, std::uint64_t in_session = 0);
  net::awaitable<bool> drop_location(std::string_view location, std::uint64_t in_session = 0);
  // Drops every entry and grant under this prefix (after invalidations were lost while Redis
  // was away).
  net::awaitable<bool> drop_all(std::uint64_t in_session = 0);

  std::string entry_key(const resource_key& key) const;
  std::string generation_key(const resource_key& key) const;
  std::string location_generation_key(std::string_view location) const;
  std::string epoch_key() const;

  std::uint64_t corrupt_entries() const noexcept { return corrupt_.load(); }
  redis_connection& connection() noexcept { return *conn_; }

 private:
  std::shared_ptr<redis_connection> conn_;
  std::string prefix_;  // "<prefix>:v1:"
  std::atomic<std::uint64_t> corrupt_{0};
};

class redis_grants final : public grant_store {
 public:
  redis_grants(std::shared_ptr<redis_connection> conn, std::string prefix);

  net::awaitable<bool> holds(const token_fingerprint& token, const grant_scope& scope) override;
  net::awaitable<void> learn(const token_fingerprint& token, const grant_scope& scope,
                             std::chrono::milliseconds ttl) override;
  net::awaitable<void> drop_scope(const token_fingerprint& token, const grant_scope& scope) override;
  net::awaitable<void> drop_token(const token_fingerprint& token) override;

  // When the grant ends, if Redis holds one; nullopt when it does not or cannot say.
  net::awaitable<std::optional<wall_clock::time_point>> expiry(const token_fingerprint& token,
                                                               const grant_scope& scope,
                                                               std::uint64_t in_session = 0);
  net::awaitable<bool> remove_scope(const token_fingerprint& token, const grant_scope& scope,
                                    std::uint64_t in_session = 0);
  net::awaitable<bool> remove_token(const token_fingerprint& token, std::uint64_t in_session = 0);

  std::string grant_key(const token_fingerprint& token) const;

 private:
  std::shared_ptr<redis_connection> conn_;
  std::string prefix_;
};

}  // namespace wcp::cache
