// Cross-instance coherence: every invalidation an instance makes (a write, a rename, a purge, a
// dropped grant) is published on one Redis pub/sub channel; every instance subscribed drops its
// in-process copy. Messages are small text lines; what arrives is parsed strictly.
//
// Thread-safety: publish() may be called from any coroutine; callbacks run on the subscriber
// connection's strand.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "cache/backoff_store.hpp"
#include "cache/grants.hpp"
#include "cache/key.hpp"
#include "cache/redis_connection.hpp"

namespace wcp::cache {

struct invalidation {
  enum class kind { resource, location, token, scope, everything, block };
  kind what = kind::resource;
  resource_key resource;      // resource
  std::string location;       // location (normalised)
  std::string token_hex;      // token, scope: SHA-256 fingerprint in hex
  grant_scope scope;          // scope
  backoff_kind blocked = backoff_kind::token;  // block: what is blocked (token_hex is its ID)
  std::int64_t until_ms = 0;                   // block: until when (ms since the epoch)
  std::string origin;         // instance that made it
};

// "v1|<origin>|r|<kind>|<location>|<id>", "v1|<origin>|l|<location>", "v1|<origin>|t|<hex>",
// "v1|<origin>|s|<hex>|<org>|<location>|<grant kind>", "v1|<origin>|a", "v1|<origin>|b|t|<hex>|<until ms>"
// (a rate-limited token) and "v1|<origin>|b|r|<hex>|<until ms>" (a locked resource).
std::string encode(const invalidation& m);
std::optional<invalidation> decode(std::string_view text);

class invalidation_bus {
 public:
  invalidation_bus(std::shared_ptr<redis_connection> publisher,
                   std::shared_ptr<redis_connection> subscriber, std::string channel,
                   std::string instance_id);

  // REQUIRES: called before start(). `on_remote` gets messages from other instances only;
  // `on_resubscribed` runs after every (re)subscription, when messages may have been missed.
  void on_remote(std::function<void(const invalidation&)> f) { on_remote_ = std::move(f); }
  void on_resubscribed(std::function<void()> f) { on_resubscribed_ = std::move(f); }
  void start();

  // Stamps the message with this instance's ID and publishes it; false if Redis did not take it.
  net::awaitable<bool> publish(invalidation m);

  const std::string& instance_id() const noexcept { return instance_id_; }
  std::uint64_t received() const noexcept { return received_.load(); }
  std::uint64_t malformed() const noexcept { return malformed_.load(); }

 private:
  std::shared_ptr<redis_connection> publisher_;
  std::shared_ptr<redis_connection> subscriber_;
  std::string channel_;
  std::string instance_id_;
  std::function<void(const invalidation&)> on_remote_;
  std::function<void()> on_resubscribed_;
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> malformed_{0};
};

}  // namespace wcp::cache
