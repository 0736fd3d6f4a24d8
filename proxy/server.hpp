// The running daemon: worker threads (one io_context each, so a connection's handlers never run
// concurrently and the per-thread upstream pool needs no lock), the client and admin listeners,
// signals (SIGTERM/SIGINT drain, SIGHUP reload) and the shared cache.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "config/config.hpp"

namespace wcp::proxy {

class server {
 public:
  // `reload` re-reads settings for SIGHUP; nullopt (after logging why) keeps the current ones.
  server(config::config cfg, std::function<std::optional<config::config>()> reload);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds both listeners. Throws std::runtime_error with a one-line reason.
  void start();
  // Serves until SIGTERM/SIGINT, drains, and returns the exit code.
  int run();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace wcp::proxy
