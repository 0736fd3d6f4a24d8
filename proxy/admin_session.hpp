// The admin listener's connections: metrics, health and readiness. Never served on the client
// listener.
#pragma once

#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/net.hpp"
#include "proxy/metrics.hpp"
#include "proxy/server_state.hpp"

namespace wcp::proxy {

struct admin_context {
  registry& metrics;
  server_state& state;
  // One line per dependency for /readyz, e.g. "upstream: https://webexapis.com".
  std::function<std::string()> describe_dependencies;
};

net::awaitable<void> run_admin_session(net::ip::tcp::socket socket, admin_context ctx);

}  // namespace wcp::proxy
