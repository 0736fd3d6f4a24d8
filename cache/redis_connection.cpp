#include "cache/redis_connection.hpp"

#include "config/redis_url.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <random>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace wcp::cache {

namespace {

using error_code = boost::system::error_code;
using strand_type = net::strand<net::any_io_executor>;

class redis_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "redis"; }
  std::string message(int ev) const override {
    switch (static_cast<redis_errc>(ev)) {
      case redis_errc::not_connected: return "not connected to Redis";
      case redis_errc::timeout: return "Redis did not answer in time";
      case redis_errc::queue_full: return "too many Redis commands in flight";
      case redis_errc::closed: return "Redis connection closed";
      case redis_errc::protocol: return "Redis protocol or I/O error";
    }
    return "unknown Redis error";
  }
};

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// --- replies ----------------------------------------------------------------------------------

redis_reply copy_reply(const redisReply& r) {
  redis_reply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = redis_reply::kind::string;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = redis_reply::kind::status;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = redis_reply::kind::error;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = redis_reply::kind::integer;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = redis_reply::kind::array;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i)
        out.elements.push_back(r.element[i] ? copy_reply(*r.element[i]) : redis_reply{});
      break;
    default:  // REDIS_REPLY_NIL
      break;
  }
  return out;
}

std::string_view reply_text(const redisReply* r) {
  if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)) return {};
  return {r->str, r->len};
}

bool equals_nocase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && starts_with_nocase(a, b);
}

// Commands that change how hiredis pairs replies with callbacks; only the subscriber uses them.
bool changes_reply_pairing(std::string_view name) {
  std::string lower(name);
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return lower.ends_with("subscribe") || lower == "monitor";
}

int send_argv(redisAsyncContext* ac, const std::vector<std::string>& args, redisCallbackFn* fn,
              void* privdata) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return redisAsyncCommandArgv(ac, fn, privdata, static_cast<int>(args.size()), argv.data(),
                               lens.data());
}

// A completion that runs exactly once. One dropped uncalled (its handler destroyed with an
// io_context that never ran it) completes with `closed`, so no caller waits forever.
class completion {
 public:
  completion() = default;
  explicit completion(std::function<void(redis_result)> fn) : fn_(std::move(fn)) {}
  completion(completion&& o) noexcept : fn_(std::exchange(o.fn_, nullptr)) {}
  completion& operator=(completion&&) = delete;
  ~completion() {
    if (fn_) (*this)(redis_result{make_error_code(redis_errc::closed), {}});
  }

  void operator()(redis_result r) {
    auto fn = std::exchange(fn_, nullptr);
    if (!fn) return;
    // Completions are called from inside hiredis (C) callbacks: an exception must not unwind
    // through them.
    try {
      fn(std::move(r));
    } catch (...) {
    }
  }

 private:
  std::function<void(redis_result)> fn_;
};

struct core;

// One hiredis context attached to Asio. hiredis states its read/write interest through the ev
// hooks; async_wait on the descriptor drives redisAsyncHandleRead/Write while it wants them.
// Everything here runs on the core's strand.
struct link : std::enable_shared_from_this<link> {
  link(core& owner, redisAsyncContext* ac);
  ~link() {
    if (fd.is_open()) fd.release();  // hiredis owns the fd
  }

  void arm_read();
  void arm_write();

  static void add_read(void* p) {
    auto* l = static_cast<link*>(p);
    l->want_read = true;
    l->arm_read();
  }
  static void del_read(void* p) { static_cast<link*>(p)->want_read = false; }
  static void add_write(void* p) {
    auto* l = static_cast<link*>(p);
    l->want_write = true;
    l->arm_write();
  }
  static void del_write(void* p) { static_cast<link*>(p)->want_write = false; }
  static void cleanup(void* p);

