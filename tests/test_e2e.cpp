// End-to-end: the real webex-cache-proxy binary against a fake Webex API, both on loopback.
#include <doctest/doctest.h>

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <strings.h>
#include <thread>

#include "fake_webex/demo_world.hpp"
#include "fake_webex/fake_webex.hpp"
#include "support/e2e.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/test_ca.hpp"

using namespace wcp;
using test::header_list;
using test::http_request;

namespace {

using stack = test::e2e_stack;
using test::bearer;

std::string park_path(const fake::demo_world& w) { return fake::call_park_path(w.loc_a1, w.park_a1); }

bool is_webex_error(const std::string& body) {
  return body.find("\"message\"") != std::string::npos &&
         body.find("\"errors\":[{\"description\"") != std::string::npos &&
         body.find("\"trackingId\"") != std::string::npos;
}

}  // namespace

TEST_CASE("a miss goes upstream once - then the same token is answered from the cache") {
  stack s;
  const auto path = park_path(s.world);
  auto first = s.get(path, bearer(s.world.token_admin_a));
  CHECK(first.status == 200);
  CHECK(first.header("X-Cache") == "MISS");
  CHECK(first.body.find(fake::demo_park_a1_name) != std::string::npos);
  CHECK(first.header("Content-Type").find("application/json") == 0);
  CHECK_FALSE(first.header("trackingid").empty());

  auto second = s.get(path, bearer(s.world.token_admin_a));
  CHECK(second.status == 200);
  CHECK(second.header("X-Cache") == "HIT");
  CHECK(second.body == first.body);
  CHECK(second.header("Content-Type") == first.header("Content-Type"));
  // Each answer names its own request, never the one that filled the entry.
  CHECK_FALSE(second.header("trackingid").empty());
  CHECK(second.header("trackingid") != first.header("trackingid"));
  CHECK_FALSE(second.header("Age").empty());
  CHECK(s.fake.count("GET", "/callParks/") == 1);

  CHECK(s.metric(R"(webex_cache_proxy_requests_total{route="call_park",cache="hit"})") == 1);
  CHECK(s.metric(R"(webex_cache_proxy_requests_total{route="call_park",cache="miss"})") == 1);
  // Upstream metrics by route, with the full status code.
  CHECK(s.metric(R"(webex_cache_proxy_upstream_requests_total{route="call_park",code="200"})") == 1);
  CHECK(s.metric(R"(webex_cache_proxy_upstream_duration_seconds_count{route="call_park"})") == 1);
  REQUIRE(s.get("/v1/people/me", s.world.token_admin_a).status == 200);
  CHECK(s.metric(R"(webex_cache_proxy_upstream_requests_total{route="passthrough",code="200"})") == 1);
  CHECK(s.metric(R"(webex_cache_proxy_upstream_requests_total{route="call_park",code="200"})") == 1);
  CHECK(s.metric(R"(webex_cache_proxy_responses_total{code="200"})") == 3);
}

TEST_CASE("paging groups are cached the same way") {
  stack s;
  const auto path = fake::paging_path(s.world.loc_a1, s.world.paging_a1);
  CHECK(s.get(path, bearer(s.world.token_admin_a)).header("X-Cache") == "MISS");
  auto hit = s.get(path, bearer(s.world.token_admin_a));
  CHECK(hit.header("X-Cache") == "HIT");
  CHECK(hit.body.find(fake::demo_paging_a1_name) != std::string::npos);
  CHECK(s.fake.count("GET", "/paging/") == 1);
}

