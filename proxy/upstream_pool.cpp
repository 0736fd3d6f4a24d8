#include "proxy/upstream_pool.hpp"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/evp.h>
#include <openssl/ssl.h>

namespace wcp::proxy {

namespace {

// The request's head as it goes on the wire: the start line and the fields as they are (the
// caller has framed the message: Host, Content-Length, Connection), written by hand into one
// string. Beast's serializer would do the same at several times the cost on every miss.
std::string request_head(const http::request<http::string_body>& req) {
  std::size_t size = req.method_string().size() + req.target().size() + 16;
  for (const auto& f : req) size += f.name_string().size() + f.value().size() + 4;
  std::string out;
  out.reserve(size);
  out.append(req.method_string()).append(" ").append(req.target()).append(" HTTP/");
  out += static_cast<char>('0' + req.version() / 10);
  out += '.';
  out += static_cast<char>('0' + req.version() % 10);
  out.append("\r\n");
  for (const auto& f : req) out.append(f.name_string()).append(": ").append(f.value()).append("\r\n");
  out.append("\r\n");
  return out;
}

using steady = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
// Longer than this idle, a pooled connection is likely closed by upstream; do not risk it.
constexpr auto max_idle_age = std::chrono::seconds(15);
constexpr auto resolve_ttl = std::chrono::seconds(60);
constexpr std::uint32_t upstream_header_limit = 64 * 1024;
// An egress proxy's answer to CONNECT is a status line and a few headers.
constexpr std::size_t proxy_answer_limit = 8 * 1024;

double since(steady::time_point t) {
  return std::chrono::duration<double>(steady::now() - t).count();
}

upstream_failure classify(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return upstream_failure::timeout;
  if (ec == http::error::body_limit || ec == http::error::header_limit)
    return upstream_failure::too_large;
  return upstream_failure::protocol;
}

// An interim answer is read past; 101 (the proxy never asks to switch protocols) and an endless
// run of interim answers are protocol errors.
beast::error_code check_interim(unsigned status, int seen) {
  if (status == 101 || (status < 200 && seen >= 8)) return http::error::bad_status;
  return {};
}

// host:port as a CONNECT target and its Host header: an IPv6 address in brackets.
std::string authority(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// A failure on a reused connection before any answer: upstream closed it while it sat idle.
bool is_stale_connection_error(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::ssl::error::stream_truncated;
}

}  // namespace

std::string_view to_string(upstream_failure f) noexcept {
  switch (f) {
    case upstream_failure::none: return "none";
    case upstream_failure::connect: return "connect";
    case upstream_failure::tls: return "tls";
    case upstream_failure::timeout: return "timeout";
    case upstream_failure::protocol: return "protocol";
    case upstream_failure::too_large: return "too_large";
    case upstream_failure::rate_limited: return "rate_limited";
    case upstream_failure::proxy: return "proxy";
  }
  return "unknown";
}

bool is_idempotent(http::verb m) noexcept {
  switch (m) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::put:
    case http::verb::delete_:
    case http::verb::options:
    case http::verb::trace: return true;
    default: return false;
  }
}

class upstream_connection {
 public:
  using tls_stream = net::ssl::stream<beast::tcp_stream>;

  std::unique_ptr<beast::tcp_stream> tcp;
  std::unique_ptr<tls_stream> tls;
  beast::flat_buffer buffer;
  steady::time_point last_used = steady::now();

  beast::tcp_stream& lowest() { return tls ? tls->next_layer() : *tcp; }

  // Calls f(stream) with whichever stream this connection has; f returns an awaitable.
  template <class F>
  auto visit(F&& f) {
    return tls ? f(*tls) : f(*tcp);
  }

