#include "cache/invalidation_bus.hpp"

#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace wcp::cache {

namespace {

// A command's arguments as strings (braced lists of mixed literals trip up g++ 12 inside
// co_await expressions).
template <class... A>
std::vector<std::string> argv(A&&... a) {
  return {std::string(std::forward<A>(a))...};
}

}  // namespace

invalidation_bus::invalidation_bus(std::shared_ptr<redis_connection> publisher,
                                   std::shared_ptr<redis_connection> subscriber,
                                   std::string channel, std::string instance_id,
                                   subscription_check check)
    : publisher_(std::move(publisher)),
      subscriber_(std::move(subscriber)),
      channel_(std::move(channel)),
      instance_id_(std::move(instance_id)),
      probe_channel_(channel_ + ":probe:" + instance_id_),
      check_(check) {}

void invalidation_bus::start(net::any_io_executor ex) {
  std::vector<std::string> channels{channel_};
  const bool checked = check_.interval.count() > 0 && ex;
  if (checked) channels.push_back(probe_channel_);
  subscriber_->on_down([this] {
    isolated_ = true;
    in_period_ = true;
    isolated_since_ = steady::now();
    isolated_periods_.fetch_add(1);
    if (on_isolation_) on_isolation_(true, std::chrono::milliseconds(0));
  });
  subscriber_->subscribe(
      std::move(channels),
      [this](std::string_view channel, std::string_view payload) {
        heard();
        if (channel == probe_channel_) return;
        auto m = decode(payload);
        if (!m) {
          malformed_.fetch_add(1);
          return;
        }
        if (m->origin == instance_id_) return;
        received_.fetch_add(1);
        if (on_remote_) on_remote_(*m);
      },
      [this] {
        heard();
        // What was kept while isolated is dropped before the instance counts as hearing again.
        if (on_resubscribed_) on_resubscribed_();
        isolated_ = false;
        if (!std::exchange(in_period_, false)) return;
        const auto lasted = std::chrono::duration_cast<std::chrono::milliseconds>(
            steady::now() - isolated_since_);
        if (on_isolation_) on_isolation_(false, lasted);
      });
  if (checked) net::co_spawn(ex, check_subscription(), net::detached);
}

net::awaitable<void> invalidation_bus::check_subscription() {
  net::steady_timer timer(co_await net::this_coro::executor);
  std::uint64_t probe = 0;
  for (;;) {
    timer.expires_after(check_.interval);
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    if (!subscriber_->up()) continue;  // down already: it connects again by itself
    // Redis's answer counts the subscribers that will get the probe: this instance's, when its
    // subscription works. Judged after a fresh probe, so that a busy event loop is no failure.
    auto r = co_await publisher_->probe(argv("PUBLISH", probe_channel_, std::to_string(++probe)));
    const auto now = steady::now();
    const bool answered = !r.ec && r.reply.type == redis_reply::kind::integer;
    if (answered && r.reply.integer > 0) {
      heard();
      continue;
    }
    // Redis answers but does not have the subscription (it lost it), or nothing proved it for
    // the deadline: Redis paused, the link cut without a reset. A new subscription proves
    // itself when it is confirmed.
    if (answered || now - last_heard() > check_.deadline) {
      if (!subscriber_->up()) continue;  // went down meanwhile: no failure of the check
      check_failures_.fetch_add(1);
      heard();  // one reconnect per deadline
      subscriber_->reconnect();
    }
  }
}

net::awaitable<bool> invalidation_bus::publish(invalidation m) {
  m.origin = instance_id_;
  auto r = co_await publisher_->command(argv("PUBLISH", channel_, encode(m)));
  co_return !r.ec && r.reply.type == redis_reply::kind::integer;
}

}  // namespace wcp::cache
