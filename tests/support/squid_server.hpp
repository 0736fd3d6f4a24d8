// A real Squid for tests: an HTTP proxy in the foreground (`squid -N`) on a free loopback port,
// caching nothing, that opens CONNECT tunnels — to the ports given, and with Basic
// authentication when asked — and writes its access log to a private directory the test reads.
// The destructor kills it, so a failing test cannot leave it behind.
//
// Squid writes an access-log line when a transaction ends: for a tunnel, when it closes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/process.hpp"

namespace wcp::test {

struct squid_options {
  // CONNECT is allowed to these ports only (403 to any other); empty: to any port.
  std::vector<std::uint16_t> connect_ports;
  // Set: CONNECT needs Basic credentials for this user (407 without or with wrong ones).
  std::string user;
  std::string password_hash;  // its password as crypt(3) MD5 ($1$salt$hash), as htpasswd writes it
};

class squid_server {
 public:
  // Throws std::runtime_error when squid is not installed or does not come up.
  explicit squid_server(squid_options options = {});
  ~squid_server();
  squid_server(const squid_server&) = delete;
  squid_server& operator=(const squid_server&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string url() const;  // http://127.0.0.1:PORT

  // The access log so far (one line per finished transaction).
  std::string access_log() const;
  // Waits (bounded) for an access-log line containing `needle` and returns it; throws on timeout.
  std::string wait_for_access(std::string_view needle,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  bool launch();  // starts and waits until it accepts connections; false when it exits first

  squid_options options_;
  std::string dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<process> proc_;
};

// Whether the squid binary is installed (.ci/install-deps installs it).
bool squid_installed();

}  // namespace wcp::test
