// End-to-end: writes through the proxy leave the cache correct — on one instance with the
// embedded store, and across two instances sharing Redis (write through one, read through the
// other).
#include <doctest/doctest.h>

#include <atomic>
#include <cctype>
#include <optional>
#include <memory>
#include <sstream>
#include <thread>

#include "fake_webex/demo_world.hpp"
#include "fake_webex/fake_webex.hpp"
#include "support/e2e.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

using namespace wcp;
using test::header_list;
using test::http_request;

namespace {

using test::bearer;
using test::eventually;
using test::json_bearer;
using test::metric;

// One instance, embedded store: the writer is the reader.
struct single {
  explicit single(std::vector<std::string> extra = {}) : world(fake::populate_demo_world(fake)) {
    extra.insert(extra.begin(), {"--upstream", fake.base_url()});
    writer = test::start_proxy(extra);
  }
  test::proxy_process& reader() { return writer; }
  double remote_seen() { return 0; }
  // Waits until the reader has applied the invalidations of a write (nothing to wait for here).
  void settle(double) {}

  fake::fake_webex fake;
  fake::demo_world world;
  test::proxy_process writer;
};

// Two instances sharing Redis: writes through one, reads through the other.
struct pair_on_redis {
  explicit pair_on_redis(std::vector<std::string> extra = {})
      : world(fake::populate_demo_world(fake)) {
    std::vector<std::string> args{"--upstream", fake.base_url(), "--redis", redis.url()};
    args.insert(args.end(), extra.begin(), extra.end());
    writer = test::start_proxy(args);
    other = test::start_proxy(args);
    for (auto* p : {&writer, &other})
      REQUIRE(eventually([&] {
        return metric(p->admin_port, "webex_cache_proxy_redis_up") == 1 &&
               metric(p->admin_port, "webex_cache_proxy_redis_subscribed") == 1;
      }));
  }
  test::proxy_process& reader() { return other; }
  double remote_seen() {
    return metric(other.admin_port, R"(webex_cache_proxy_invalidations_total{reason="remote"})");
  }
  void settle(double before) {
    REQUIRE(eventually([&] { return remote_seen() > before; }));
  }

  test::redis_server redis;
  fake::fake_webex fake;
  fake::demo_world world;
  test::proxy_process writer, other;
};

std::string park_a1(const fake::demo_world& w) { return fake::call_park_path(w.loc_a1, w.park_a1); }
std::string paging_a1(const fake::demo_world& w) { return fake::paging_path(w.loc_a1, w.paging_a1); }

// Reads through both instances so that both hold the entry (in L1 where there is one).
template <class S>
void warm(S& s, const std::string& path, const std::string& token) {
  REQUIRE(http_request(s.writer.port, "GET", path, bearer(token)).status == 200);
  REQUIRE(http_request(s.reader().port, "GET", path, bearer(token)).header("X-Cache") == "HIT");
}

}  // namespace

#define SETUPS single, pair_on_redis

TEST_CASE_TEMPLATE("a call park renamed through the proxy: the old ID is 404 and the new one has the new name", S, SETUPS) {
  S s;
  const auto token = s.world.token_admin_a;
  warm(s, park_a1(s.world), token);
  const double before = s.remote_seen();
  auto put = http_request(s.writer.port, "PUT", park_a1(s.world), json_bearer(token),
                          R"({"name":"Renamed Park"})");
  REQUIRE(put.status == 200);
  const auto new_id = put.body.substr(put.body.find("\"id\":\"") + 6);
  const std::string id = new_id.substr(0, new_id.find('"'));
  REQUIRE_FALSE(id.empty());
  s.settle(before);

  auto old = http_request(s.reader().port, "GET", park_a1(s.world), bearer(token));
  CHECK(old.status == 404);
  auto renamed = http_request(s.reader().port, "GET", fake::call_park_path(s.world.loc_a1, id), bearer(token));
  CHECK(renamed.status == 200);
  CHECK(renamed.body.find("Renamed Park") != std::string::npos);
  CHECK(metric(s.writer.admin_port, R"(webex_cache_proxy_renames_total{kind="callParks"})") == 1);
}

