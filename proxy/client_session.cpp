#include "proxy/client_session.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "proxy/http_rules.hpp"
#include "proxy/log.hpp"
#include "proxy/router.hpp"
#include "proxy/webex_error.hpp"

namespace wcp::proxy {

namespace {

// Every Link field moved to where this client reaches the proxy (the fields keep their order
// among themselves; they go after the others).
void rewrite_links(http::fields& f, const session_context& ctx,
                   const http::request<http::string_body>& req) {
  if (!ctx.links || f.count(http::field::link) == 0) return;
  const auto to = ctx.links->destination(ctx.tls != nullptr, req[http::field::host]);
  if (!to) return;
  std::vector<std::string> values;
  const auto [first, last] = f.equal_range(http::field::link);
  for (auto it = first; it != last; ++it) values.push_back(ctx.links->rewrite(it->value(), *to));
  f.erase(http::field::link);
  for (const auto& v : values) f.insert(http::field::link, v);
}

using steady = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// The session's timeouts, kept by one timer per connection instead of one per read and write.
// A deadline is a time point set before each phase (waiting for a request, reading it, writing
// an answer) and cleared while the proxy works on the answer; setting one costs a clock read.
// The timer wakes no later than the deadline, and otherwise at most once per `horizon` (the
// shortest timeout): every deadline set after it was armed lies at or after its expiry, so it is
// re-armed only when it wakes. Past its deadline, it closes the socket, as Beast's stream timeout
// does: the pending read or write fails, and fired() tells the session why.
class watchdog {
 public:
  watchdog(beast::tcp_stream& tcp, std::chrono::milliseconds horizon)
      : state_(std::make_shared<state>(tcp, std::max(horizon, std::chrono::milliseconds(1)))) {}
  ~watchdog() {
    state_->tcp = nullptr;
    state_->timer.cancel();
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

  void expires_after(std::chrono::milliseconds d) {
    const auto now = steady::now();
    state_->deadline = now + d;
    // Only a deadline before the timer's expiry (a timeout shortened by a reload) re-arms it.
    if (!state_->armed || state_->deadline < state_->timer.expiry()) {
      state_->armed = true;
      state_->timer.expires_at(std::min(state_->deadline, now + state_->horizon));
      wait(state_);
    }
  }
  void expires_never() { state_->deadline = steady::time_point::max(); }
  bool fired() const { return state_->fired; }

 private:
  struct state {
    state(beast::tcp_stream& s, std::chrono::milliseconds h)
        : tcp(&s), timer(s.get_executor()), horizon(h) {}
    beast::tcp_stream* tcp;  // null once the session has ended
    net::steady_timer timer;
    std::chrono::milliseconds horizon;
    steady::time_point deadline = steady::time_point::max();
    bool armed = false;
    bool fired = false;
  };

  static void wait(std::shared_ptr<state> st) {
    auto& timer = st->timer;
    timer.async_wait([st = std::move(st)](beast::error_code ec) mutable {
      // Cancelled: re-armed (a newer wait is pending) or the session ended.
      if (ec == net::error::operation_aborted || !st->tcp || st->fired) return;
      const auto now = steady::now();
      if (now >= st->deadline) {
        st->fired = true;
        st->tcp->close();
        return;
      }
      st->timer.expires_at(std::min(st->deadline, now + st->horizon));
      wait(std::move(st));
    });
  }

  std::shared_ptr<state> state_;
};

// Lists a session for the drain while it is open: one entry per connection, whose flag says
// whether it waits for a request (a drain closes those at once).
class registration {
 public:
  registration(session_registry& sessions, net::ip::tcp::socket* s)
      : sessions_(sessions), it_(sessions.emplace(s, false).first) {}
  ~registration() { sessions_.erase(it_); }
  registration(const registration&) = delete;
  registration& operator=(const registration&) = delete;
  void idle(bool waiting) { it_->second = waiting; }

