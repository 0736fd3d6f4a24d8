#include "proxy/server.hpp"

#include <algorithm>

#include <systemd/sd-daemon.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "cache/grants.hpp"
#include "cache/invalidation_bus.hpp"
#include "cache/memory_store.hpp"
#include "cache/redis_connection.hpp"
#include "cache/redis_sentinel.hpp"
#include "cache/redis_store.hpp"
#include "cache/tiered_cache.hpp"
#include "config/redis_url.hpp"
#include "config/upstream_proxy.hpp"
#include "proxy/admin_session.hpp"
#include "proxy/log.hpp"
#include "proxy/process_metrics.hpp"
#include "proxy/client_session.hpp"
#include "proxy/listener.hpp"
#include "proxy/metrics.hpp"
#include "proxy/proxy_service.hpp"
#include "proxy/upstream_url.hpp"

namespace wcp::proxy {

namespace {
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Tells this instance's own invalidation messages from other instances'.
std::string new_instance_id() {
  std::random_device rd;
  char buf[24];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

// How long an invalidation fences fills that began before it: longer than a fill can take with
// these settings (connect and exchange, again on a stale pooled connection, rate-limit waits with
// their retries), ten minutes at least. A fill older than this is not stored at all.
std::chrono::milliseconds fence_lifetime(const config::config& c) {
  using std::chrono::milliseconds;
  const auto fill = 4 * (c.connect_timeout + c.upstream_timeout) +
                    2 * std::chrono::duration_cast<milliseconds>(c.max_retry_wait);
  return std::max<milliseconds>(std::chrono::minutes(10), fill);
}

}  // namespace

struct server::impl {
  struct worker {
    net::io_context ioc{1};
    // The last watchdog round this worker's loop ran (see feed_watchdog).
    std::atomic<std::uint64_t> heartbeat{0};
    net::executor_work_guard<net::io_context::executor_type> guard = net::make_work_guard(ioc);
    std::unique_ptr<upstream_pool> pool;
    session_registry sessions;
    std::thread thread;
  };

  config::config cfg;
  std::function<std::optional<config::config>()> reload;
  server_state state;
  registry metrics_registry;
  proxy_metrics metrics{metrics_registry};
  live_settings live;
  client_limits limits;
  upstream_url upstream;
  std::optional<link_rewriter> links;  // from --upstream and --public-url
  std::shared_ptr<ssl::context> tls;         // upstream (client side)
  std::shared_ptr<ssl::context> client_tls;  // client listener (server side), with --tls-cert
  // What requests and background refreshes run through. It holds no I/O object, and outlives the
  // event loops: coroutines still suspended when a drain times out are destroyed with their loop,
  // and their guards (a flight's, a refresh's count) still reach it then.
  std::unique_ptr<proxy_service> service;
  // The event loops. Everything declared below holds I/O objects on them or uses what does, so it
  // is destroyed (in reverse order of declaration) before the loops are.
  std::vector<std::unique_ptr<worker>> workers;
  // Embedded mode: one in-process store and grants. Redis mode: L1 + Redis behind tiered.
  std::unique_ptr<cache::memory_store> store;
  std::unique_ptr<cache::memory_grants> grants;
  std::unique_ptr<cache::memory_backoff> backoff;
  std::shared_ptr<cache::redis_connection> redis_commands;
  std::shared_ptr<cache::redis_connection> redis_subscriber;
  std::unique_ptr<cache::sentinel_monitor> sentinels;  // with redis+sentinel://
  std::unique_ptr<cache::redis_store> redis_entries;
  std::unique_ptr<cache::redis_grants> redis_grants;
  std::unique_ptr<cache::redis_backoff> redis_backoff;
  std::unique_ptr<cache::invalidation_bus> bus;
  std::unique_ptr<cache::tiered_cache> tiered;
  cache::memory_store* l1 = nullptr;
  cache::store* store_iface = nullptr;
  std::optional<net::ip::tcp::acceptor> client_acceptor;
  std::string admin_token;  // --admin-token-file's token, re-read on reload (control thread)
  // Installed before the listener lines are logged: a reload or stop sent as soon as the daemon
  // is seen listening (or READY) is handled, never the signal's default action.
  std::optional<net::signal_set> signal_set;
  std::optional<net::ip::tcp::acceptor> admin_acceptor;
  std::atomic<std::size_t> next_worker{0};
  int exit_code = 0;

