#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "cache/redis_connection.hpp"
#include "cache/redis_store.hpp"
#include "config/redis_url.hpp"
#include "support/redis_server.hpp"

using namespace wcp::cache;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using wcp::test::redis_server;
using kind = redis_reply::kind;

namespace {

// Builds a command outside the coroutine body: GCC 12 rejects braced lists in coroutines.
template <class... Args>
std::vector<std::string> argv(Args... args) {
  return {std::string(args)...};
}

using steady = std::chrono::steady_clock;

template <class Pred>
bool wait_until(Pred pred, milliseconds timeout = 5s) {
  const auto deadline = steady::now() + timeout;
  while (!pred()) {
    if (steady::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);  // polling a condition another thread changes
  }
  return true;
}

// An io_context running on its own thread. drain() lets run() return once all work is done;
// a connection that leaves handlers behind after it is gone makes drain() fail. A loop that
// another loop's thread posts into (a caller's, receiving Redis completions) is declared before
// that loop, so that it is destroyed after it: an io_context must not be destroyed while another
// thread is still inside a post() to it.
struct loop {
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> guard{ioc.get_executor()};
  std::atomic<bool> finished{false};
  std::thread thread{[this] {
    ioc.run();
    finished = true;
  }};
  const std::thread::id thread_id = thread.get_id();

  ~loop() { drain(5s); }

  bool drain(milliseconds timeout) {
    guard.reset();
    const bool ok = wait_until([&] { return finished.load(); }, timeout);
    if (!ok) ioc.stop();
    if (thread.joinable()) thread.join();
    return ok;
  }
};

redis_options options_for(const redis_server& s) {
  redis_options o;
  o.host = "127.0.0.1";
  o.port = s.port();
  o.command_timeout = 3s;  // generous: sanitizer builds are slow
  o.connect_timeout = 2s;
  o.reconnect_min = 10ms;
  o.reconnect_max = 100ms;
  return o;
}

std::shared_ptr<redis_connection> connect(loop& l, redis_options o, bool wait_up = true) {
  auto c = redis_connection::create(l.ioc.get_executor(), std::move(o));
  c->start();
  if (wait_up) REQUIRE(wait_until([&] { return c->up(); }));
  return c;
}

// A command through the callback form, waited for with a deadline.
redis_result run(redis_connection& c, std::vector<std::string> args, milliseconds timeout = 5s) {
  auto p = std::make_shared<std::promise<redis_result>>();
  auto f = p->get_future();
  c.async_command(std::move(args), [p](redis_result r) { p->set_value(std::move(r)); });
  if (f.wait_for(timeout) != std::future_status::ready)
    throw std::runtime_error("command did not complete");
  return f.get();
}

// Many commands through the callback form; counts completions per command.
struct fan_out {
  explicit fan_out(std::size_t n) : calls(n) {}
  std::vector<std::atomic<int>> calls;
  std::mutex mu;
  std::vector<redis_result> results;

  void send(redis_connection& c, std::size_t i, std::vector<std::string> args) {
    c.async_command(std::move(args), [this, i](redis_result r) {
      ++calls[i];
      std::lock_guard lock(mu);
      results.push_back(std::move(r));
    });
  }
  std::size_t done() {
    std::lock_guard lock(mu);
    return results.size();
  }
  bool each_once() {
    for (auto& c : calls)
      if (c.load() != 1) return false;
    return true;
  }
};

}  // namespace

TEST_CASE("parse_redis_url accepts the documented forms") {
  auto o = parse_redis_url("redis://cache.example.com");
  REQUIRE(o);
  CHECK(o->host == "cache.example.com");
  CHECK(o->port == 6379);
  CHECK(o->db == 0);
  CHECK(o->password.empty());
  CHECK(o->unix_path.empty());

  o = parse_redis_url("redis://10.0.0.5:6380/3");
  REQUIRE(o);
  CHECK(o->host == "10.0.0.5");
  CHECK(o->port == 6380);
  CHECK(o->db == 3);

  o = parse_redis_url("redis://:s3cret@localhost:7000/15");
  REQUIRE(o);
  CHECK(o->password == "s3cret");
  CHECK(o->username.empty());
  CHECK(o->host == "localhost");
  CHECK(o->port == 7000);
  CHECK(o->db == 15);

  o = parse_redis_url("redis://alice:p%40ss%3Aword@redis/1");
  REQUIRE(o);
  CHECK(o->username == "alice");
  CHECK(o->password == "p@ss:word");
  CHECK(o->host == "redis");
  CHECK(o->db == 1);

  o = parse_redis_url("redis://[::1]:6390");
  REQUIRE(o);
  CHECK(o->host == "::1");
  CHECK(o->port == 6390);

  o = parse_redis_url("redis://[fe80::1]/2");
  REQUIRE(o);
  CHECK(o->host == "fe80::1");
  CHECK(o->port == 6379);
  CHECK(o->db == 2);

  o = parse_redis_url("redis://host/");
  REQUIRE(o);
  CHECK(o->db == 0);

  o = parse_redis_url("REDIS://Host:1");
  REQUIRE(o);
  CHECK(o->port == 1);

  o = parse_redis_url("unix:///run/redis/redis.sock");
  REQUIRE(o);
  CHECK(o->unix_path == "/run/redis/redis.sock");
  CHECK(o->db == 0);

  o = parse_redis_url("redis://alice@redis");  // the password comes from --redis-password-file
  REQUIRE(o);
  CHECK(o->username == "alice");
  CHECK(o->password.empty());

  o = parse_redis_url("unix:///tmp/r.sock?db=4");
  REQUIRE(o);
  CHECK(o->unix_path == "/tmp/r.sock");
  CHECK(o->db == 4);
}

