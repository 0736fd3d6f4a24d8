// One conformance suite, run against every storage backend: the in-process store, Redis alone,
// and the tiered cache (L1 in front of Redis). Redis is a real redis-server on a free port.
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <future>

#include "cache/invalidation_bus.hpp"
#include "cache/memory_store.hpp"
#include "cache/redis_connection.hpp"
#include "cache/redis_store.hpp"
#include "cache/tiered_cache.hpp"
#include "support/redis_server.hpp"

using namespace wcp::cache;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// Runs one awaitable on `ioc` to completion (bounded), from the test thread.
template <class T>
T run(net::io_context& ioc, net::awaitable<T> a) {
  auto fut = net::co_spawn(ioc, std::move(a), net::use_future);
  ioc.restart();
  while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    if (ioc.run_one_for(std::chrono::seconds(5)) == 0) break;
  }
  REQUIRE(fut.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  return fut.get();
}

void run(net::io_context& ioc, net::awaitable<void> a) {
  auto fut = net::co_spawn(ioc, std::move(a), net::use_future);
  ioc.restart();
  while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    if (ioc.run_one_for(std::chrono::seconds(5)) == 0) break;
  }
  REQUIRE(fut.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  fut.get();
}

entry_ptr make_entry(std::string body, wall_clock::time_point at = wall_clock::now(),
                     milliseconds keep = seconds(60)) {
  auto e = std::make_shared<entry>();
  e->status = 200;
  e->content_type = "application/json;charset=UTF-8";
  e->tracking_id = "ROUTER_42";
  e->body = std::move(body);
  // Whole milliseconds, as a shared store keeps them.
  e->stored_at = std::chrono::time_point_cast<milliseconds>(at);
  e->expires_at = e->stored_at + keep;
  return e;
}

struct memory_backend {
  net::io_context ioc;
  memory_store s{1 << 20};
  store& get() { return s; }
};

std::atomic<int> prefix_counter{0};

struct redis_backend {
  net::io_context ioc;
  wcp::test::redis_server server;
  std::shared_ptr<redis_connection> conn;
  std::unique_ptr<redis_store> s;
  redis_backend() {
    auto opts = parse_redis_url(server.url());
    REQUIRE(opts);
    opts->command_timeout = milliseconds(500);
    conn = redis_connection::create(ioc.get_executor(), *opts);
    conn->start();
    s = std::make_unique<redis_store>(conn, "conf" + std::to_string(prefix_counter++));
    const auto deadline = std::chrono::steady_clock::now() + seconds(5);
    while (!conn->up() && std::chrono::steady_clock::now() < deadline) ioc.run_for(milliseconds(10));
    REQUIRE(conn->up());
  }
  ~redis_backend() {
    conn->stop();
    ioc.run_for(milliseconds(50));
  }
  store& get() { return *s; }
};

struct tiered_backend {
  net::io_context ioc;
  wcp::test::redis_server server;
  std::shared_ptr<redis_connection> conn, sub;
  std::unique_ptr<redis_store> l2;
  std::unique_ptr<redis_grants> l2_grants;
  std::unique_ptr<redis_backoff> l2_backoff;
  std::unique_ptr<invalidation_bus> bus;
  std::unique_ptr<tiered_cache> s;
  // `max_pending`: how many invalidations Redis could not take are remembered before the cache
  // gives up on them and drops everything in Redis instead.
  explicit tiered_backend(std::size_t max_pending = 10000) {
    auto opts = parse_redis_url(server.url());
    REQUIRE(opts);
    opts->command_timeout = milliseconds(500);
    conn = redis_connection::create(ioc.get_executor(), *opts);
    sub = redis_connection::create(ioc.get_executor(), *opts);
    const std::string prefix = "tier" + std::to_string(prefix_counter++);
    l2 = std::make_unique<redis_store>(conn, prefix);
    l2_grants = std::make_unique<redis_grants>(conn, prefix);
    l2_backoff = std::make_unique<redis_backoff>(conn, prefix);
    bus = std::make_unique<invalidation_bus>(conn, sub, prefix + ":v1:invalidations", "self");
    s = std::make_unique<tiered_cache>(ioc.get_executor(), std::make_unique<memory_store>(1 << 20),
                                       *l2, *l2_grants, *l2_backoff, *bus, max_pending);
    s->attach();
    bus->start();
    conn->start();
    sub->start();
    const auto deadline = std::chrono::steady_clock::now() + seconds(5);
    // Up, subscribed, and reading from Redis (its invalidation journal applied on the link).
    while ((!conn->up() || !sub->up() || !s->reading_redis()) &&
           std::chrono::steady_clock::now() < deadline)
      ioc.run_for(milliseconds(10));
    REQUIRE(s->reading_redis());
  }
  ~tiered_backend() {
    sub->stop();
    conn->stop();
    ioc.run_for(milliseconds(50));
  }
  store& get() { return *s; }
};