TEST_CASE_TEMPLATE("a paging group update shows on the next read", S, SETUPS) {
  S s;
  const auto token = s.world.token_admin_a;
  warm(s, paging_a1(s.world), token);
  const double before = s.remote_seen();
  auto put = http_request(s.writer.port, "PUT", paging_a1(s.world), json_bearer(token),
                          R"({"name":"Evening Paging"})");
  REQUIRE(put.status / 100 == 2);
  s.settle(before);
  auto after = http_request(s.reader().port, "GET", paging_a1(s.world), bearer(token));
  CHECK(after.status == 200);
  CHECK(after.header("X-Cache") == "MISS");
  CHECK(after.body.find("Evening Paging") != std::string::npos);
}

TEST_CASE_TEMPLATE("a delete makes the next read a 404", S, SETUPS) {
  S s;
  const auto token = s.world.token_admin_a;
  warm(s, park_a1(s.world), token);
  const double before = s.remote_seen();
  REQUIRE(http_request(s.writer.port, "DELETE", park_a1(s.world), bearer(token)).status == 204);
  s.settle(before);
  CHECK(http_request(s.reader().port, "GET", park_a1(s.world), bearer(token)).status == 404);
}

TEST_CASE_TEMPLATE("a failed write leaves the entry in place", S, SETUPS) {
  S s;
  const auto token = s.world.token_admin_a;
  warm(s, park_a1(s.world), token);
  auto bad = http_request(s.writer.port, "PUT", park_a1(s.world), json_bearer(token), "{not json");
  CHECK(bad.status == 400);
  CHECK(http_request(s.writer.port, "GET", park_a1(s.world), bearer(token)).header("X-Cache") == "HIT");
  CHECK(http_request(s.reader().port, "GET", park_a1(s.world), bearer(token)).header("X-Cache") == "HIT");
  CHECK(metric(s.writer.admin_port, R"(webex_cache_proxy_invalidations_total{reason="write"})") == 0);
}

TEST_CASE_TEMPLATE("a write without orgId drops the orgId= variant too", S, SETUPS) {
  S s;
  const auto token = s.world.token_admin_a;
  const auto with_org = paging_a1(s.world) + "?orgId=" + s.world.org_a;
  warm(s, with_org, token);
  const double before = s.remote_seen();
  REQUIRE(http_request(s.writer.port, "PUT", paging_a1(s.world), json_bearer(token),
                       R"({"name":"Renamed Paging"})").status / 100 == 2);
  s.settle(before);
  auto after = http_request(s.reader().port, "GET", with_org, bearer(token));
  CHECK(after.header("X-Cache") == "MISS");
  CHECK(after.body.find("Renamed Paging") != std::string::npos);
}

TEST_CASE_TEMPLATE("a read that began before a write does not put the old answer back", S, SETUPS) {
  S s;
  const auto token = s.world.token_admin_a;
  // The read reaches upstream, which decides its (old) answer and holds it back...
  s.fake.hold_next("GET", s.world.paging_a1);
  std::atomic<unsigned> early_status{0};
  std::thread early([&] {
    early_status = http_request(s.reader().port, "GET", paging_a1(s.world), bearer(token)).status;
  });
  REQUIRE(eventually([&] { return s.fake.held() == 1; }));
  // ...while a write changes the paging group and completes...
  const double before = s.remote_seen();
  REQUIRE(http_request(s.writer.port, "PUT", paging_a1(s.world), json_bearer(token),
                       R"({"name":"After The Write"})").status / 100 == 2);
  s.settle(before);
  // ...and only then does the old answer arrive.
  s.fake.release_held();
  early.join();
  CHECK(early_status == 200);

  for (auto* p : {&s.writer, &s.reader()}) {
    auto now = http_request(p->port, "GET", paging_a1(s.world), bearer(token));
    CHECK(now.status == 200);
    CHECK(now.body.find("After The Write") != std::string::npos);
  }
}