  worker& control() { return *workers.front(); }

  ~impl() {
    for (auto& w : workers) {
      w->ioc.stop();
      if (w->thread.joinable()) w->thread.join();
    }
  }

  void register_redis_metrics() {
    auto& m = *this;
  auto& r = m.metrics_registry;
  auto* cmd = m.redis_commands.get();
  auto* sub = m.redis_subscriber.get();
  auto* tiered = m.tiered.get();
  auto* entries = m.redis_entries.get();
  auto* bus = m.bus.get();
  r.add_gauge_fn("webex_cache_proxy_redis_up", "1 when the Redis command connection is up.",
                 [cmd] { return cmd->up() ? 1.0 : 0.0; });
  r.add_gauge_fn("webex_cache_proxy_redis_subscribed",
                 "1 when the invalidation subscription is up.",
                 [sub] { return sub->up() ? 1.0 : 0.0; });
  r.add_counter_fn("webex_cache_proxy_redis_errors_total",
                   "Redis commands that failed (errors, timeouts, not connected).", [cmd, sub] {
                     return static_cast<double>(cmd->stats().errors + sub->stats().errors);
                   });
  r.add_counter_fn("webex_cache_proxy_redis_timeouts_total",
                   "Redis commands that got no answer within --redis-timeout.",
                   [cmd] { return static_cast<double>(cmd->stats().timeouts.load()); });
  r.add_counter_fn("webex_cache_proxy_redis_reconnects_total", "Reconnections to Redis.",
                   [cmd, sub] {
                     return static_cast<double>(cmd->stats().reconnects + sub->stats().reconnects);
                   });
  r.add_counter_fn("webex_cache_proxy_redis_corrupt_entries_total",
                   "Entries read from Redis that did not parse (treated as misses).",
                   [entries] { return static_cast<double>(entries->corrupt_entries()); });
  r.add_counter_fn("webex_cache_proxy_l2_hits_total", "Lookups answered by Redis (L1 missed).",
                   [tiered] { return static_cast<double>(tiered->stats().l2_hits.load()); });
  r.add_counter_fn("webex_cache_proxy_invalidation_messages_malformed_total",
                   "Messages on the invalidation channel that did not parse.",
                   [bus] { return static_cast<double>(bus->malformed()); });
  r.add_gauge_fn("webex_cache_proxy_isolated",
                 "1 while this instance has no working invalidation subscription (it serves "
                 "cached entries younger than --isolated-ttl only).",
                 [bus] { return bus->isolated() ? 1.0 : 0.0; });
  r.add_counter_fn("webex_cache_proxy_isolated_periods_total",
                   "Times this instance lost its invalidation subscription (Redis down, paused "
                   "or cut off).",
                   [bus] { return static_cast<double>(bus->isolated_periods()); });
  r.add_counter_fn("webex_cache_proxy_isolated_refetches_total",
                   "Cached entries passed over while isolated (or just after) because they were "
                   "older than --isolated-ttl: fetched again.",
                   [tiered] { return static_cast<double>(tiered->stats().isolated_refetches.load()); });
  r.add_counter_fn("webex_cache_proxy_redis_subscription_check_failures_total",
                   "Subscriptions dropped and made again because they carried nothing, not even "
                   "this instance's own probe, for four --redis-timeouts (a paused Redis).",
                   [bus] { return static_cast<double>(bus->check_failures()); });
  r.add_counter_fn("webex_cache_proxy_l1_resyncs_total",
                   "Times L1 was emptied after (re)subscribing to invalidations.",
                   [tiered] { return static_cast<double>(tiered->stats().resyncs.load()); });
  auto* monitor = m.sentinels.get();
  r.add_info_fn("webex_cache_proxy_redis_master",
                "The Redis master in use (named by the sentinels with redis+sentinel://): 1 while "
                "the command connection is up on it, 0 while not; address \"none\" before one "
                "is known.",
                "address", [cmd] { return cmd->target(); }, [cmd] { return cmd->up() ? 1.0 : 0.0; });
  r.add_counter_fn("webex_cache_proxy_redis_failovers_total",
                   "Times the sentinels named another Redis master and this instance followed.",
                   [monitor] { return monitor ? static_cast<double>(monitor->failovers()) : 0.0; });
  if (monitor)
    r.add_gauge_fn("webex_cache_proxy_redis_sentinels_up",
                   "Sentinels this instance is connected to.",
                   [monitor] { return static_cast<double>(monitor->sentinels_up()); });
  r.add_gauge_fn("webex_cache_proxy_redis_journal_invalidations",
                 "Invalidations of the last minutes kept to be applied again on a new Redis link "
                 "(a promoted master, a restarted Redis may have lost them).",
                 [tiered] { return static_cast<double>(tiered->journal_size()); });
  r.add_counter_fn("webex_cache_proxy_redis_journal_replays_total",
                   "Times the invalidation journal was applied on a new Redis link before reading from it.",
                   [tiered] { return static_cast<double>(tiered->stats().journal_replays.load()); });
  r.add_counter_fn("webex_cache_proxy_invalidations_replayed_total",
                   "Invalidations Redis could not take at first, written later (Redis back, or a new master).",
                   [tiered] { return static_cast<double>(tiered->stats().replayed.load()); });
  r.add_gauge_fn("webex_cache_proxy_pending_invalidations",
                 "Invalidations and grant drops Redis has not taken yet: being sent, or remembered and replayed when it is back.",
                 [tiered] { return static_cast<double>(tiered->pending()); });
}


