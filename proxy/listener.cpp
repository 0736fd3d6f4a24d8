#include "proxy/listener.hpp"

#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "config/config.hpp"
#include "proxy/log.hpp"

namespace wcp::proxy {

net::ip::tcp::acceptor bind_listener(net::io_context& ioc, const std::string& host,
                                     std::uint16_t port) {
  net::ip::tcp::resolver resolver(ioc);
  boost::system::error_code ec;
  auto results = resolver.resolve(host, std::to_string(port),
                                  net::ip::resolver_base::passive, ec);
  if (ec) throw std::runtime_error("cannot resolve " + host + ": " + ec.message());
  std::string last_error = "no address";
  for (const auto& r : results) {
    net::ip::tcp::acceptor acceptor(ioc);
    acceptor.open(r.endpoint().protocol(), ec);
    if (ec) { last_error = ec.message(); continue; }
    acceptor.set_option(net::socket_base::reuse_address(true), ec);
    acceptor.bind(r.endpoint(), ec);
    if (ec) { last_error = ec.message(); continue; }
    acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) { last_error = ec.message(); continue; }
    return acceptor;
  }
  throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                           last_error);
}

std::shared_ptr<ssl::context> make_server_tls_context(const std::string& cert_file,
                                                      const std::string& key_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(cert_file, ec);
  if (ec)
    throw config::config_error("--tls-cert: cannot load a PEM certificate from " + cert_file +
                               ": " + ec.message());
  ctx->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec)
    throw config::config_error("--tls-key: cannot load a PEM private key from " + key_file +
                               ": " + ec.message());
  // A key that does not belong to the certificate would fail every handshake: refuse to start.
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    throw config::config_error("--tls-key: " + key_file + " is not the key of " + cert_file);
  return ctx;
}

net::awaitable<void> accept_loop(net::ip::tcp::acceptor& acceptor,
                                 std::function<net::io_context&()> pick,
                                 std::function<void(net::ip::tcp::socket)> on_accept) {
  for (;;) {
    auto [ec, socket] =
        co_await acceptor.async_accept(pick(), net::as_tuple(net::use_awaitable));
    if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors or similar: say so, wait a moment instead of spinning.
      log::error("accept failed", {{"error", ec.message()}});
      net::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await t.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    on_accept(std::move(socket));
  }
}

}  // namespace wcp::proxy