TEST_CASE("parse_redis_url rejects malformed urls") {
  for (const char* bad : {
           "",
           "localhost:6379",
           "rediss://host",
           "http://host",
           "redis://",
           "redis:///0",
           "redis://:pw@",
           "redis://host:",
           "redis://host:0",
           "redis://host:65536",
           "redis://host:123456",
           "redis://host:abc",
           "redis://host:-1",
           "redis://host/16",
           "redis://host/x",
           "redis://host/1/2",
           "redis://host?db=1",
           "redis://alice:@host",
           "redis://:pw%zz@host",
           "redis://:pw%4@host",
           "redis://[::1",
           "redis://[::1]x",
           "redis://[]:6379",
           "redis://[::1]:",
           "redis://ho st",
           "redis://host:6379:1",
           "unix://",
           "unix://relative.sock",
           "unix:///",
           "unix:///tmp/dir/",
           "unix:///tmp/r.sock?db=16",
           "unix:///tmp/r.sock?x=1",
           "unix:///tmp/r.sock?",
       }) {
    CAPTURE(bad);
    CHECK_FALSE(parse_redis_url(bad));
  }
}

TEST_CASE("redis+sentinel URLs name the sentinels, the master name and the data Redis's credentials") {
  auto u = wcp::config::parse_redis_url(
      "redis+sentinel://alice:p%40ss@10.0.0.1:26380,sentinel-b,[::1]:5000/mymaster/3");
  REQUIRE(u.url);
  REQUIRE(u.url->sentinels.size() == 3);
  CHECK(u.url->sentinels[0].host == "10.0.0.1");
  CHECK(u.url->sentinels[0].port == 26380);
  CHECK(u.url->sentinels[1].host == "sentinel-b");
  CHECK(u.url->sentinels[1].port == 26379);  // the sentinel default
  CHECK(u.url->sentinels[2].host == "::1");
  CHECK(u.url->sentinels[2].port == 5000);
  CHECK(u.url->master_name == "mymaster");
  CHECK(u.url->db == 3);
  CHECK(u.url->username == "alice");
  CHECK(u.url->password == "p@ss");
  CHECK(u.url->host.empty());

  u = wcp::config::parse_redis_url("REDIS+SENTINEL://s1/m");
  REQUIRE(u.url);
  CHECK(u.url->sentinels.size() == 1);
  CHECK(u.url->master_name == "m");
  CHECK(u.url->db == 0);
  CHECK_FALSE(u.url->has_password);

  // The connection options: no host until the sentinels name one, and ROLE checked on connect.
  auto o = parse_redis_url("redis+sentinel://:pw@127.0.0.1:26379/m/2");
  REQUIRE(o);
  CHECK(o->host.empty());
  CHECK(o->require_master);
  CHECK(o->password == "pw");
  CHECK(o->db == 2);
  CHECK_FALSE(parse_redis_url("redis://127.0.0.1")->require_master);

  for (const char* bad : {
           "redis+sentinel://",
           "redis+sentinel://s1",
           "redis+sentinel://s1/",
           "redis+sentinel:///m",
           "redis+sentinel://s1,/m",
           "redis+sentinel://,s1/m",
           "redis+sentinel://s1:0/m",
           "redis+sentinel://s1:70000/m",
           "redis+sentinel://s1,s1:26379/m",
           "redis+sentinel://s1/m/16",
           "redis+sentinel://s1/m/x",
           "redis+sentinel://s1/m?x=1",
           "redis+sentinel://s1/bad name",
           "redis+sentinel://s1/ma$ter",
           "redis+sentinel://alice:@s1/m",
           "redis+sentinel://[::1/m",
       }) {
    CAPTURE(bad);
    const auto r = wcp::config::parse_redis_url(bad);
    CHECK_FALSE(r.url);
    CHECK_FALSE(r.error.empty());
  }
}

