// The upstream client: keep-alive connections to the Webex API (HTTP or HTTPS), pooled per worker
// thread. One exchange sends a request and reads the answer, either whole (cached routes) or
// header first with the body streamed by the caller (passthrough).
//
// TLS verifies the certificate chain against the system store (or the configured CA file) and
// the host name, and sends SNI.
//
// With an egress proxy, every connection is a tunnel: TCP to the proxy, `CONNECT host:port`, and
// on a 2xx the exchange (TLS included, still verified against the upstream host) runs through it.
//
// Thread-safety: a pool belongs to one io_context run by one thread; use it only from there.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/net.hpp"
#include "proxy/upstream_url.hpp"

namespace wcp::proxy {

// An HTTP proxy that upstream connections go through (CONNECT).
struct egress_proxy {
  std::string host;  // name or address, without brackets
  std::uint16_t port = 0;
  std::string authorization;  // Proxy-Authorization value, "" = none. A secret: never logged
};

struct upstream_settings {
  upstream_url url;
  std::optional<egress_proxy> proxy;  // set: every connection is a CONNECT tunnel through it
  std::shared_ptr<ssl::context> tls;  // REQUIRES: set when url.tls
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};
  std::size_t max_idle = 32;
  std::size_t max_body = 16u << 20;
};

// Why an exchange produced no usable answer.
// rate_limited: the proxy did not send (or stopped resending) because upstream asked it to wait.
// proxy: the egress proxy refused the tunnel (any non-2xx answer to CONNECT) or answered it with
// something unreadable; nothing was sent upstream.
enum class upstream_failure { none, connect, tls, timeout, protocol, too_large, rate_limited, proxy };
std::string_view to_string(upstream_failure f) noexcept;

struct upstream_result {
  upstream_failure failure = upstream_failure::none;
  std::string detail;  // for logs: what failed
  std::chrono::milliseconds wait{0};  // rate_limited: how long until the block ends
  unsigned limit_status = 0;          // rate_limited: 429 (token) or 423 (resource)
  http::response<http::string_body> response;
  double seconds = 0;  // send to last byte
};

class upstream_connection;

// A connection whose response header has been read and whose body the caller now reads.
// Give it back with upstream_pool::release() once the body is done (or drop it).
struct upstream_stream {
  upstream_failure failure = upstream_failure::none;
  std::string detail;
  std::unique_ptr<upstream_connection> conn;
  std::unique_ptr<http::response_parser<http::buffer_body>> parser;
  double header_seconds = 0;

  upstream_stream();
  ~upstream_stream();
  upstream_stream(upstream_stream&&) noexcept;
  upstream_stream& operator=(upstream_stream&&) noexcept;

  // Reads up to `size` bytes of body into `buf`. Yields the count; 0 with !error when done.
  net::awaitable<std::size_t> read_body(char* buf, std::size_t size, beast::error_code& ec);
};

class upstream_pool {
 public:
  upstream_pool(net::any_io_executor ex, upstream_settings settings);
  ~upstream_pool();
  upstream_pool(const upstream_pool&) = delete;
  upstream_pool& operator=(const upstream_pool&) = delete;

  // `req` must carry the upstream target and every header to send; the pool sets Host.
  net::awaitable<upstream_result> fetch(http::request<http::string_body> req);
  net::awaitable<upstream_stream> open(http::request<http::string_body> req);
  // Returns a finished stream's connection to the pool when it may be reused.
  void release(upstream_stream& s);

  const upstream_settings& settings() const noexcept { return settings_; }
  std::size_t idle() const noexcept { return idle_.size(); }

 private:
  net::awaitable<std::unique_ptr<upstream_connection>> acquire(bool& reused, upstream_failure& f,
                                                               std::string& detail);
  // Asks the egress proxy for a tunnel to upstream on a connected stream. False with `f` and
  // `detail` set when it does not open one.
  net::awaitable<bool> open_tunnel(beast::tcp_stream& tcp, upstream_failure& f, std::string& detail);
  void put_back(std::unique_ptr<upstream_connection> c);

  net::any_io_executor ex_;
  upstream_settings settings_;
  std::vector<std::unique_ptr<upstream_connection>> idle_;
  std::optional<std::vector<net::ip::tcp::endpoint>> resolved_;
  std::chrono::steady_clock::time_point resolved_at_{};
};

bool is_idempotent(http::verb method) noexcept;

// The Proxy-Authorization value for `user_password` ("user:password"): "Basic " + base64.
std::string basic_proxy_authorization(std::string_view user_password);

// Fails startup with a clear exception when the CA file cannot be loaded.
std::shared_ptr<ssl::context> make_client_tls_context(const std::string& ca_file);

}  // namespace wcp::proxy