  core* owner;
  redisAsyncContext* ac;  // valid only while `alive`
  net::posix::stream_descriptor fd;
  bool alive = true;       // false once hiredis is freeing `ac` (the cleanup hook ran)
  bool connected = false;  // the connect callback reported success
  bool dropping = false;   // a teardown was scheduled
  bool want_read = false, want_write = false;
  bool read_armed = false, write_armed = false;
  int handshake_left = 0;
  std::size_t confirmed = 0;  // SUBSCRIBE confirmations on this context
  std::uint64_t session = 0;  // set when it comes up
};

// privdata of the handshake's ROLE command (the other handshake commands carry none).
int role_marker;

// A command between submit and its hiredis callback. The caller is completed by whichever comes
// first, the reply or the timer; the other then finds `finished` set.
struct command_state {
  command_state(const strand_type& s, completion d) : timer(s), done(std::move(d)) {}
  net::steady_timer timer;
  completion done;
  bool finished = false;
};

// The connection's state, owned by the public object and by every pending handler, so it lives
// until the last handler has run. All members are used on `strand` only (stats are atomic).
struct core : std::enable_shared_from_this<core> {
  enum class phase { idle, connecting, ready, waiting, stopped };

  core(net::any_io_executor ex, redis_options o)
      : strand(net::make_strand(std::move(ex))),
        opt(std::move(o)),
        resolver(strand),
        reconnect_timer(strand),
        connect_timer(strand),
        backoff(opt.reconnect_min),
        rng(std::random_device{}()) {}

  ~core() {
    // Only reached when no handler holds us: e.g. the io_context was destroyed, or it never ran.
    ph = phase::stopped;
    stats.up = false;
    if (auto l = current; l && l->alive) redisAsyncFree(l->ac);
    current.reset();
  }

  // --- lifecycle ---

  void start() {
    started = true;
    if (ph == phase::idle && has_target()) connect();
  }

  bool has_target() const { return !opt.host.empty() || !opt.unix_path.empty(); }

  void set_target(std::string host, std::uint16_t port) {
    if (ph == phase::stopped) return;
    if (host == opt.host && port == opt.port && opt.unix_path.empty()) return;
    {
      std::lock_guard lock(target_mu);
      opt.unix_path.clear();
      opt.host = std::move(host);
      opt.port = port;
    }
    // Whatever the old server still answers, nothing more goes to it.
    drop_and_connect();
  }

  // Drops the current link at once, whatever it still answers, and connects again without
  // waiting out a backoff.
  void drop_and_connect() {
    if (ph == phase::stopped) return;
    ++attempt;
    reconnect_timer.cancel();
    connect_timer.cancel();
    resolver.cancel();
    went_down();
    if (auto l = current; l) {
      current.reset();  // on_link_closed then leaves the reconnecting to us
      if (l->alive) redisAsyncFree(l->ac);
    }
    backoff = opt.reconnect_min;
    if (!started || !has_target()) return;
    connect();
  }

  // The link that was up is gone (not stop()): tells on_down.
  void went_down() {
    if (!stats.up.exchange(false) || ph == phase::stopped || !on_down_fn) return;
    try {  // may be called from inside hiredis: nothing may unwind through it
      on_down_fn();
    } catch (...) {
    }
  }

  std::string target() const {
    std::lock_guard lock(target_mu);
    if (!opt.unix_path.empty()) return opt.unix_path;
    if (opt.host.empty()) return {};
    return host_port(opt.host, opt.port);
  }

  void stop() {
    if (ph == phase::stopped) return;
    ph = phase::stopped;
    stats.up = false;
    ++attempt;
    reconnect_timer.cancel();
    connect_timer.cancel();
    resolver.cancel();
    // Runs every pending hiredis callback with a NULL reply: they complete with `closed`.
    if (auto l = current; l && l->alive) redisAsyncFree(l->ac);
    current.reset();
  }