TEST_CASE("the Authorization header and TrackingID reach upstream byte for byte - hop-by-hop headers do not") {
  stack s;
  const std::string auth = "Bearer " + s.world.token_admin_a;
  http_request(s.proxy.port, "GET", park_path(s.world),
               {{"Authorization", auth},
                {"TrackingID", "CLIENT_abc-123"},
                {"Connection", "keep-alive, X-Hop"},
                {"X-Hop", "secret"},
                {"Keep-Alive", "timeout=5"},
                {"X-End-To-End", "kept"}});
  auto reqs = s.fake.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].authorization == auth);
  CHECK(reqs[0].tracking_id == "CLIENT_abc-123");
  auto has = [&](std::string_view name) {
    for (auto& [k, v] : reqs[0].headers)
      if (strcasecmp(k.c_str(), std::string(name).c_str()) == 0) return true;
    return false;
  };
  CHECK_FALSE(has("X-Hop"));
  CHECK_FALSE(has("Keep-Alive"));
  CHECK(has("X-End-To-End"));

  // On a passthrough route too, with odd but legal spacing kept as it is.
  s.fake.clear_requests();
  http_request(s.proxy.port, "GET", "/v1/people/me", {{"Authorization", auth}});
  REQUIRE(s.fake.requests().size() == 1);
  CHECK(s.fake.requests()[0].authorization == auth);
}

TEST_CASE("a token of another org never receives the cached body") {
  stack s;
  const auto path = park_path(s.world);
  REQUIRE(s.get(path, bearer(s.world.token_admin_a)).status == 200);
  REQUIRE(s.get(path, bearer(s.world.token_admin_a)).header("X-Cache") == "HIT");

  auto foreign = s.get(path, bearer(s.world.token_admin_b));
  CHECK(foreign.status == 404);  // upstream's answer: not a location of org B
  CHECK(foreign.header("X-Cache") == "MISS");
  CHECK(foreign.body.find(fake::demo_park_a1_name) == std::string::npos);

  auto foreign_org = s.get(path + "?orgId=" + s.world.org_a, bearer(s.world.token_admin_b));
  CHECK(foreign_org.status == 403);
  CHECK(foreign_org.body.find(fake::demo_park_a1_name) == std::string::npos);

  // Asking again does not turn the refusal into a hit.
  CHECK(s.get(path, bearer(s.world.token_admin_b)).status == 404);
  CHECK(s.fake.count("GET", "/callParks/") == 4);
}

TEST_CASE("a location admin of another location never receives the cached body") {
  stack s;
  const auto a2 = fake::call_park_path(s.world.loc_a2, s.world.park_a2);
  REQUIRE(s.get(a2, bearer(s.world.token_admin_a)).status == 200);
  auto other = s.get(a2, bearer(s.world.token_loc_admin_a1));
  CHECK(other.status == 403);
  CHECK(other.body.find(fake::demo_park_a2_name) == std::string::npos);
  CHECK(s.get(a2, bearer(s.world.token_loc_admin_a1)).status == 403);

  // In its own location, the first read proves access upstream, then it gets hits.
  const auto a1 = park_path(s.world);
  REQUIRE(s.get(a1, bearer(s.world.token_admin_a)).status == 200);
  auto own = s.get(a1, bearer(s.world.token_loc_admin_a1));
  CHECK(own.status == 200);
  CHECK(own.header("X-Cache") == "MISS");
  CHECK(s.get(a1, bearer(s.world.token_loc_admin_a1)).header("X-Cache") == "HIT");
}

TEST_CASE("a partner reading through orgId has its own grant for that org form") {
  stack s;
  const auto path = park_path(s.world);
  const auto with_org = path + "?orgId=" + s.world.org_a;
  CHECK(s.get(with_org, bearer(s.world.token_partner)).header("X-Cache") == "MISS");
  CHECK(s.get(with_org, bearer(s.world.token_partner)).header("X-Cache") == "HIT");
  // Without orgId the partner's own org has no such location: upstream says 404, no cached body.
  auto own_org = s.get(path, bearer(s.world.token_partner));
  CHECK(own_org.status == 404);
}

TEST_CASE("a request without a token is never answered from the cache") {
  stack s;
  const auto path = park_path(s.world);
  REQUIRE(s.get(path, bearer(s.world.token_admin_a)).status == 200);
  auto anon = s.get(path);
  CHECK(anon.status == 401);
  CHECK(anon.header("X-Cache") == "BYPASS");
  CHECK(anon.body.find(fake::demo_park_a1_name) == std::string::npos);
  auto bad = s.get(path, bearer("not-a-token"));
  CHECK(bad.status == 401);
  CHECK(bad.body.find(fake::demo_park_a1_name) == std::string::npos);
}

