// Listening sockets and the accept loop that hands each new connection to a worker thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/net.hpp"

namespace wcp::proxy {

// Opens, binds and listens on host:port (a name is resolved; the first address that binds wins).
// Throws std::runtime_error naming the address on failure.
net::ip::tcp::acceptor bind_listener(net::io_context& ioc, const std::string& host,
                                     std::uint16_t port);

// Accepts until the acceptor is closed. `pick` chooses the io_context that will own the new
// connection; `on_accept` starts its session there.
net::awaitable<void> accept_loop(net::ip::tcp::acceptor& acceptor,
                                 std::function<net::io_context&()> pick,
                                 std::function<void(net::ip::tcp::socket)> on_accept);

}  // namespace wcp::proxy
