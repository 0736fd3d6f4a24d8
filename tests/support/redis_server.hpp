// A real redis-server for tests: on a free loopback port, persisting nothing, with helpers to
// stop, kill, pause and restart it (on the same port) and to run redis-cli against it. The
// destructor kills it, so a failing test cannot leave it behind.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace wcp::test {

class redis_server {
 public:
  // `extra_args` are appended to the command line, e.g. {"--requirepass", "secret"}.
  // Throws std::runtime_error when the server does not come up.
  explicit redis_server(std::vector<std::string> extra_args = {});
  ~redis_server();
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  // redis://127.0.0.1:PORT (no password, db 0).
  std::string url() const;

  void stop();     // SIGTERM, then waits for the exit
  void kill();     // SIGKILL, then waits for the exit
  void restart();  // stops it if running, then starts it again on the same port
  void pause();    // SIGSTOP: connections stay open, nothing is answered
  void resume();   // SIGCONT
  bool running();

  // Runs `redis-cli -p PORT [-a PASSWORD] args...` and returns its output (stdout and stderr)
  // without the final newline. Replies are printed raw: a nil is an empty line.
  std::string cli(std::vector<std::string> args,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  bool launch();  // starts and waits until it answers PING; false when it exits first

  std::vector<std::string> extra_args_;
  std::string password_;  // from --requirepass, for cli()
  std::string dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<process> proc_;
};

}  // namespace wcp::test
