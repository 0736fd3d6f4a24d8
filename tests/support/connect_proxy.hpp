// A small recording HTTP CONNECT proxy for tests: what Squid cannot show a test (the exact
// request head it was sent, Proxy-Authorization included) and what it will not do (answer with
// garbage, an oversized head, or nothing at all).
//
// For every connection it accepts it reads the request head (up to the blank line) and records
// it; then, as configured: opens the tunnel (`CONNECT 127.0.0.1:PORT` or `localhost:PORT` only:
// answers 200 and relays bytes both ways until either side closes), refuses it with a status,
// sends some bytes and closes, or keeps the connection open without a word.
//
// It runs on its own thread with its own io_context; every public member may be called from any
// thread. The destructor closes every connection and joins the thread.
//
// Beast and Asio stay in connect_proxy.cpp: including this header is cheap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace wcp::test {

class connect_proxy {
 public:
  // Listens on an ephemeral 127.0.0.1 port before returning; opens tunnels until told otherwise.
  connect_proxy();
  ~connect_proxy();
  connect_proxy(const connect_proxy&) = delete;
  connect_proxy& operator=(const connect_proxy&) = delete;

  std::uint16_t port() const;
  std::string url() const;  // http://127.0.0.1:PORT

  // What the next connections get.
  void open_tunnels();                 // 200 and a relay to the CONNECT target
  void refuse(unsigned status);        // that status (407 with Proxy-Authenticate), then close
  void answer_raw(std::string bytes);  // these bytes as they are, then close
  void stay_silent();                  // nothing; the connection stays open until the client closes

  // Each accepted connection's request head as received (through its blank line), in accept order.
  std::vector<std::string> heads() const;
  // Connections whose request head it has read.
  std::size_t connections_seen() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace wcp::test