const resource_key park(resource_kind::call_park, "TE9DMQ==", "UEFSSzE=");
const variant_key own{park, ""};
const variant_key via_org{park, "T1JHQQ"};

}  // namespace

#define BACKENDS memory_backend, redis_backend, tiered_backend

TEST_CASE_TEMPLATE("a lookup of nothing is a miss - not an error", B, BACKENDS) {
  B b;
  CHECK(run(b.ioc, b.get().lookup(own)) == nullptr);
}

TEST_CASE_TEMPLATE("an inserted entry comes back whole", B, BACKENDS) {
  B b;
  auto e = make_entry(std::string("{\"name\":\"caf\xc3\xa9\"}"));
  auto t = run(b.ioc, b.get().begin_fill(park));
  CHECK(run(b.ioc, b.get().insert(own, e, t, seconds(60))));
  auto got = run(b.ioc, b.get().lookup(own));
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(got->body == e->body);
  CHECK(got->content_type == e->content_type);
  CHECK(got->tracking_id == e->tracking_id);
  CHECK(got->stored_at == e->stored_at);
}

TEST_CASE_TEMPLATE("padded and unpadded IDs reach the same entry", B, BACKENDS) {
  B b;
  auto t = run(b.ioc, b.get().begin_fill(park));
  run(b.ioc, b.get().insert(own, make_entry("{}"), t, seconds(60)));
  variant_key bare{resource_key(resource_kind::call_park, "TE9DMQ", "UEFSSzE"), ""};
  CHECK(run(b.ioc, b.get().lookup(bare)) != nullptr);
}

TEST_CASE_TEMPLATE("org variants are separate and one invalidation drops them all", B, BACKENDS) {
  B b;
  auto t = run(b.ioc, b.get().begin_fill(park));
  run(b.ioc, b.get().insert(own, make_entry("{\"v\":1}"), t, seconds(60)));
  run(b.ioc, b.get().insert(via_org, make_entry("{\"v\":2}"), t, seconds(60)));
  CHECK(run(b.ioc, b.get().lookup(own))->body == "{\"v\":1}");
  CHECK(run(b.ioc, b.get().lookup(via_org))->body == "{\"v\":2}");
  run(b.ioc, b.get().invalidate(park));
  CHECK(run(b.ioc, b.get().lookup(own)) == nullptr);
  CHECK(run(b.ioc, b.get().lookup(via_org)) == nullptr);
}

TEST_CASE_TEMPLATE("a fill that began before an invalidation is not stored", B, BACKENDS) {
  B b;
  auto early = run(b.ioc, b.get().begin_fill(park));
  run(b.ioc, b.get().invalidate(park));
  CHECK_FALSE(run(b.ioc, b.get().insert(own, make_entry("{}"), early, seconds(60))));
  CHECK(run(b.ioc, b.get().lookup(own)) == nullptr);
  auto late = run(b.ioc, b.get().begin_fill(park));
  CHECK(run(b.ioc, b.get().insert(own, make_entry("{}"), late, seconds(60))));
  CHECK(run(b.ioc, b.get().lookup(own)) != nullptr);
}

