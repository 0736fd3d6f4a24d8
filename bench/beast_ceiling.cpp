// A bare Boost.Beast HTTP/1.1 keep-alive responder: every request gets one JSON body. bench/run's
// hits part measures it beside the proxy's hits, as the ceiling for a server built on Beast (the
// proxy's hit path is this plus routing, the grant check, the store lookup and its headers).
//
//   wcp-bench-ceiling --port P --body FILE
//
// One thread, as the proxy runs in the bench. It is made as fast as a plain Beast server
// reasonably is, so that it is a bar and not a strawman: one coroutine and one flat_buffer per
// connection, Beast's parser for each request (as the proxy uses), and the answer serialised by
// Beast once at start-up and written as it is. No timeouts: nothing idles in the bench.
#include <iostream>
#include <fstream>
#include <sstream>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/program_options.hpp>

#include "net/net.hpp"

namespace po = boost::program_options;
using tcp = net::ip::tcp;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// The answer, headers and body, as Beast's serializer writes it.
std::string serialized_answer(const std::string& body, bool keep_alive) {
  http::response<http::string_body> res{http::status::ok, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  std::ostringstream out;
  out << res;
  return out.str();
}

struct answers {
  std::string keep_alive;
  std::string close;
};

net::awaitable<void> serve(tcp::socket socket, const answers& a) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::empty_body> parser;
    auto [ec, n] = co_await http::async_read(socket, buffer, parser, use_tuple);
    if (ec) break;
    const bool keep_alive = parser.get().keep_alive();
    const std::string& answer = keep_alive ? a.keep_alive : a.close;
    auto [wec, wn] = co_await net::async_write(socket, net::buffer(answer), use_tuple);
    if (wec || !keep_alive) break;
  }
  beast::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor, const answers& a) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec) continue;
    socket.set_option(tcp::no_delay(true), ec);
    net::co_spawn(acceptor.get_executor(), serve(std::move(socket), a), net::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description opts("wcp-bench-ceiling");
  opts.add_options()
      ("port", po::value<unsigned short>()->required(), "listen on 127.0.0.1:PORT")
      ("body", po::value<std::string>()->required(), "the JSON body of every answer");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
    std::ifstream in(vm["body"].as<std::string>(), std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + vm["body"].as<std::string>());
    std::ostringstream body;
    body << in.rdbuf();
    const answers a{serialized_answer(body.str(), true), serialized_answer(body.str(), false)};

    net::io_context ioc{1};
    tcp::acceptor acceptor(ioc);
    const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), vm["port"].as<unsigned short>());
    acceptor.open(ep.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(net::socket_base::max_listen_connections);
    net::co_spawn(ioc, accept_loop(acceptor, a), net::detached);
    ioc.run();
  } catch (const std::exception& e) {
    std::cerr << argv[0] << ": " << e.what() << "\n" << opts;
    return 2;
  }
}