  // Whether upstream has closed this idle connection (or sent something it should not have).
  bool peer_closed() {
    char b;
    const ssize_t n = ::recv(lowest().socket().native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
    return !tls;  // on TLS, pending bytes may be a session ticket
  }
};

upstream_stream::upstream_stream() = default;
upstream_stream::~upstream_stream() = default;
upstream_stream::upstream_stream(upstream_stream&&) noexcept = default;
upstream_stream& upstream_stream::operator=(upstream_stream&&) noexcept = default;

net::awaitable<std::size_t> upstream_stream::read_body(char* buf, std::size_t size,
                                                       beast::error_code& ec) {
  ec = {};
  if (!parser || parser->is_done()) co_return 0;
  parser->get().body().data = buf;
  parser->get().body().size = size;
  auto [e, n] = co_await conn->visit([&](auto& s) {
    return http::async_read_some(s, conn->buffer, *parser, use_tuple);
  });
  if (e == http::error::need_buffer) e = {};
  ec = e;
  co_return size - parser->get().body().size;
}

upstream_pool::upstream_pool(net::any_io_executor ex, upstream_settings settings)
    : ex_(std::move(ex)), settings_(std::move(settings)) {}

upstream_pool::~upstream_pool() = default;

void upstream_pool::put_back(std::unique_ptr<upstream_connection> c) {
  if (idle_.size() >= settings_.max_idle) return;
  c->last_used = steady::now();
  idle_.push_back(std::move(c));
}

void upstream_pool::release(upstream_stream& s) {
  if (s.conn && s.parser && s.parser->is_done() && s.parser->get().keep_alive() &&
      s.conn->buffer.size() == 0)
    put_back(std::move(s.conn));
  s.conn.reset();
}

net::awaitable<std::unique_ptr<upstream_connection>> upstream_pool::acquire(
    bool& reused, upstream_failure& failure, std::string& detail) {
  while (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    if (steady::now() - c->last_used > max_idle_age || c->peer_closed()) continue;
    reused = true;
    co_return c;
  }
  reused = false;

  const auto& url = settings_.url;
  // With an egress proxy, TCP goes to the proxy; the upstream name is resolved by the proxy.
  const auto& proxy = settings_.proxy;
  const std::string& tcp_host = proxy ? proxy->host : url.host;
  const std::uint16_t tcp_port = proxy ? proxy->port : url.port;
  const std::string tcp_peer = (proxy ? "proxy " : "") + authority(tcp_host, tcp_port);
  if (!resolved_ || steady::now() - resolved_at_ > resolve_ttl) {
    net::ip::tcp::resolver resolver(ex_);
    const std::string service = std::to_string(tcp_port);
    auto [ec, results] = co_await resolver.async_resolve(tcp_host, service, use_tuple);
    if (ec) {
      failure = upstream_failure::connect;
      detail = "resolving " + (proxy ? "proxy " + tcp_host : tcp_host) + ": " + ec.message();
      co_return nullptr;
    }
    resolved_.emplace();
    for (const auto& r : results) resolved_->push_back(r.endpoint());
    resolved_at_ = steady::now();
  }

  auto c = std::make_unique<upstream_connection>();
  beast::tcp_stream* tcp = nullptr;
  if (url.tls) {
    c->tls = std::make_unique<upstream_connection::tls_stream>(ex_, *settings_.tls);
    tcp = &c->tls->next_layer();
  } else {
    c->tcp = std::make_unique<beast::tcp_stream>(ex_);
    tcp = c->tcp.get();
  }
  tcp->expires_after(settings_.connect_timeout);
  auto [ec, ep] = co_await tcp->async_connect(*resolved_, use_tuple);
  if (ec) {
    failure = ec == beast::error::timeout ? upstream_failure::timeout : upstream_failure::connect;
    detail = "connecting to " + tcp_peer + ": " + ec.message();
    resolved_.reset();  // resolve again next time: the address may have moved
    co_return nullptr;
  }
  tcp->socket().set_option(net::ip::tcp::no_delay(true));
  if (proxy) {
    // Under the same deadline as the connect and the handshake (--connect-timeout).
    const bool tunnel = co_await open_tunnel(*tcp, failure, detail);
    if (!tunnel) co_return nullptr;
  }

  if (url.tls) {
    beast::error_code address_ec;
    net::ip::make_address(url.host, address_ec);
    if (address_ec &&  // SNI carries names only
        !SSL_set_tlsext_host_name(c->tls->native_handle(), url.host.c_str())) {
      failure = upstream_failure::tls;
      detail = "setting TLS server name";
      co_return nullptr;
    }
    c->tls->set_verify_mode(ssl::verify_peer);
    c->tls->set_verify_callback(ssl::host_name_verification(url.host));
    auto [hec] = co_await c->tls->async_handshake(ssl::stream_base::client, use_tuple);
    if (hec) {
      failure = hec == beast::error::timeout ? upstream_failure::timeout : upstream_failure::tls;
      detail = "TLS handshake with " + url.host + ": " + hec.message();
      co_return nullptr;
    }
  }
  tcp->expires_never();
  co_return c;
}

net::awaitable<bool> upstream_pool::open_tunnel(beast::tcp_stream& tcp, upstream_failure& failure,
                                                std::string& detail) {
  const auto& proxy = *settings_.proxy;
  const auto& url = settings_.url;
  const std::string target = authority(url.host, url.port);
  const std::string where = "proxy " + authority(proxy.host, proxy.port);
  std::string request = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
  if (!proxy.authorization.empty()) request += "Proxy-Authorization: " + proxy.authorization + "\r\n";
  request += "\r\n";
  auto [wec, wn] = co_await net::async_write(tcp, net::buffer(request), use_tuple);
  if (wec) {
    failure = wec == beast::error::timeout ? upstream_failure::timeout : upstream_failure::connect;
    detail = "sending CONNECT " + target + " to " + where + ": " + wec.message();
    co_return false;
  }

  // Never past the blank line: what follows it is upstream's (the TLS handshake) and must stay in
  // the socket for the stream that reads it next. Each read asks for at most the bytes that
  // cannot reach beyond a blank line the head may be about to end with.
  std::string head;
  const auto ends_with = [&head](std::string_view tail) {
    return head.size() >= tail.size() && head.compare(head.size() - tail.size(), tail.size(), tail) == 0;
  };
  while (!ends_with("\r\n\r\n")) {
    if (head.size() >= proxy_answer_limit) {
      failure = upstream_failure::proxy;
      detail = where + " answered CONNECT " + target + " with a head over " +
               std::to_string(proxy_answer_limit) + " bytes";
      co_return false;
    }
    const std::size_t want = ends_with("\r\n\r") ? 1 : ends_with("\r\n") ? 2 : ends_with("\r") ? 3 : 4;
    char chunk[4];
    auto [rec, rn] = co_await tcp.async_read_some(net::buffer(chunk, want), use_tuple);
    head.append(chunk, rn);
    if (rec) {
      failure = rec == beast::error::timeout ? upstream_failure::timeout : upstream_failure::proxy;
      detail = where + " did not answer CONNECT " + target + ": " + rec.message();
      co_return false;
    }
    // Not HTTP at all (a TLS or SOCKS port, say): no need to wait for a blank line.
    if (head.size() >= 5 && head.compare(0, 5, "HTTP/") != 0) {
      failure = upstream_failure::proxy;
      detail = where + " answered CONNECT " + target + " with something other than HTTP";
      co_return false;
    }
  }

  http::response_parser<http::empty_body> parser;
  parser.eager(false);
  beast::error_code pec;
  parser.put(net::buffer(head), pec);
  if (pec || !parser.is_header_done()) {
    failure = upstream_failure::proxy;
    detail = where + " answered CONNECT " + target + " with an unreadable head (" +
             (pec ? pec.message() : std::string("incomplete")) + ")";
    co_return false;
  }
  // Any 2xx opens the tunnel (RFC 9110, 9.3.6). The proxy's own reason phrase is not logged.
  const unsigned status = parser.get().result_int();
  if (status / 100 != 2) {
    failure = upstream_failure::proxy;
    detail = where + " refused CONNECT " + target + ": " + std::to_string(status) + " " +
             std::string(http::obsolete_reason(http::int_to_status(status)));
    if (status == 407)
      detail += proxy.authorization.empty() ? " (no --upstream-proxy-credentials-file given)"
                                            : " (check --upstream-proxy-credentials-file)";
    co_return false;
  }
  co_return true;
}

net::awaitable<upstream_result> upstream_pool::fetch(http::request<http::string_body> req) {
  upstream_result r;
  const auto start = steady::now();
  req.set(http::field::host, settings_.url.host_header);
  const std::string head_text = request_head(req);
  const bool head = req.method() == http::verb::head;

  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    auto conn = co_await acquire(reused, r.failure, r.detail);
    if (!conn) break;
    conn->lowest().expires_after(settings_.request_timeout);
    std::optional<http::response_parser<http::string_body>> parser;

    const std::array<net::const_buffer, 2> wire{net::buffer(head_text), net::buffer(req.body())};
    auto [wec, wn] = co_await conn->visit(
        [&](auto& s) { return net::async_write(s, wire, use_tuple); });
    beast::error_code ec = wec;
    // Interim answers (1xx: 100 Continue, 103 Early Hints) are read past: the final answer is
    // the one that counts. Each message needs a parser of its own.
    for (int interim = 0; !ec; ++interim) {
      parser.emplace();
      parser->header_limit(upstream_header_limit);
      parser->body_limit(settings_.max_body);
      if (head) parser->skip(true);
      auto [hec, hn] = co_await conn->visit(
          [&](auto& s) { return http::async_read_header(s, conn->buffer, *parser, use_tuple); });
      ec = hec;
      if (ec) break;
      ec = check_interim(parser->get().result_int(), interim);
      if (ec || parser->get().result_int() >= 200) break;
    }
    if (!ec && !parser->is_done()) {
      auto [rec, rn] = co_await conn->visit(
          [&](auto& s) { return http::async_read(s, conn->buffer, *parser, use_tuple); });
      ec = rec;
    }
    if (ec) {
      if (reused && attempt == 0 && !(parser && parser->got_some()) &&
          is_stale_connection_error(ec) && is_idempotent(req.method()))
        continue;
      r.failure = classify(ec);
      r.detail = ec.message();
      break;
    }
    r.response = parser->release();
    // Bytes past the answer (a second answer nobody asked for) would be read as the next
    // request's: such a connection is never reused.
    if (r.response.keep_alive() && !r.response.need_eof() && conn->buffer.size() == 0) {
      conn->lowest().expires_never();
      put_back(std::move(conn));
    }
    break;
  }
  r.seconds = since(start);
  co_return r;
}

net::awaitable<upstream_stream> upstream_pool::open(http::request<http::string_body> req) {
  upstream_stream r;
  const auto start = steady::now();
  req.set(http::field::host, settings_.url.host_header);
  const std::string head_text = request_head(req);

  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    auto conn = co_await acquire(reused, r.failure, r.detail);
    if (!conn) break;
    conn->lowest().expires_after(settings_.request_timeout);
    std::unique_ptr<http::response_parser<http::buffer_body>> parser;

    const std::array<net::const_buffer, 2> wire{net::buffer(head_text), net::buffer(req.body())};
    auto [wec, wn] = co_await conn->visit(
        [&](auto& s) { return net::async_write(s, wire, use_tuple); });
    beast::error_code ec = wec;
    for (int interim = 0; !ec; ++interim) {  // past interim answers, as in fetch()
      parser = std::make_unique<http::response_parser<http::buffer_body>>();
      parser->header_limit(upstream_header_limit);
      parser->body_limit(std::numeric_limits<std::uint64_t>::max());
      if (req.method() == http::verb::head) parser->skip(true);
      auto [hec, hn] = co_await conn->visit(
          [&](auto& s) { return http::async_read_header(s, conn->buffer, *parser, use_tuple); });
      ec = hec;
      if (ec) break;
      ec = check_interim(parser->get().result_int(), interim);
      if (ec || parser->get().result_int() >= 200) break;
    }
    if (ec) {
      if (reused && attempt == 0 && !(parser && parser->got_some()) &&
          is_stale_connection_error(ec) && is_idempotent(req.method()))
        continue;
      r.failure = classify(ec);
      r.detail = ec.message();
      break;
    }
    r.conn = std::move(conn);
    r.parser = std::move(parser);
    break;
  }
  r.header_seconds = since(start);
  co_return r;
}

std::string basic_proxy_authorization(std::string_view user_password) {
  std::string encoded(4 * ((user_password.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                reinterpret_cast<const unsigned char*>(user_password.data()),
                                static_cast<int>(user_password.size()));
  encoded.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return "Basic " + encoded;
}

std::shared_ptr<ssl::context> make_client_tls_context(const std::string& ca_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  beast::error_code ec;
  if (ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) throw std::runtime_error("loading the system trust store: " + ec.message());
  } else {
    ctx->load_verify_file(ca_file, ec);
    if (ec) throw std::runtime_error("loading --upstream-ca " + ca_file + ": " + ec.message());
  }
  ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

}  // namespace wcp::proxy
