// Listening sockets and the accept loop that hands each new connection to a worker thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/net.hpp"

namespace boost::asio::ssl {
class context;
}

namespace wcp::proxy {

// Opens, binds and listens on host:port (a name is resolved; the first address that binds wins).
// Throws std::runtime_error naming the address on failure.
net::ip::tcp::acceptor bind_listener(net::io_context& ioc, const std::string& host,
                                     std::uint16_t port);

// A TLS server context for the client listener from a PEM certificate chain and its key
// (TLS 1.2 and later). Throws config::config_error naming the setting when a file does not load.
std::shared_ptr<ssl::context> make_server_tls_context(const std::string& cert_file,
                                                      const std::string& key_file);

// Accepts until the acceptor is closed. `pick` chooses the io_context that will own the new
// connection; `on_accept` starts its session there.
net::awaitable<void> accept_loop(net::ip::tcp::acceptor& acceptor,
                                 std::function<net::io_context&()> pick,
                                 std::function<void(net::ip::tcp::socket)> on_accept);

}  // namespace wcp::proxy
