#include "proxy/server.hpp"

#include <systemd/sd-daemon.h>

#include <thread>
#include <unordered_set>

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
#include <spdlog/spdlog.h>

#include "cache/grants.hpp"
#include "cache/memory_store.hpp"
#include "proxy/admin_session.hpp"
#include "proxy/client_session.hpp"
#include "proxy/listener.hpp"
#include "proxy/metrics.hpp"
#include "proxy/proxy_service.hpp"
#include "proxy/upstream_url.hpp"

namespace wcp::proxy {

namespace {
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
}

struct server::impl {
  struct worker {
    net::io_context ioc{1};
    net::executor_work_guard<net::io_context::executor_type> guard = net::make_work_guard(ioc);
    std::unique_ptr<upstream_pool> pool;
    std::unordered_set<net::ip::tcp::socket*> idle;
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
  std::shared_ptr<ssl::context> tls;
  std::unique_ptr<cache::memory_store> store;
  std::unique_ptr<cache::memory_grants> grants;
  std::unique_ptr<proxy_service> service;
  std::vector<std::unique_ptr<worker>> workers;
  std::optional<net::ip::tcp::acceptor> client_acceptor;
  std::optional<net::ip::tcp::acceptor> admin_acceptor;
  std::atomic<std::size_t> next_worker{0};
  int exit_code = 0;

  worker& control() { return *workers.front(); }

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
      spdlog::warn("refused a connection: {} connections open (--max-connections)",
                   cfg.max_connections);
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
    session_context ctx{*service, *w->pool, metrics, state, limits, w->idle};
    net::co_spawn(w->ioc, run_client_session(std::move(socket), ctx), net::detached);
  }

  void apply_live(const config::config& c) {
    live.apply(c);
    spdlog::set_level(spdlog::level::from_str(c.log_level));
  }

  void on_reload() {
    auto next = reload ? reload() : std::nullopt;
    if (!next) return;
    auto restart_needed = [&](const char* name, bool changed) {
      if (changed) spdlog::warn("reload: {} changed; it takes effect after a restart", name);
    };
    restart_needed("--listen", next->listen.host != cfg.listen.host ||
                                   next->listen.port != cfg.listen.port);
    restart_needed("--admin-listen", next->admin_listen.host != cfg.admin_listen.host ||
                                         next->admin_listen.port != cfg.admin_listen.port);
    restart_needed("--upstream", next->upstream != cfg.upstream);
    restart_needed("--upstream-ca", next->upstream_ca != cfg.upstream_ca);
    restart_needed("--redis", next->redis != cfg.redis);
    restart_needed("--threads", next->threads != cfg.threads);
    restart_needed("--memory-max-bytes", next->memory_max_bytes != cfg.memory_max_bytes);
    apply_live(*next);
    spdlog::info("reloaded: log-level={} cache-ttl={}s stale-ttl={}s grant-ttl={}s",
                 next->log_level, next->cache_ttl.count(), next->stale_ttl.count(),
                 next->grant_ttl.count());
    cfg.log_level = next->log_level;
    cfg.cache_ttl = next->cache_ttl;
    cfg.stale_ttl = next->stale_ttl;
    cfg.grant_ttl = next->grant_ttl;
  }

  net::awaitable<void> handle_signals() {
    net::signal_set signals(control().ioc, SIGINT, SIGTERM, SIGHUP);
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
    spdlog::info("{}: draining ({} connections open, {} requests in flight)",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", state.connections.load(),
                 state.in_flight.load());
    sd_notify(0, "STOPPING=1");
    state.draining = true;
    boost::system::error_code ignored;
    if (client_acceptor) client_acceptor->close(ignored);
    for (auto& w : workers)
      net::post(w->ioc, [wp = w.get()] {
        for (auto* s : wp->idle) {
          boost::system::error_code e;
          s->cancel(e);
        }
      });
    const auto deadline = std::chrono::steady_clock::now() + cfg.drain_timeout;
    net::steady_timer timer(control().ioc);
    while (state.connections.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(use_tuple);
      for (auto& w : workers)  // sessions that finished a request since the last look
        net::post(w->ioc, [wp = w.get()] {
          for (auto* s : wp->idle) {
            boost::system::error_code e;
            s->cancel(e);
          }
        });
    }
    if (state.connections.load() > 0)
      spdlog::warn("drain timeout: closing {} connections", state.connections.load());
    else
      spdlog::info("drained");
    if (admin_acceptor) admin_acceptor->close(ignored);
    for (auto& w : workers) w->ioc.stop();
  }