  void connect() {
    ph = phase::connecting;
    const auto my = ++attempt;
    connect_timer.expires_after(opt.connect_timeout);
    connect_timer.async_wait([self = shared_from_this(), my](error_code ec) {
      if (!ec && self->attempt == my && self->ph == phase::connecting) self->give_up_connect();
    });
    addresses.clear();
    next_address = 0;
    if (!opt.unix_path.empty()) {
      addresses.push_back(opt.unix_path);
      return connect_next();
    }
    error_code ec;
    const auto numeric = net::ip::make_address(opt.host, ec);
    if (!ec) {
      addresses.push_back(numeric.to_string());
      return connect_next();
    }
    // hiredis 0.14 would call getaddrinfo synchronously: resolve here and give it numbers.
    resolver.async_resolve(
        opt.host, std::to_string(opt.port),
        [self = shared_from_this(), my](error_code ec, net::ip::tcp::resolver::results_type rs) {
          if (self->attempt != my || self->ph != phase::connecting) return;
          if (ec) return self->retry_later();
          for (const auto& r : rs) {
            auto a = r.endpoint().address().to_string();
            if (std::find(self->addresses.begin(), self->addresses.end(), a) ==
                self->addresses.end())
              self->addresses.push_back(std::move(a));
          }
          self->connect_next();
        });
  }

  // Tries the next address of this attempt; waits and starts over when none is left.
  void connect_next() {
    while (next_address < addresses.size()) {
      const std::string& a = addresses[next_address++];
      redisAsyncContext* ac = opt.unix_path.empty() ? redisAsyncConnect(a.c_str(), opt.port)
                                                    : redisAsyncConnectUnix(a.c_str());
      if (!ac) continue;
      if (ac->err) {
        redisAsyncFree(ac);
        continue;
      }
      auto l = std::make_shared<link>(*this, ac);
      error_code ec;
      l->fd.assign(ac->c.fd, ec);
      if (ec) {
        redisAsyncFree(ac);
        continue;
      }
      ac->data = l.get();
      ac->ev.data = l.get();
      ac->ev.addRead = &link::add_read;
      ac->ev.delRead = &link::del_read;
      ac->ev.addWrite = &link::add_write;
      ac->ev.delWrite = &link::del_write;
      ac->ev.cleanup = &link::cleanup;
      current = l;
      // Arms the first write wait (hooks must be set first): writable means connected.
      redisAsyncSetConnectCallback(ac, &core::on_connect);
      return;
    }
    retry_later();
  }

  void give_up_connect() {
    addresses.clear();
    resolver.cancel();
    if (auto l = current; l && l->alive) {
      redisAsyncFree(l->ac);  // the cleanup hook schedules the retry
      if (ph == phase::connecting) retry_later();
    } else {
      retry_later();
    }
  }

  void retry_later() {
    if (ph == phase::stopped) return;
    if (ph == phase::connecting) ++stats.connect_failures;
    ph = phase::waiting;
    went_down();
    const auto my = ++attempt;
    connect_timer.cancel();
    resolver.cancel();
    // Between half the backoff and all of it: instances that lost Redis together do not all
    // come back at the same moment, and none waits longer than reconnect_max.
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(backoff * jitter(rng));
    wait = std::max(wait, std::chrono::milliseconds(1));
    backoff = std::min(backoff * 2, std::max(opt.reconnect_max, opt.reconnect_min));
    reconnect_timer.expires_after(wait);
    reconnect_timer.async_wait([self = shared_from_this(), my](error_code ec) {
      if (!ec && self->attempt == my && self->ph == phase::waiting) self->connect();
    });
  }

  void become_up() {
    ph = phase::ready;
    connect_timer.cancel();
    backoff = opt.reconnect_min;
    if (connected_once) ++stats.reconnects;
    connected_once = true;
    failing_fast_until = {};  // a slow server before is no reason to refuse this one
    const auto s = session.fetch_add(1) + 1;
    if (current) current->session = s;
    stats.up = true;
    if (!on_up_fn) return;
    try {  // called from inside hiredis: nothing may unwind through it
      on_up_fn(s);
    } catch (...) {
    }
  }

