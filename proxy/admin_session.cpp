#include "proxy/admin_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "proxy/webex_error.hpp"

namespace wcp::proxy {

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

http::response<http::string_body> text(http::status status, unsigned version, std::string body,
                                       std::string_view type = "text/plain; charset=utf-8") {
  http::response<http::string_body> res{status, version};
  res.set(http::field::content_type, type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

}  // namespace

net::awaitable<void> run_admin_session(net::ip::tcp::socket socket, admin_context ctx) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(8192);
    parser.body_limit(4096);
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec) break;
    const auto& req = parser.get();
    const std::string_view path = std::string_view(req.target()).substr(
        0, std::string_view(req.target()).find('?'));
    const bool read = req.method() == http::verb::get || req.method() == http::verb::head;

    http::response<http::string_body> res;
    if (!read) {
      res = text(http::status::method_not_allowed, req.version(),
                 webex_error_body("Only GET is served here.", new_tracking_id()),
                 "application/json");
      res.set(http::field::allow, "GET, HEAD");
    } else if (path == "/healthz") {
      res = text(http::status::ok, req.version(), "ok\n");
    } else if (path == "/readyz") {
      const bool ready = ctx.state.listening.load() && !ctx.state.draining.load();
      std::string body = ready ? "ready\n" : (ctx.state.draining.load() ? "draining\n" : "starting\n");
      if (ctx.describe_dependencies) body += ctx.describe_dependencies();
      res = text(ready ? http::status::ok : http::status::service_unavailable, req.version(),
                 std::move(body));
    } else if (path == "/metrics") {
      res = text(http::status::ok, req.version(), ctx.metrics.render(),
                 "text/plain; version=0.0.4; charset=utf-8");
    } else {
      res = text(http::status::not_found, req.version(),
                 webex_error_body("No such admin endpoint.", new_tracking_id()),
                 "application/json");
    }
    if (req.method() == http::verb::head) {
      const auto size = res.body().size();
      res.body().clear();
      res.content_length(size);
    }
    res.keep_alive(req.keep_alive());
    stream.expires_after(std::chrono::seconds(30));
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    if (wec || !res.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace wcp::proxy