TEST_CASE_TEMPLATE("the admin purge drops one resource - or a whole location - everywhere", S, SETUPS) {
  S s;
  const auto token = s.world.token_admin_a;
  warm(s, park_a1(s.world), token);
  warm(s, paging_a1(s.world), token);
  const auto a2 = fake::call_park_path(s.world.loc_a2, s.world.park_a2);
  warm(s, a2, token);

  // Purges are served on the admin listener only.
  CHECK(http_request(s.writer.port, "DELETE", "/cache/locations/" + s.world.loc_a1).status != 200);

  double before = s.remote_seen();
  auto one = http_request(s.writer.admin_port, "DELETE",
                          "/cache/locations/" + s.world.loc_a1 + "/callParks/" + s.world.park_a1);
  CHECK(one.status == 200);
  s.settle(before);
  CHECK(http_request(s.reader().port, "GET", park_a1(s.world), bearer(token)).header("X-Cache") == "MISS");
  CHECK(http_request(s.reader().port, "GET", paging_a1(s.world), bearer(token)).header("X-Cache") == "HIT");

  before = s.remote_seen();
  auto loc = http_request(s.writer.admin_port, "POST", "/purge?location=" + s.world.loc_a1);
  CHECK(loc.status == 200);
  s.settle(before);
  CHECK(http_request(s.reader().port, "GET", paging_a1(s.world), bearer(token)).header("X-Cache") == "MISS");
  CHECK(http_request(s.reader().port, "GET", a2, bearer(token)).header("X-Cache") == "HIT");
  CHECK(metric(s.writer.admin_port, R"(webex_cache_proxy_invalidations_total{reason="purge"})") == 2);

  CHECK(http_request(s.writer.admin_port, "POST", "/purge?location=bad.id").status == 400);
  // Any cached item or settings path of the route table; not a list, nor a path it does not cache.
  CHECK(http_request(s.writer.admin_port, "POST", "/purge?location=TDE&kind=huntGroups&id=X").status == 200);
  CHECK(http_request(s.writer.admin_port, "DELETE", "/cache/locations/TDE/schedules/holidays/X").status == 200);
  CHECK(http_request(s.writer.admin_port, "DELETE", "/cache/locations/TDE/queues/X/forcedForward").status == 200);
  CHECK(http_request(s.writer.admin_port, "POST", "/purge?location=TDE&kind=colors&id=X").status == 400);
  CHECK(http_request(s.writer.admin_port, "POST", "/purge?location=TDE&kind=callParks").status == 400);
  CHECK(http_request(s.writer.admin_port, "DELETE", "/cache/locations/TDE/callParks").status == 400);
  CHECK(http_request(s.writer.admin_port, "DELETE", "/cache/locations/TDE/callParks/availableUsers").status == 400);
  CHECK(http_request(s.writer.admin_port, "DELETE", "/cache/locations/TDE/callParks/bad.id").status == 400);
}

TEST_CASE_TEMPLATE("a write whose outcome is unknown invalidates as a 2xx would", S, SETUPS) {
  S s({"--upstream-timeout", "1s"});
  const auto token = s.world.token_admin_a;
  const auto path = paging_a1(s.world);

  SUBCASE("upstream applies the write but its answer never comes (timeout)") {
    warm(s, path, token);
    const double before = s.remote_seen();
    s.fake.hold_next("PUT", s.world.paging_a1);  // applied at Webex, answer held back
    auto put = http_request(s.writer.port, "PUT", path, json_bearer(token),
                            R"({"name":"Applied Without Answer"})");
    CHECK(put.status == 504);
    s.settle(before);
    auto read = http_request(s.reader().port, "GET", path, bearer(token));
    CHECK(read.header("X-Cache") == "MISS");
    CHECK(read.body.find("Applied Without Answer") != std::string::npos);
    s.fake.release_held();
  }
  SUBCASE("the connection is lost after the request was sent") {
    warm(s, path, token);
    const double before = s.remote_seen();
    s.fake.set_interceptor([](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
      if (r.method != "PUT") return std::nullopt;
      fake::scripted_response lost;
      lost.close_without_answer = true;
      return lost;
    });
    auto put = http_request(s.writer.port, "PUT", path, json_bearer(token), R"({"name":"Lost"})");
    CHECK(put.status == 502);
    s.settle(before);
    const auto gets = s.fake.count("GET", s.world.paging_a1);
    auto read = http_request(s.reader().port, "GET", path, bearer(token));
    CHECK(read.header("X-Cache") == "MISS");
    CHECK(s.fake.count("GET", s.world.paging_a1) == gets + 1);
  }
  CHECK(metric(s.writer.admin_port, R"(webex_cache_proxy_invalidations_total{reason="unknown_outcome"})") == 1);
  // A write refused before it was sent (nothing listens) drops nothing: covered by the 2xx rule.
}

