// Cross-instance coherence: every invalidation an instance makes (a write, a rename, a purge, a
// dropped grant) is published on one Redis pub/sub channel; every instance subscribed drops its
// in-process copy. Messages are small text lines; what arrives is parsed strictly.
//
// An instance without a working subscription is isolated: it cannot hear of other instances'
// writes. A lost connection says so at once; a paused Redis (the socket stays open) does not, so
// the subscription is checked: the instance publishes a probe on a channel of its own, which its
// subscriber also listens to, and a subscription that has carried nothing for the check's
// deadline is dropped and made again.
//
// Thread-safety: publish() may be called from any coroutine; callbacks run on the subscriber
// connection's strand.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "cache/invalidation.hpp"
#include "cache/redis_connection.hpp"

namespace wcp::cache {

// Every `interval` a probe is published; a subscription that has carried nothing (no probe, no
// message) for `deadline` is taken for broken. interval 0: no check.
struct subscription_check {
  std::chrono::milliseconds interval{0};
  std::chrono::milliseconds deadline{0};
};

class invalidation_bus {
 public:
  invalidation_bus(std::shared_ptr<redis_connection> publisher,
                   std::shared_ptr<redis_connection> subscriber, std::string channel,
                   std::string instance_id, subscription_check check = {});

  // REQUIRES: called before start(). `on_remote` gets messages from other instances only;
  // `on_resubscribed` runs after every (re)subscription, when messages may have been missed.
  void on_remote(std::function<void(const invalidation&)> f) { on_remote_ = std::move(f); }
  void on_resubscribed(std::function<void()> f) { on_resubscribed_ = std::move(f); }
  // Called when an isolated period begins (true, 0) and when it ends (false, how long it lasted),
  // after on_resubscribed. Not for the wait for the first subscription. REQUIRES: before start().
  void on_isolation(std::function<void(bool isolated, std::chrono::milliseconds lasted)> f) {
    on_isolation_ = std::move(f);
  }
  // Subscribes (once the subscriber connection starts) and, with a check, runs it on `ex`.
  void start(net::any_io_executor ex = {});

  // No working subscription now: before the first one, and from the moment one is lost (or its
  // check fails) until the next is confirmed and on_resubscribed has run.
  bool isolated() const noexcept { return isolated_.load(std::memory_order_relaxed); }
  std::uint64_t isolated_periods() const noexcept { return isolated_periods_.load(); }
  std::uint64_t check_failures() const noexcept { return check_failures_.load(); }

  // Stamps the message with this instance's ID and publishes it; false if Redis did not take it.
  net::awaitable<bool> publish(invalidation m);

  const std::string& instance_id() const noexcept { return instance_id_; }
  std::uint64_t received() const noexcept { return received_.load(); }
  std::uint64_t malformed() const noexcept { return malformed_.load(); }

 private:
  using steady = std::chrono::steady_clock;
  net::awaitable<void> check_subscription();
  void heard() { last_heard_.store(steady::now().time_since_epoch().count()); }
  steady::time_point last_heard() const {
    return steady::time_point(steady::duration(last_heard_.load()));
  }

  std::shared_ptr<redis_connection> publisher_;
  std::shared_ptr<redis_connection> subscriber_;
  std::string channel_;
  std::string instance_id_;
  std::string probe_channel_;
  subscription_check check_;
  std::function<void(const invalidation&)> on_remote_;
  std::function<void()> on_resubscribed_;
  std::function<void(bool, std::chrono::milliseconds)> on_isolation_;
  std::atomic<bool> isolated_{true};
  bool in_period_ = false;                  // subscriber's strand only
  steady::time_point isolated_since_{};     // subscriber's strand only
  std::atomic<steady::rep> last_heard_{0};  // when the subscription last carried something
  std::atomic<std::uint64_t> isolated_periods_{0};
  std::atomic<std::uint64_t> check_failures_{0};
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> malformed_{0};
};

}  // namespace wcp::cache
