#include "support/connect_proxy.hpp"

#include "support/loopback.hpp"

#include "net/net.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <charconv>
#include <chrono>
#include <mutex>
#include <thread>

namespace wcp::test {

namespace {

using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr auto connect_timeout = std::chrono::seconds(5);
constexpr std::size_t max_head = 64 * 1024;

// One accepted connection and, for a tunnel, the one it opened to the target.
struct tunnel {
  tunnel(tcp::socket c, net::io_context& ioc) : client(std::move(c)), target(ioc) {}
  tcp::socket client;
  tcp::socket target;
  int half_closed = 0;

  void close() {
    boost::system::error_code ignored;
    client.close(ignored);
    target.close(ignored);
  }
};

enum class behaviour { tunnel, refuse, raw, silent };

// "CONNECT 127.0.0.1:8443 HTTP/1.1\r\n..." -> 8443; 0 for anything else.
std::uint16_t loopback_target_port(const std::string& head) {
  const auto line_end = head.find("\r\n");
  const std::string line = head.substr(0, line_end);
  constexpr std::string_view method = "CONNECT ";
  if (line.compare(0, method.size(), method) != 0) return 0;
  const auto space = line.find(' ', method.size());
  if (space == std::string::npos) return 0;
  const std::string target = line.substr(method.size(), space - method.size());
  const auto colon = target.rfind(':');
  if (colon == std::string::npos) return 0;
  const std::string host = target.substr(0, colon);
  if (host != "127.0.0.1" && host != "localhost") return 0;
  unsigned port = 0;
  const char* first = target.data() + colon + 1;
  const char* last = target.data() + target.size();
  const auto [ptr, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || ptr != last || port == 0 || port > 65535) return 0;
  return static_cast<std::uint16_t>(port);
}

std::string status_answer(unsigned status) {
  std::string reason = status == 407 ? "Proxy Authentication Required"
                       : status == 403 ? "Forbidden"
                       : status == 502 ? "Bad Gateway"
                                       : "Refused";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  if (status == 407) out += "Proxy-Authenticate: Basic realm=\"test\"\r\n";
  return out + "Content-Length: 0\r\nConnection: close\r\n\r\n";
}

}  // namespace

struct connect_proxy::impl {
  net::io_context ioc{1};  // first: destroyed last, after everything that uses it
  tcp::acceptor acceptor{ioc};
  std::uint16_t port = 0;
  std::thread thread;

  mutable std::mutex mu;  // guards what follows
  std::vector<std::string> heads;
  behaviour mode = behaviour::tunnel;
  unsigned status = 0;
  std::string raw;

  net::awaitable<void> pump(std::shared_ptr<tunnel> t, tcp::socket& from, tcp::socket& to) {
    std::array<char, 64 * 1024> buf;
    for (;;) {
      auto [ec, n] = co_await from.async_read_some(net::buffer(buf), use_tuple);
      if (n > 0) {
        auto [wec, wn] = co_await net::async_write(to, net::buffer(buf.data(), n), use_tuple);
        if (wec) {
          t->close();
          co_return;
        }
      }
      if (ec) {
        if (ec == net::error::eof) {
          boost::system::error_code ignored;
          to.shutdown(tcp::socket::shutdown_send, ignored);
          if (++t->half_closed == 2) t->close();
        } else {
          t->close();
        }
        co_return;
      }
    }
  }

  // Writes `bytes`, ends the sending side, and closes once the client has: closing first could
  // reset the connection and lose what the client has not read yet.
  // REQUIRES: `t` and `bytes` outlive the call (no temporaries in a co_await expression).
  net::awaitable<void> write_and_close(tunnel& t, const std::string& bytes) {
    co_await net::async_write(t.client, net::buffer(bytes), use_tuple);
    boost::system::error_code ignored;
    t.client.shutdown(tcp::socket::shutdown_send, ignored);
    std::array<char, 4096> buf;
    for (;;) {
      auto [ec, n] = co_await t.client.async_read_some(net::buffer(buf), use_tuple);
      if (ec) break;
    }
    t.close();
  }