  std::string describe_dependencies() const {
    std::string out = "upstream: " + cfg.upstream + "\n";
    if (!redis_commands) return out + "store: memory\n";
    const auto& st = redis_commands->stats();
    out += std::string("store: redis ") + (redis_commands->up() ? "up" : "down (degraded: serving from L1 and upstream)") + "\n";
    const auto master = redis_commands->target();
    out += "redis master: " + (master.empty() ? std::string("unknown (no sentinel has named it yet)") : master) + "\n";
    if (sentinels)
      out += "redis sentinels up: " + std::to_string(sentinels->sentinels_up()) + "\n";
    out += std::string("invalidations: ") + (redis_subscriber->up() ? "subscribed" : "not subscribed") +
           (bus->isolated() ? " (isolated: serving cached entries younger than --isolated-ttl only)" : "") + "\n";
    out += "redis errors: " + std::to_string(st.errors.load()) + ", reconnects: " + std::to_string(st.reconnects.load()) + "\n";
    return out;
  }

  net::io_context& pick() {
    return workers[next_worker.fetch_add(1, std::memory_order_relaxed) % workers.size()]->ioc;
  }

  void accept_client(net::ip::tcp::socket socket) {
    // The socket was accepted onto the io_context pick() chose; find that worker.
    auto& owner = net::query(socket.get_executor(), net::execution::context);
    worker* w = workers.front().get();
    for (auto& candidate : workers)
      if (&static_cast<net::execution_context&>(candidate->ioc) == &owner) w = candidate.get();
    if (state.connections.load() >= cfg.max_connections) {
      metrics.rejected_connections().inc();
      log::warn("refused a connection: too many open (--max-connections)",
                {{"max_connections", cfg.max_connections}});
      auto s = std::make_shared<net::ip::tcp::socket>(std::move(socket));
      static constexpr std::string_view busy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
          "Content-Length: 85\r\nConnection: close\r\n\r\n"
          R"({"message":"Too many connections.","errors":[{"description":"Too many connections."}]})";
      net::async_write(*s, net::buffer(busy), [s](auto, auto) {
        boost::system::error_code ignored;
        s->shutdown(net::ip::tcp::socket::shutdown_both, ignored);
      });
      return;
    }
    session_context ctx{*service, *w->pool, metrics, state, limits, w->sessions, client_tls.get()};
    ctx.links = &*links;
    // The slot is counted from here, before the session first runs, so that a burst of accepts
    // cannot pass --max-connections; the session owns it from then on.
    connection_slot slot(state, metrics.client_connections());
    net::co_spawn(w->ioc, run_client_session(std::move(socket), ctx, std::move(slot)),
                  [this](std::exception_ptr e) {
                    if (!e) return;
                    metrics.internal_errors().inc();
                    try {
                      std::rethrow_exception(e);
                    } catch (const std::exception& x) {
                      log::error("client session ended by an internal error",
                                 {{"error", x.what()}});
                    }
                  });
  }

