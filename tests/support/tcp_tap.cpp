#include "support/tcp_tap.hpp"

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
#include <atomic>
#include <charconv>
#include <chrono>
#include <mutex>
#include <thread>

namespace wcp::test {

namespace {

using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr auto connect_timeout = std::chrono::seconds(5);

// One accepted connection and the one it opened to the target.
struct relay {
  relay(tcp::socket c, net::io_context& ioc, std::size_t i) : client(std::move(c)), upstream(ioc), index(i) {}
  tcp::socket client;
  tcp::socket upstream;
  std::size_t index;  // into the recorded byte streams
  int half_closed = 0;

  void close() {
    close_quietly(client);
    close_quietly(upstream);
  }
  static void close_quietly(tcp::socket& s) {
    boost::system::error_code ignored;
    s.close(ignored);
  }
};

}  // namespace

struct tcp_tap::impl {
  net::io_context ioc{1};  // first: destroyed last, after everything that uses it
  tcp::acceptor acceptor{ioc};
  std::uint16_t target = 0;
  std::uint16_t port = 0;
  mutable std::mutex mu;
  std::vector<std::string> recorded;  // guarded by mu
  std::atomic<std::int64_t> delay_ms{0};
  std::thread thread;

  void record(std::size_t index, const char* data, std::size_t n) {
    std::lock_guard lock(mu);
    recorded[index].append(data, n);
  }

  // Copies `from` to `to` until `from` ends; recorded when it is the client side.
  net::awaitable<void> pump(std::shared_ptr<relay> r, tcp::socket& from, tcp::socket& to, bool client_side) {
    std::array<char, 64 * 1024> buf;
    for (;;) {
      auto [ec, n] = co_await from.async_read_some(net::buffer(buf), use_tuple);
      if (n > 0) {
        // Recorded before it is passed on: once the target has seen a byte, so has the record.
        if (client_side) record(r->index, buf.data(), n);
        if (const auto d = delay_ms.load(); !client_side && d > 0) {
          net::steady_timer hold(to.get_executor(), std::chrono::milliseconds(d));
          co_await hold.async_wait(use_tuple);
        }
        auto [wec, wn] = co_await net::async_write(to, net::buffer(buf.data(), n), use_tuple);
        if (wec) {
          r->close();
          co_return;
        }
      }
      if (ec) {
        if (ec == net::error::eof) {
          // Pass the half-close on; the relay ends when both directions have.
          boost::system::error_code ignored;
          to.shutdown(tcp::socket::shutdown_send, ignored);
          if (++r->half_closed == 2) r->close();
        } else {
          r->close();
        }
        co_return;
      }
    }
  }

  net::awaitable<void> start_relay(std::shared_ptr<relay> r) {
    net::steady_timer timer(ioc);
    timer.expires_after(connect_timeout);
    timer.async_wait([r](boost::system::error_code ec) {
      if (!ec) relay::close_quietly(r->upstream);  // the connect takes too long: give up
    });
    auto [ec] = co_await r->upstream.async_connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), target), use_tuple);
    timer.cancel();
    if (ec) {
      r->close();
      co_return;
    }
    boost::system::error_code ignored;
    r->upstream.set_option(tcp::no_delay(true), ignored);
    r->client.set_option(tcp::no_delay(true), ignored);
    net::co_spawn(ioc, pump(r, r->client, r->upstream, true), net::detached);
    net::co_spawn(ioc, pump(r, r->upstream, r->client, false), net::detached);
  }

  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec == net::error::connection_aborted) continue;
      if (ec) co_return;  // closed (or out of descriptors: the test will see no relay)
      std::size_t index;
      {
        std::lock_guard lock(mu);
        index = recorded.size();
        recorded.emplace_back();
      }
      net::co_spawn(ioc, start_relay(std::make_shared<relay>(std::move(socket), ioc, index)), net::detached);
    }
  }
};

