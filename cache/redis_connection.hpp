// One long-lived connection to Redis over hiredis 0.14's async API, driven by Asio. It keeps
// itself healthy: connects, re-connects after a wait with backoff and jitter, authenticates and
// selects the database each time; callers just issue commands.
//
// Every command completes exactly once: with the reply, or with an error — `not_connected` at
// once while the connection is down, `timeout` after the command timeout (hiredis 0.14 has no
// timeouts of its own), `queue_full` when too many commands are in flight, `closed` when the
// connection is stopped. A Redis error reply is a reply of type `error`, not an error code; a
// nil reply is a reply of type `nil` (a miss is not an error).
//
// Thread-safety: all hiredis calls run on the connection's strand. command() may be called from
// any thread or coroutine; the completion runs on the caller's executor.
//
// Lifetime: start() and stop() only post to the strand. The state behind the object lives until
// its last pending handler has run, so destroying the object (which stops it) with commands in
// flight is safe; they complete with `closed`. Destroy it before its io_context (or let the
// io_context's destruction take it down); an io_context that no longer runs completes nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "net/net.hpp"

namespace wcp::cache {

enum class redis_errc {
  not_connected = 1,  // down or (re)connecting; nothing was sent
  timeout,            // no reply within the command timeout
  queue_full,         // too many commands in flight
  closed,             // the connection was stopped
  protocol,           // hiredis reported a protocol or I/O error
};
const std::error_category& redis_category() noexcept;
std::error_code make_error_code(redis_errc e) noexcept;

struct redis_options {
  std::string host = "127.0.0.1";  // TCP host (name or address)
  std::uint16_t port = 6379;
  std::string unix_path;           // set: connect to this Unix socket instead of host:port
  std::string password;            // set: AUTH after every connect
  std::string username;            // set (with password): AUTH username password (Redis 6 ACL)
  int db = 0;                      // SELECT after every connect when not 0
  std::chrono::milliseconds command_timeout{50};   // longest a caller waits for a reply
  std::chrono::milliseconds connect_timeout{1000}; // TCP/Unix connect + AUTH + SELECT
  // While the server is unreachable it is tried again often: connecting is cheap, and every
  // moment an instance is not subscribed it cannot hear of other instances' writes. The wait
  // starts at reconnect_min and doubles up to reconnect_max; each is drawn between half of it
  // and all of it (jitter), so it never exceeds reconnect_max.
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{250};
  std::size_t max_in_flight = 10000;               // more commands than this fail with queue_full
  // Confirm with ROLE after every connect that the server is a master; a replica (a demoted
  // master) is dropped, reported through on_not_master(), and tried again after the backoff.
  bool require_master = false;
};

// The options a --redis URL names (config::parse_redis_url's grammar); nullopt when malformed.
// For a redis+sentinel:// URL the host is empty (the sentinels name it: set_target()) and
// require_master is set.
std::optional<redis_options> parse_redis_url(std::string_view url);

// "host:port", the host in brackets when it is an IPv6 address.
std::string host_port(std::string_view host, std::uint16_t port);

// A reply, copied out of hiredis's reply tree.
struct redis_reply {
  enum class kind { nil, string, status, error, integer, array };
  kind type = kind::nil;
  std::string str;  // string, status, error
  long long integer = 0;
  std::vector<redis_reply> elements;  // array
};

struct redis_result {
  std::error_code ec;
  redis_reply reply;
  std::uint64_t session = 0;  // the connection session that carried it (0: none did)
};

// Counters for metrics and /readyz.
struct redis_stats {
  std::atomic<std::uint64_t> errors{0};      // commands that failed (any redis_errc, or error reply)
  std::atomic<std::uint64_t> timeouts{0};    // of which timeouts
  std::atomic<std::uint64_t> reconnects{0};  // successful connects after the first
  std::atomic<std::uint64_t> connect_failures{0};  // attempts refused, timed out or not authenticated
  std::atomic<std::size_t> in_flight{0};     // commands sent and not yet answered by Redis
  std::atomic<bool> up{false};               // connected and ready for commands
  std::atomic<std::uint64_t> not_master{0};  // connects dropped because ROLE was not master
};

class redis_connection : public std::enable_shared_from_this<redis_connection> {
 public:
  // The connection lives on a strand of `ex`'s execution context.
  static std::shared_ptr<redis_connection> create(net::any_io_executor ex, redis_options options);
  ~redis_connection();
  redis_connection(const redis_connection&) = delete;
  redis_connection& operator=(const redis_connection&) = delete;