  void apply_live(const config::config& c) {
    live.apply(c);
    log::set_levels(c.log_level, c.access_log);
    // The admin token is re-read at every reload, so that rotating it is a file edit and a
    // reload; a file that cannot be read keeps the running token.
    try {
      admin_token = c.admin_token_file.empty()
                        ? std::string()
                        : config::read_secret_file(c.admin_token_file, "admin-token-file");
    } catch (const std::exception& e) {
      log::error("reload: the admin token file cannot be read; the running token is kept",
                 {{"error", e.what()}});
    }
  }

  void on_reload() {
    auto next = reload ? reload() : std::nullopt;
    if (!next) return;
    // The new settings first: once any line of this reload shows, they are in force.
    apply_live(*next);
    // One line naming every changed setting that only a restart applies.
    static const std::set<std::string> live_settings = {
        "log-level", "access-log", "admin-token-file", "cache-ttl", "stale-ttl", "refresh-ahead", "grant-ttl", "max-retry-wait", "max-backoff",
        "default-backoff"};
    std::string needs_restart;
    for (const auto& name : config::changed_settings(cfg, *next)) {
      if (live_settings.count(name) || name.starts_with("cache-ttl.")) continue;
      if (!needs_restart.empty()) needs_restart += ", ";
      needs_restart += name;
    }
    if (!needs_restart.empty())
      log::warn("reload: changed, but needs a restart (running value kept): " + needs_restart,
                {{"needs_restart", needs_restart}});
    log::info("reloaded", {{"log_level", next->log_level},
                           {"access_log", next->access_log ? "on" : "off"},
                           {"cache_ttl_s", next->cache_ttl.count()},
                           {"stale_ttl_s", next->stale_ttl.count()},
                           {"refresh_ahead", next->refresh_ahead},
                           {"grant_ttl_s", next->grant_ttl.count()},
                           {"max_retry_wait_s", next->max_retry_wait.count()},
                           {"max_backoff_s", next->max_backoff.count()},
                           {"default_backoff_s", next->default_backoff.count()}});
    cfg.log_level = next->log_level;
    cfg.access_log = next->access_log;
    cfg.admin_token_file = next->admin_token_file;
    cfg.cache_ttl = next->cache_ttl;
    cfg.cache_ttl_by_kind = next->cache_ttl_by_kind;
    cfg.stale_ttl = next->stale_ttl;
    cfg.refresh_ahead = next->refresh_ahead;
    cfg.grant_ttl = next->grant_ttl;
    cfg.max_retry_wait = next->max_retry_wait;
    cfg.max_backoff = next->max_backoff;
    cfg.default_backoff = next->default_backoff;
  }

  net::awaitable<void> handle_signals() {
    auto& signals = *signal_set;
    for (;;) {
      auto [ec, sig] = co_await signals.async_wait(use_tuple);
      if (ec) co_return;
      if (sig == SIGHUP) {
        sd_notify(0, "RELOADING=1");
        on_reload();
        sd_notify(0, "READY=1");
        continue;
      }
      co_await drain(sig);
      co_return;
    }
  }

  net::awaitable<void> drain(int sig) {
    log::info("draining", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"},
                           {"connections", state.connections.load()},
                           {"in_flight", state.in_flight.load()}});
    sd_notify(0, "STOPPING=1");
    state.draining = true;
    boost::system::error_code ignored;
    if (client_acceptor) client_acceptor->close(ignored);
    for (auto& w : workers)
      net::post(w->ioc, [wp = w.get()] {
        for (auto [s, idle] : wp->sessions) {
          boost::system::error_code e;
          if (idle) s->cancel(e);
        }
      });
    const auto deadline = std::chrono::steady_clock::now() + cfg.drain_timeout;
    net::steady_timer timer(control().ioc);
    // Background refreshes end on their own (within the upstream timeouts); none starts now.
    service->stop_refreshing();
    auto busy = [this] { return state.connections.load() > 0 || service->refreshes_in_flight() > 0; };
    while (busy() && std::chrono::steady_clock::now() < deadline) {
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(use_tuple);
      for (auto& w : workers)  // sessions that finished a request since the last look
        net::post(w->ioc, [wp = w.get()] {
          for (auto [s, idle] : wp->sessions) {
            boost::system::error_code e;
            if (idle) s->cancel(e);
          }
        });
    }
    if (state.connections.load() > 0)
      log::warn("drain timeout: closing the connections still open",
                {{"connections", state.connections.load()}});
    else if (service->refreshes_in_flight() > 0)
      log::warn("drain timeout: ending the background refreshes still under way",
                {{"refreshes", service->refreshes_in_flight()}});
    else
      log::info("drained");
    if (admin_acceptor) admin_acceptor->close(ignored);
    // Close Redis before the event loops stop: its sockets and hiredis contexts live on them.
    if (sentinels) co_await sentinels->close();
    if (redis_subscriber) co_await redis_subscriber->close();
    if (redis_commands) co_await redis_commands->close();
    for (auto& w : workers) w->ioc.stop();
  }