  net::awaitable<void> sweep_grants() {
    net::steady_timer timer(control().ioc);
    for (;;) {
      timer.expires_after(std::chrono::seconds(30));
      auto [ec] = co_await timer.async_wait(use_tuple);
      if (ec || state.draining) co_return;
      grants->sweep();
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
  if (m.upstream.tls) m.tls = make_client_tls_context(m.cfg.upstream_ca);

  m.store = std::make_unique<cache::memory_store>(m.cfg.memory_max_bytes);
  m.grants = std::make_unique<cache::memory_grants>();
  m.service = std::make_unique<proxy_service>(*m.store, *m.grants, m.live, m.metrics,
                                              m.upstream.base_path);

  auto* store = m.store.get();
  m.metrics_registry.add_gauge_fn("webex_cache_proxy_l1_bytes",
                                  "Bytes held by the in-process store.",
                                  [store] { return static_cast<double>(store->bytes()); });
  m.metrics_registry.add_gauge_fn("webex_cache_proxy_l1_entries",
                                  "Entries held by the in-process store.",
                                  [store] { return static_cast<double>(store->entries()); });
  m.metrics_registry.add_gauge_fn("webex_cache_proxy_l1_max_bytes",
                                  "Byte bound of the in-process store.",
                                  [store] { return static_cast<double>(store->max_bytes()); });
  m.metrics_registry.add_gauge_fn(
      "webex_cache_proxy_l1_evictions", "Entries evicted from the in-process store to stay in bound.",
      [store] { return static_cast<double>(store->evictions()); });
  m.metrics_registry.add_gauge("webex_cache_proxy_build_info", "Version of this build.",
                               {"version"}).with({config::version()}).set(1);
  auto* st = &m.state;
  m.metrics_registry.add_gauge_fn("webex_cache_proxy_ready", "1 when serving, 0 when draining.",
                                  [st] { return st->listening && !st->draining ? 1.0 : 0.0; });

  unsigned threads = m.cfg.threads ? m.cfg.threads : std::max(1u, std::thread::hardware_concurrency());
  upstream_settings us;
  us.url = m.upstream;
  us.tls = m.tls;
  us.connect_timeout = m.cfg.connect_timeout;
  us.request_timeout = m.cfg.upstream_timeout;
  us.max_idle = m.cfg.upstream_max_idle;
  us.max_body = m.cfg.max_upstream_body_bytes;
  for (unsigned i = 0; i < threads; ++i) {
    auto w = std::make_unique<impl::worker>();
    w->pool = std::make_unique<upstream_pool>(w->ioc.get_executor(), us);
    m.workers.push_back(std::move(w));
  }
}

server::~server() {
  for (auto& w : impl_->workers) {
    w->ioc.stop();
    if (w->thread.joinable()) w->thread.join();
  }
}

void server::start() {
  auto& m = *impl_;
  m.client_acceptor.emplace(bind_listener(m.control().ioc, m.cfg.listen.host, m.cfg.listen.port));
  m.admin_acceptor.emplace(
      bind_listener(m.control().ioc, m.cfg.admin_listen.host, m.cfg.admin_listen.port));
  auto show = [](const net::ip::tcp::endpoint& ep) {
    auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" +
           std::to_string(ep.port());
  };
  spdlog::info("client listener on {}", show(m.client_acceptor->local_endpoint()));
  spdlog::info("admin listener on {}", show(m.admin_acceptor->local_endpoint()));
  spdlog::info("upstream {}, {} worker threads, in-process store of {} bytes", m.cfg.upstream,
               m.workers.size(), m.cfg.memory_max_bytes);

  net::co_spawn(m.control().ioc,
                accept_loop(*m.client_acceptor, [&m]() -> net::io_context& { return m.pick(); },
                            [&m](net::ip::tcp::socket s) { m.accept_client(std::move(s)); }),
                net::detached);
  admin_context actx{m.metrics_registry, m.state, [&m] {
                       return "upstream: " + m.cfg.upstream + "\nstore: memory\n";
                     }};
  net::co_spawn(m.control().ioc,
                accept_loop(*m.admin_acceptor,
                            [&m]() -> net::io_context& { return m.control().ioc; },
                            [actx](net::ip::tcp::socket s) {
                              auto ex = s.get_executor();
                              net::co_spawn(ex, run_admin_session(std::move(s), actx),
                                            net::detached);
                            }),
                net::detached);
  net::co_spawn(m.control().ioc, m.handle_signals(), net::detached);
  net::co_spawn(m.control().ioc, m.sweep_grants(), net::detached);
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
  spdlog::info("stopped");
  return m.exit_code;
}

}  // namespace wcp::proxy