tcp_tap::tcp_tap(std::uint16_t target_port) : impl_(std::make_unique<impl>()) {
  impl_->target = target_port;
  impl_->port = listen_on_loopback(impl_->acceptor);
  net::co_spawn(impl_->ioc, impl_->accept_loop(), net::detached);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

tcp_tap::~tcp_tap() {
  impl_->ioc.stop();
  impl_->thread.join();
  // The io_context's destructor (last member) destroys the relays still in flight, closing them.
}

std::uint16_t tcp_tap::port() const { return impl_->port; }

std::vector<std::string> tcp_tap::client_bytes() const {
  std::lock_guard lock(impl_->mu);
  return impl_->recorded;
}

std::size_t tcp_tap::connections_accepted() const {
  std::lock_guard lock(impl_->mu);
  return impl_->recorded.size();
}

void tcp_tap::delay_answers(std::chrono::milliseconds d) { impl_->delay_ms.store(d.count()); }

// ---- strict_parse_requests ------------------------------------------------------------------

namespace {

bool is_tchar(char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}


}  // namespace

std::string excerpt(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (u < 0x20 || u >= 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else out += c;
  }
  if (s.size() > max) out += "...";
  return out;
}

strict_parse_result strict_parse_requests(std::string_view bytes) {
  strict_parse_result out;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const std::string_view rest = bytes.substr(pos);
    auto fail = [&](std::string why) {
      out.error = "request " + std::to_string(out.requests.size() + 1) + " (at byte " + std::to_string(pos) +
                  "): " + why + " in: " + excerpt(rest);
      return out;
    };
    const auto end = rest.find("\r\n\r\n");
    if (end == std::string_view::npos) return fail("left over bytes without a whole head");
    const std::string_view head = rest.substr(0, end + 2);  // every line with its CRLF

    for (std::size_t i = 0; i < head.size(); ++i) {
      const char c = head[i];
      const auto u = static_cast<unsigned char>(c);
      if (c == '\r') {
        if (i + 1 >= head.size() || head[i + 1] != '\n') return fail("a bare CR");
      } else if (c == '\n') {
        if (i == 0 || head[i - 1] != '\r') return fail("a bare LF");
      } else if ((u < 0x20 && c != '\t') || u == 0x7f) {
        return fail("a control character (" + std::to_string(u) + ") in the head");
      }
    }

    std::vector<std::string_view> lines;
    for (std::size_t at = 0; at < head.size();) {
      const auto eol = head.find("\r\n", at);
      lines.push_back(head.substr(at, eol - at));
      at = eol + 2;
    }

    strict_request req;
    // The request line: method SP target SP HTTP/1.x
    {
      const std::string_view line = lines.front();
      std::size_t i = 0;
      while (i < line.size() && is_tchar(line[i])) ++i;
      if (i == 0 || i == line.size() || line[i] != ' ') return fail("a bad method in the request line");
      req.method = line.substr(0, i);
      const std::size_t t = ++i;
      while (i < line.size() && static_cast<unsigned char>(line[i]) > 0x20 && line[i] != 0x7f) ++i;
      if (i == t || i == line.size() || line[i] != ' ') return fail("a bad target in the request line");
      req.target = line.substr(t, i - t);
      req.version = line.substr(i + 1);
      if (req.version != "HTTP/1.1" && req.version != "HTTP/1.0") return fail("a bad version in the request line");
    }

    std::size_t lengths = 0;
    std::size_t length = 0;
    for (std::size_t l = 1; l < lines.size(); ++l) {
      const std::string_view line = lines[l];
      if (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
        return fail("a line starting with whitespace (obsolete folding)");
      std::size_t i = 0;
      while (i < line.size() && is_tchar(line[i])) ++i;
      if (i == 0 || i == line.size() || line[i] != ':')
        return fail("a header line that is not token \":\" value");
      const std::string_view name = line.substr(0, i);
      std::string_view value = line.substr(i + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      if (iequals(name, "transfer-encoding")) return fail("a Transfer-Encoding header");
      if (iequals(name, "content-length")) {
        if (++lengths > 1) return fail("more than one Content-Length");
        if (value.empty() || value.find_first_not_of("0123456789") != std::string_view::npos)
          return fail("a Content-Length that is not all digits");
        const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
        if (ec != std::errc()) return fail("a Content-Length out of range");
      }
      req.headers.emplace_back(std::string(name), std::string(value));
    }

    const std::size_t body_at = end + 4;
    if (length > rest.size() - body_at)
      return fail("a body shorter than its Content-Length (" + std::to_string(rest.size() - body_at) + " of " +
                  std::to_string(length) + " bytes)");
    req.body = rest.substr(body_at, length);
    out.requests.push_back(std::move(req));
    pos += body_at + length;
  }
  return out;
}

}  // namespace wcp::test