 private:
  session_registry& sessions_;
  session_registry::iterator it_;
};

// Marks the session idle for a scope.
class idle_mark {
 public:
  explicit idle_mark(registration& r) : r_(r) { r_.idle(true); }
  ~idle_mark() { r_.idle(false); }
  idle_mark(const idle_mark&) = delete;
  idle_mark& operator=(const idle_mark&) = delete;

 private:
  registration& r_;
};

struct read_outcome {
  bool ok = false;
  bool close_quietly = false;  // peer gone, idle, or too slow: nothing to answer
  unsigned status = 0;         // else: the error to answer before closing
  std::string message;
  std::string_view reason;     // bad_requests metric label
};

read_outcome classify_read_error(const beast::error_code& ec, bool in_body) {
  read_outcome o;
  if (ec == http::error::end_of_stream || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::error::operation_aborted ||
      ec == net::error::broken_pipe) {
    o.close_quietly = true;
  } else if (ec == beast::error::timeout) {
    o.close_quietly = true;
    o.reason = "slow_client";
  } else if (ec == http::error::header_limit) {
    o.status = 431;
    o.message = "The request headers are larger than the proxy accepts.";
    o.reason = "header_too_large";
  } else if (ec == net::error::message_size) {
    o.status = 414;
    o.message = "The request line is longer than the proxy accepts.";
    o.reason = "target_too_long";
  } else if (ec == http::error::body_limit) {
    o.status = 413;
    o.message = "The request body is larger than the proxy accepts.";
    o.reason = "body_too_large";
  } else {
    o.status = 400;
    o.message = "The request is malformed: " + ec.message() + ".";
    o.reason = "malformed";
  }
  return o;
}

// Reads until the buffer holds a whole request head (CRLF CRLF), at most `limit` bytes of it.
template <class Stream>
net::awaitable<beast::error_code> read_head(Stream& stream, beast::flat_buffer& buffer,
                                            std::size_t limit) {
  for (;;) {
    const auto data = std::string_view(static_cast<const char*>(buffer.data().data()),
                                       buffer.size());
    const auto end = data.find("\r\n\r\n");
    if (end != std::string_view::npos) co_return beast::error_code{};
    // A head that ends with bare LFs is refused by the parser; let it see one.
    if (data.find("\n\n") != std::string_view::npos) co_return beast::error_code{};
    if (data.size() >= limit) {
      // Not even the request line fits: that is an over-long target.
      if (data.find("\r\n") == std::string_view::npos)
        co_return beast::error_code(net::error::message_size);
      co_return beast::error_code(http::error::header_limit);
    }
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(std::min<std::size_t>(4096, limit + 4 - data.size())), use_tuple);
    if (ec) co_return ec;
    buffer.commit(n);
  }
}

// Obsolete line folding: a line of the head that starts with a space or tab.
bool has_obs_fold(const beast::flat_buffer& buffer) {
  const auto data = std::string_view(static_cast<const char*>(buffer.data().data()),
                                     buffer.size());
  auto end = data.find("\r\n\r\n");
  const auto head = data.substr(0, end == std::string_view::npos ? data.size() : end + 2);
  for (std::size_t i = head.find('\n'); i != std::string_view::npos; i = head.find('\n', i + 1))
    if (i + 1 < head.size() && (head[i + 1] == ' ' || head[i + 1] == '\t')) return true;
  return false;
}

// A header name that reads as a framing header once '_' is taken for '-' (some servers behind a
// proxy do): `Transfer_Encoding` would frame the body for them and not for the proxy.
bool is_disguised_framing_header(std::string_view name) {
  if (name.find('_') == std::string_view::npos) return false;
  std::string n(name);
  for (auto& c : n) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n == "transfer-encoding" || n == "content-length";
}

// Framing a proxy must not pass on: a framing header's name spelled with '_', Transfer-Encoding
// on HTTP/1.0, both Content-Length and Transfer-Encoding, several Content-Lengths, or a transfer
// coding other than plain chunked.
std::optional<std::string> framing_problem(const http::request_header<>& head) {
  for (const auto& f : head)
    if (is_disguised_framing_header(f.name_string()))
      return "A header name spells a framing header with '_': " + std::string(f.name_string()) + ".";
  const auto codings = head.count(http::field::transfer_encoding);
  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means its framing is faulty.
  if (codings && head.version() < 11)
    return "An HTTP/1.0 request must not have a Transfer-Encoding.";
  const auto lengths = head.count(http::field::content_length);
  if (lengths && codings) return "The request has both Content-Length and Transfer-Encoding.";
  if (lengths > 1) return "The request has more than one Content-Length.";
  if (codings > 1) return "The request has more than one Transfer-Encoding.";
  if (codings) {
    auto te = std::string_view(head[http::field::transfer_encoding]);
    while (!te.empty() && (te.front() == ' ' || te.front() == '\t')) te.remove_prefix(1);
    while (!te.empty() && (te.back() == ' ' || te.back() == '\t')) te.remove_suffix(1);
    if (!beast::iequals(te, "chunked")) return "Only 'Transfer-Encoding: chunked' is accepted.";
  }
  return std::nullopt;
}

// A request counted as in flight (for the drain's log) for as long as it lives.
class in_flight_mark {
 public:
  explicit in_flight_mark(server_state& s) : s_(s) { s_.in_flight.fetch_add(1); }
  ~in_flight_mark() { s_.in_flight.fetch_sub(1); }
  in_flight_mark(const in_flight_mark&) = delete;
  in_flight_mark& operator=(const in_flight_mark&) = delete;

