// One client connection: reads requests (keep-alive, pipelined in order), bounds what it reads by
// size and time, hands each request to the proxy service and writes the answer.
#pragma once

#include <chrono>
#include <functional>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/net.hpp"
#include "proxy/link_rewrite.hpp"
#include "proxy/proxy_service.hpp"
#include "proxy/server_state.hpp"

namespace boost::asio::ssl {
class context;
}

namespace wcp::proxy {

using session_registry = std::unordered_map<net::ip::tcp::socket*, bool>;

struct client_limits {
  std::size_t max_header_bytes = 16u << 10;
  std::size_t max_body_bytes = 1u << 20;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds idle_timeout{60000};
};

// What a worker thread gives each of its sessions.
struct session_context {
  proxy_service& service;
  upstream_pool& pool;
  proxy_metrics& metrics;
  server_state& state;
  const client_limits& limits;
  // The worker thread's open sessions, each with whether it is waiting for a request (so that a
  // drain can close it); owned by the worker thread.
  session_registry& sessions;
  // With --tls-cert: the server context, and every connection starts with a TLS handshake.
  ssl::context* tls = nullptr;
  // Moves paging Link URLs from the upstream's origin to the client's (or --public-url).
  const link_rewriter* links = nullptr;
};

// One open client connection, counted in server_state::connections (what --max-connections
// checks) and in the client_connections gauge from construction until destruction. The session
// coroutine owns it, so no way out of a session (an answer, an error, an exception, a drain)
// can leave the count behind.
class connection_slot {
 public:
  connection_slot(server_state& state, gauge& connections) noexcept;
  ~connection_slot();
  connection_slot(connection_slot&& other) noexcept;
  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;
  connection_slot& operator=(connection_slot&&) = delete;

 private:
  server_state* state_;
  gauge* connections_;
};

net::awaitable<void> run_client_session(net::ip::tcp::socket socket, session_context ctx,
                                        connection_slot slot);

}  // namespace wcp::proxy