  // hiredis is freeing `l`'s context: every pending callback already ran with a NULL reply.
  void on_link_closed(link& l) {
    if (current.get() != &l) return;
    current.reset();  // whoever called into hiredis holds `l`
    went_down();
    if (ph == phase::stopped) return;
    if (ph == phase::connecting && !l.connected && next_address < addresses.size()) {
      // Connect refused on this address: try the next one (outside hiredis's free).
      net::post(strand, [self = shared_from_this(), my = attempt] {
        if (self->attempt == my && self->ph == phase::connecting) self->connect_next();
      });
      return;
    }
    retry_later();
  }

  // Frees `l`'s context from a fresh strand handler: never from inside a hiredis callback.
  void drop_later(link& l) {
    if (l.dropping) return;
    l.dropping = true;
    net::post(strand, [self = shared_from_this(), l = l.shared_from_this()] {
      if (l->alive) redisAsyncFree(l->ac);
    });
  }

  // --- connect, AUTH, SELECT, SUBSCRIBE ---

  static void on_connect(const redisAsyncContext* ac, int status) {
    auto* l = static_cast<link*>(ac->data);
    // On failure hiredis frees the context right after this; the cleanup hook handles it.
    if (status == REDIS_OK) l->owner->on_connected(*l);
  }

  void on_connected(link& l) {
    l.connected = true;
    if (ph != phase::connecting || current.get() != &l) return drop_later(l);
    std::vector<std::vector<std::string>> handshake;
    if (!opt.password.empty()) {
      if (opt.username.empty())
        handshake.push_back({"AUTH", opt.password});
      else
        handshake.push_back({"AUTH", opt.username, opt.password});
    }
    if (opt.db != 0) handshake.push_back({"SELECT", std::to_string(opt.db)});
    // Last: a demoted master still accepts the connection and the AUTH.
    if (opt.require_master) handshake.push_back({"ROLE"});
    // Up means answering: a stopped server's kernel still accepts connections, and a server
    // that wants a password we do not have fails this with NOAUTH. (A subscriber's SUBSCRIBE
    // confirmation proves the same.)
    if (!subscriber) handshake.push_back({"PING"});
    for (const auto& cmd : handshake) {
      void* privdata = cmd.front() == "ROLE" ? &role_marker : nullptr;
      if (send_argv(l.ac, cmd, &core::on_handshake_reply, privdata) != REDIS_OK)
        return drop_later(l);
      ++l.handshake_left;
    }
    if (l.handshake_left == 0) handshake_done(l);
  }

  static void on_handshake_reply(redisAsyncContext* ac, void* r, void* privdata) {
    auto* l = static_cast<link*>(ac->data);
    core& c = *l->owner;
    if (!r || c.ph != phase::connecting || c.current.get() != l) return;
    const auto* reply = static_cast<redisReply*>(r);
    if (reply->type == REDIS_REPLY_ERROR) return c.drop_later(*l);  // e.g. WRONGPASS: retry later
    if (privdata == &role_marker) {
      const bool master = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
                          equals_nocase(reply_text(reply->element[0]), "master");
      if (!master) {
        ++c.stats.not_master;
        c.drop_later(*l);
        if (c.on_not_master_fn) {
          try {
            c.on_not_master_fn();
          } catch (...) {
          }
        }
        return;
      }
    }
    if (--l->handshake_left == 0) c.handshake_done(*l);
  }

  void handshake_done(link& l) {
    if (!subscriber) return become_up();
    if (channels.empty()) return subscribed();
    std::vector<std::string> cmd{"SUBSCRIBE"};
    cmd.insert(cmd.end(), channels.begin(), channels.end());
    // The callback stays registered for every channel: confirmations, then messages.
    if (send_argv(l.ac, cmd, &core::on_subscription_reply, &l) != REDIS_OK) drop_later(l);
  }

  void subscribed() {
    become_up();
    if (!on_subscribed) return;
    try {  // called from inside hiredis: nothing may unwind through it
      on_subscribed();
    } catch (...) {
    }
  }

