// A raw-TCP relay for tests, and a strict reader of the request bytes it records.
//
// tcp_tap listens on an ephemeral 127.0.0.1 port; for every connection it accepts it opens one to
// 127.0.0.1:<target port> and copies bytes both ways, unchanged, until either side closes. It
// records every byte the accepted (client) side sent toward the target, one string per
// connection, so a test can check exactly what a proxy put on the wire to its upstream.
//
// It runs on its own thread with its own io_context; every public member may be called from any
// thread. The destructor closes every connection and joins the thread.
//
// Beast and Asio stay in tcp_tap.cpp: including this header is cheap.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wcp::test {

class tcp_tap {
 public:
  // Listens before returning; throws std::exception if it cannot.
  explicit tcp_tap(std::uint16_t target_port);
  ~tcp_tap();
  tcp_tap(const tcp_tap&) = delete;
  tcp_tap& operator=(const tcp_tap&) = delete;

  std::uint16_t port() const;
  // Every byte each accepted connection has sent toward the target so far, in accept order
  // (a snapshot).
  std::vector<std::string> client_bytes() const;
  std::size_t connections_accepted() const;
  // From now on, every piece of what the target sends is held this long before it is passed on
  // (a slow server, as its clients see it). Zero: passed on at once.
  void delay_answers(std::chrono::milliseconds d);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// One request as read by strict_parse_requests.
struct strict_request {
  std::string method;
  std::string target;
  std::string version;  // "HTTP/1.1"
  std::vector<std::pair<std::string, std::string>> headers;  // in order; values without OWS
  std::string body;
};

struct strict_parse_result {
  std::vector<strict_request> requests;  // the requests read before any error
  std::string error;                     // empty: the bytes were whole, well-framed requests
};

// Reads `bytes` as a sequence of HTTP/1.1 requests, as a careful upstream must be able to read
// what a proxy sends it without any guesswork:
//  - a head ends at the first CRLF CRLF; every line of it ends in CRLF (no bare LF or CR);
//  - the request line is `method SP target SP HTTP/1.x`;
//  - no control character but HTAB in the head; no line starts with SP or HTAB (no folding);
//  - every header line is `token ":" value`: no whitespace before the colon;
//  - no Transfer-Encoding (any case); at most one Content-Length, all digits;
//  - the body is exactly Content-Length bytes (none without one), then the next request starts;
//  - nothing is left over after the last request.
strict_parse_result strict_parse_requests(std::string_view bytes);

// At most `max` bytes of `s` as printable text (CR, LF, tab and other control or non-ASCII bytes
// escaped), "..." when cut: for test messages.
std::string excerpt(std::string_view s, std::size_t max = 120);

}  // namespace wcp::test