  net::awaitable<void> serve(std::shared_ptr<tunnel> t) {
    std::string head;
    std::array<char, 4096> buf;
    std::string early;  // bytes after the head, sent before the answer: passed on to the target
    for (;;) {
      auto [ec, n] = co_await t->client.async_read_some(net::buffer(buf), use_tuple);
      if (ec) {
        t->close();
        co_return;
      }
      head.append(buf.data(), n);
      if (const auto end = head.find("\r\n\r\n"); end != std::string::npos) {
        early = head.substr(end + 4);
        head.resize(end + 4);
        break;
      }
      if (head.size() > max_head) {
        t->close();
        co_return;
      }
    }
    behaviour what;
    unsigned status;
    std::string raw_answer;
    {
      std::lock_guard lock(mu);
      heads.push_back(head);
      what = mode;
      status = this->status;
      raw_answer = raw;
    }

    if (what == behaviour::refuse) {
      const std::string answer = status_answer(status);
      co_await write_and_close(*t, answer);
      co_return;
    }
    if (what == behaviour::raw) {
      co_await write_and_close(*t, raw_answer);
      co_return;
    }
    if (what == behaviour::silent) {
      for (;;) {  // until the client gives up
        auto [ec, n] = co_await t->client.async_read_some(net::buffer(buf), use_tuple);
        if (ec) break;
      }
      t->close();
      co_return;
    }

    const auto target_port = loopback_target_port(head);
    if (target_port == 0) {
      const std::string answer = status_answer(403);
      co_await write_and_close(*t, answer);
      co_return;
    }
    net::steady_timer timer(ioc);
    timer.expires_after(connect_timeout);
    timer.async_wait([t](boost::system::error_code ec) {
      boost::system::error_code ignored;
      if (!ec) t->target.close(ignored);  // the connect takes too long: give up
    });
    const tcp::endpoint target(net::ip::make_address("127.0.0.1"), target_port);
    auto [cec] = co_await t->target.async_connect(target, use_tuple);
    timer.cancel();
    if (cec) {
      const std::string answer = status_answer(502);
      co_await write_and_close(*t, answer);
      co_return;
    }
    static constexpr std::string_view established = "HTTP/1.1 200 Connection established\r\n\r\n";
    auto [wec, wn] = co_await net::async_write(t->client, net::buffer(established), use_tuple);
    if (!wec && !early.empty()) {
      auto [eec, en] = co_await net::async_write(t->target, net::buffer(early), use_tuple);
      wec = eec;
    }
    if (wec) {
      t->close();
      co_return;
    }
    boost::system::error_code ignored;
    t->client.set_option(tcp::no_delay(true), ignored);
    t->target.set_option(tcp::no_delay(true), ignored);
    net::co_spawn(ioc, pump(t, t->client, t->target), net::detached);
    net::co_spawn(ioc, pump(t, t->target, t->client), net::detached);
  }

  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec == net::error::connection_aborted) continue;
      if (ec) co_return;
      net::co_spawn(ioc, serve(std::make_shared<tunnel>(std::move(socket), ioc)), net::detached);
    }
  }
};

connect_proxy::connect_proxy() : impl_(std::make_unique<impl>()) {
  impl_->port = listen_on_loopback(impl_->acceptor);
  net::co_spawn(impl_->ioc, impl_->accept_loop(), net::detached);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

connect_proxy::~connect_proxy() {
  impl_->ioc.stop();
  impl_->thread.join();
  // The io_context's destructor (last member) destroys the tunnels still in flight, closing them.
}

std::uint16_t connect_proxy::port() const { return impl_->port; }

std::string connect_proxy::url() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }

void connect_proxy::open_tunnels() {
  std::lock_guard lock(impl_->mu);
  impl_->mode = behaviour::tunnel;
}

void connect_proxy::refuse(unsigned status) {
  std::lock_guard lock(impl_->mu);
  impl_->mode = behaviour::refuse;
  impl_->status = status;
}

void connect_proxy::answer_raw(std::string bytes) {
  std::lock_guard lock(impl_->mu);
  impl_->mode = behaviour::raw;
  impl_->raw = std::move(bytes);
}

void connect_proxy::stay_silent() {
  std::lock_guard lock(impl_->mu);
  impl_->mode = behaviour::silent;
}

std::vector<std::string> connect_proxy::heads() const {
  std::lock_guard lock(impl_->mu);
  return impl_->heads;
}

std::size_t connect_proxy::connections_seen() const {
  std::lock_guard lock(impl_->mu);
  return impl_->heads.size();
}

}  // namespace wcp::test