  // With WatchdogSec= set, tell systemd the event loop still turns, at half its interval.
  // Feeds the systemd watchdog only while every event loop makes progress: each round posts a
  // heartbeat to every worker, and the next round pings only if all of them ran theirs. A worker
  // stuck for a whole round (a blocking call, a loop that never yields) stops the pings, and
  // systemd restarts the daemon after WatchdogSec. This coroutine runs on the control loop, so
  // that loop's own progress is what lets it run at all.
  net::awaitable<void> feed_watchdog() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) co_return;
    const auto period = std::chrono::microseconds(usec / 2);
    net::steady_timer timer(control().ioc);
    bool stuck_logged = false;
    for (std::uint64_t round = 1;; ++round) {
      std::size_t stuck = 0, first_stuck = 0;
      for (std::size_t i = 0; i < workers.size(); ++i)
        if (workers[i]->heartbeat.load(std::memory_order_acquire) + 1 < round && stuck++ == 0)
          first_stuck = i;
      if (stuck == 0) {
        sd_notify(0, "WATCHDOG=1");
        stuck_logged = false;
      } else if (!stuck_logged) {
        log::error("a worker loop made no progress: the systemd watchdog is not fed",
                   {{"worker", first_stuck},
                    {"stuck_workers", stuck},
                    {"for_ms", std::chrono::duration_cast<std::chrono::milliseconds>(period).count()}});
        stuck_logged = true;
      }
      for (auto& w : workers)
        net::post(w->ioc, [wp = w.get(), round] {
          wp->heartbeat.store(round, std::memory_order_release);
        });
      timer.expires_after(period);
      auto [ec] = co_await timer.async_wait(use_tuple);
      if (ec) co_return;
    }
  }

  // A test hook, off unless the environment asks for it: with WCP_DEBUG_WEDGE_ON_SIGUSR2=1,
  // SIGUSR2 blocks the last worker's event loop for ten minutes, as a stuck worker would.
  net::awaitable<void> wedge_on_sigusr2() {
    net::signal_set usr2(control().ioc, SIGUSR2);
    auto [ec, sig] = co_await usr2.async_wait(use_tuple);
    if (ec) co_return;
    log::warn("SIGUSR2: wedging the last worker loop (WCP_DEBUG_WEDGE_ON_SIGUSR2 is set)");
    net::post(workers.back()->ioc, [] { std::this_thread::sleep_for(std::chrono::minutes(10)); });
  }

  // The grants this process holds: the embedded store's, or in Redis mode the L1 copy.
  cache::memory_grants* local_grants() {
    return grants ? grants.get() : tiered ? &tiered->l1_grants() : nullptr;
  }

  // Forgets expired grants, at least as often as a grant lives (at most every 30 s), so that
  // memory follows the live tokens and locations.
  net::awaitable<void> sweep_grants() {
    net::steady_timer timer(control().ioc);
    for (;;) {
      timer.expires_after(std::clamp<std::chrono::milliseconds>(
          live.grant_ttl(), std::chrono::seconds(1), std::chrono::seconds(30)));
      auto [ec] = co_await timer.async_wait(use_tuple);
      if (ec || state.draining) co_return;
      if (auto* g = local_grants()) g->sweep();
    }
  }
};