  static void on_subscription_reply(redisAsyncContext*, void* r, void* privdata) {
    if (!r) return;  // the context is going away (once per channel)
    auto* l = static_cast<link*>(privdata);
    core& c = *l->owner;
    if (c.ph == phase::stopped || c.current.get() != l) return;
    const auto* reply = static_cast<redisReply*>(r);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
    const auto kind = reply_text(reply->element[0]);
    if (equals_nocase(kind, "subscribe")) {
      if (++l->confirmed == c.channels.size() && c.ph == phase::connecting) c.subscribed();
    } else if (equals_nocase(kind, "message") && c.on_message) {
      try {
        c.on_message(reply_text(reply->element[1]), reply_text(reply->element[2]));
      } catch (...) {
      }
    }
  }

  // --- commands ---

  void submit(std::vector<std::string> args, completion done, std::uint64_t in_session,
              bool even_failing_fast = false) {
    if (ph == phase::stopped) return fail(done, redis_errc::closed);
    if (subscriber || args.empty() || changes_reply_pairing(args.front()))
      return fail(done, redis_errc::protocol);
    if (ph != phase::ready || !current || !current->alive || current->dropping)
      return fail(done, redis_errc::not_connected);
    if (in_session != 0 && current->session != in_session)
      return fail(done, redis_errc::not_connected);
    if (in_flight >= opt.max_in_flight) return fail(done, redis_errc::queue_full);
    // After a timeout, answer at once for a while instead of making every request wait out the
    // timeout again: a slow Redis then costs each request nothing rather than N timeouts.
    if (!even_failing_fast && std::chrono::steady_clock::now() < failing_fast_until)
      return fail(done, redis_errc::not_connected);

    auto st = std::make_shared<command_state>(strand, std::move(done));
    auto* privdata = new std::shared_ptr<command_state>(st);
    if (send_argv(current->ac, args, &core::on_command_reply, privdata) != REDIS_OK) {
      delete privdata;
      return finish(*st, {make_error_code(redis_errc::not_connected), {}});
    }
    ++in_flight;
    ++stats.in_flight;
    st->timer.expires_after(opt.command_timeout);
    st->timer.async_wait([self = shared_from_this(), st](error_code ec) {
      if (ec) return;
      self->failing_fast_until = std::chrono::steady_clock::now() + fail_fast_for;
      self->finish(*st, {make_error_code(redis_errc::timeout), {}});
    });
  }

  // Called exactly once per command hiredis accepted: with the reply, or NULL when the context
  // goes away. After a timeout the caller has been answered already; this only frees the slot.
  static void on_command_reply(redisAsyncContext* ac, void* r, void* privdata) {
    std::unique_ptr<std::shared_ptr<command_state>> st(
        static_cast<std::shared_ptr<command_state>*>(privdata));
    const auto* l = static_cast<link*>(ac->data);
    core& c = *l->owner;
    --c.in_flight;
    --c.stats.in_flight;
    if (r) c.failing_fast_until = {};  // Redis answers again
    if ((*st)->finished) return;
    redis_result res;
    if (!r)
      res.ec = make_error_code(c.ph == phase::stopped ? redis_errc::closed : redis_errc::protocol);
    else
      res.reply = copy_reply(*static_cast<redisReply*>(r));
    res.session = l->session;
    c.finish(**st, std::move(res));
  }

  void finish(command_state& st, redis_result r) {
    if (st.finished) return;
    st.finished = true;
    st.timer.cancel();
    count(r);
    st.done(std::move(r));
  }

  void fail(completion& done, redis_errc e) {
    redis_result r{make_error_code(e), {}};
    count(r);
    done(std::move(r));
  }

  void count(const redis_result& r) {
    if (r.ec) {
      ++stats.errors;
      if (r.ec == redis_errc::timeout) ++stats.timeouts;
    } else if (r.reply.type == redis_reply::kind::error) {
      ++stats.errors;
    }
  }

  static constexpr std::chrono::milliseconds fail_fast_for{1000};
  std::chrono::steady_clock::time_point failing_fast_until{};