 private:
  server_state& s_;
};

// What the listener itself answers, before (or instead of) the proxy service: a request the
// HTTP rules refuse once its body is read (the connection stays usable), or `OPTIONS *`.
struct local_answer {
  unsigned status = 0;
  std::string message;
  std::string_view reason;  // bad_requests_total label; empty for OPTIONS *
  bool allow = false;       // send Allow: the methods the proxy handles
  bool close = false;       // close the connection after answering
};

// The rules a request must meet before the router sees it, in the order RFC 9112 puts them:
// Host, then the method, then the request-target's form. nullopt: hand it to the service.
// An absolute-form target is replaced by the origin-form the proxy routes by.
std::optional<local_answer> apply_request_rules(const http::request_header<>& head,
                                                std::string_view method, std::string& origin) {
  auto refused = [](const refusal& r, bool close) {
    return local_answer{r.status, r.message, r.reason, false, close};
  };
  if (auto bad = check_host(head.version(), head.count(http::field::host),
                            head[http::field::host]))
    return refused(*bad, true);

  switch (classify_method(method)) {
    case method_policy::handled: break;
    case method_policy::not_allowed:
      // CONNECT: the client may follow with tunnel bytes; close rather than read them as HTTP.
      return local_answer{405, "The " + std::string(method) + " method is not allowed.",
                          "method", true, method == "CONNECT"};
    case method_policy::unknown:
      return local_answer{501, "The method '" + std::string(method) + "' is not implemented.",
                          "method", true, false};
  }

  auto target = classify_target(head.target());
  switch (target.form) {
    case target_form::origin: return std::nullopt;
    case target_form::absolute: origin = std::move(target.origin); return std::nullopt;
    case target_form::asterisk:
      if (method == "OPTIONS") return local_answer{200, "", "", true, false};
      return local_answer{400, "'*' is a request target for OPTIONS only.", "invalid_target",
                          false, false};
    case target_form::authority:
    case target_form::invalid: break;
  }
  return local_answer{400, "The request target is not a path or an absolute http(s) URL.",
                      "invalid_target", false, false};
}

// The peer as HOST:PORT ([v6]:PORT), for the log.
std::string peer_text(const net::ip::tcp::socket& socket) {
  beast::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  if (ec) return "-";
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

std::string_view http_version_text(unsigned version) {
  switch (version) {
    case 10: return "1.0";
    case 11: return "1.1";
    default: return "?";
  }
}

// Serves requests on one connection (plain or TLS) until it ends; the caller closes it.
template <class Stream>
net::awaitable<void> serve(Stream& stream, session_context& ctx, const std::string& client) {
  auto& tcp_stream = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  const auto& lim = ctx.limits;
  // The stream's own per-operation timer stays off: the watchdog keeps the deadlines.
  tcp_stream.expires_never();
  watchdog timeouts(tcp_stream,
               std::min({lim.idle_timeout, lim.header_timeout, lim.body_timeout}));
  token_memo memo;
  const net::any_io_executor executor = stream.get_executor();
  std::string entry_head;  // reused for every answer from the cache
  registration listed(ctx.sessions, &tcp_stream.socket());

  auto refuse = [&](unsigned status, std::string_view message, unsigned version)
      -> net::awaitable<void> {
    auto res = proxy_service::error_response(status, version ? version : 11, message,
                                             new_tracking_id());
    res.set("X-Cache", "BYPASS");
    res.keep_alive(false);
    ctx.metrics.response_cell(status).inc();
    timeouts.expires_after(lim.body_timeout);
    co_await http::async_write(stream, res, use_tuple);
  };
  // A refusal the connection does not survive: counted, logged, answered. (Plain arguments: a
  // temporary with a destructor inside a co_await expression is destroyed twice by g++ 12.)
  auto refuse_and_close = [&](unsigned status, std::string_view message, std::string_view reason,
                              unsigned version) -> net::awaitable<void> {
    ctx.metrics.bad_requests.with({std::string(reason)}).inc();
    log::info("refused a request", {{"client", client}, {"reason", reason}, {"error", message}});
    co_await refuse(status, message, version);
  };

  for (;;) {
    if (ctx.state.draining.load()) break;

    // Wait for the next request's first bytes under the idle timeout.
    if (buffer.size() == 0) {
      idle_mark mark(listed);
      timeouts.expires_after(lim.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
      if (ec) break;
      buffer.commit(n);
    }

    const auto started = steady::now();
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(lim.max_header_bytes));
    parser.body_limit(lim.max_body_bytes);

    timeouts.expires_after(lim.header_timeout);
    // The whole head first, so that its raw bytes can be checked for what the parser would
    // quietly accept (obsolete line folding) or wait on for ever (a request line without a
    // version).
    beast::error_code hec = co_await read_head(stream, buffer, lim.max_header_bytes);
    if (!hec) {
      const auto raw = std::string_view(static_cast<const char*>(buffer.data().data()),
                                        buffer.size());
      if (has_obs_fold(buffer)) {
        co_await refuse_and_close(400, "The request uses obsolete line folding.", "smuggling", 11);
        break;
      }
      if (auto line = parse_request_line(raw); line.error) {
        const auto& e = *line.error;
        co_await refuse_and_close(e.status, e.message, e.reason, 11);
        break;
      }
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
      hec = ec;
    }
    if (hec) {
      auto o = classify_read_error(timeouts.fired() ? beast::error::timeout : hec, false);
      if (!o.reason.empty()) ctx.metrics.bad_requests.with({std::string(o.reason)}).inc();
      if (o.status) {
        log::info("refused a request", {{"client", client}, {"reason", o.reason}, {"error", o.message}});
        co_await refuse(o.status, o.message, 11);
      } else if (o.reason == "slow_client") {
        log::info("closed a connection: request head not received in time",
                  {{"client", client}, {"timeout_ms", lim.header_timeout.count()}});
      }
      break;
    }

    const auto& head = parser.get();
    // A request framed two ways, or framed in a way two parsers may read differently, is how
    // smuggling starts: refuse it outright.
    if (auto framing = framing_problem(head)) {
      co_await refuse_and_close(400, *framing, "smuggling", head.version());
      break;
    }
    const std::string method(head.method_string());
    std::string origin;  // set: the absolute-form target's origin-form
    auto local = apply_request_rules(head, method, origin);
    if (local && local->close) {
      co_await refuse_and_close(local->status, local->message, local->reason, head.version());
      break;
    }

    if (!parser.is_done()) {
      const auto expect = head[http::field::expect];
      if (!expect.empty()) {
        if (!beast::iequals(expect, "100-continue")) {
          co_await refuse_and_close(417, "Only 'Expect: 100-continue' is supported.",
                                    "malformed", head.version());
          break;
        }
        if (local) {
          // The answer is known before the body: give it now and do not ask for the body.
          co_await refuse_and_close(local->status, local->message, local->reason,
                                    head.version());
          break;
        }
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        timeouts.expires_after(lim.body_timeout);
        auto [cec, cn] = co_await net::async_write(stream, net::buffer(cont), use_tuple);
        if (cec) break;
      }
      timeouts.expires_after(lim.body_timeout);
      auto [bec, bn] = co_await http::async_read(stream, buffer, parser, use_tuple);
      if (bec) {
        auto o = classify_read_error(timeouts.fired() ? beast::error::timeout : bec, true);
        if (!o.reason.empty()) ctx.metrics.bad_requests.with({std::string(o.reason)}).inc();
        if (o.status) {
          log::info("refused a request",
                    {{"client", client}, {"reason", o.reason}, {"error", o.message}});
          co_await refuse(o.status, o.message, head.version());
        } else if (o.reason == "slow_client") {
          log::info("closed a connection: request body not received in time",
                    {{"client", client}, {"timeout_ms", lim.body_timeout.count()}});
        }
        break;
      }
    }

    http::request<http::string_body> req = parser.release();
    if (!origin.empty()) req.target(origin);
    // No client I/O while the answer is made: no deadline (each write sets its own).
    timeouts.expires_never();
    in_flight_mark counted(ctx.state);
    answer a;
    if (local) {
      a.route = local->reason.empty() ? "passthrough" : "invalid";
      if (local->reason.empty()) {
        // OPTIONS *: what the proxy handles.
        a.response = http::response<http::string_body>{http::status::ok, req.version()};
        a.response.set("X-Cache", "BYPASS");
        a.response.set(http::field::allow, allowed_methods);
        a.response.prepare_payload();
      } else {
        ctx.metrics.bad_requests.with({std::string(local->reason)}).inc();
        log::info("refused a request", {{"client", client},
                                        {"method", method},
                                        {"reason", local->reason},
                                        {"error", local->message}});
        a.response = proxy_service::error_response(local->status, req.version(), local->message,
                                                   new_tracking_id());
        a.response.set("X-Cache", "BYPASS");
        if (local->allow) a.response.set(http::field::allow, allowed_methods);
      }
    } else {
      std::string failure;
      route r;
      try {
        r = route_request(req.method_string(), req.target());
        // A fresh hit in the in-process store is answered here; anything else by handle().
        if (auto now = ctx.service.answer_at_once(req, r, ctx.pool, memo, executor))
          a = std::move(*now);
        else
          a = co_await ctx.service.handle(req, r, ctx.pool, memo);
      } catch (const std::exception& e) {
        failure = e.what();
      }
      if (!failure.empty()) {
        // A fault of the proxy's own: the caller gets a clear 500 and the connection is closed
        // (what was read and written on it so far is unknown).
        const auto tracking = new_tracking_id();
        ctx.metrics.internal_errors().inc();
        log::error("internal error", {{"client", client},
                                      {"method", method},
                                      {"route", route_label(r)},
                                      {"error", failure},
                                      {"trackingid", tracking}});
        a = answer{};
        a.response = proxy_service::error_response(500, req.version(),
                                                   "The proxy failed to answer the request.",
                                                   tracking);
        a.response.set("X-Cache", "BYPASS");
        req.keep_alive(false);
      }
    }
    bool keep_alive = req.keep_alive() && !ctx.state.draining.load();
    const unsigned status = a.entry    ? a.entry->status
                            : !a.stream ? a.response.result_int()
                                        : a.stream->parser->get().result_int();
    // This answer's trackingid: upstream's for an answer it gave to this request, else the
    // caller's TrackingID, else one the proxy makes; logged on the access line.
    // Views into the request or the answer, both alive until the access line; only a made-up
    // one is a string of its own.
    std::string made_tracking;
    std::string_view tracking;
    if (a.entry) {
      tracking = a.entry_tracking_id;
      if (tracking.empty()) tracking = req["TrackingID"];
      if (tracking.empty()) tracking = made_tracking = new_tracking_id();
    } else {
      tracking = a.stream ? a.stream->parser->get()["trackingid"] : a.response["trackingid"];
    }
    bool broken = false;
    std::size_t sent = 0;  // bytes written for this answer, head included
    // Counted as soon as the answer is decided, before its bytes go out: a client that has its
    // answer and then scrapes /metrics always finds its request counted.
    ctx.metrics.request_cell(a.route, a.cache).inc();
    ctx.metrics.response_cell(status).inc();

    if (a.entry) {
      // From the cache: a head written straight into a reused buffer, then the stored body.
      const auto& e = *a.entry;
      // A list page's Link, moved to this client's origin (per request: clients reach the
      // proxy by different names).
      std::string link;
      if (!e.link.empty() && ctx.links) {
        const auto to = ctx.links->destination(ctx.tls != nullptr, req[http::field::host]);
        link = to ? ctx.links->rewrite(e.link, *to) : e.link;
      }
      // The stored gzip form to a client that accepts it.
      bool gzipped = false;
      if (!e.gzip_body.empty()) {
        const auto [first, last] = req.equal_range(http::field::accept_encoding);
        for (auto it = first; it != last && !gzipped; ++it) gzipped = accepts_gzip(it->value());
      }
      entry_head.clear();
      format_entry_head(entry_head, e, a.cache, req.version(), keep_alive,
                        cache::age_seconds(e, cache::wall_clock::now()), tracking,
                        link.empty() ? std::string_view(e.link) : std::string_view(link),
                        a.entry_headers, gzipped);
      const bool is_head = req.method() == http::verb::head;
      const auto& body = gzipped ? e.gzip_body : e.body;
      const std::array<net::const_buffer, 2> out{
          net::buffer(entry_head), is_head ? net::const_buffer() : net::buffer(body)};
      timeouts.expires_after(lim.body_timeout);
      auto [wec, wn] = co_await net::async_write(stream, out, use_tuple);
      broken = static_cast<bool>(wec);
      sent = wn;
    } else if (!a.stream) {
      if (req.method() == http::verb::head && !a.response.body().empty()) {
        // An answer to HEAD says how long the body would be, and sends none.
        a.response.content_length(a.response.body().size());
        a.response.body().clear();
      }
      a.response.keep_alive(keep_alive);
      rewrite_links(a.response.base(), ctx, req);
      timeouts.expires_after(lim.body_timeout);
      auto [wec, wn] = co_await http::async_write(stream, a.response, use_tuple);
      broken = static_cast<bool>(wec);
      sent = wn;
    } else {
      // Passthrough: relay upstream's answer as it arrives, framed by this proxy.
      auto& up = *a.stream;
      const auto& uh = up.parser->get();
      http::response<http::buffer_body> res{uh.result(), req.version()};
      copy_end_to_end_headers(uh.base(), res.base());
      rewrite_links(res.base(), ctx, req);
      res.set("X-Cache", "BYPASS");
      const bool is_head = req.method() == http::verb::head;
      const bool no_body = is_head || status == 204 || status == 304 || status < 200;
      const auto length = up.parser->content_length();
      if (is_head) {
        if (length) res.content_length(*length);
      } else if (!no_body) {
        if (length) res.content_length(*length);
        else if (req.version() >= 11) res.chunked(true);
        else keep_alive = false;  // an HTTP/1.0 client reads to the end of the connection
      }
      res.keep_alive(keep_alive);
      res.body().data = nullptr;
      res.body().size = 0;
      res.body().more = !no_body;

      http::response_serializer<http::buffer_body> sr{res};
      timeouts.expires_after(lim.body_timeout);
      auto [hwec, hwn] = co_await http::async_write_header(stream, sr, use_tuple);
      broken = static_cast<bool>(hwec);
      sent = hwn;
      char chunk[16384];
      while (!broken && !no_body) {
        beast::error_code uec;
        timeouts.expires_never();  // upstream's pace is the upstream timeout's to judge
        const std::size_t n = co_await up.read_body(chunk, sizeof chunk, uec);
        if (uec) {
          // The header is out: all the client can be told is that the answer broke off.
          log::warn("upstream answer broke off mid-body", {{"error", uec.message()}});
          ctx.metrics.upstream_errors.with({std::string(a.route), "protocol"}).inc();
          broken = true;
          break;
        }
        const bool done = up.parser->is_done();
        res.body().data = n ? chunk : nullptr;
        res.body().size = n;
        res.body().more = !done;
        timeouts.expires_after(lim.body_timeout);
        auto [bwec, bwn] = co_await http::async_write(stream, sr, use_tuple);
        sent += bwn;
        if (bwec == http::error::need_buffer) bwec = {};
        if (bwec) broken = true;
        if (done) break;
      }
      if (!broken) ctx.pool.release(up);
    }

    const double seconds = std::chrono::duration<double>(steady::now() - started).count();
    const auto cache = to_string(a.cache);
    ctx.metrics.duration_cell(a.cache).observe(seconds);
    if (log::access_enabled()) {
      const auto user_agent = std::string_view(req[http::field::user_agent]).substr(0, 256);
      const std::optional<unsigned> upstream_status =
          a.upstream_status ? std::optional<unsigned>(a.upstream_status) : std::nullopt;
      log::access({{"client", client},
                   {"method", std::string_view(req.method_string())},
                   {"route", a.route},
                   {"path", path_template(req.target())},
                   {"http_version", http_version_text(req.version())},
                   {"status", status},
                   {"cache", cache},
                   {"bytes", sent},
                   {"upstream_status", upstream_status},
                   {"upstream_ms", upstream_status ? std::optional<double>(a.upstream_seconds * 1000)
                                                   : std::nullopt},
                   {"ms", seconds * 1000},
                   {"trackingid", tracking},
                   {"user_agent", user_agent},
                   {"token", a.token_id}});
    }

    if (broken || !keep_alive) break;
  }
}

}  // namespace

connection_slot::connection_slot(server_state& state, gauge& connections) noexcept
    : state_(&state), connections_(&connections) {
  state_->connections.fetch_add(1);
  connections_->add(1);
}

connection_slot::connection_slot(connection_slot&& other) noexcept
    : state_(std::exchange(other.state_, nullptr)),
      connections_(std::exchange(other.connections_, nullptr)) {}

connection_slot::~connection_slot() {
  if (!state_) return;
  connections_->add(-1);
  state_->connections.fetch_sub(1);
}

net::awaitable<void> run_client_session(net::ip::tcp::socket socket, session_context ctx,
                                        connection_slot slot) {
  beast::error_code ignored;
  socket.set_option(net::ip::tcp::no_delay(true), ignored);
  if (ctx.tls) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *ctx.tls);
    auto& tcp = beast::get_lowest_layer(stream);
    tcp.expires_after(ctx.limits.header_timeout);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
    if (hec) {
      // A port scan, a plain-HTTP client or a client that does not trust the certificate.
      ctx.metrics.bad_requests.with({"tls"}).inc();
      log::info("closed a connection: TLS handshake failed",
                {{"client", peer_text(tcp.socket())}, {"error", hec.message()}});
    } else {
      const std::string client = peer_text(tcp.socket());
      co_await serve(stream, ctx, client);
      // close_notify, without waiting long for the client's.
      tcp.expires_after(std::chrono::seconds(1));
      co_await stream.async_shutdown(use_tuple);
    }
    tcp.close();
  } else {
    const std::string client = peer_text(socket);
    beast::tcp_stream stream(std::move(socket));
    co_await serve(stream, ctx, client);
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    stream.close();
  }
}

}  // namespace wcp::proxy
