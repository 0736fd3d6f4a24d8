#include "cache/redis_sentinel.hpp"

#include <charconv>
#include <mutex>
#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace wcp::cache {

namespace {

std::vector<std::string> argv(std::string a, std::string b, std::string c) {
  return {std::move(a), std::move(b), std::move(c)};
}

long long parse_epoch(std::string_view s) {
  long long v = -1;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() && v >= 0 ? v : -1;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

}  // namespace

struct sentinel_monitor::state : std::enable_shared_from_this<state> {
  state(net::any_io_executor ex, sentinel_options o,
        std::vector<std::shared_ptr<redis_connection>> f)
      : strand(net::make_strand(ex)), opt(std::move(o)), followers(std::move(f)), timer(strand) {
    for (const auto& [host, port] : opt.sentinels) {
      redis_options ro;
      ro.host = host;
      ro.port = port;
      ro.password = opt.password;
      ro.command_timeout = opt.command_timeout;
      ro.connect_timeout = opt.command_timeout;
      ro.reconnect_max = opt.reconnect_max;
      commands.push_back(redis_connection::create(ex, ro));
      listeners.push_back(redis_connection::create(ex, ro));
    }
  }

  void start() {
    std::weak_ptr<state> weak = shared_from_this();
    for (auto& c : commands)
      c->on_up([weak](std::uint64_t) {
        if (auto s = weak.lock()) s->requery();
      });
    for (auto& l : listeners) {
      l->subscribe(
          {"+switch-master"},
          [weak](std::string_view, std::string_view payload) {
            if (auto s = weak.lock()) s->announced(std::string(payload));
          },
          // Announcements may have been missed while this sentinel was away.
          [weak] {
            if (auto s = weak.lock()) s->requery();
          });
    }
    for (auto& f : followers)
      f->on_not_master([weak] {
        if (auto s = weak.lock()) s->requery();
      });
    for (auto& c : commands) c->start();
    for (auto& l : listeners) l->start();
    net::co_spawn(strand, run(shared_from_this()), net::detached);
  }

  void requery() {
    net::post(strand, [self = shared_from_this()] {
      self->kicked = true;
      self->timer.cancel();
    });
  }

  // "<master name> <old ip> <old port> <new ip> <new port>"
  void announced(std::string payload) {
    std::istringstream in(payload);
    std::string name, old_ip, old_port, new_ip, new_port, extra;
    if (!(in >> name >> old_ip >> old_port >> new_ip >> new_port) || in >> extra) return;
    if (name != opt.master_name) return;
    const auto port = parse_port(new_port);
    if (!port) return;
    net::post(strand, [self = shared_from_this(), host = std::move(new_ip), p = *port] {
      // The switch comes with a newer config epoch than any the sentinels have named so far:
      // an answer at or below that one is older news.
      self->epoch_floor = self->highest_epoch + 1;
      self->adopt(host, p);
    });
  }

  static net::awaitable<void> run(std::shared_ptr<state> self) {
    while (!self->stopped) {
      self->kicked = false;
      co_await self->query();
      if (self->stopped) break;
      if (self->kicked) continue;
      self->timer.expires_after(self->opt.requery_every);
      co_await self->timer.async_wait(net::as_tuple(net::use_awaitable));
    }
  }