server::server(config::config cfg, std::function<std::optional<config::config>()> reload)
    : impl_(std::make_unique<impl>()) {
  auto& m = *impl_;
  m.cfg = std::move(cfg);
  m.reload = std::move(reload);
  m.apply_live(m.cfg);
  m.limits.max_header_bytes = m.cfg.max_header_bytes;
  m.limits.max_body_bytes = m.cfg.max_body_bytes;
  m.limits.header_timeout = m.cfg.client_header_timeout;
  m.limits.body_timeout = m.cfg.client_body_timeout;
  m.limits.idle_timeout = m.cfg.idle_timeout;

  auto url = parse_upstream_url(m.cfg.upstream);
  if (!url) throw std::runtime_error("--upstream: not an http:// or https:// URL");
  m.upstream = *url;
  m.links.emplace(m.upstream.tls, m.upstream.host, m.upstream.port, m.upstream.base_path,
                  m.cfg.public_url);
  if (m.upstream.tls) m.tls = make_client_tls_context(m.cfg.upstream_ca);
  if (!m.cfg.tls_cert.empty()) m.client_tls = make_server_tls_context(m.cfg.tls_cert, m.cfg.tls_key);

  unsigned threads = m.cfg.threads ? m.cfg.threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < threads; ++i) m.workers.push_back(std::make_unique<impl::worker>());

  cache::store* store_iface = nullptr;
  cache::grant_store* grants_iface = nullptr;
  cache::backoff_store* backoff_iface = nullptr;
  if (m.cfg.redis == "none") {
    m.store = std::make_unique<cache::memory_store>(m.cfg.memory_max_bytes, 16,
                                                    fence_lifetime(m.cfg));
    m.grants = std::make_unique<cache::memory_grants>();
    m.backoff = std::make_unique<cache::memory_backoff>();
    m.l1 = m.store.get();
    store_iface = m.store.get();
    grants_iface = m.grants.get();
    backoff_iface = m.backoff.get();
  } else {
    // Validated by the loader with the same parser: this cannot fail for a loaded config.
    auto options = cache::parse_redis_url(m.cfg.redis);
    if (!options) throw config::config_error("--redis: not a redis:// or unix:// URL");
    if (!m.cfg.redis_password_file.empty())
      options->password = config::read_secret_file(m.cfg.redis_password_file, "redis-password-file");
    options->command_timeout = m.cfg.redis_timeout;
    auto ex = m.control().ioc.get_executor();
    m.redis_commands = cache::redis_connection::create(ex, *options);
    m.redis_subscriber = cache::redis_connection::create(ex, *options);
    if (auto url = config::parse_redis_url(m.cfg.redis).url; url && !url->sentinels.empty()) {
      cache::sentinel_options so;
      for (const auto& s : url->sentinels) so.sentinels.emplace_back(s.host, s.port);
      so.master_name = url->master_name;
      if (!m.cfg.redis_sentinel_password_file.empty())
        so.password = config::read_secret_file(m.cfg.redis_sentinel_password_file,
                                               "redis-sentinel-password-file");
      m.sentinels = std::make_unique<cache::sentinel_monitor>(
          ex, std::move(so),
          std::vector<std::shared_ptr<cache::redis_connection>>{m.redis_commands,
                                                                m.redis_subscriber});
      m.sentinels->on_switch([](const std::string& from, const std::string& to) {
        if (from.empty())
          log::info("redis master found", {{"master", to}});
        else
          log::warn("redis master switched: following the sentinels",
                    {{"from", from}, {"master", to}});
      });
      m.sentinels->on_unknown_master([name = url->master_name](const std::string& sentinel) {
        log::error("redis sentinel does not know the master name (check --redis)",
                   {{"sentinel", sentinel}, {"master_name", name}});
      });
    }
    m.redis_entries = std::make_unique<cache::redis_store>(m.redis_commands, m.cfg.redis_prefix);
    m.redis_grants = std::make_unique<cache::redis_grants>(m.redis_commands, m.cfg.redis_prefix);
    m.redis_backoff = std::make_unique<cache::redis_backoff>(m.redis_commands, m.cfg.redis_prefix);
    // The subscription is checked at every --redis-timeout and given up after four without
    // proof: a paused Redis is noticed within a few timeouts.
    cache::subscription_check check;
    check.interval = std::clamp(m.cfg.redis_timeout, std::chrono::milliseconds(10),
                                std::chrono::milliseconds(1000));
    check.deadline = 4 * check.interval;
    m.bus = std::make_unique<cache::invalidation_bus>(
        m.redis_commands, m.redis_subscriber, m.cfg.redis_prefix + ":v1:invalidations",
        new_instance_id(), check);
    m.bus->on_isolation([ttl = m.cfg.isolated_ttl](bool isolated, std::chrono::milliseconds lasted) {
      if (isolated)
        log::warn("isolated: no working invalidation subscription; serving cached entries younger "
                  "than --isolated-ttl only",
                  {{"isolated_ttl_ms", static_cast<std::int64_t>(ttl.count())}});
      else
        log::info("invalidation subscription back: cache emptied of what other instances may "
                  "have changed",
                  {{"isolated_ms", static_cast<std::int64_t>(lasted.count())}});
    });
    std::unique_ptr<cache::memory_store> l1;
    if (m.cfg.l1_max_bytes > 0)
      l1 = std::make_unique<cache::memory_store>(m.cfg.l1_max_bytes, 16, fence_lifetime(m.cfg));
    m.tiered = std::make_unique<cache::tiered_cache>(ex, std::move(l1), *m.redis_entries,
                                                     *m.redis_grants, *m.redis_backoff, *m.bus);
    m.tiered->set_isolated_ttl(m.cfg.isolated_ttl);
    m.tiered->attach();
    m.tiered->on_remote_invalidation(
        [c = &m.metrics.invalidations.with({"remote"})] { c->inc(); });
    m.bus->start(ex);
    m.l1 = m.tiered->l1();
    store_iface = m.tiered.get();
    grants_iface = m.tiered.get();
    backoff_iface = m.tiered.get();
    m.register_redis_metrics();
  }
  m.store_iface = store_iface;
  m.service = std::make_unique<proxy_service>(
      *store_iface, *grants_iface, *backoff_iface, m.live, m.metrics, m.upstream.base_path,
      m.cfg.redis == "none" ? std::chrono::milliseconds(0) : m.cfg.redis_timeout);

  if (auto* store = m.l1) {
    m.metrics_registry.add_gauge_fn("webex_cache_proxy_l1_bytes",
                                    "Bytes held by the in-process store.",
                                    [store] { return static_cast<double>(store->bytes()); });
    m.metrics_registry.add_gauge_fn("webex_cache_proxy_l1_entries",
                                    "Entries held by the in-process store.",
                                    [store] { return static_cast<double>(store->entries()); });
    m.metrics_registry.add_gauge_fn("webex_cache_proxy_l1_max_bytes",
                                    "Byte bound of the in-process store.",
                                    [store] { return static_cast<double>(store->max_bytes()); });
    m.metrics_registry.add_counter_fn(
        "webex_cache_proxy_l1_evictions_total",
        "Entries evicted from the in-process store to stay in its bound.",
        [store] { return static_cast<double>(store->evictions()); });
  }
  m.metrics_registry.add_gauge("webex_cache_proxy_build_info", "Version of this build.",
                               {"version"}).with({config::version()}).set(1);
  if (auto* g = m.local_grants())
    m.metrics_registry.add_gauge_fn("webex_cache_proxy_grants_held",
                                    "Grants (token, org form, location) held in this process.",
                                    [g] { return static_cast<double>(g->size()); });
  if (auto* b = m.backoff ? m.backoff.get() : m.tiered ? &m.tiered->l1_backoff() : nullptr)
    m.metrics_registry.add_gauge_fns(
        "webex_cache_proxy_rate_limit_blocks",
        "Rate-limit blocks in force now that this instance knows (set here or announced by "
        "another instance), by reason: 429 a token, 423 a resource.",
        "reason",
        {{"429", [b] { return static_cast<double>(b->in_force().token); }},
         {"423", [b] { return static_cast<double>(b->in_force().resource); }}});
  auto* st = &m.state;
  m.metrics_registry.add_gauge_fn("webex_cache_proxy_ready", "1 when serving, 0 when draining.",
                                  [st] { return st->listening && !st->draining ? 1.0 : 0.0; });
  m.metrics_registry.add_gauge_fn("webex_cache_proxy_requests_in_flight",
                                  "Client requests read and not yet answered.",
                                  [st] { return static_cast<double>(st->in_flight.load()); });

  upstream_settings us;
  us.url = m.upstream;
  us.tls = m.tls;
  us.connect_timeout = m.cfg.connect_timeout;
  us.request_timeout = m.cfg.upstream_timeout;
  us.max_idle = m.cfg.upstream_max_idle;
  us.max_body = m.cfg.max_upstream_body_bytes;
  if (!m.cfg.upstream_proxy.empty()) {
    // Validated by the loader with the same parser: this cannot fail for a loaded config.
    const auto proxy = config::parse_upstream_proxy_url(m.cfg.upstream_proxy);
    if (!proxy.url) throw config::config_error("--upstream-proxy: " + proxy.error);
    us.proxy.emplace();
    us.proxy->host = proxy.url->host;
    us.proxy->port = proxy.url->port;
    if (!m.cfg.upstream_proxy_credentials_file.empty())
      us.proxy->authorization = basic_proxy_authorization(config::read_secret_file(
          m.cfg.upstream_proxy_credentials_file, "upstream-proxy-credentials-file"));
  }
  for (auto& w : m.workers) w->pool = std::make_unique<upstream_pool>(w->ioc.get_executor(), us);
}