TEST_CASE_TEMPLATE("a rename is read from an identity-encoded answer whatever the caller accepts", S, SETUPS) {
  S s;
  const auto token = s.world.token_admin_a;
  warm(s, park_a1(s.world), token);
  const double before = s.remote_seen();
  // Upstream compresses when asked to: the proxy could not read the new ID from such an answer.
  auto asks_encoding = [](const fake::recorded_request& r) {
    for (const auto& [name, value] : r.headers) {
      std::string lower = name;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "accept-encoding") return true;
    }
    return false;
  };
  s.fake.set_interceptor([&](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.method != "PUT" || !asks_encoding(r)) return std::nullopt;
    fake::scripted_response compressed;
    compressed.headers = {{"Content-Encoding", "br"}, {"Content-Type", "application/json"}};
    compressed.body = std::string("\x1b\x0b\x00\xf8\xa5\x40\x02\x81\x00", 9);
    return compressed;
  });
  auto h = json_bearer(token);
  h.emplace_back("Accept-Encoding", "gzip, deflate, br");
  auto put = http_request(s.writer.port, "PUT", park_a1(s.world), h, R"({"name":"Renamed While Compressed"})");
  REQUIRE(put.status == 200);
  for (const auto& r : s.fake.requests())
    if (r.method == "PUT") CHECK_FALSE(asks_encoding(r));
  s.settle(before);
  CHECK(metric(s.writer.admin_port, R"(webex_cache_proxy_renames_total{kind="callParks"})") == 1);
  CHECK(http_request(s.reader().port, "GET", park_a1(s.world), bearer(token)).status == 404);
}

TEST_CASE_TEMPLATE("a rename drops the entry cached under the new ID before it", S, SETUPS) {
  S s;
  const auto token = s.world.token_admin_a;
  const auto& loc = s.world.loc_a1;
  const auto alpha = s.fake.add_call_park(loc, "Alpha Park");
  const auto beta = s.fake.add_call_park(loc, "Beta Park");
  // "Beta Park" is read and cached on both instances under its ID.
  warm(s, fake::call_park_path(loc, beta), token);
  // Then renamed away at Webex directly (Control Hub, another integration): the entry stays,
  // as any cache of an API it does not see written.
  auto direct = http_request(s.fake.port(), "PUT", fake::call_park_path(loc, beta), json_bearer(token),
                             R"({"name":"Beta Moved"})");
  REQUIRE(direct.status == 200);
  // Now Alpha is renamed to "Beta Park" through the proxy: its new ID is the one cached above.
  const double before = s.remote_seen();
  auto put = http_request(s.writer.port, "PUT", fake::call_park_path(loc, alpha), json_bearer(token),
                          R"({"name":"Beta Park","marker":"was alpha"})");
  REQUIRE(put.status == 200);
  REQUIRE(put.body.find(fake::strip_padding(beta)) != std::string::npos);
  s.settle(before);
  auto read = http_request(s.reader().port, "GET", fake::call_park_path(loc, beta), bearer(token));
  CHECK(read.status == 200);
  CHECK(read.header("X-Cache") == "MISS");
  CHECK(read.body.find("was alpha") != std::string::npos);
}