TEST_CASE("a 401 drops the token's grants - a 403 drops that scope") {
  stack s;
  const auto path = park_path(s.world);
  REQUIRE(s.get(path, bearer(s.world.token_admin_a)).status == 200);
  REQUIRE(s.get(path, bearer(s.world.token_admin_a)).header("X-Cache") == "HIT");

  // Upstream now says the token is no good (revoked): the proxy must stop trusting it.
  std::atomic<bool> revoked{true};
  s.fake.set_interceptor([&](const fake::recorded_request&) -> std::optional<fake::scripted_response> {
    if (!revoked) return std::nullopt;
    fake::scripted_response r;
    r.status = 401;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = R"({"message":"revoked","errors":[{"description":"revoked"}],"trackingId":"x"})";
    return r;
  });
  CHECK(s.get("/v1/people/me", bearer(s.world.token_admin_a)).status == 401);
  auto after = s.get(path, bearer(s.world.token_admin_a));
  CHECK(after.status == 401);
  CHECK(after.header("X-Cache") == "MISS");

  // 403 on the scope drops it too.
  revoked = false;
  REQUIRE(s.get(path, bearer(s.world.token_admin_a)).status == 200);
  REQUIRE(s.get(path, bearer(s.world.token_admin_a)).header("X-Cache") == "HIT");
  s.fake.set_interceptor([&](const fake::recorded_request&) -> std::optional<fake::scripted_response> {
    fake::scripted_response r;
    r.status = 403;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = R"({"message":"forbidden","errors":[{"description":"forbidden"}],"trackingId":"x"})";
    return r;
  });
  CHECK(s.get(path, {{"Authorization", "Bearer " + s.world.token_admin_a},
                     {"Cache-Control", "no-cache"}}).status == 403);
  CHECK(s.get(path, bearer(s.world.token_admin_a)).status == 403);
}

TEST_CASE("without a live grant nothing is served from the cache (--grant-ttl 0)") {
  stack s({"--grant-ttl", "0"});
  const auto path = park_path(s.world);
  for (int i = 0; i < 3; ++i) CHECK(s.get(path, bearer(s.world.token_admin_a)).header("X-Cache") == "MISS");
  CHECK(s.fake.count("GET", "/callParks/") == 3);
}

TEST_CASE("Cache-Control: no-cache forces an upstream fetch and refreshes the entry") {
  stack s;
  const auto path = park_path(s.world);
  REQUIRE(s.get(path, bearer(s.world.token_admin_a)).status == 200);
  auto forced = s.get(path, {{"Authorization", "Bearer " + s.world.token_admin_a},
                             {"Cache-Control", "no-cache"}});
  CHECK(forced.status == 200);
  CHECK(forced.header("X-Cache") == "MISS");
  CHECK(s.fake.count("GET", "/callParks/") == 2);
  auto hit = s.get(path, bearer(s.world.token_admin_a));
  CHECK(hit.header("X-Cache") == "HIT");
  CHECK(hit.header("Age") == "0");
}

TEST_CASE("padded and unpadded IDs share one entry - upstream gets the ID as the client sent it") {
  stack s;
  const std::string padded = s.world.park_a1;
  REQUIRE(padded.back() == '=');
  const std::string bare = fake::strip_padding(padded);
  CHECK(s.get(fake::call_park_path(s.world.loc_a1, padded), bearer(s.world.token_admin_a))
            .header("X-Cache") == "MISS");
  CHECK(s.get(fake::call_park_path(s.world.loc_a1, bare), bearer(s.world.token_admin_a))
            .header("X-Cache") == "HIT");
  auto reqs = s.fake.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].path == fake::call_park_path(s.world.loc_a1, padded));
}

TEST_CASE("HEAD is answered from the cache with the length and no body") {
  stack s;
  const auto path = park_path(s.world);
  auto get = s.get(path, bearer(s.world.token_admin_a));
  auto head = http_request(s.proxy.port, "HEAD", path, bearer(s.world.token_admin_a));
  CHECK(head.status == 200);
  CHECK(head.header("X-Cache") == "HIT");
  CHECK(head.header("Content-Length") == std::to_string(get.body.size()));
  CHECK(head.body.empty());
}