TEST_CASE("error codes have names") {
  CHECK(std::error_code(redis_errc::not_connected).message() == "not connected to Redis");
  CHECK(std::error_code(redis_errc::timeout).message() == "Redis did not answer in time");
  CHECK(std::error_code(redis_errc::queue_full).message() == "too many Redis commands in flight");
  CHECK(std::error_code(redis_errc::closed).message() == "Redis connection closed");
  CHECK(std::error_code(redis_errc::protocol).message() == "Redis protocol or I/O error");
  CHECK(std::error_code(redis_errc::timeout) == redis_errc::timeout);
  CHECK(std::string(redis_category().name()) == "redis");
}

TEST_CASE("a set value is read back and a missing key is nil") {
  redis_server server;
  loop l;
  auto c = connect(l, options_for(server));

  auto r = run(*c, {"SET", "k1", "hello"});
  CHECK_FALSE(r.ec);
  CHECK(r.reply.type == kind::status);
  CHECK(r.reply.str == "OK");

  r = run(*c, {"GET", "k1"});
  CHECK_FALSE(r.ec);
  CHECK(r.reply.type == kind::string);
  CHECK(r.reply.str == "hello");

  r = run(*c, {"GET", "missing"});
  CHECK_FALSE(r.ec);
  CHECK(r.reply.type == kind::nil);
  CHECK(c->stats().errors == 0);
  CHECK(server.cli({"GET", "k1"}) == "hello");
}

TEST_CASE("an error reply is a reply of kind error") {
  redis_server server;
  loop l;
  auto c = connect(l, options_for(server));
  CHECK_FALSE(run(*c, {"SET", "text", "abc"}).ec);
  auto r = run(*c, {"INCR", "text"});
  CHECK_FALSE(r.ec);
  CHECK(r.reply.type == kind::error);
  CHECK(r.reply.str.find("not an integer") != std::string::npos);
  CHECK(c->stats().errors == 1);

  r = run(*c, {"NOSUCHCOMMAND"});
  CHECK(r.reply.type == kind::error);
  // The connection is still fine afterwards.
  CHECK(run(*c, {"PING"}).reply.str == "PONG");
}

TEST_CASE("binary values with NUL bytes round trip") {
  redis_server server;
  loop l;
  auto c = connect(l, options_for(server));
  std::string key("bin\0key", 7);
  std::string value;
  for (int i = 0; i < 256; ++i) value.push_back(static_cast<char>(i));
  value += std::string("\0\r\n$3\r\n\0", 9);
  CHECK_FALSE(run(*c, {"SET", key, value}).ec);
  auto r = run(*c, {"GET", key});
  CHECK(r.reply.type == kind::string);
  CHECK(r.reply.str.size() == value.size());
  CHECK(r.reply.str == value);
  CHECK(run(*c, {"STRLEN", key}).reply.integer == static_cast<long long>(value.size()));

  // A large value arrives in many reads.
  std::string big(3 << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 4099) big[i] = '\0';
  CHECK_FALSE(run(*c, {"SET", "big", big}).ec);
  r = run(*c, {"GET", "big"});
  CHECK(r.reply.str == big);
}

TEST_CASE("array and integer replies are copied") {
  redis_server server;
  loop l;
  auto c = connect(l, options_for(server));
  auto r = run(*c, {"RPUSH", "list", "a", "b", std::string("c\0d", 3)});
  CHECK(r.reply.type == kind::integer);
  CHECK(r.reply.integer == 3);

  r = run(*c, {"LRANGE", "list", "0", "-1"});
  REQUIRE(r.reply.type == kind::array);
  REQUIRE(r.reply.elements.size() == 3);
  CHECK(r.reply.elements[0].str == "a");
  CHECK(r.reply.elements[1].str == "b");
  CHECK(r.reply.elements[2].str == std::string("c\0d", 3));

  r = run(*c, {"LRANGE", "nolist", "0", "-1"});
  CHECK(r.reply.type == kind::array);
  CHECK(r.reply.elements.empty());

  CHECK_FALSE(run(*c, {"HSET", "h", "f1", "v1", "f2", "v2"}).ec);
  r = run(*c, {"HGETALL", "h"});
  REQUIRE(r.reply.type == kind::array);
  CHECK(r.reply.elements.size() == 4);

  r = run(*c, {"MGET", "nokey", "h"});  // a nil inside an array; WRONGTYPE is not raised by MGET
  REQUIRE(r.reply.type == kind::array);
  REQUIRE(r.reply.elements.size() == 2);
  CHECK(r.reply.elements[0].type == kind::nil);
  CHECK(r.reply.elements[1].type == kind::nil);

  r = run(*c, {"INCRBY", "n", "-42"});
  CHECK(r.reply.type == kind::integer);
  CHECK(r.reply.integer == -42);
}