TEST_CASE_TEMPLATE("invalidating another resource fences nothing here", B, BACKENDS) {
  B b;
  auto t = run(b.ioc, b.get().begin_fill(park));
  run(b.ioc, b.get().invalidate(resource_key(resource_kind::paging_group, "TE9DMQ", "UEFSSzE")));
  CHECK(run(b.ioc, b.get().insert(own, make_entry("{}"), t, seconds(60))));
}

TEST_CASE_TEMPLATE("entries past their keep time are not returned", B, BACKENDS) {
  B b;
  auto t = run(b.ioc, b.get().begin_fill(park));
  auto old = make_entry("{}", wall_clock::now() - seconds(120), seconds(60));
  run(b.ioc, b.get().insert(own, old, t, seconds(60)));
  CHECK(run(b.ioc, b.get().lookup(own)) == nullptr);
}

TEST_CASE_TEMPLATE("a location purge drops that location only and fences its fills", B, BACKENDS) {
  B b;
  const resource_key other(resource_kind::paging_group, "T1RIRVI", "UEc");
  auto t1 = run(b.ioc, b.get().begin_fill(park));
  auto t2 = run(b.ioc, b.get().begin_fill(other));
  run(b.ioc, b.get().insert(own, make_entry("{}"), t1, seconds(60)));
  run(b.ioc, b.get().insert(variant_key{other, ""}, make_entry("{}"), t2, seconds(60)));
  auto in_flight = run(b.ioc, b.get().begin_fill(park));
  run(b.ioc, b.get().invalidate_location("TE9DMQ"));
  CHECK(run(b.ioc, b.get().lookup(own)) == nullptr);
  CHECK(run(b.ioc, b.get().lookup(variant_key{other, ""})) != nullptr);
  CHECK_FALSE(run(b.ioc, b.get().insert(own, make_entry("{}"), in_flight, seconds(60))));
}

TEST_CASE("redis store: dropping everything fences the fills in flight") {
  redis_backend b;
  auto in_flight = run(b.ioc, b.s->begin_fill(park));
  REQUIRE(run(b.ioc, b.s->drop_all()));
  CHECK_FALSE(run(b.ioc, b.s->insert(own, make_entry("{}"), in_flight, seconds(60))));
  CHECK(run(b.ioc, b.s->lookup(own)) == nullptr);
  auto later = run(b.ioc, b.s->begin_fill(park));
  CHECK(run(b.ioc, b.s->insert(own, make_entry("{}"), later, seconds(60))));
}

TEST_CASE("tiered: after too many lost invalidations, a fill in flight across the drop does not store") {
  tiered_backend b(1);
  auto in_flight = run(b.ioc, b.s->begin_fill(park));
  // Redis stops answering: two invalidations of other resources are lost, one more than is
  // remembered, so the cache must drop everything in Redis once it is back.
  b.server.pause();
  run(b.ioc, b.s->invalidate(resource_key(resource_kind::call_park, "TE9DMQ", "T1RIRVIx")));
  run(b.ioc, b.s->invalidate(resource_key(resource_kind::call_park, "TE9DMQ", "T1RIRVIy")));
  b.server.resume();
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (b.s->stats().replayed.load() == 0 && std::chrono::steady_clock::now() < deadline)
    b.ioc.run_for(milliseconds(10));
  REQUIRE(b.s->stats().replayed.load() >= 1);
  REQUIRE(b.s->pending() == 0);
  // The lost invalidations may have been of this resource: what the fill fetched before the
  // drop must not land in Redis or in the in-process copy.
  CHECK_FALSE(run(b.ioc, b.s->insert(own, make_entry("{}"), in_flight, seconds(60))));
  CHECK(run(b.ioc, b.s->lookup(own)) == nullptr);
  CHECK(b.server.cli({"EXISTS", b.l2->entry_key(park)}) == "0");
}