TEST_CASE("a HEAD miss fills the cache with a GET upstream") {
  stack s;
  const auto path = park_path(s.world);
  auto head = http_request(s.proxy.port, "HEAD", path, bearer(s.world.token_admin_a));
  CHECK(head.status == 200);
  CHECK(head.header("X-Cache") == "MISS");
  CHECK(head.body.empty());
  CHECK(s.fake.count("GET", "/callParks/") == 1);
  auto get = s.get(path, bearer(s.world.token_admin_a));
  CHECK(get.header("X-Cache") == "HIT");
  CHECK(head.header("Content-Length") == std::to_string(get.body.size()));
}

TEST_CASE("a stale entry answers while upstream fails - else the error passes on") {
  stack s({"--cache-ttl", "0", "--stale-ttl", "1h"});
  const auto path = park_path(s.world);
  auto fresh = s.get(path, bearer(s.world.token_admin_a));
  REQUIRE(fresh.status == 200);
  CHECK(s.get(path, bearer(s.world.token_admin_a)).header("X-Cache") == "MISS");  // TTL 0: revalidate

  s.fake.set_interceptor([](const fake::recorded_request&) -> std::optional<fake::scripted_response> {
    fake::scripted_response r;
    r.status = 503;
    r.body = R"({"message":"busy","errors":[{"description":"busy"}],"trackingId":"x"})";
    return r;
  });
  auto stale = s.get(path, bearer(s.world.token_admin_a));
  CHECK(stale.status == 200);
  CHECK(stale.header("X-Cache") == "STALE");
  CHECK(stale.body == fresh.body);
  CHECK_FALSE(stale.header("Age").empty());
  // A token without a grant for that location gets upstream's error, not the stale body.
  auto other = s.get(path, bearer(s.world.token_admin_b));
  CHECK(other.status == 503);
  CHECK(other.body.find(fake::demo_park_a1_name) == std::string::npos);
}

TEST_CASE("passthrough routes are forwarded every time and never cached") {
  stack s;
  const std::string base = "/v1/telephony/config/locations/" + s.world.loc_a1;
  for (const std::string& p : {base + "/callParks/availableUsers", base + "/paging/availableNumbers",
                               std::string("/v1/people/me")}) {
    CAPTURE(p);
    s.fake.clear_requests();
    auto a = s.get(p, bearer(s.world.token_admin_a));
    auto b = s.get(p, bearer(s.world.token_admin_a));
    CHECK(a.status == 200);
    CHECK(b.header("X-Cache") == "BYPASS");
    CHECK(s.fake.requests().size() == 2);
  }
  // Other query parameters make a cached route uncacheable.
  s.fake.clear_requests();
  const auto path = park_path(s.world) + "?foo=bar";
  CHECK(s.get(path, bearer(s.world.token_admin_a)).header("X-Cache") == "BYPASS");
  CHECK(s.get(path, bearer(s.world.token_admin_a)).header("X-Cache") == "BYPASS");
  CHECK(s.fake.requests().size() == 2);
}

TEST_CASE("passthrough forwards method - query and body - and streams large answers intact") {
  stack s;
  auto echo = http_request(s.proxy.port, "POST", "/v1/anything?x=1&y=two",
                           {{"Authorization", "Bearer " + s.world.token_admin_a},
                            {"Content-Type", "application/json"}},
                           R"({"hello":"world"})");
  CHECK(echo.status == 200);
  CHECK(echo.body.find(R"("method":"POST")") != std::string::npos);
  CHECK(echo.body.find("x=1&y=two") != std::string::npos);
  CHECK(echo.body.find(R"(\"hello\")") != std::string::npos);

  std::string big(3 << 20, 'z');
  for (std::size_t i = 0; i < big.size(); i += 997) big[i] = char('a' + i % 26);
  s.fake.set_interceptor([&](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.path != "/v1/big") return std::nullopt;
    fake::scripted_response res;
    res.headers = {{"Content-Type", "application/octet-stream"}};
    res.body = big;
    return res;
  });
  auto got = s.get("/v1/big", bearer(s.world.token_admin_a));
  CHECK(got.status == 200);
  CHECK(got.body.size() == big.size());
  CHECK(got.body == big);
}