TEST_CASE_TEMPLATE("a read that arrives after an invalidation never joins a fetch that began before it", S, SETUPS) {
  enum class way { write, purge, purge_location };
  for (const auto how : {way::write, way::purge, way::purge_location}) {
    CAPTURE(static_cast<int>(how));
    S s;
    const auto token = s.world.token_admin_a;
    const auto path = paging_a1(s.world);
    // A read of the reader instance reaches upstream before the invalidation; its answer (the
    // old body) is held back until after it.
    s.fake.hold_next("GET", s.world.paging_a1);
    test::http_response early, late;
    std::thread t_early([&] { early = http_request(s.reader().port, "GET", path, bearer(token)); });
    REQUIRE(eventually([&] { return s.fake.held() == 1; }));

    const double before = s.remote_seen();
    if (how == way::write) {
      REQUIRE(http_request(s.writer.port, "PUT", path, json_bearer(token),
                           R"({"name":"After The Write"})").status / 100 == 2);
    } else if (how == way::purge) {
      REQUIRE(http_request(s.writer.admin_port, "DELETE",
                           "/cache/locations/" + s.world.loc_a1 + "/paging/" + s.world.paging_a1)
                  .status == 200);
    } else {
      REQUIRE(http_request(s.writer.admin_port, "POST", "/purge?location=" + s.world.loc_a1).status == 200);
    }
    s.settle(before);

    // A read that arrives now starts its own fetch: it does not wait for the held one.
    std::thread t_late([&] { late = http_request(s.reader().port, "GET", path, bearer(token)); });
    CHECK(eventually([&] { return s.fake.count("GET", s.world.paging_a1) == 2; }, std::chrono::seconds(5)));
    s.fake.release_held();
    t_late.join();
    t_early.join();
    CHECK(late.status == 200);
    CHECK(late.header("X-Cache") == "MISS");
    if (how == way::write) {
      CHECK(late.body.find("After The Write") != std::string::npos);
      CHECK(early.body.find("After The Write") == std::string::npos);
      // And the early fill was not stored: the next read is the new body.
      CHECK(http_request(s.reader().port, "GET", path, bearer(token)).body.find("After The Write") !=
            std::string::npos);
    }
    CHECK(metric(s.reader().admin_port, "webex_cache_proxy_coalesced_requests_total") == 0);
  }
}

namespace {

// Caches the call park and the paging group of loc_a1 and the call park of loc_a2 through both
// instances.
template <class S>
void warm_two_locations(S& s) {
  const auto token = s.world.token_admin_a;
  warm(s, park_a1(s.world), token);
  warm(s, paging_a1(s.world), token);
  warm(s, fake::call_park_path(s.world.loc_a2, s.world.park_a2), token);
}

// Where each of warm_two_locations' entries now comes from, through the reading instance.
template <class S>
std::vector<std::string> x_cache_after(S& s) {
  const auto auth = bearer(s.world.token_admin_a);
  std::vector<std::string> out;
  for (const auto& path : {park_a1(s.world), paging_a1(s.world),
                           fake::call_park_path(s.world.loc_a2, s.world.park_a2)})
    out.push_back(http_request(s.reader().port, "GET", path, auth).header("X-Cache"));
  return out;
}

}  // namespace

TEST_CASE_TEMPLATE("a write to any kind of a location drops everything cached for it - and nothing of other locations", S, SETUPS) {
  S s;
  warm_two_locations(s);
  const auto token = s.world.token_admin_a;
  const std::string loc = "/v1/telephony/config/locations/" + s.world.loc_a1;
  std::string write_method, write_path;
  SUBCASE("POST creating a hunt group") {
    write_method = "POST";
    write_path = loc + "/huntGroups";
  }
  SUBCASE("PUT of the call park settings") {
    write_method = "PUT";
    write_path = loc + "/callParks/settings";
  }
  SUBCASE("PATCH deep under the location") {
    write_method = "PATCH";
    write_path = loc + "/queues/UVVFVUUx/callForwarding/selectiveRules/UlVMRTE";
  }
  SUBCASE("PUT of the location through the common locations API") {
    write_method = "PUT";
    write_path = "/v1/locations/" + s.world.loc_a1;
  }
  SUBCASE("PUT of a paging group (another kind than the call park)") {
    write_method = "PUT";
    write_path = paging_a1(s.world);
  }
  CAPTURE(write_path);
  const double before = s.remote_seen();
  auto w = http_request(s.writer.port, write_method, write_path, json_bearer(token), R"({"name":"X"})");
  REQUIRE(w.status / 100 == 2);
  s.settle(before);
  CHECK(x_cache_after(s) == std::vector<std::string>{"MISS", "MISS", "HIT"});
  CHECK(metric(s.writer.admin_port, R"(webex_cache_proxy_invalidations_total{reason="write"})") == 1);
}

