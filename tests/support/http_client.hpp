// A small synchronous HTTP/1.1 client for tests: one-shot requests, keep-alive connections, raw
// bytes (for malformed-input tests) and HTTPS with a given CA.
//
// Every call has a deadline and throws std::runtime_error on failure or timeout, so a test can
// never hang on the network. Each http_connection owns a private io_context: use one object from
// one thread at a time; distinct objects may be used from distinct threads.
//
// Beast and Asio stay in http_client.cpp: including this header is cheap.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wcp::test {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_response {
  unsigned status = 0;
  header_list headers;  // in order, as received
  std::string body;     // empty for a response to HEAD

  // The first value of this header (case-insensitive name), "" if absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

// One request on a fresh connection to 127.0.0.1:port. A Host header is added unless given;
// Content-Length is computed unless a Content-Length or Transfer-Encoding header is given.
http_response http_request(std::uint16_t port, std::string method, std::string target, header_list headers = {},
                           std::string body = {}, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// One request over HTTPS to 127.0.0.1:port, verifying the server's certificate against the PEM CA
// file `ca_file` and the name `host` (also sent as SNI when it is a name, and as Host). Throws
// std::runtime_error if the handshake or verification fails.
http_response https_request(std::uint16_t port, const std::string& ca_file, std::string method, std::string target,
                            header_list headers = {}, std::string body = {},
                            std::chrono::milliseconds timeout = std::chrono::seconds(10),
                            const std::string& host = "localhost");

// A keep-alive connection to 127.0.0.1:port.
class http_connection {
 public:
  // Connects; throws std::runtime_error on failure.
  explicit http_connection(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~http_connection();
  http_connection(http_connection&&) noexcept;
  http_connection& operator=(http_connection&&) noexcept;
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  // Sends one request and reads its response (same rules as http_request).
  http_response request(std::string method, std::string target, header_list headers = {}, std::string body = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Writes bytes as they are.
  void send_raw(std::string bytes, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads one response. `head`: it answers a HEAD request (no body follows).
  http_response read_raw_response(std::chrono::milliseconds timeout = std::chrono::seconds(10), bool head = false);

  // Waits up to `timeout` for the server to close the connection; true if it did (end of stream
  // or reset). Bytes that arrive meanwhile are kept for the next read.
  bool is_closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(1));

  // The local port of this connection (to tell connections apart in server logs).
  std::uint16_t local_port() const;
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace wcp::test