TEST_CASE("a 200 that is not JSON is passed on but not stored") {
  stack s;
  s.fake.set_interceptor([](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.method != "GET") return std::nullopt;
    fake::scripted_response res;
    res.headers = {{"Content-Type", "application/json"}};
    res.body = R"({"id": "truncated)";
    return res;
  });
  const auto path = park_path(s.world);
  CHECK(s.get(path, bearer(s.world.token_admin_a)).header("X-Cache") == "MISS");
  CHECK(s.get(path, bearer(s.world.token_admin_a)).header("X-Cache") == "MISS");
  CHECK(s.fake.count("GET", "/callParks/") == 2);
}

TEST_CASE("writes invalidate: a PUT that renames a call park makes the old ID go upstream") {
  stack s;
  const auto old_path = park_path(s.world);
  const auto auth = bearer(s.world.token_admin_a);
  REQUIRE(s.get(old_path, auth).status == 200);
  REQUIRE(s.get(old_path, auth).header("X-Cache") == "HIT");

  header_list put_headers = auth;
  put_headers.emplace_back("Content-Type", "application/json");
  auto put = http_request(s.proxy.port, "PUT", old_path, put_headers, R"({"name":"Renamed Park"})");
  REQUIRE(put.status == 200);
  CHECK(s.metric(R"(webex_cache_proxy_invalidations_total{reason="rename"})") == 1);

  auto old_again = s.get(old_path, auth);
  CHECK(old_again.status == 404);
  CHECK(old_again.header("X-Cache") == "MISS");
}

TEST_CASE("invalid IDs get 400 in the Webex error shape and never reach upstream") {
  stack s;
  auto res = s.get("/v1/telephony/config/locations/" + s.world.loc_a1 + "/callParks/bad.id",
                   bearer(s.world.token_admin_a));
  CHECK(res.status == 400);
  CHECK(is_webex_error(res.body));
  auto tracked = http_request(s.proxy.port, "GET",
                              "/v1/telephony/config/locations/x/callParks/" + std::string(600, 'A'),
                              {{"TrackingID", "MINE_1"}});
  CHECK(tracked.status == 400);
  CHECK(tracked.body.find("MINE_1") != std::string::npos);
  CHECK(s.fake.requests().empty());
  CHECK(s.metric(R"(webex_cache_proxy_bad_requests_total{reason="invalid_target"})") == 2);
}

