// The admin listener's connections: metrics, health, readiness and purges. Never served on the
// client listener. /metrics, /healthz and /readyz are open to any peer (they are scraped from
// other hosts); purges are guarded (see check_purge_access).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
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
  // Non-empty: purges need "Authorization: Bearer <this>". Empty or null: purges from loopback
  // peers only. Owned by the server, which replaces it on reload; read on the control thread,
  // where admin sessions and reloads both run.
  const std::string* admin_token = nullptr;
  family<counter>* refused = nullptr;  // admin requests refused, by reason
};

// Whether a purge may go ahead: with a token configured, only with that bearer token (compared
// in constant time); without one, only from a loopback peer. Pure.
enum class purge_access { allowed, unauthorized, forbidden };
purge_access check_purge_access(const net::ip::address& peer, std::string_view authorization,
                                std::string_view admin_token);

// What an admin purge request asks for. Pure.
struct purge_request {
  bool valid = false;
  std::string error;                               // when !valid
  std::string location;                            // always, when valid
  std::optional<cache::resource_key> resource;     // one resource; else the whole location
};

// DELETE /cache/locations/{loc}[/{path of a cached item or settings under the location}], e.g.
// /cache/locations/{loc}/callParks/{id} or /cache/locations/{loc}/schedules/holidays/{id}; or
// POST /purge?location=...[&kind=KIND&id=...] for an item at KIND/{id} (callParks, paging,
// huntGroups, ...). nullopt when `target` is neither.
std::optional<purge_request> parse_purge(std::string_view method, std::string_view target);

net::awaitable<void> run_admin_session(net::ip::tcp::socket socket, admin_context ctx);

}  // namespace wcp::proxy
