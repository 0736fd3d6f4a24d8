#include "support/http_client.hpp"

#include "net/net.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <functional>
#include <stdexcept>

namespace wcp::test {

namespace {

using tcp = net::ip::tcp;
using clock = std::chrono::steady_clock;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool has(const header_list& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); });
}

std::chrono::milliseconds remaining(clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

[[noreturn]] void fail(std::string_view what, const beast::error_code& ec) {
  if (ec == beast::error::timeout) throw std::runtime_error(std::string(what) + ": timeout");
  throw std::runtime_error(std::string(what) + ": " + ec.message());
}

// Runs the io_context until the operations started on it have completed. The operations carry
// their own deadline (beast::tcp_stream::expires_after), so this returns in bounded time.
void run(net::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

http::request<http::string_body> make_request(const std::string& default_host, std::string method, std::string target,
                                              header_list headers, std::string body) {
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  if (!has(headers, "Host")) req.set(http::field::host, default_host);
  for (auto& [name, value] : headers) req.insert(name, value);
  req.body() = std::move(body);
  if (!has(headers, "Content-Length") && !has(headers, "Transfer-Encoding")) req.prepare_payload();
  return req;
}

template <class Stream>
void connect(net::io_context& ioc, Stream& stream, std::uint16_t port, clock::time_point deadline) {
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(remaining(deadline));
  beast::error_code ec;
  lowest.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), [&](beast::error_code e) { ec = e; });
  run(ioc);
  if (ec) fail("connect to 127.0.0.1:" + std::to_string(port), ec);
}

template <class Stream>
void write_raw(net::io_context& ioc, Stream& stream, const std::string& bytes, clock::time_point deadline) {
  beast::get_lowest_layer(stream).expires_after(remaining(deadline));
  beast::error_code ec;
  net::async_write(stream, net::buffer(bytes), [&](beast::error_code e, std::size_t) { ec = e; });
  run(ioc);
  beast::get_lowest_layer(stream).expires_never();
  if (ec) fail("write", ec);
}

template <class Stream>
void write_request(net::io_context& ioc, Stream& stream, http::request<http::string_body>& req,
                   clock::time_point deadline) {
  beast::get_lowest_layer(stream).expires_after(remaining(deadline));
  beast::error_code ec;
  http::async_write(stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
  run(ioc);
  beast::get_lowest_layer(stream).expires_never();
  if (ec) fail("write request", ec);
}

template <class Stream>
http_response read_response(net::io_context& ioc, Stream& stream, beast::flat_buffer& buffer, bool head,
                            clock::time_point deadline) {
  http::response_parser<http::string_body> parser;
  parser.header_limit(1024 * 1024);
  parser.body_limit(256 * 1024 * 1024);
  if (head) parser.skip(true);
  beast::get_lowest_layer(stream).expires_after(remaining(deadline));
  beast::error_code ec;
  http::async_read(stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
  run(ioc);
  beast::get_lowest_layer(stream).expires_never();
  if (ec) fail("read response", ec);
  const auto& res = parser.get();
  http_response out;
  out.status = res.result_int();
  for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  out.body = res.body();
  return out;
}

}  // namespace

std::string http_response::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return {};
}

bool http_response::has_header(std::string_view name) const { return has(headers, name); }

// ---- http_connection ------------------------------------------------------------------------

struct http_connection::impl {
  net::io_context ioc{1};
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  std::string host;
};

http_connection::http_connection(std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>()) {
  impl_->host = "127.0.0.1:" + std::to_string(port);
  connect(impl_->ioc, impl_->stream, port, clock::now() + timeout);
}

http_connection::~http_connection() = default;
http_connection::http_connection(http_connection&&) noexcept = default;
http_connection& http_connection::operator=(http_connection&&) noexcept = default;

http_response http_connection::request(std::string method, std::string target, header_list headers, std::string body,
                                       std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  bool head = iequals(method, "HEAD");
  auto req = make_request(impl_->host, std::move(method), std::move(target), std::move(headers), std::move(body));
  write_request(impl_->ioc, impl_->stream, req, deadline);
  return read_response(impl_->ioc, impl_->stream, impl_->buffer, head, deadline);
}

void http_connection::send_raw(std::string bytes, std::chrono::milliseconds timeout) {
  write_raw(impl_->ioc, impl_->stream, bytes, clock::now() + timeout);
}

http_response http_connection::read_raw_response(std::chrono::milliseconds timeout, bool head) {
  return read_response(impl_->ioc, impl_->stream, impl_->buffer, head, clock::now() + timeout);
}

bool http_connection::is_closed_by_peer(std::chrono::milliseconds timeout) {
  auto& socket = impl_->stream.socket();
  if (!socket.is_open()) return true;
  impl_->stream.expires_never();
  net::steady_timer timer(impl_->ioc);
  timer.expires_after(timeout);
  bool timed_out = false;
  bool closed = false;
  timer.async_wait([&](beast::error_code ec) {
    if (ec) return;
    timed_out = true;
    socket.cancel();
  });
  // Read (and keep) whatever arrives until end of stream, an error, or the timer.
  std::function<void()> read_more = [&] {
    socket.async_read_some(impl_->buffer.prepare(4096), [&](beast::error_code ec, std::size_t n) {
      impl_->buffer.commit(n);
      if (!ec) {
        read_more();
        return;
      }
      if (ec != net::error::operation_aborted || !timed_out) closed = true;
      timer.cancel();
    });
  };
  read_more();
  run(impl_->ioc);
  return closed;
}

std::uint16_t http_connection::local_port() const {
  beast::error_code ec;
  auto ep = impl_->stream.socket().local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void http_connection::close() {
  beast::error_code ec;
  impl_->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  impl_->stream.close();
}

// ---- one-shot requests ----------------------------------------------------------------------

http_response http_request(std::uint16_t port, std::string method, std::string target, header_list headers,
                           std::string body, std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  http_connection connection(port, timeout);
  return connection.request(std::move(method), std::move(target), std::move(headers), std::move(body),
                            remaining(deadline));
}

http_response https_request(std::uint16_t port, const std::string& ca_file, std::string method, std::string target,
                            header_list headers, std::string body, std::chrono::milliseconds timeout,
                            const std::string& host) {
  auto deadline = clock::now() + timeout;
  net::io_context ioc{1};
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(ca_file);
  ssl::stream<beast::tcp_stream> stream(ioc, ctx);
  stream.set_verify_mode(ssl::verify_peer);
  stream.set_verify_callback(ssl::host_name_verification(host));
  beast::error_code ec;
  net::ip::make_address(host, ec);
  if (ec && !SSL_set_tlsext_host_name(stream.native_handle(), host.c_str())) {
    throw std::runtime_error("https_request: cannot set SNI");
  }

  connect(ioc, stream, port, deadline);
  beast::get_lowest_layer(stream).expires_after(remaining(deadline));
  stream.async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
  run(ioc);
  if (ec) fail("TLS handshake", ec);

  bool head = iequals(method, "HEAD");
  if (!has(headers, "Host")) headers.emplace_back("Host", host + ":" + std::to_string(port));
  auto req = make_request(host, std::move(method), std::move(target), std::move(headers), std::move(body));
  write_request(ioc, stream, req, deadline);
  beast::flat_buffer buffer;
  auto res = read_response(ioc, stream, buffer, head, deadline);

  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
  stream.async_shutdown([](beast::error_code) {});
  run(ioc);
  return res;
}

}  // namespace wcp::test