TEST_CASE("command completes on the caller executor with the reply") {
  redis_server server;
  loop caller, redis_loop;
  auto c = connect(redis_loop, options_for(server));
  std::promise<std::pair<redis_result, std::thread::id>> p;
  net::co_spawn(
      caller.ioc,
      [&]() -> net::awaitable<void> {
        co_await c->command(argv("SET", "aw", "1"));
        auto r = co_await c->command(argv("GET", "aw"));
        p.set_value(std::make_pair(std::move(r), std::this_thread::get_id()));
      },
      [](std::exception_ptr) {});
  auto f = p.get_future();
  REQUIRE(f.wait_for(5s) == std::future_status::ready);
  auto [r, thread] = f.get();
  CHECK_FALSE(r.ec);
  CHECK(r.reply.str == "1");
  CHECK(thread == caller.thread_id);
}

TEST_CASE("concurrent commands from two io_contexts complete exactly once") {
  redis_server server;
  loop a, b, redis_loop;
  auto o = options_for(server);
  o.command_timeout = 10s;
  auto c = connect(redis_loop, o);

  constexpr int coroutines = 20, per_coroutine = 100;  // 2 x 2000 INCRs
  std::atomic<int> ok{0}, failed{0}, wrong_thread{0}, finished{0};
  auto worker = [&](std::thread::id home) -> net::awaitable<void> {
    for (int i = 0; i < per_coroutine; ++i) {
      auto r = co_await c->command(argv("INCR", "counter"));
      if (std::this_thread::get_id() != home) ++wrong_thread;
      if (!r.ec && r.reply.type == kind::integer)
        ++ok;
      else
        ++failed;
    }
    ++finished;
  };
  for (int i = 0; i < coroutines; ++i) {
    net::co_spawn(a.ioc, worker(a.thread_id), [](std::exception_ptr) {});
    net::co_spawn(b.ioc, worker(b.thread_id), [](std::exception_ptr) {});
  }
  REQUIRE(wait_until([&] { return finished == 2 * coroutines; }, 60s));
  CHECK(ok == 2 * coroutines * per_coroutine);
  CHECK(failed == 0);
  CHECK(wrong_thread == 0);
  CHECK(run(*c, {"GET", "counter"}).reply.str == "4000");
  CHECK(c->stats().errors == 0);
}

TEST_CASE("a password is sent with AUTH and a wrong one never comes up") {
  redis_server server({"--requirepass", "s3cret"});
  loop l;
  auto o = options_for(server);
  o.password = "s3cret";
  auto good = connect(l, o);
  CHECK_FALSE(run(*good, {"SET", "authed", "yes"}).ec);
  CHECK(server.cli({"GET", "authed"}) == "yes");

  o.password = "wrong";
  auto bad = connect(l, o, false);
  o.password.clear();
  auto none = connect(l, o, false);
  // Each has tried and been refused more than once (not merely not connected yet).
  REQUIRE(wait_until([&] {
    return bad->stats().connect_failures >= 2 && none->stats().connect_failures >= 2;
  }));
  CHECK_FALSE(bad->up());
  CHECK_FALSE(none->up());
  CHECK(bad->stats().reconnects == 0);
  CHECK(none->stats().reconnects == 0);
  CHECK(run(*bad, {"PING"}).ec == redis_errc::not_connected);
  CHECK(good->up());
}

TEST_CASE("an ACL user authenticates with user and password") {
  redis_server server;
  REQUIRE(server.cli({"ACL", "SETUSER", "alice", "on", ">pw", "~*", "&*", "+@all"}) == "OK");
  loop l;
  auto o = options_for(server);
  o.username = "alice";
  o.password = "pw";
  auto c = connect(l, o);
  auto r = run(*c, {"ACL", "WHOAMI"});
  CHECK(r.reply.str == "alice");

  auto url = parse_redis_url("redis://alice:nope@127.0.0.1:" + std::to_string(server.port()));
  REQUIRE(url);
  url->reconnect_min = 10ms;
  auto bad = connect(l, *url, false);
  REQUIRE(wait_until([&] { return bad->stats().connect_failures >= 2; }));
  CHECK_FALSE(bad->up());
  CHECK(bad->stats().reconnects == 0);
}

TEST_CASE("a non-zero db is selected on connect") {
  redis_server server;
  loop l;
  auto o = options_for(server);
  o.db = 3;
  auto c = connect(l, o);
  CHECK_FALSE(run(*c, {"SET", "indb3", "v"}).ec);
  CHECK(server.cli({"-n", "3", "GET", "indb3"}) == "v");
  CHECK(server.cli({"-n", "0", "EXISTS", "indb3"}) == "0");

  auto url = parse_redis_url(server.url() + "/3");
  REQUIRE(url);
  auto via_url = connect(l, *url);
  CHECK(run(*via_url, {"GET", "indb3"}).reply.str == "v");
}