  strand_type strand;
  redis_options opt;
  redis_stats stats;
  net::ip::tcp::resolver resolver;
  net::steady_timer reconnect_timer;
  net::steady_timer connect_timer;  // covers resolve, connect, AUTH, SELECT and SUBSCRIBE
  std::shared_ptr<link> current;    // the hiredis context, while one exists
  phase ph = phase::idle;
  std::uint64_t attempt = 0;  // bumped per connect attempt and state change: stale handlers see it
  std::vector<std::string> addresses;  // numeric addresses (or the socket path) of this attempt
  std::size_t next_address = 0;
  bool connected_once = false;
  std::chrono::milliseconds backoff;
  std::mt19937 rng;
  std::size_t in_flight = 0;  // commands hiredis holds, timed out or not

  bool started = false;
  std::atomic<std::uint64_t> session{0};
  mutable std::mutex target_mu;  // opt.host/port/unix_path: written on the strand, read anywhere
  std::function<void(std::uint64_t)> on_up_fn;
  std::function<void()> on_not_master_fn;
  std::function<void()> on_down_fn;

  bool subscriber = false;
  std::vector<std::string> channels;
  std::function<void(std::string_view, std::string_view)> on_message;
  std::function<void()> on_subscribed;
};

link::link(core& o, redisAsyncContext* c) : owner(&o), ac(c), fd(o.strand) {}

void link::arm_read() {
  if (read_armed || !alive) return;
  auto c = owner->weak_from_this().lock();  // empty while the core is being destroyed
  if (!c) return;
  read_armed = true;
  fd.async_wait(net::posix::descriptor_base::wait_read,
                [l = shared_from_this(), c = std::move(c)](error_code ec) {
                  l->read_armed = false;
                  if (ec == net::error::operation_aborted || !l->alive || !l->want_read) return;
                  redisAsyncHandleRead(l->ac);  // may free the context (cleanup hook)
                  if (l->alive && l->want_read) l->arm_read();
                });
}

void link::arm_write() {
  if (write_armed || !alive) return;
  auto c = owner->weak_from_this().lock();
  if (!c) return;
  write_armed = true;
  fd.async_wait(net::posix::descriptor_base::wait_write,
                [l = shared_from_this(), c = std::move(c)](error_code ec) {
                  l->write_armed = false;
                  if (ec == net::error::operation_aborted || !l->alive || !l->want_write) return;
                  redisAsyncHandleWrite(l->ac);
                  if (l->alive && l->want_write) l->arm_write();
                });
}

void link::cleanup(void* p) {
  auto* l = static_cast<link*>(p);
  l->alive = false;
  l->want_read = l->want_write = false;
  l->fd.release();  // cancels our waits; hiredis closes the fd itself
  l->owner->on_link_closed(*l);
}

}  // namespace

const std::error_category& redis_category() noexcept {
  static const redis_category_impl category;
  return category;
}

std::error_code make_error_code(redis_errc e) noexcept {
  return {static_cast<int>(e), redis_category()};
}