server::~server() = default;

void server::start() {
  auto& m = *impl_;
  m.signal_set.emplace(m.control().ioc, SIGINT, SIGTERM, SIGHUP);
  m.client_acceptor.emplace(bind_listener(m.control().ioc, m.cfg.listen.host, m.cfg.listen.port));
  m.admin_acceptor.emplace(
      bind_listener(m.control().ioc, m.cfg.admin_listen.host, m.cfg.admin_listen.port));
  auto show = [](const net::ip::tcp::endpoint& ep) {
    auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" +
           std::to_string(ep.port());
  };
  // The address last: scripts (and the tests) read the port at the end of the line.
  log::info("client listener", {{"tls", m.client_tls ? "on" : "off"},
                                {"address", show(m.client_acceptor->local_endpoint())}});
  log::info("admin listener", {{"address", show(m.admin_acceptor->local_endpoint())}});
  if (m.cfg.redis == "none") {
    log::info("started", {{"version", config::version()},
                          {"upstream", m.cfg.upstream},
                          {"upstream_proxy", m.cfg.upstream_proxy},
                          {"threads", m.workers.size()},
                          {"store", "in-process"},
                          {"memory_max_bytes", m.cfg.memory_max_bytes}});
  } else {
    log::info("started", {{"version", config::version()},
                          {"upstream", m.cfg.upstream},
                          {"upstream_proxy", m.cfg.upstream_proxy},
                          {"threads", m.workers.size()},
                          {"store", "redis"},
                          {"redis", config::describe_redis(m.cfg.redis)},
                          {"redis_prefix", m.cfg.redis_prefix},
                          {"l1_max_bytes", m.cfg.l1_max_bytes}});
  }

  net::co_spawn(m.control().ioc,
                accept_loop(*m.client_acceptor, [&m]() -> net::io_context& { return m.pick(); },
                            [&m](net::ip::tcp::socket s) { m.accept_client(std::move(s)); }),
                net::detached);
  admin_context actx{m.metrics_registry, m.state, [&m] { return m.describe_dependencies(); },
                     m.store_iface, &m.metrics.invalidations};
  register_process_metrics(m.metrics_registry);
  if (!m.cfg.admin_token_file.empty())
    m.admin_token = config::read_secret_file(m.cfg.admin_token_file, "admin-token-file");
  actx.admin_token = &m.admin_token;
  actx.refused = &m.metrics.admin_refused;
  net::co_spawn(m.control().ioc,
                accept_loop(*m.admin_acceptor,
                            [&m]() -> net::io_context& { return m.control().ioc; },
                            [actx](net::ip::tcp::socket s) {
                              auto ex = s.get_executor();
                              net::co_spawn(ex, run_admin_session(std::move(s), actx),
                                            net::detached);
                            }),
                net::detached);
  if (m.redis_commands) {
    if (m.sentinels) m.sentinels->start();
    m.redis_subscriber->start();
    m.redis_commands->start();
  }
  net::co_spawn(m.control().ioc, m.handle_signals(), net::detached);
  net::co_spawn(m.control().ioc, m.sweep_grants(), net::detached);
  // The hook's signal set exists before the first watchdog ping is sent.
  if (const char* wedge = std::getenv("WCP_DEBUG_WEDGE_ON_SIGUSR2"); wedge && std::string_view(wedge) == "1")
    net::co_spawn(m.control().ioc, m.wedge_on_sigusr2(), net::detached);
  net::co_spawn(m.control().ioc, m.feed_watchdog(), net::detached);
  m.state.listening = true;
}

int server::run() {
  auto& m = *impl_;
  for (std::size_t i = 1; i < m.workers.size(); ++i)
    m.workers[i]->thread = std::thread([w = m.workers[i].get()] { w->ioc.run(); });
  sd_notify(0, "READY=1");
  m.control().ioc.run();
  for (auto& w : m.workers)
    if (w->thread.joinable()) w->thread.join();
  log::info("stopped");
  return m.exit_code;
}

}  // namespace wcp::proxy