TEST_CASE("redis store: keys are versioned and readable and every key has a TTL") {
  redis_backend b;
  auto t = run(b.ioc, b.s->begin_fill(park));
  run(b.ioc, b.s->insert(own, make_entry("{}"), t, seconds(60)));
  run(b.ioc, b.s->invalidate(resource_key(resource_kind::call_park, "TE9DMQ", "T1RIRVI")));
  const auto keys = b.server.cli({"--scan"});
  CHECK(keys.find(":v1:entry:callParks/TE9DMQ/UEFSSzE") != std::string::npos);
  CHECK(keys.find(":v1:gen:callParks/TE9DMQ/T1RIRVI") != std::string::npos);
  std::istringstream in(keys);
  std::string key;
  int n = 0;
  while (std::getline(in, key)) {
    if (key.empty()) continue;
    ++n;
    CAPTURE(key);
    const auto ttl = std::stoll(b.server.cli({"PTTL", key}));
    CHECK(ttl > 0);
  }
  CHECK(n >= 2);
}

TEST_CASE("redis store: a corrupt value is a miss and is counted") {
  redis_backend b;
  // Stamped with the current generations (none bumped yet), but no entry.
  b.server.cli({"HSET", b.s->entry_key(park), "@", "0 0\ngarbage"});
  CHECK(run(b.ioc, b.s->lookup(own)) == nullptr);
  CHECK(b.s->corrupt_entries() == 1);
}

TEST_CASE("redis store: dropping a location is one generation bump that every lookup checks") {
  redis_backend b;
  const resource_key list = resource_key::of(resource_kind::call_park, "TE9DMQ", "callParks?max=2");
  for (const auto& key : {park, list}) {
    auto t = run(b.ioc, b.s->begin_fill(key));
    REQUIRE(run(b.ioc, b.s->insert(variant_key{key, ""}, make_entry("{}"), t, seconds(60))));
  }
  REQUIRE(run(b.ioc, b.s->drop_location("TE9DMQ")));
  // No scan, no delete: the entries are still there ...
  CHECK(b.server.cli({"INFO", "commandstats"}).find("cmdstat_scan") == std::string::npos);
  CHECK(b.server.cli({"HLEN", b.s->entry_key(park)}) == "1");
  CHECK(b.server.cli({"HLEN", b.s->entry_key(list)}) == "1");
  // ... but never served again, and removed when read.
  CHECK(run(b.ioc, b.s->lookup(own)) == nullptr);
  CHECK(run(b.ioc, b.s->lookup(variant_key{list, ""})) == nullptr);
  CHECK(b.server.cli({"HLEN", b.s->entry_key(park)}) == "0");
  // A fill after the drop stores and is served.
  auto t = run(b.ioc, b.s->begin_fill(park));
  REQUIRE(run(b.ioc, b.s->insert(own, make_entry("new"), t, seconds(60))));
  const auto e = run(b.ioc, b.s->lookup(own));
  REQUIRE(e != nullptr);
  CHECK(e->body == "new");
}

TEST_CASE("redis store: scripts go by their digest - and whole to a Redis that does not know them") {
  redis_backend b;
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    // A Redis that lost its scripts (restarted, or a new master after a failover).
    REQUIRE(b.server.cli({"SCRIPT", "FLUSH"}) == "OK");
    auto t = run(b.ioc, b.s->begin_fill(park));
    REQUIRE(run(b.ioc, b.s->insert(own, make_entry("{}"), t, seconds(60))));
    REQUIRE(b.server.cli({"SCRIPT", "FLUSH"}) == "OK");
    CHECK(run(b.ioc, b.s->lookup(own)) != nullptr);
  }
  // Once known, the scripts are sent by digest only.
  auto calls = [&](const std::string& command) {
    const auto stats = b.server.cli({"INFO", "commandstats"});
    const auto at = stats.find("cmdstat_" + command + ":calls=");
    return at == std::string::npos ? 0 : std::stoi(stats.substr(at + command.size() + 15));
  };
  const int evals = calls("eval"), evalshas = calls("evalsha");
  CHECK(evals == 4);  // each script twice, after each flush
  for (int i = 0; i < 3; ++i) CHECK(run(b.ioc, b.s->lookup(own)) != nullptr);
  CHECK(calls("eval") == evals);
  CHECK(calls("evalsha") == evalshas + 3);
}

