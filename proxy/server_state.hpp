// State shared by the listeners, the sessions and the admin endpoints of one running daemon.
#pragma once

#include <atomic>
#include <cstddef>

namespace wcp::proxy {

struct server_state {
  std::atomic<bool> draining{false};             // SIGTERM seen: finish, accept nothing new
  std::atomic<bool> listening{false};            // both listeners bound
  std::atomic<std::size_t> connections{0};       // open client connections
  std::atomic<std::size_t> in_flight{0};         // requests being answered
};

}  // namespace wcp::proxy