  // Begins connecting (asynchronously); reconnects by itself until stop().
  void start();
  // Fails every pending command with `closed`, disconnects, and stops reconnecting.
  void stop();
  // stop(), completing once it has run: every pending command has completed and the hiredis
  // context (and the socket) is gone. A drain awaits this before it stops the event loops.
  net::awaitable<void> close();

  // One command in argv form (binary-safe arguments). (P)SUBSCRIBE, UNSUBSCRIBE and MONITOR, an
  // empty argv, or any command on a subscriber complete with `protocol` without being sent.
  // With `in_session` (not 0), the command is sent only on that session's link; on any other it
  // completes with `not_connected`, unsent.
  net::awaitable<redis_result> command(std::vector<std::string> args, std::uint64_t in_session = 0);
  // command(), sent even in the second after a timeout, when commands otherwise fail at once
  // with `not_connected` so that a slow Redis costs requests nothing: a health check has to
  // learn whether Redis answers now.
  net::awaitable<redis_result> probe(std::vector<std::string> args);
  // Callback form; `done` runs on the connection's strand.
  void async_command(std::vector<std::string> args, std::function<void(redis_result)> done);

  // Subscriber mode: after every (re)connect, SUBSCRIBE to `channels`, call on_subscribed()
  // once the subscription is confirmed (a consumer may have missed messages while down), then
  // on_message(channel, payload) for each message. Commands may not be used on a subscriber.
  // REQUIRES: called before start().
  void subscribe(std::vector<std::string> channels,
                 std::function<void(std::string_view channel, std::string_view payload)> on_message,
                 std::function<void()> on_subscribed);

  // Points the connection at another server (what the sentinels name as master). When it differs
  // from the current one, the current link is dropped at once, even if it still answers
  // (pending commands complete with `protocol`), and the new server is connected without waiting
  // out a backoff. A connection created without a host waits for this before connecting.
  void set_target(std::string host, std::uint16_t port);
  // Drops the current link at once, even if its socket is still open (a server paused or cut
  // off without a reset), and connects again without waiting out a backoff; pending commands
  // complete with `protocol`. A subscriber subscribes again on the new link.
  void reconnect();
  // "host:port" (or the socket path) this connection is pointed at; "" before any.
  std::string target() const;

  // Each link that comes up starts a new session (1, 2, ...): a consumer can tell that what it
  // read through an earlier one (a generation, a ticket) may not hold on this server.
  std::uint64_t session() const noexcept;
  // Called on the connection's strand each time a link comes up, with its session.
  // REQUIRES: called before start().
  void on_up(std::function<void(std::uint64_t session)> f);
  // Called on the connection's strand each time a link that was up goes away (not on stop()).
  // REQUIRES: called before start().
  void on_down(std::function<void()> f);
  // Called on the connection's strand when require_master found a replica. REQUIRES: before start().
  void on_not_master(std::function<void()> f);

  const redis_stats& stats() const noexcept;
  bool up() const noexcept;

 private:
  redis_connection(net::any_io_executor ex, redis_options options);
  net::awaitable<redis_result> send(std::vector<std::string> args, std::uint64_t in_session,
                                    bool even_failing_fast);
  struct impl;
  std::unique_ptr<impl> impl_;
  friend struct impl;
};

}  // namespace wcp::cache

template <>
struct std::is_error_code_enum<wcp::cache::redis_errc> : std::true_type {};
