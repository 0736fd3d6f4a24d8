// Loopback sockets for the test servers: a free port, whether something accepts on one, and an
// acceptor listening on an ephemeral one.
#pragma once

#include <cstdint>

#include <boost/asio/ip/tcp.hpp>

namespace wcp::test {

// A port nothing listens on right now (bound and released at once).
std::uint16_t free_loopback_port();

// True when a TCP connection to 127.0.0.1:port is accepted.
bool accepts_connections(std::uint16_t port);

// Opens `acceptor` on 127.0.0.1 with an ephemeral port and listens; yields the port.
std::uint16_t listen_on_loopback(boost::asio::ip::tcp::acceptor& acceptor);

}  // namespace wcp::test