TEST_CASE_TEMPLATE("a write under a location that fails - or a read - drops nothing", S, SETUPS) {
  S s;
  warm_two_locations(s);
  const auto token = s.world.token_admin_a;
  const std::string loc = "/v1/telephony/config/locations/" + s.world.loc_a1;
  s.fake.set_interceptor([](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.method != "POST") return std::nullopt;
    fake::scripted_response refused;
    refused.status = 400;
    refused.body = R"({"message":"Invalid field","errors":[{"description":"Invalid field"}]})";
    return refused;
  });
  CHECK(http_request(s.writer.port, "POST", loc + "/huntGroups", json_bearer(token), "{}").status == 400);
  CHECK(http_request(s.writer.port, "GET", loc + "/huntGroups", bearer(token)).status == 200);
  // A write elsewhere in the org.
  CHECK(http_request(s.writer.port, "PUT", "/v1/people/UEVSU09O", json_bearer(token), "{}").status == 200);
  CHECK(x_cache_after(s) == std::vector<std::string>{"HIT", "HIT", "HIT"});
  CHECK(metric(s.writer.admin_port, R"(webex_cache_proxy_invalidations_total{reason="write"})") == 0);
}

TEST_CASE("a write under a location whose outcome is unknown drops the location") {
  single s({"--upstream-timeout", "1s"});
  warm_two_locations(s);
  const auto token = s.world.token_admin_a;
  const std::string path = "/v1/telephony/config/locations/" + s.world.loc_a1 + "/huntGroups";
  s.fake.hold_next("POST", "/huntGroups");  // applied at Webex, answer held back
  CHECK(http_request(s.writer.port, "POST", path, json_bearer(token), "{}").status == 504);
  s.fake.release_held();
  CHECK(x_cache_after(s) == std::vector<std::string>{"MISS", "MISS", "HIT"});
  CHECK(metric(s.writer.admin_port, R"(webex_cache_proxy_invalidations_total{reason="unknown_outcome"})") == 1);
  CHECK(s.writer.proc->output().find("write outcome unknown") != std::string::npos);
}

TEST_CASE_TEMPLATE("lists are cached by their query - a POST creating an item drops every page of the location", S, SETUPS) {
  S s;
  const auto token = s.world.token_admin_a;
  const std::string list = "/v1/telephony/config/locations/" + s.world.loc_a1 + "/callParks";
  const std::string big = list + "?max=50", small = list + "?max=1";
  warm(s, big, token);
  warm(s, small, token);
  // Another query is another entry.
  CHECK(http_request(s.reader().port, "GET", list + "?max=50&start=0", bearer(token)).header("X-Cache") == "MISS");

  const double before = s.remote_seen();
  auto created = http_request(s.writer.port, "POST", list, json_bearer(token), R"({"name":"Brand New Park"})");
  REQUIRE(created.status == 201);
  s.settle(before);
  auto page = http_request(s.reader().port, "GET", big, bearer(token));
  CHECK(page.header("X-Cache") == "MISS");
  CHECK(page.body.find("Brand New Park") != std::string::npos);
  CHECK(http_request(s.reader().port, "GET", small, bearer(token)).header("X-Cache") == "MISS");
  CHECK(http_request(s.reader().port, "GET", big, bearer(token)).header("X-Cache") == "HIT");
}

TEST_CASE("what depends on state outside the location - and secrets - is never stored, in Redis or in memory") {
  pair_on_redis s;
  const auto token = s.world.token_admin_a;
  const std::string loc = "/v1/telephony/config/locations/" + s.world.loc_a1;
  // The fake answers each of these 200 with a JSON body: only the route table keeps them out.
  for (const std::string& path :
       {loc + "/callParks/availableUsers", loc + "/availableNumbers", loc + "/announcements/usage",
        loc + "/redSky/status", loc + "/callRecording/vendorUsers",
        loc + "/dectNetworks/REVDVE5FVA/serviceabilityPassword",
        std::string("/v1/telephony/config/huntGroups"), std::string("/v1/telephony/config/announcements?locationId=") + s.world.loc_a1}) {
    CAPTURE(path);
    for (int i = 0; i < 2; ++i) {
      auto res = http_request(s.writer.port, "GET", path, bearer(token));
      CHECK(res.status == 200);
      CHECK(res.header("X-Cache") == "BYPASS");
    }
  }
  CHECK(s.redis.cli({"KEYS", "wcp:v1:entry:*"}).empty());
  // A cached read of the same location is stored (the check above can fail).
  REQUIRE(http_request(s.writer.port, "GET", park_a1(s.world), bearer(token)).status == 200);
  CHECK(s.redis.cli({"KEYS", "wcp:v1:entry:*"}).find("callParks") != std::string::npos);
  CHECK(metric(s.writer.admin_port, "webex_cache_proxy_l1_entries") == 1);
}
