// Grants: what upstream has shown a token may read. A grant (token fingerprint, org, location,
// kind) is learned from a 2xx upstream answer to that token on that org form, location and kind,
// trusted for the grant TTL, and dropped on a 401 (all of the token's grants) or a 403 (that
// scope). A cached body is served only to a token holding a grant for its org form, location and
// kind: Webex does not authorise every reader of a location for every kind in it.
//
// Thread-safety: implementations may be used from any thread concurrently.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "cache/fingerprint.hpp"
#include "net/net.hpp"

namespace wcp::cache {

struct grant_scope {
  std::string org;       // normalised orgId, "" = the token's own org
  std::string location;  // normalised location ID
  // What the grant covers in the location (proxy/route_table.hpp's grant_kind(): a kind's name,
  // or a settings path): letters, digits and "/{}" only.
  std::string kind;
};


class grant_store {
 public:
  virtual ~grant_store() = default;
  virtual net::awaitable<bool> holds(const token_fingerprint& token, const grant_scope& scope) = 0;
  // holds()'s answer when it is known without waiting (grants kept in this process), else
  // nullopt: the hit path then needs no coroutine for it.
  virtual std::optional<bool> holds_at_once(const token_fingerprint& token,
                                            const grant_scope& scope) {
    (void)token;
    (void)scope;
    return std::nullopt;
  }
  virtual net::awaitable<void> learn(const token_fingerprint& token, const grant_scope& scope,
                                     std::chrono::milliseconds ttl) = 0;
  virtual net::awaitable<void> drop_scope(const token_fingerprint& token,
                                          const grant_scope& scope) = 0;
  virtual net::awaitable<void> drop_token(const token_fingerprint& token) = 0;
};

// Grants kept in this process, sharded by token.
class memory_grants final : public grant_store {
 public:
  explicit memory_grants(std::size_t shard_count = 16);
  memory_grants(const memory_grants&) = delete;
  memory_grants& operator=(const memory_grants&) = delete;

  using clock = std::chrono::steady_clock;

  bool holds_now(const token_fingerprint& token, const grant_scope& scope,
                 clock::time_point now = clock::now());
  void learn_now(const token_fingerprint& token, const grant_scope& scope,
                 std::chrono::milliseconds ttl, clock::time_point now = clock::now());
  void drop_scope_now(const token_fingerprint& token, const grant_scope& scope);
  void drop_token_now(const token_fingerprint& token);
  // Forgets expired grants; call now and then so that memory follows the live tokens.
  void sweep(clock::time_point now = clock::now());
  std::size_t size() const;
  void clear();

  net::awaitable<bool> holds(const token_fingerprint& token, const grant_scope& scope) override;
  std::optional<bool> holds_at_once(const token_fingerprint& token,
                                    const grant_scope& scope) override {
    return holds_now(token, scope);
  }
  net::awaitable<void> learn(const token_fingerprint& token, const grant_scope& scope,
                             std::chrono::milliseconds ttl) override;
  net::awaitable<void> drop_scope(const token_fingerprint& token,
                                  const grant_scope& scope) override;
  net::awaitable<void> drop_token(const token_fingerprint& token) override;

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  template <class V>
  using string_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;
  struct shard {
    mutable std::mutex mu;
    // token fingerprint (raw bytes) -> "org|location" -> expiry
    string_map<string_map<clock::time_point>> tokens;
  };
  shard& shard_for(const token_fingerprint& token);
  std::vector<std::unique_ptr<shard>> shards_;
};

}  // namespace wcp::cache
