#include "proxy/listener.hpp"

#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

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

net::awaitable<void> accept_loop(net::ip::tcp::acceptor& acceptor,
                                 std::function<net::io_context&()> pick,
                                 std::function<void(net::ip::tcp::socket)> on_accept) {
  for (;;) {
    auto [ec, socket] =
        co_await acceptor.async_accept(pick(), net::as_tuple(net::use_awaitable));
    if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors or similar: say so, wait a moment instead of spinning.
      spdlog::error("accept failed: {}", ec.message());
      net::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await t.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    on_accept(std::move(socket));
  }
}

}  // namespace wcp::proxy