std::string host_port(std::string_view host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

std::optional<redis_options> parse_redis_url(std::string_view url) {
  auto parsed = config::parse_redis_url(url);
  if (!parsed.url) return std::nullopt;
  redis_options o;
  o.host = parsed.url->host.empty() ? o.host : parsed.url->host;
  o.port = parsed.url->port;
  o.unix_path = std::move(parsed.url->unix_path);
  o.username = std::move(parsed.url->username);
  o.password = std::move(parsed.url->password);
  o.db = parsed.url->db;
  if (!parsed.url->sentinels.empty()) {
    o.host.clear();
    o.require_master = true;
  }
  return o;
}

struct redis_connection::impl {
  std::shared_ptr<core> c;
};

std::shared_ptr<redis_connection> redis_connection::create(net::any_io_executor ex,
                                                           redis_options options) {
  return std::shared_ptr<redis_connection>(
      new redis_connection(std::move(ex), std::move(options)));
}

redis_connection::redis_connection(net::any_io_executor ex, redis_options options)
    : impl_(std::make_unique<impl>(
          impl{std::make_shared<core>(std::move(ex), std::move(options))})) {}

redis_connection::~redis_connection() {
  // The core outlives us until its handlers have run; stopping it completes what is pending.
  stop();
}

void redis_connection::start() {
  net::post(impl_->c->strand, [c = impl_->c] { c->start(); });
}

void redis_connection::stop() {
  net::post(impl_->c->strand, [c = impl_->c] { c->stop(); });
}

net::awaitable<void> redis_connection::close() {
  return net::async_initiate<const net::use_awaitable_t<>, void()>(
      [c = impl_->c](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        net::post(c->strand, [c, h] {
          c->stop();
          auto ex = net::get_associated_executor(*h);
          net::post(ex, [h] { (*h)(); });
        });
      },
      net::use_awaitable);
}

void redis_connection::async_command(std::vector<std::string> args,
                                     std::function<void(redis_result)> done) {
  net::post(impl_->c->strand,
            [c = impl_->c, args = std::move(args), done = completion(std::move(done))]() mutable {
              c->submit(std::move(args), std::move(done), 0);
            });
}

net::awaitable<redis_result> redis_connection::command(std::vector<std::string> args,
                                                      std::uint64_t in_session) {
  return send(std::move(args), in_session, false);
}

net::awaitable<redis_result> redis_connection::probe(std::vector<std::string> args) {
  return send(std::move(args), 0, true);
}

net::awaitable<redis_result> redis_connection::send(std::vector<std::string> args,
                                                   std::uint64_t in_session,
                                                   bool even_failing_fast) {
  return net::async_initiate<const net::use_awaitable_t<>, void(redis_result)>(
      [c = impl_->c, in_session, even_failing_fast](auto handler, std::vector<std::string> args) {
        // The handler resumes the caller's coroutine: run it on the caller's executor.
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto on_done = [h](redis_result r) {
          auto ex = net::get_associated_executor(*h);
          net::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
        };
        net::post(c->strand, [c, in_session, even_failing_fast, args = std::move(args),
                              done = completion(std::move(on_done))]() mutable {
          c->submit(std::move(args), std::move(done), in_session, even_failing_fast);
        });
      },
      net::use_awaitable, std::move(args));
}

void redis_connection::subscribe(
    std::vector<std::string> channels,
    std::function<void(std::string_view channel, std::string_view payload)> on_message,
    std::function<void()> on_subscribed) {
  std::sort(channels.begin(), channels.end());
  channels.erase(std::unique(channels.begin(), channels.end()), channels.end());
  core& c = *impl_->c;
  c.subscriber = true;
  c.channels = std::move(channels);
  c.on_message = std::move(on_message);
  c.on_subscribed = std::move(on_subscribed);
}

void redis_connection::set_target(std::string host, std::uint16_t port) {
  net::post(impl_->c->strand, [c = impl_->c, host = std::move(host), port]() mutable {
    c->set_target(std::move(host), port);
  });
}

std::string redis_connection::target() const { return impl_->c->target(); }

std::uint64_t redis_connection::session() const noexcept { return impl_->c->session.load(); }

void redis_connection::on_up(std::function<void(std::uint64_t)> f) {
  impl_->c->on_up_fn = std::move(f);
}

void redis_connection::reconnect() {
  net::post(impl_->c->strand, [c = impl_->c] { c->drop_and_connect(); });
}

void redis_connection::on_down(std::function<void()> f) { impl_->c->on_down_fn = std::move(f); }

void redis_connection::on_not_master(std::function<void()> f) {
  impl_->c->on_not_master_fn = std::move(f);
}

const redis_stats& redis_connection::stats() const noexcept { return impl_->c->stats; }

bool redis_connection::up() const noexcept { return impl_->c->stats.up.load(); }

}  // namespace wcp::cache