TEST_CASE("a host name is resolved before connecting") {
  redis_server server;
  loop l;
  auto o = options_for(server);
  o.host = "localhost";  // may resolve to ::1 first: the next address is tried
  auto c = connect(l, o);
  CHECK(run(*c, {"PING"}).reply.str == "PONG");
}

TEST_CASE("a unix socket connection works") {
  const std::string dir = wcp::test::make_temp_dir("wcp-redis-sock-");
  const std::string sock = dir + "/redis.sock";
  {
    redis_server server({"--unixsocket", sock, "--unixsocketperm", "700"});
    loop l;
    auto o = parse_redis_url("unix://" + sock + "?db=2");
    REQUIRE(o);
    o->reconnect_min = 10ms;
    auto c = connect(l, *o);
    CHECK_FALSE(run(*c, {"SET", "viasock", "1"}).ec);
    CHECK(server.cli({"-n", "2", "GET", "viasock"}) == "1");
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_CASE("commands fail fast while down and the connection comes back by itself") {
  redis_server server;
  loop l;
  auto c = connect(l, options_for(server));
  CHECK(c->stats().reconnects == 0);
  server.stop();
  REQUIRE(wait_until([&] { return !c->up(); }));

  for (int i = 0; i < 20; ++i) {
    const auto t0 = steady::now();
    auto r = run(*c, {"PING"});
    CHECK(r.ec == redis_errc::not_connected);
    CHECK(steady::now() - t0 < 100ms);  // answered at once, never queued
  }
  CHECK(c->stats().errors >= 20);

  server.restart();
  REQUIRE(wait_until([&] { return c->up(); }));
  CHECK(run(*c, {"PING"}).reply.str == "PONG");
  CHECK(c->stats().reconnects == 1);

  server.stop();
  REQUIRE(wait_until([&] { return !c->up(); }));
  server.restart();
  REQUIRE(wait_until([&] { return c->up(); }));
  CHECK(c->stats().reconnects == 2);
}

TEST_CASE("a server down for seconds is tried every 250 ms at most - and used within a second of coming back") {
  redis_server server;
  loop l;
  auto o = options_for(server);
  const redis_options defaults;
  o.reconnect_min = defaults.reconnect_min;
  o.reconnect_max = defaults.reconnect_max;
  auto c = connect(l, o);
  server.stop();
  REQUIRE(wait_until([&] { return !c->up(); }));
  // A backoff doubling to seconds would take over 16 s for eight attempts and then wait 5 s
  // between two; at most 250 ms apart, eight take about 2 s and the next three under a second.
  REQUIRE(wait_until([&] { return c->stats().connect_failures >= 8; }, 4s));
  const auto so_far = c->stats().connect_failures.load();
  CHECK(wait_until([&] { return c->stats().connect_failures >= so_far + 3; }, 1s));
  server.restart();
  const auto back = steady::now();
  REQUIRE(wait_until([&] { return c->up(); }, 2s));
  CHECK(steady::now() - back < 1s);
  CHECK(run(*c, {"PING"}).reply.str == "PONG");
}

TEST_CASE("a connection started while the server is down connects later") {
  redis_server server;
  server.stop();
  loop l;
  auto c = connect(l, options_for(server), false);
  REQUIRE(wait_until([&] { return c->stats().connect_failures >= 1; }));
  CHECK_FALSE(c->up());
  CHECK(run(*c, {"PING"}).ec == redis_errc::not_connected);
  server.restart();
  REQUIRE(wait_until([&] { return c->up(); }));
  CHECK(run(*c, {"PING"}).reply.str == "PONG");
  CHECK(c->stats().reconnects == 0);  // the first successful connect
}

TEST_CASE("a paused server makes commands time out and then recover") {
  redis_server server;
  loop l;
  auto o = options_for(server);
  o.command_timeout = 50ms;
  auto c = connect(l, o);
  CHECK(run(*c, {"PING"}).reply.str == "PONG");

  server.pause();
  const auto t0 = steady::now();
  auto r = run(*c, {"PING"});
  CHECK(r.ec == redis_errc::timeout);
  CHECK(steady::now() - t0 < 500ms);
  CHECK(c->stats().timeouts == 1);
  CHECK(c->stats().errors == 1);
  CHECK(c->up());  // a slow server is not a dead one

  // Meanwhile commands fail at once instead of each waiting out the timeout.
  const auto t1 = steady::now();
  CHECK(run(*c, {"PING"}).ec == redis_errc::not_connected);
  CHECK(steady::now() - t1 < 40ms);

  server.resume();
  // The late reply to the timed-out PING is dropped (and shows Redis answers again); then
  // commands get their own replies.
  REQUIRE(wait_until([&] { return !run(*c, {"PING"}).ec; }));
  r = run(*c, {"ECHO", "after"});
  CHECK_FALSE(r.ec);
  CHECK(r.reply.str == "after");
  CHECK(c->stats().timeouts == 1);
}

TEST_CASE("kill -9 with commands in flight fails them all and reconnects") {
  redis_server server;
  loop l;
  auto o = options_for(server);
  o.command_timeout = 10s;
  auto c = connect(l, o);

  // Some commands certainly in flight (the server is stopped), then more while it dies.
  server.pause();
  fan_out held(200);
  for (std::size_t i = 0; i < 200; ++i) held.send(*c, i, {"INCR", "n"});
  std::atomic<bool> flooding{true};
  std::atomic<std::size_t> flood_sent{0};
  fan_out flood(100000);
  std::thread flooder([&] {
    while (flooding && flood_sent < flood.calls.size()) {
      const auto i = flood_sent++;
      flood.send(*c, i, {"GET", "n"});
      if (i % 64 == 0) std::this_thread::sleep_for(1ms);
    }
  });
  // Every held command and a good part of the flood are with Redis when it dies.
  REQUIRE(wait_until([&] { return c->stats().in_flight >= 200 + 256; }));
  server.kill();
  CHECK(wait_until([&] { return held.done() == 200; }, 3s));
  flooding = false;
  flooder.join();
  const std::size_t sent = flood_sent.load();
  CHECK(wait_until([&] { return flood.done() == sent; }, 5s));
  CHECK(held.each_once());
  for (std::size_t i = 0; i < sent; ++i) CHECK(flood.calls[i].load() == 1);
  for (auto& r : held.results) {
    CHECK(r.ec);
    CHECK((r.ec == redis_errc::protocol || r.ec == redis_errc::not_connected));
  }

  server.restart();
  REQUIRE(wait_until([&] { return c->up(); }));
  CHECK(run(*c, {"PING"}).reply.str == "PONG");
  CHECK(c->stats().reconnects == 1);
}

TEST_CASE("too many commands in flight fail with queue_full") {
  redis_server server;
  loop l;
  auto o = options_for(server);
  o.max_in_flight = 4;
  o.command_timeout = 100ms;
  auto c = connect(l, o);
  server.pause();
  fan_out f(6);
  for (std::size_t i = 0; i < 6; ++i) f.send(*c, i, {"PING"});
  REQUIRE(wait_until([&] { return f.done() == 6; }));
  int full = 0, timed_out = 0;
  for (auto& r : f.results) {
    if (r.ec == redis_errc::queue_full) ++full;
    if (r.ec == redis_errc::timeout) ++timed_out;
  }
  CHECK(full == 2);
  CHECK(timed_out == 4);
  // Timed-out commands still hold their slots until the server answers them.
  CHECK(run(*c, {"PING"}).ec == redis_errc::queue_full);

  server.resume();
  REQUIRE(wait_until([&] { return !run(*c, {"PING"}).ec; }, 3s));
  CHECK(c->stats().timeouts == 4);
}

TEST_CASE("a subscriber gets messages and is told of each resubscription") {
  redis_server server;
  loop l;
  auto o = options_for(server);
  auto sub = redis_connection::create(l.ioc.get_executor(), o);
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> got;
  std::atomic<int> subscribed{0};
  sub->subscribe(
      {"inval", "other", "inval"},
      [&](std::string_view ch, std::string_view payload) {
        std::lock_guard lock(mu);
        got.emplace_back(ch, payload);
      },
      [&] { ++subscribed; });
  sub->start();
  REQUIRE(wait_until([&] { return subscribed == 1; }));
  CHECK(sub->up());
  auto count = [&] {
    std::lock_guard lock(mu);
    return got.size();
  };

  auto pub = connect(l, o);
  const std::string binary("k\0ey", 4);
  CHECK(run(*pub, {"PUBLISH", "inval", binary}).reply.integer == 1);
  CHECK(server.cli({"PUBLISH", "other", "two"}) == "1");
  CHECK(server.cli({"PUBLISH", "unrelated", "x"}) == "0");
  REQUIRE(wait_until([&] { return count() == 2; }));
  {
    std::lock_guard lock(mu);
    CHECK(got[0] == std::pair<std::string, std::string>("inval", binary));
    CHECK(got[1] == std::pair<std::string, std::string>("other", "two"));
  }
  // Commands are not for a subscriber.
  CHECK(run(*sub, {"GET", "x"}).ec == redis_errc::protocol);

  server.restart();
  REQUIRE(wait_until([&] { return subscribed == 2; }));
  REQUIRE(wait_until([&] { return pub->up(); }));
  CHECK(run(*pub, {"PUBLISH", "inval", "again"}).reply.integer == 1);
  REQUIRE(wait_until([&] { return count() == 3; }));
  {
    std::lock_guard lock(mu);
    CHECK(got[2].second == "again");
  }
  CHECK(sub->stats().reconnects == 1);
}

TEST_CASE("stop completes pending commands with closed") {
  redis_server server;
  loop l;
  auto o = options_for(server);
  o.command_timeout = 10s;
  auto c = connect(l, o);
  server.pause();
  fan_out f(50);
  for (std::size_t i = 0; i < 50; ++i) f.send(*c, i, {"PING"});
  REQUIRE(wait_until([&] { return c->stats().in_flight == 50; }));
  c->stop();
  REQUIRE(wait_until([&] { return f.done() == 50; }, 2s));
  CHECK(f.each_once());
  for (auto& r : f.results) CHECK(r.ec == redis_errc::closed);
  CHECK_FALSE(c->up());
  CHECK(run(*c, {"PING"}).ec == redis_errc::closed);
  server.resume();
  // A connection started now, with the same reconnect settings, comes up: the stopped one had
  // every chance to reconnect too, and must not have.
  auto control = connect(l, options_for(server));
  CHECK_FALSE(c->up());  // no reconnect after stop
  CHECK(c->stats().reconnects == 0);
  control->stop();
  control.reset();
  c->stop();             // twice is fine
  c.reset();
  CHECK(l.drain(2s));
}

TEST_CASE("destroying the connection with commands in flight is safe") {
  redis_server server;
  loop caller, redis_loop;
  auto o = options_for(server);
  o.command_timeout = 10s;
  auto c = connect(redis_loop, o);
  server.pause();

  fan_out f(20);
  for (std::size_t i = 0; i < 20; ++i) f.send(*c, i, {"PING"});
  std::atomic<int> awaited{0}, closed{0};
  for (int i = 0; i < 20; ++i)
    net::co_spawn(
        caller.ioc,
        [&, conn = c.get()]() -> net::awaitable<void> {
          auto r = co_await conn->command(argv("PING"));
          ++awaited;
          if (r.ec == redis_errc::closed) ++closed;
        },
        [](std::exception_ptr) {});
  REQUIRE(wait_until([&] { return c->stats().in_flight == 40; }));
  c.reset();  // the suspended command() calls do not keep the connection object alive
  REQUIRE(wait_until([&] { return f.done() == 20 && awaited == 20; }, 3s));
  CHECK(f.each_once());
  for (auto& r : f.results) CHECK(r.ec == redis_errc::closed);
  CHECK(closed == 20);
  CHECK(redis_loop.drain(2s));
}

TEST_CASE("a connection never run or outliving its loop is freed cleanly") {
  redis_server server;
  {
    // Its io_context never runs: ~io_context destroys the queued handlers and the command
    // still completes, once.
    int called = 0;
    std::error_code ec;
    {
      net::io_context ioc;
      auto c = redis_connection::create(ioc.get_executor(), options_for(server));
      c->start();
      c->async_command({"PING"}, [&](redis_result r) {
        ++called;
        ec = r.ec;
      });
      c.reset();
    }
    CHECK(called == 1);
    CHECK(ec == redis_errc::closed);
  }
  {
    // A live hiredis context when the io_context stops and is destroyed.
    auto ioc = std::make_unique<net::io_context>();
    auto c = redis_connection::create(ioc->get_executor(), options_for(server));
    c->start();
    const auto deadline = steady::now() + 5s;
    while (!c->up() && steady::now() < deadline) ioc->run_for(10ms);
    REQUIRE(c->up());
    std::atomic<int> called{0};
    server.pause();
    c->async_command({"PING"}, [&](redis_result r) { ++called; });
    ioc->run_for(20ms);
    c.reset();
    ioc.reset();
    CHECK(called == 1);
    server.resume();
  }
}

TEST_CASE("commands before start fail with not_connected") {
  loop l;
  redis_options o;
  o.port = 1;
  auto c = redis_connection::create(l.ioc.get_executor(), o);
  CHECK(run(*c, {"PING"}).ec == redis_errc::not_connected);
  CHECK(run(*c, {}).ec == redis_errc::protocol);
  c->start();
  CHECK(run(*c, {"PING"}).ec == redis_errc::not_connected);
  c.reset();
  CHECK(l.drain(2s));
}

namespace {

// A command bound to one session, through the coroutine form, waited for with a deadline.
redis_result run_in(loop& l, redis_connection& c, std::vector<std::string> args,
                    std::uint64_t session) {
  auto p = std::make_shared<std::promise<redis_result>>();
  auto f = p->get_future();
  net::co_spawn(
      l.ioc,
      [&c, args = std::move(args), session]() mutable -> net::awaitable<redis_result> {
        co_return co_await c.command(std::move(args), session);
      },
      [p](std::exception_ptr, redis_result r) { p->set_value(std::move(r)); });
  if (f.wait_for(5s) != std::future_status::ready) throw std::runtime_error("command did not complete");
  return f.get();
}

}  // namespace

TEST_CASE("require_master: a replica is not used - set_target moves the connection at once, each link a new session") {
  redis_server master;
  redis_server replica({"--replicaof", "127.0.0.1", std::to_string(master.port())});
  loop l;
  auto o = options_for(replica);
  o.require_master = true;
  auto c = redis_connection::create(l.ioc.get_executor(), o);
  std::atomic<int> not_master{0};
  std::mutex mu;
  std::vector<std::uint64_t> sessions;
  c->on_not_master([&] { ++not_master; });
  c->on_up([&](std::uint64_t s) {
    std::lock_guard lock(mu);
    sessions.push_back(s);
  });
  c->start();
  REQUIRE(wait_until([&] { return not_master >= 2; }));  // refused, and refused again on retry
  CHECK_FALSE(c->up());
  CHECK(c->stats().not_master >= 2);
  CHECK(run(*c, {"SET", "k", "v"}).ec == redis_errc::not_connected);
  CHECK(c->session() == 0);

  c->set_target("127.0.0.1", master.port());
  REQUIRE(wait_until([&] { return c->up(); }));
  CHECK(c->target() == "127.0.0.1:" + std::to_string(master.port()));
  CHECK(c->session() == 1);
  auto set = run(*c, {"SET", "k", "v"});
  CHECK_FALSE(set.ec);
  CHECK(set.session == 1);
  CHECK(master.cli({"GET", "k"}) == "v");

  // A restarted server is a new link: commands bound to the old session are not sent.
  master.restart();
  REQUIRE(wait_until([&] { return c->up() && c->session() == 2; }));
  CHECK(run_in(l, *c, {"SET", "k", "old"}, 1).ec == redis_errc::not_connected);
  CHECK(master.cli({"EXISTS", "k"}) == "0");  // persisting nothing, it came back empty
  auto bound = run_in(l, *c, {"SET", "k", "new"}, 2);
  CHECK_FALSE(bound.ec);
  CHECK(bound.session == 2);

  // Pointed back at the replica while up: the master's link is dropped at once, not used again.
  const int refused = not_master.load();
  c->set_target("127.0.0.1", replica.port());
  REQUIRE(wait_until([&] { return not_master > refused; }));
  CHECK_FALSE(c->up());
  CHECK(run(*c, {"GET", "k"}).ec == redis_errc::not_connected);
  std::lock_guard lock(mu);
  CHECK(sessions == std::vector<std::uint64_t>{1, 2});
}

TEST_CASE("a connection without a host waits for set_target") {
  redis_server server;
  loop l;
  auto o = options_for(server);
  o.host.clear();
  auto c = connect(l, o, false);
  CHECK(c->target().empty());
  CHECK(run(*c, {"PING"}).ec == redis_errc::not_connected);
  CHECK(c->stats().connect_failures == 0);
  c->set_target("127.0.0.1", server.port());
  REQUIRE(wait_until([&] { return c->up(); }));
  CHECK(run(*c, {"PING"}).reply.str == "PONG");
}

TEST_CASE("a fill ticket read before Redis came back is never stored after") {
  redis_server server;
  loop l;
  auto c = connect(l, options_for(server));
  redis_store store(c, "wcp");
  const wcp::cache::resource_key key(wcp::cache::resource_kind::call_park, "loc1", "park1");
  auto ticket_p = std::make_shared<std::promise<fill_ticket>>();
  net::co_spawn(l.ioc, store.begin_fill(key), [ticket_p](std::exception_ptr, fill_ticket t) {
    ticket_p->set_value(t);
  });
  auto before = ticket_p->get_future().get();
  REQUIRE(before.shared.known);
  CHECK(before.shared.session == 1);

  server.restart();
  REQUIRE(wait_until([&] { return c->up() && c->session() == 2; }));
  wcp::cache::entry e;
  e.status = 200;
  e.body = "{}";
  e.stored_at = wcp::cache::wall_clock::now();
  e.expires_at = e.stored_at + 60s;
  const wcp::cache::variant_key vkey{key, "org"};
  auto store_with = [&](fill_ticket t) {
    auto p = std::make_shared<std::promise<shared_write>>();
    net::co_spawn(l.ioc, store.store_entry(vkey, e, t, 60s),
                  [p](std::exception_ptr, shared_write w) { p->set_value(w); });
    return p->get_future().get();
  };
  // Same generations (all zero on an empty Redis), earlier link: not stored.
  CHECK(store_with(before) == shared_write::failed);
  CHECK(server.cli({"EXISTS", store.entry_key(key)}) == "0");
  auto again_p = std::make_shared<std::promise<fill_ticket>>();
  net::co_spawn(l.ioc, store.begin_fill(key), [again_p](std::exception_ptr, fill_ticket t) {
    again_p->set_value(t);
  });
  auto again = again_p->get_future().get();
  CHECK(again.shared.session == 2);
  CHECK(store_with(again) == shared_write::done);
  CHECK(server.cli({"EXISTS", store.entry_key(key)}) == "1");
}