  // Asks every sentinel that is up (`SENTINEL MASTER name`) and believes the answer with the
  // highest config epoch: a sentinel that has not yet heard of a failover (they learn it from each
  // other within seconds) names the old master with the old epoch, and must not take the
  // followers back there.
  net::awaitable<void> query() {
    std::optional<std::pair<std::string, std::uint16_t>> best;
    long long best_epoch = -1;
    for (std::size_t k = 0; k < commands.size() && !stopped; ++k) {
      if (!commands[k]->up()) continue;
      auto r = co_await commands[k]->command(argv("SENTINEL", "MASTER", opt.master_name));
      if (r.ec) continue;
      if (r.reply.type == redis_reply::kind::error) {
        // "ERR No such master with that name"
        if (!unknown_told[k] && on_unknown_master) {
          unknown_told[k] = true;
          try {
            on_unknown_master(host_port(opt.sentinels[k].first, opt.sentinels[k].second));
          } catch (...) {
          }
        }
        continue;
      }
      if (r.reply.type != redis_reply::kind::array) continue;
      unknown_told[k] = false;
      std::string ip;
      std::optional<std::uint16_t> port;
      long long epoch = -1;
      const auto& e = r.reply.elements;
      for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
        if (e[i].str == "ip") ip = e[i + 1].str;
        else if (e[i].str == "port") port = parse_port(e[i + 1].str);
        else if (e[i].str == "config-epoch") epoch = parse_epoch(e[i + 1].str);
      }
      if (ip.empty() || !port || epoch < 0) continue;
      if (epoch > best_epoch) {
        best_epoch = epoch;
        best.emplace(std::move(ip), *port);
      }
    }
    if (!best) co_return;
    // Older than what a sentinel announced: a sentinel that has not heard of the switch yet.
    if (best_epoch < epoch_floor) co_return;
    epoch_floor = best_epoch;
    highest_epoch = std::max(highest_epoch, best_epoch);
    adopt(best->first, best->second);
  }

  void adopt(const std::string& host, std::uint16_t port) {
    if (stopped) return;
    const std::string to = host_port(host, port);
    std::string from;
    {
      std::lock_guard lock(mu);
      if (to == current) return;
      from = current;
      current = to;
    }
    if (!from.empty()) ++failovers;
    for (auto& f : followers) f->set_target(host, port);
    if (on_switch) {
      try {
        on_switch(from, to);
      } catch (...) {
      }
    }
  }

  void halt() {
    net::post(strand, [self = shared_from_this()] {
      self->stopped = true;
      self->timer.cancel();
    });
  }

  net::awaitable<void> close() {
    halt();
    for (auto& c : commands) co_await c->close();
    for (auto& l : listeners) co_await l->close();
  }

  net::strand<net::any_io_executor> strand;
  sentinel_options opt;
  std::vector<std::shared_ptr<redis_connection>> followers;
  std::vector<std::shared_ptr<redis_connection>> commands;   // one per sentinel
  std::vector<std::shared_ptr<redis_connection>> listeners;  // one per sentinel, +switch-master
  net::steady_timer timer;
  std::function<void(const std::string&, const std::string&)> on_switch;
  std::function<void(const std::string&)> on_unknown_master;
  std::vector<bool> unknown_told = std::vector<bool>(opt.sentinels.size(), false);
  bool kicked = false;               // on the strand
  std::atomic<bool> stopped{false};
  long long highest_epoch = -1;  // the highest config epoch a sentinel has named (on the strand)
  long long epoch_floor = -1;    // answers below this are older than what is followed now
  mutable std::mutex mu;
  std::string current;  // "host:port"
  std::atomic<std::uint64_t> failovers{0};
};

sentinel_monitor::sentinel_monitor(net::any_io_executor ex, sentinel_options options,
                                   std::vector<std::shared_ptr<redis_connection>> followers)
    : st_(std::make_shared<state>(std::move(ex), std::move(options), std::move(followers))) {}

sentinel_monitor::~sentinel_monitor() {
  st_->halt();
  for (auto& c : st_->commands) c->stop();
  for (auto& l : st_->listeners) l->stop();
}

void sentinel_monitor::on_switch(std::function<void(const std::string&, const std::string&)> f) {
  st_->on_switch = std::move(f);
}

void sentinel_monitor::on_unknown_master(std::function<void(const std::string&)> f) {
  st_->on_unknown_master = std::move(f);
}

void sentinel_monitor::start() { st_->start(); }

net::awaitable<void> sentinel_monitor::close() { return st_->close(); }

void sentinel_monitor::requery() { st_->requery(); }

std::string sentinel_monitor::master() const {
  std::lock_guard lock(st_->mu);
  return st_->current;
}

std::uint64_t sentinel_monitor::failovers() const noexcept { return st_->failovers.load(); }

std::size_t sentinel_monitor::sentinels_up() const noexcept {
  std::size_t n = 0;
  for (const auto& c : st_->commands) n += c->up() ? 1 : 0;
  return n;
}

}  // namespace wcp::cache