TEST_CASE("oversize headers get 431 - oversize bodies 413 - double framing 400 - the daemon keeps serving") {
  stack s({"--max-header-bytes", "4096", "--max-body-bytes", "1024"});
  auto big_header = http_request(s.proxy.port, "GET", park_path(s.world),
                                 {{"X-Big", std::string(8000, 'h')}});
  CHECK(big_header.status == 431);
  CHECK(is_webex_error(big_header.body));

  auto big_body = http_request(s.proxy.port, "PUT", park_path(s.world), bearer(s.world.token_admin_a),
                               std::string(4096, 'b'));
  CHECK(big_body.status == 413);

  test::http_connection c(s.proxy.port);
  c.send_raw("POST /v1/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
             "0\r\n\r\nGET /v1/smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
  auto framed = c.read_raw_response();
  CHECK(framed.status == 400);
  CHECK(c.is_closed_by_peer());
  CHECK(s.fake.count("GET", "/v1/smuggled") == 0);

  CHECK(s.get(park_path(s.world), bearer(s.world.token_admin_a)).status == 200);
  CHECK(s.metric(R"(webex_cache_proxy_bad_requests_total{reason="header_too_large"})") == 1);
  CHECK(s.metric(R"(webex_cache_proxy_bad_requests_total{reason="body_too_large"})") == 1);
}

TEST_CASE("an unreachable upstream gives 502 - a silent one 504 - both Webex-shaped") {
  std::uint16_t dead_port;
  {
    fake::fake_webex gone;
    dead_port = gone.port();
  }
  auto down = test::start_proxy({"--upstream", "http://127.0.0.1:" + std::to_string(dead_port)});
  fake::fake_webex f;
  auto w = fake::populate_demo_world(f);
  auto res = http_request(down.port, "GET", fake::call_park_path(w.loc_a1, w.park_a1), bearer(w.token_admin_a));
  CHECK(res.status == 502);
  CHECK(is_webex_error(res.body));

  stack s({"--upstream-timeout", "300ms"});
  s.fake.set_interceptor([](const fake::recorded_request&) -> std::optional<fake::scripted_response> {
    fake::scripted_response r;
    r.delay = std::chrono::milliseconds(2000);
    return r;
  });
  auto slow = s.get(park_path(s.world), bearer(s.world.token_admin_a));
  CHECK(slow.status == 504);
  CHECK(is_webex_error(slow.body));
  CHECK(s.metric(R"(webex_cache_proxy_upstream_errors_total{route="call_park",reason="timeout"})") == 1);
}

TEST_CASE("upstream connections are kept alive and reused") {
  stack s({"--threads", "1"});
  for (const auto& p : {park_path(s.world), fake::call_park_path(s.world.loc_a2, s.world.park_a2),
                        fake::paging_path(s.world.loc_a1, s.world.paging_a1),
                        std::string("/v1/people/me")})
    REQUIRE(s.get(p, bearer(s.world.token_admin_a)).status == 200);
  CHECK(s.fake.requests().size() == 4);
  CHECK(s.fake.connections_accepted() == 1);
}

TEST_CASE("HTTPS upstream: a certificate from the configured CA is accepted - another is refused") {
  const auto dir = test::make_temp_dir("wcp-pki-");
  const auto pki = test::make_test_pki(dir);
  fake::options fo;
  fo.host = "localhost";
  fo.tls_cert_file = pki.server_cert;
  fo.tls_key_file = pki.server_key;
  {
    stack s({"--upstream-ca", pki.ca_cert}, fo);
    REQUIRE(s.fake.base_url().rfind("https://", 0) == 0);
    auto res = s.get(park_path(s.world), bearer(s.world.token_admin_a));
    CHECK(res.status == 200);
    CHECK(s.get(park_path(s.world), bearer(s.world.token_admin_a)).header("X-Cache") == "HIT");
  }
  {
    stack s({"--upstream-ca", pki.other_ca_cert}, fo);
    auto res = s.get(park_path(s.world), bearer(s.world.token_admin_a));
    CHECK(res.status == 502);
    CHECK(is_webex_error(res.body));
    CHECK(s.fake.requests().empty());
    CHECK(s.metric(R"(webex_cache_proxy_upstream_errors_total{route="call_park",reason="tls"})") == 1);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("admin endpoints live on the admin listener only") {
  stack s;
  CHECK(http_request(s.proxy.admin_port, "GET", "/healthz").status == 200);
  CHECK(http_request(s.proxy.admin_port, "GET", "/readyz").status == 200);
  auto metrics = http_request(s.proxy.admin_port, "GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("# TYPE webex_cache_proxy_requests_total counter") != std::string::npos);
  CHECK(metrics.body.find("webex_cache_proxy_l1_bytes") != std::string::npos);
  // The client listener forwards /metrics like any other path; it never serves admin data.
  auto on_client = http_request(s.proxy.port, "GET", "/metrics", bearer(s.world.token_admin_a));
  CHECK(on_client.body.find("webex_cache_proxy_") == std::string::npos);
}

TEST_CASE("SIGTERM lets an in-flight request finish - then exits 0") {
  stack s;
  s.fake.set_interceptor([](const fake::recorded_request&) -> std::optional<fake::scripted_response> {
    fake::scripted_response r;
    r.delay = std::chrono::milliseconds(500);
    r.headers = {{"Content-Type", "application/json"}};
    r.body = R"({"slow":true})";
    return r;
  });
  std::atomic<unsigned> status{0};
  std::thread second([&] {
    status = http_request(s.proxy.port, "GET", "/v1/slow2", bearer(s.world.token_admin_a)).status;
  });
  const bool arrived = test::eventually([&] { return s.fake.count("GET", "/v1/slow2") > 0; });
  if (!arrived) second.join();
  REQUIRE(arrived);
  s.proxy.proc->signal(SIGTERM);
  second.join();
  CHECK(status == 200);
  CHECK(s.proxy.proc->wait(std::chrono::seconds(10)) == 0);
}

TEST_CASE("bad settings exit with code 2 and one line naming the setting") {
  test::process p(WCP_PROXY_BINARY, {"--cache-ttl", "soon"});
  CHECK(p.wait(std::chrono::seconds(10)) == 2);
  CHECK(p.output().find("--cache-ttl") != std::string::npos);

  test::process env(WCP_PROXY_BINARY, {"--check-config"}, {"WEBEX_CACHE_PROXY_GRANT_TTL=-3"});
  CHECK(env.wait(std::chrono::seconds(10)) == 2);
  CHECK(env.output().find("WEBEX_CACHE_PROXY_GRANT_TTL") != std::string::npos);

  test::process ok(WCP_PROXY_BINARY, {"--check-config", "--cache-ttl", "60"});
  CHECK(ok.wait(std::chrono::seconds(10)) == 0);
  CHECK(ok.output().find("cache-ttl = 60") != std::string::npos);
}

TEST_CASE("pipelined requests on one connection are answered in order") {
  stack s;
  const auto park = park_path(s.world);
  const auto paging = fake::paging_path(s.world.loc_a1, s.world.paging_a1);
  const std::string auth = "Authorization: Bearer " + s.world.token_admin_a + "\r\n";
  auto get = [&](const std::string& path) {
    return "GET " + path + " HTTP/1.1\r\nHost: proxy\r\n" + auth + "\r\n";
  };
  test::http_connection c(s.proxy.port);
  c.send_raw(get(park) + get(paging) + get(park) + "HEAD " + park + " HTTP/1.1\r\nHost: proxy\r\n" +
             auth + "\r\n");
  auto first = c.read_raw_response();
  auto second = c.read_raw_response();
  auto third = c.read_raw_response();
  auto fourth = c.read_raw_response(std::chrono::seconds(10), true);
  CHECK(first.header("X-Cache") == "MISS");
  CHECK(first.body.find(fake::demo_park_a1_name) != std::string::npos);
  CHECK(second.header("X-Cache") == "MISS");
  CHECK(second.body.find(fake::demo_paging_a1_name) != std::string::npos);
  CHECK(third.header("X-Cache") == "HIT");
  CHECK(third.body == first.body);
  CHECK(fourth.header("X-Cache") == "HIT");
  CHECK(fourth.header("Content-Length") == std::to_string(first.body.size()));
  CHECK(fourth.body.empty());
  // The connection is still good for more.
  CHECK(c.request("GET", park, bearer(s.world.token_admin_a)).header("X-Cache") == "HIT");
  CHECK(s.fake.count("GET", "/callParks/") == 1);
}

TEST_CASE("an HTTP/1.0 client gets answers it can read - keep-alive only when asked") {
  stack s;
  const auto park = park_path(s.world);
  const std::string auth = "Authorization: Bearer " + s.world.token_admin_a + "\r\n";
  CHECK(s.get(park, bearer(s.world.token_admin_a)).status == 200);  // fill
  {
    test::http_connection c(s.proxy.port);
    c.send_raw("GET " + park + " HTTP/1.0\r\n" + auth + "Connection: keep-alive\r\n\r\n");
    auto hit = c.read_raw_response();
    CHECK(hit.status == 200);
    CHECK(hit.header("X-Cache") == "HIT");
    CHECK(strcasecmp(hit.header("Connection").c_str(), "keep-alive") == 0);
    c.send_raw("GET " + park + " HTTP/1.0\r\n" + auth + "\r\n");
    auto last = c.read_raw_response();
    CHECK(last.header("X-Cache") == "HIT");
    CHECK(last.body == hit.body);
    CHECK(c.is_closed_by_peer());
  }
}
