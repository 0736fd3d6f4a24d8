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

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return out;
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool is_origin(std::string_view s) { return !s.empty() && s.size() <= 64 && is_valid_id(s); }

}  // namespace

std::string encode(const invalidation& m) {
  std::string out = "v1|" + m.origin + "|";
  switch (m.what) {
    case invalidation::kind::resource:
      out += "r|" + std::string(to_string(m.resource.kind)) + "|" + m.resource.location + "|" +
             m.resource.id;
      break;
    case invalidation::kind::location: out += "l|" + m.location; break;
    case invalidation::kind::token: out += "t|" + m.token_hex; break;
    case invalidation::kind::scope:
      out += "s|" + m.token_hex + "|" + m.scope.org + "|" + m.scope.location + "|" + m.scope.kind;
      break;
    case invalidation::kind::everything: out += "a"; break;
    case invalidation::kind::block:
      out += std::string("b|") + (m.blocked == backoff_kind::token ? "t" : "r") + "|" +
             m.token_hex + "|" + std::to_string(m.until_ms);
      break;
  }
  return out;
}

std::optional<invalidation> decode(std::string_view text) {
  if (text.size() > 4096) return std::nullopt;
  auto f = split(text, '|');
  if (f.size() < 3 || f[0] != "v1" || !is_origin(f[1])) return std::nullopt;
  invalidation m;
  m.origin = std::string(f[1]);
  const auto type = f[2];
  if (type == "r" && f.size() == 6) {
    const auto kind = kind_named(f[3]);
    if (!kind || !is_valid_id(f[4]) || !is_resource_name(f[5])) return std::nullopt;
    m.what = invalidation::kind::resource;
    m.resource = resource_key::of(*kind, f[4], std::string(f[5]));
  } else if (type == "l" && f.size() == 4 && is_valid_id(f[3])) {
    m.what = invalidation::kind::location;
    m.location = std::string(normalise_id(f[3]));
  } else if (type == "t" && f.size() == 4 && is_hex64(f[3])) {
    m.what = invalidation::kind::token;
    m.token_hex = std::string(f[3]);
  } else if (type == "s" && f.size() == 7 && is_hex64(f[3]) && (f[4].empty() || is_valid_id(f[4])) &&
             is_valid_id(f[5]) && is_grant_kind(f[6])) {
    m.what = invalidation::kind::scope;
    m.token_hex = std::string(f[3]);
    m.scope = {std::string(normalise_id(f[4])), std::string(normalise_id(f[5])), std::string(f[6])};
  } else if (type == "a" && f.size() == 3) {
    m.what = invalidation::kind::everything;
  } else if (type == "b" && f.size() == 6 && (f[3] == "t" || f[3] == "r") && is_hex64(f[4]) &&
             !f[5].empty() && f[5].size() <= 15 &&
             f[5].find_first_not_of("0123456789") == std::string_view::npos) {
    m.what = invalidation::kind::block;
    m.blocked = f[3] == "t" ? backoff_kind::token : backoff_kind::resource;
    m.token_hex = std::string(f[4]);
    m.until_ms = std::stoll(std::string(f[5]));
  } else {
    return std::nullopt;
  }
  return m;
}

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
