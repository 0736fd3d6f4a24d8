// The admin listener's connections: metrics, health and readiness. Never served on the client
// listener.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "cache/store.hpp"
#include "net/net.hpp"
#include "proxy/metrics.hpp"
#include "proxy/server_state.hpp"

namespace wcp::proxy {

struct admin_context {
  registry& metrics;
  server_state& state;
  // One line per dependency for /readyz, e.g. "upstream: https://webexapis.com".
  std::function<std::string()> describe_dependencies;
  // Purges go here (every instance sharing the store drops its copies).
  cache::store* store = nullptr;
  family<counter>* invalidations = nullptr;
};

// What an admin purge request asks for. Pure.
struct purge_request {
  bool valid = false;
  std::string error;                               // when !valid
  std::string location;                            // always, when valid
  std::optional<cache::resource_key> resource;     // one resource; else the whole location
};

// DELETE /cache/locations/{loc}[/{callParks|paging}/{id}], or
// POST /purge?location=...[&kind=callParks|paging&id=...]. nullopt when `target` is neither.
std::optional<purge_request> parse_purge(std::string_view method, std::string_view target);

net::awaitable<void> run_admin_session(net::ip::tcp::socket socket, admin_context ctx);

}  // namespace wcp::proxy
