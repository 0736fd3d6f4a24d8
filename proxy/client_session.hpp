// One client connection: reads requests (keep-alive, pipelined in order), bounds what it reads by
// size and time, hands each request to the proxy service and writes the answer.
#pragma once

#include <chrono>
#include <functional>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/net.hpp"
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
};

net::awaitable<void> run_client_session(net::ip::tcp::socket socket, session_context ctx);

}  // namespace wcp::proxy