TEST_CASE("redis store: an entry's generations outlive it, so they never count up to its stamp again") {
  redis_backend b;
  REQUIRE(run(b.ioc, b.s->drop_location("TE9DMQ")));  // the generation exists, with its 24 h TTL
  b.server.cli({"PEXPIRE", b.s->location_generation_key("TE9DMQ"), "1000"});
  auto t = run(b.ioc, b.s->begin_fill(park));
  REQUIRE(run(b.ioc, b.s->insert(own, make_entry("{}"), t, seconds(600))));
  const auto ttl = std::stoll(b.server.cli({"PTTL", b.s->location_generation_key("TE9DMQ")}));
  CHECK(ttl > 590'000);
}

TEST_CASE("redis store: operations complete as misses within the timeout when Redis is down") {
  redis_backend b;
  b.server.kill();
  const auto start = std::chrono::steady_clock::now();
  CHECK(run(b.ioc, b.s->lookup(own)) == nullptr);
  auto t = run(b.ioc, b.s->begin_fill(park));
  CHECK_FALSE(run(b.ioc, b.s->insert(own, make_entry("{}"), t, seconds(60))));
  CHECK_FALSE(run(b.ioc, b.s->drop_resource(park)));
  CHECK(std::chrono::steady_clock::now() - start < seconds(3));
}

TEST_CASE("grants in Redis: learned - held until expiry - dropped by scope and by token") {
  redis_backend b;
  redis_grants g(b.conn, "grants" + std::to_string(prefix_counter++));
  const auto alice = fingerprint("Bearer alice");
  const grant_scope l1{"", "TDE", "callParks"}, l2{"T1JH", "TDI", "callParks"};
  CHECK_FALSE(run(b.ioc, g.holds(alice, l1)));
  run(b.ioc, g.learn(alice, l1, seconds(60)));
  run(b.ioc, g.learn(alice, l2, seconds(60)));
  CHECK(run(b.ioc, g.holds(alice, l1)));
  CHECK_FALSE(run(b.ioc, g.holds(fingerprint("Bearer bob"), l1)));
  run(b.ioc, g.drop_scope(alice, l1));
  CHECK_FALSE(run(b.ioc, g.holds(alice, l1)));
  CHECK(run(b.ioc, g.holds(alice, l2)));
  run(b.ioc, g.drop_token(alice));
  CHECK_FALSE(run(b.ioc, g.holds(alice, l2)));
  run(b.ioc, g.learn(alice, l1, milliseconds(1)));
  // Stored with its expiry: once past it, not held, whatever Redis's own TTL says.
  const auto until = std::chrono::steady_clock::now() + milliseconds(20);
  while (std::chrono::steady_clock::now() < until) b.ioc.run_for(milliseconds(5));
  CHECK_FALSE(run(b.ioc, g.holds(alice, l1)));
  // Nothing token-bearing: the key names the fingerprint, never the token.
  const auto keys = b.server.cli({"--scan"});
  CHECK(keys.find("alice") == std::string::npos);
}

TEST_CASE("invalidation messages encode and decode strictly") {
  invalidation m;
  m.what = invalidation::kind::scope;
  m.origin = "abc123";
  m.token_hex = fingerprint("Bearer x").hex();
  m.scope = {"T1JH", "TDE", "queues/{id}/forcedForward"};
  auto back = decode(encode(m));
  REQUIRE(back);
  CHECK(back->what == invalidation::kind::scope);
  CHECK(back->token_hex == m.token_hex);
  CHECK(back->scope.org == "T1JH");
  CHECK(back->scope.location == "TDE");
  CHECK(back->scope.kind == "queues/{id}/forcedForward");

  invalidation r;
  r.what = invalidation::kind::resource;
  r.origin = "abc123";
  for (const auto& key : {park, resource_key::of(resource_kind::schedule, "TDE", "schedules?max=2&name=a%40b"),
                          resource_key::of(resource_kind::location, "TDE", "")}) {
    r.resource = key;
    auto rb = decode(encode(r));
    REQUIRE(rb);
    CHECK(rb->resource == key);
  }

  const std::string hex(64, 'a');
  for (const std::string& bad : std::initializer_list<std::string>{"", "v1", "v2|a|a", "v1||a", "v1|a|r|callParks|L", "v1|a|r|other|L|I",
                                "v1|a|r|callParks|L|a@b", "v1|a|r|callParks|L|a b",
                                "v1|a|t|xyz", "v1|a|s|" "0000|o|l", "v1|a|l|a b", "v1|a|a|extra",
                                "v1|a|s|" + hex + "|o|l", "v1|a|s|" + hex + "|o|l|", "v1|a|s|" + hex + "|o|l|a b"})
    CHECK_FALSE(decode(bad).has_value());
  CHECK(decode("v1|a|s|" + hex + "|o|l|callParks").has_value());
}

TEST_CASE("tiered: on a new Redis link nothing is read before the invalidation journal is applied there") {
  tiered_backend b;
  const resource_key other(resource_kind::call_park, "TE9DMQ", "T1RIRVIx");
  auto t = run(b.ioc, b.s->begin_fill(park));
  REQUIRE(run(b.ioc, b.s->insert(own, make_entry("old"), t, seconds(60))));
  // The snapshot Redis comes back from holds the entry.
  REQUIRE(b.server.cli({"SAVE"}) == "OK");
  run(b.ioc, b.s->invalidate(other));  // applied first on the new link
  run(b.ioc, b.s->invalidate(park));
  CHECK(b.s->journal_size() == 2);
  const auto replays = b.s->stats().journal_replays.load();
  b.server.kill();
  b.server.restart();
  REQUIRE(b.server.cli({"EXISTS", b.l2->entry_key(park)}) == "1");

  // Up to the moment the new link is up: its journal replay has just been started.
  b.ioc.restart();
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (b.conn->session() < 2 && std::chrono::steady_clock::now() < deadline)
    b.ioc.run_one_for(milliseconds(10));
  REQUIRE(b.conn->session() == 2);
  CHECK_FALSE(b.s->reading_redis());
  // A lookup now must not read the entry Redis lost the invalidation of.
  CHECK(run(b.ioc, b.s->lookup(own)) == nullptr);
  while (!b.s->reading_redis() && std::chrono::steady_clock::now() < deadline)
    b.ioc.run_for(milliseconds(10));
  REQUIRE(b.s->reading_redis());
  CHECK(b.s->stats().journal_replays.load() == replays + 1);
  CHECK(b.server.cli({"EXISTS", b.l2->entry_key(park)}) == "0");
  CHECK(run(b.ioc, b.s->lookup(own)) == nullptr);
}

TEST_CASE("tiered: a journal that overflowed drops everything on the new link instead") {
  tiered_backend b(1);  // the journal holds one invalidation
  auto t = run(b.ioc, b.s->begin_fill(park));
  REQUIRE(run(b.ioc, b.s->insert(own, make_entry("old"), t, seconds(60))));
  REQUIRE(b.server.cli({"SAVE"}) == "OK");
  // Two invalidations: the first falls out of the journal; it may have been of any entry.
  run(b.ioc, b.s->invalidate(resource_key(resource_kind::call_park, "TE9DMQ", "T1RIRVIx")));
  run(b.ioc, b.s->invalidate(resource_key(resource_kind::call_park, "TE9DMQ", "T1RIRVIy")));
  CHECK(b.s->journal_size() == 1);
  b.server.kill();
  b.server.restart();
  REQUIRE(b.server.cli({"EXISTS", b.l2->entry_key(park)}) == "1");
  b.ioc.restart();
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while ((b.conn->session() < 2 || !b.s->reading_redis()) &&
         std::chrono::steady_clock::now() < deadline)
    b.ioc.run_for(milliseconds(10));
  REQUIRE(b.s->reading_redis());
  CHECK(b.server.cli({"EXISTS", b.l2->entry_key(park)}) == "0");
  CHECK(b.server.cli({"GET", b.l2->epoch_key()}) == "1");
  CHECK(run(b.ioc, b.l2->lookup(own)) == nullptr);
}
