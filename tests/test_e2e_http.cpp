// End-to-end: the HTTP/1.1 rules of the client listener (RFC 9112 / RFC 9110) and the
// connection-slot accounting that --max-connections relies on. Every early way out of a session
// must give its slot back; every request the rules refuse is answered in the Webex error shape
// and never forwarded.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "cache/compression.hpp"
#include "support/e2e.hpp"
#include "support/test_ca.hpp"

using namespace wcp;
using test::bearer;
using test::header_list;
using test::http_request;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

using stack = test::e2e_stack;

constexpr const char* gauge = "webex_cache_proxy_client_connections";

std::string park_a1(const fake::demo_world& w) { return fake::call_park_path(w.loc_a1, w.park_a1); }

bool webex_shaped(const test::http_response& r) {
  return r.body.find("\"message\"") != std::string::npos &&
         r.body.find("\"errors\"") != std::string::npos &&
         r.body.find("\"trackingId\"") != std::string::npos;
}

// One raw request on its own connection; the answer (or status 0 if the connection closed
// without one).
test::http_response raw_exchange(std::uint16_t port, const std::string& bytes,
                                 milliseconds timeout = seconds(5)) {
  test::http_connection c(port);
  c.send_raw(bytes);
  try {
    return c.read_raw_response(timeout);
  } catch (const std::exception&) {
    return {};
  }
}

// The gauge comes back to `expected` (bounded wait), and with every slot free a client with a
// token is served.
void slots_come_back(stack& s, double expected = 0) {
  CHECK(test::eventually([&] { return s.metric(gauge) == expected; }));
  CHECK(s.metric(gauge) == expected);
  CHECK(s.get(park_a1(s.world), s.world.token_admin_a).status == 200);
  // ... and that client's slot comes back too before the caller goes on.
  CHECK(test::eventually([&] { return s.metric(gauge) == expected; }));
}

}  // namespace

TEST_CASE("unknown methods answer 501 and give their connection slot back") {
  stack s({"--max-connections", "5"});
  const std::vector<std::string> methods = {"FOO", "get", "G3T", "PROPFIND", "Get", "BREW"};
  for (int i = 0; i < 30; ++i) {
    const auto& m = methods[i % methods.size()];
    CAPTURE(m);
    test::http_connection c(s.proxy.port);
    c.send_raw(m + " /v1/people/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
               s.world.token_admin_a + "\r\n\r\n");
    auto res = c.read_raw_response();
    CHECK(res.status == 501);
    CHECK(webex_shaped(res));
    CHECK(res.header("Allow").find("GET") != std::string::npos);
  }
  CHECK(s.fake.count("", "/v1/people/me") == 0);
  CHECK(s.metric(R"(webex_cache_proxy_bad_requests_total{reason="method"})") == 30);
  slots_come_back(s);

  // The gauge tells the truth while connections are open, too.
  std::vector<std::unique_ptr<test::http_connection>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<test::http_connection>(s.proxy.port));
    REQUIRE(open.back()->request("GET", park_a1(s.world), bearer(s.world.token_admin_a)).status == 200);
  }
  CHECK(s.metric(gauge) == 3);
  open.clear();
  slots_come_back(s);
}

TEST_CASE("a 501 leaves the connection usable - methods are case-sensitive") {
  stack s;
  test::http_connection c(s.proxy.port);
  const std::string auth = "Authorization: Bearer " + s.world.token_admin_a + "\r\n";
  c.send_raw("get " + park_a1(s.world) + " HTTP/1.1\r\nHost: x\r\n" + auth +
             "Content-Length: 5\r\n\r\nhello");
  auto refused = c.read_raw_response();
  CHECK(refused.status == 501);
  CHECK(webex_shaped(refused));
  // The body of the refused request was read off: the next request on the connection is served.
  auto next = c.request("GET", park_a1(s.world), bearer(s.world.token_admin_a));
  CHECK(next.status == 200);
  CHECK(next.body.find(fake::demo_park_a1_name) != std::string::npos);
  CHECK(s.fake.count("get", "") == 0);
  CHECK(s.fake.count("GET", park_a1(s.world)) == 1);
}

TEST_CASE("every early way out of a session gives its slot back") {
  stack s({"--max-connections", "5", "--client-header-timeout", "300ms", "--client-body-timeout",
           "300ms", "--idle-timeout", "300ms", "--max-header-bytes", "4k", "--max-body-bytes",
           "1k"});
  const std::string auth = "Authorization: Bearer " + s.world.token_admin_a + "\r\n";
  struct exit_case {
    const char* name;
    std::string bytes;
    unsigned status;  // 0: closed without an answer
  };
  const std::vector<exit_case> cases = {
      {"malformed request line", "GET / \r\n\r\n", 400},
      {"request line without a version", "GET /v1/people/me\r\nHost: x\r\n\r\n", 400},
      {"HTTP/2.0", "GET /v1/people/me HTTP/2.0\r\nHost: x\r\n\r\n", 505},
      {"no Host", "GET /v1/people/me HTTP/1.1\r\n" + auth + "\r\n", 400},
      {"over-long request line", "GET /v1/" + std::string(5000, 'a') + " HTTP/1.1\r\n\r\n", 414},
      {"over-long head", "GET /v1/a HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(5000, 'h') + "\r\n\r\n", 431},
      {"over-long body", "POST /v1/a HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 5000\r\n\r\n" + std::string(5000, 'b'), 413},
      {"smuggling", "POST /v1/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"unsupported Expect", "POST /v1/a HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 3\r\n\r\n", 417},
      {"TRACE", "TRACE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405},
      {"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405},
      {"EOF mid-head", "GET /v1/people/me HTTP/1.1\r\nHost: x\r\nX-Half: ", 0},
      {"EOF mid-body", "POST /v1/a HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 100\r\n\r\nabc", 0},
      {"EOF before anything", "", 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    for (int i = 0; i < 8; ++i) {  // more than --max-connections: a leak shows as a 503
      test::http_connection conn(s.proxy.port);
      if (!c.bytes.empty()) conn.send_raw(c.bytes);
      if (c.status) {
        auto res = conn.read_raw_response();
        CHECK(res.status == c.status);
        CHECK(webex_shaped(res));
      }
      conn.close();  // EOF cases: the client goes away mid-request
      CHECK(test::eventually([&] { return s.metric(gauge) == 0; }));
    }
    slots_come_back(s);
  }

  // Timeouts: a head that never ends, a body that never comes, a keep-alive connection left idle.
  std::vector<std::unique_ptr<test::http_connection>> slow;
  for (int i = 0; i < 2; ++i) {
    slow.push_back(std::make_unique<test::http_connection>(s.proxy.port));
    slow.back()->send_raw("GET /v1/people/me HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    slow.push_back(std::make_unique<test::http_connection>(s.proxy.port));
    slow.back()->send_raw("POST /v1/a HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 100\r\n\r\nab");
  }
  auto idle = std::make_unique<test::http_connection>(s.proxy.port);
  REQUIRE(idle->request("GET", park_a1(s.world), bearer(s.world.token_admin_a)).status == 200);
  for (auto& c : slow) CHECK(c->is_closed_by_peer(seconds(5)));
  CHECK(idle->is_closed_by_peer(seconds(5)));
  slots_come_back(s);
  CHECK(s.fake.count("", "/v1/people/me") == 0);
  CHECK(s.fake.count("", "/v1/a") == 0);
}

TEST_CASE("a failed TLS handshake gives its slot back") {
  const auto dir = test::make_temp_dir("wcp-http-pki-");
  const auto pki = test::make_test_pki(dir);
  stack s({"--tls-cert", pki.server_cert, "--tls-key", pki.server_key, "--max-connections", "3",
           "--client-header-timeout", "300ms"});
  const auto path = park_a1(s.world);
  for (int i = 0; i < 6; ++i) {
    CHECK_THROWS(test::https_request(s.proxy.port, pki.other_ca_cert, "GET", path));
    CHECK_THROWS(http_request(s.proxy.port, "GET", path, {}, {}, seconds(5)));
    test::http_connection silent(s.proxy.port);  // connects, says nothing: the handshake times out
    CHECK(silent.is_closed_by_peer(seconds(5)));
  }
  CHECK(test::eventually([&] { return s.metric(gauge) == 0; }));
  CHECK(test::https_request(s.proxy.port, pki.ca_cert, "GET", path, bearer(s.world.token_admin_a))
            .status == 200);
  std::filesystem::remove_all(dir);
}

TEST_CASE("Host: missing, repeated or invalid is a 400 and never forwarded") {
  stack s;
  const std::string auth = "Authorization: Bearer " + s.world.token_admin_a + "\r\n";
  const std::string target = "/v1/people/me";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"missing", "GET " + target + " HTTP/1.1\r\n" + auth + "\r\n"},
      {"two", "GET " + target + " HTTP/1.1\r\nHost: a\r\nHost: b\r\n" + auth + "\r\n"},
      {"two, same value", "GET " + target + " HTTP/1.1\r\nHost: a\r\nHost: a\r\n" + auth + "\r\n"},
      {"empty", "GET " + target + " HTTP/1.1\r\nHost: \r\n" + auth + "\r\n"},
      {"space inside", "GET " + target + " HTTP/1.1\r\nHost: a b\r\n" + auth + "\r\n"},
      {"user info", "GET " + target + " HTTP/1.1\r\nHost: user@a\r\n" + auth + "\r\n"},
      {"path", "GET " + target + " HTTP/1.1\r\nHost: a/b\r\n" + auth + "\r\n"},
      {"bad port", "GET " + target + " HTTP/1.1\r\nHost: a:99999x\r\n" + auth + "\r\n"},
      {"HTTP/1.0, two", "GET " + target + " HTTP/1.0\r\nHost: a\r\nHost: b\r\n" + auth + "\r\n"},
  };
  for (const auto& [name, bytes] : cases) {
    CAPTURE(name);
    test::http_connection c(s.proxy.port);
    c.send_raw(bytes);
    auto res = c.read_raw_response();
    CHECK(res.status == 400);
    CHECK(webex_shaped(res));
    CHECK(res.body.find("Host") != std::string::npos);
    CHECK(c.is_closed_by_peer());
  }
  CHECK(s.fake.count("", target) == 0);
  CHECK(s.metric(R"(webex_cache_proxy_bad_requests_total{reason="host"})") == cases.size());

  // Valid forms are served: a name with a port, an IPv6 literal, and HTTP/1.0 without Host.
  for (const std::string host : {"proxy.example:8080", "[::1]:8080", "127.0.0.1"}) {
    CAPTURE(host);
    auto res = raw_exchange(s.proxy.port, "GET " + park_a1(s.world) + " HTTP/1.1\r\nHost: " + host +
                                              "\r\n" + auth + "Connection: close\r\n\r\n");
    CHECK(res.status == 200);
  }
  CHECK(raw_exchange(s.proxy.port, "GET " + park_a1(s.world) + " HTTP/1.0\r\n" + auth + "\r\n").status == 200);
}

TEST_CASE("absolute-form targets are routed by their path") {
  stack s;
  const std::string auth = "Authorization: Bearer " + s.world.token_admin_a + "\r\n";
  const auto path = park_a1(s.world);
  auto first = raw_exchange(s.proxy.port, "GET http://proxy-host:8080" + path +
                                              " HTTP/1.1\r\nHost: proxy-host:8080\r\n" + auth +
                                              "Connection: close\r\n\r\n");
  CHECK(first.status == 200);
  CHECK(first.header("X-Cache") == "MISS");
  CHECK(first.body.find(fake::demo_park_a1_name) != std::string::npos);
  // The same cache entry as the origin-form path: the next read is a hit.
  CHECK(s.get(path, s.world.token_admin_a).header("X-Cache") == "HIT");
  // Upstream saw the origin-form target, query kept.
  auto passthrough = raw_exchange(s.proxy.port, "GET HTTPS://Other.Host/v1/people/me?x=1 HTTP/1.1\r\n"
                                                "Host: other.host\r\n" + auth + "Connection: close\r\n\r\n");
  CHECK(passthrough.status == 200);
  auto reqs = s.fake.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].target == path);
  CHECK(reqs[1].target == "/v1/people/me?x=1");

  // Not an http(s) URL, or no host: 400.
  for (const std::string target : {"ftp://h/v1/people/me", "http:///v1/people/me", "people/me"}) {
    CAPTURE(target);
    auto res = raw_exchange(s.proxy.port, "GET " + target + " HTTP/1.1\r\nHost: h\r\n" + auth + "\r\n");
    CHECK(res.status == 400);
    CHECK(webex_shaped(res));
  }
  CHECK(s.fake.requests().size() == 2);
}

TEST_CASE("TRACE and CONNECT are refused - OPTIONS * is answered - none is forwarded") {
  stack s;
  const std::string auth = "Authorization: Bearer " + s.world.token_admin_a + "\r\n";
  auto trace = raw_exchange(s.proxy.port, "TRACE /v1/people/me HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n");
  CHECK(trace.status == 405);
  CHECK(webex_shaped(trace));
  CHECK(trace.header("Allow") == "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
  auto connect = raw_exchange(s.proxy.port, "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n" + auth + "\r\n");
  CHECK(connect.status == 405);
  CHECK(webex_shaped(connect));

  test::http_connection c(s.proxy.port);
  c.send_raw("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
  auto options = c.read_raw_response();
  CHECK(options.status == 200);
  CHECK(options.header("Allow") == "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
  CHECK(options.header("Content-Length") == "0");
  // '*' is for OPTIONS only.
  c.send_raw("GET * HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(c.read_raw_response().status == 400);
  CHECK(s.fake.requests().empty());

  // OPTIONS on a path is a method the proxy handles: forwarded.
  auto forwarded = http_request(s.proxy.port, "OPTIONS", "/v1/people/me", bearer(s.world.token_admin_a));
  CHECK(forwarded.header("X-Cache") == "BYPASS");
  CHECK(s.fake.count("OPTIONS", "/v1/people/me") == 1);
  CHECK(s.fake.requests().size() == 1);
}

TEST_CASE("a malformed request line is answered 400 at once - not closed after the header timeout") {
  stack s({"--client-header-timeout", "60s"});
  for (const std::string line : {"GET / \r\n\r\n", "GET /\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n",
                                 "GET / HTTP/1.1 \r\n\r\n", "GET / http/1.1\r\n\r\n",
                                 "G@T / HTTP/1.1\r\n\r\n", " GET / HTTP/1.1\r\n\r\n",
                                 "GET / HTTP/1\r\n\r\n", "GET /\x7f HTTP/1.1\r\n\r\n"}) {
    CAPTURE(line);
    test::http_connection c(s.proxy.port);
    c.send_raw(line);
    // Far inside the 60 s header timeout: an answer, not a silent close.
    auto res = c.read_raw_response(seconds(5));
    CHECK(res.status == 400);
    CHECK(webex_shaped(res));
    CHECK(c.is_closed_by_peer());
  }
  CHECK(s.fake.requests().empty());
}

TEST_CASE("HTTP/1.0 with Transfer-Encoding is a 400 and a closed connection - never decoded and forwarded") {
  stack s;
  const std::string auth = "Authorization: Bearer " + s.world.token_admin_a + "\r\n";
  test::http_connection c(s.proxy.port);
  c.send_raw("POST /v1/people HTTP/1.0\r\nHost: x\r\n" + auth +
             "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  auto res = c.read_raw_response();
  CHECK(res.status == 400);
  CHECK(webex_shaped(res));
  CHECK(c.is_closed_by_peer());
  CHECK(s.fake.count("", "/v1/people") == 0);
  // The same body framed by HTTP/1.1 is decoded and forwarded with a length.
  test::http_connection d(s.proxy.port);
  d.send_raw("POST /v1/people HTTP/1.1\r\nHost: x\r\n" + auth +
             "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  CHECK(d.read_raw_response().status == 200);
  auto reqs = s.fake.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].body == "abc");
}

TEST_CASE("a HEAD the proxy refuses gets no body - the connection stays in step") {
  stack s;
  test::http_connection c(s.proxy.port);
  c.send_raw("HEAD /v1/telephony/config/locations/bad!id/callParks/x HTTP/1.1\r\nHost: x\r\n\r\n");
  auto res = c.read_raw_response(seconds(5), true);
  CHECK(res.status == 400);
  CHECK(res.body.empty());
  CHECK(res.header("Content-Length") != "0");
  // Had a body been sent, it would be read as the next answer's status line.
  auto next = c.request("GET", park_a1(s.world), bearer(s.world.token_admin_a));
  CHECK(next.status == 200);
}

TEST_CASE("a repeated orgId is a 400 in the Webex error shape - and nothing is forwarded") {
  stack s;
  const auto& w = s.world;
  // The partner may act on org A; read as the last value (B) or as the first (A), the two
  // orgs would give different answers and grants.
  for (const std::string& target : {park_a1(w) + "?orgId=" + w.org_a + "&orgId=" + w.org_b,
                                   park_a1(w) + "?orgId=" + w.org_b + "&orgId=" + w.org_a,
                                   std::string("/v1/people/me?orgId=") + w.org_a + "&orgId=" + w.org_b}) {
    CAPTURE(target);
    for (const char* method : {"GET", "PUT", "DELETE"}) {
      auto res = http_request(s.proxy.port, method, target, bearer(w.token_partner),
                              std::string(method) == "PUT" ? "{}" : "");
      CHECK(res.status == 400);
      CHECK(webex_shaped(res));
      CHECK(res.body.find("orgId") != std::string::npos);
    }
  }
  CHECK(s.fake.requests().empty());
}

namespace {

// Walks a paged list through the proxy from `first`, following each answer's rel="next" Link;
// returns the Link URLs followed. Every one must be on `origin`.
std::vector<std::string> walk_pages(std::uint16_t port, std::string first, const header_list& h,
                                    const std::string& origin, std::vector<std::string>& ids) {
  std::vector<std::string> followed;
  std::string target = std::move(first);
  for (int page = 0; page < 20; ++page) {
    auto res = http_request(port, "GET", target, h);
    REQUIRE(res.status == 200);
    for (std::size_t at = 0; (at = res.body.find("\"id\":\"", at)) != std::string::npos;) {
      at += 6;
      ids.push_back(res.body.substr(at, res.body.find('"', at) - at));
    }
    const auto link = res.header("Link");
    const auto next = link.find("rel=\"next\"");
    if (next == std::string::npos) return followed;
    const auto open = link.rfind('<', next), close = link.rfind('>', next);
    REQUIRE(open != std::string::npos);
    const auto url = link.substr(open + 1, close - open - 1);
    CAPTURE(link);
    REQUIRE(url.rfind(origin + "/v1/", 0) == 0);
    followed.push_back(url);
    target = url.substr(origin.size());
  }
  FAIL("more than 20 pages");
  return followed;
}

}  // namespace

TEST_CASE("a paged list walked through the proxy: every page's Link points back at the proxy") {
  stack s;
  for (int i = 2; i <= 9; ++i) s.fake.add_call_park(s.world.loc_a1, "Park " + std::to_string(i));
  const auto list = "/v1/telephony/config/locations/" + s.world.loc_a1 + "/callParks?max=2";
  const auto auth = bearer(s.world.token_admin_a);
  const auto misses = R"(webex_cache_proxy_requests_total{route="call_park",cache="miss"})";
  const auto hits = R"(webex_cache_proxy_requests_total{route="call_park",cache="hit"})";
  const double answered = s.metric(misses);

  // Straight from the fake, the Link names the fake itself.
  auto direct = http_request(s.fake.port(), "GET", list, auth);
  CHECK(direct.header("Link").find("<" + s.fake.base_url() + "/v1/") != std::string::npos);
  s.fake.clear_requests();

  std::vector<std::string> ids;
  const std::string origin = "http://127.0.0.1:" + std::to_string(s.proxy.port);
  const auto followed = walk_pages(s.proxy.port, list, auth, origin, ids);
  CHECK(followed.size() == 4);  // 9 call parks, 2 a page: 5 pages
  CHECK(ids.size() == 9);
  std::sort(ids.begin(), ids.end());
  CHECK(std::unique(ids.begin(), ids.end()) == ids.end());
  // Every page came through the proxy.
  CHECK(s.fake.count("GET", "/callParks") == 5);
  CHECK(s.metric(misses) == answered + 5);

  // Each page is cached by its query, with upstream's Link kept: a second walk is answered by the
  // proxy alone, every Link moved again.
  const double hits_before = s.metric(hits);
  std::vector<std::string> again;
  CHECK(walk_pages(s.proxy.port, list, auth, origin, again) == followed);
  CHECK(again.size() == 9);
  CHECK(s.fake.count("GET", "/callParks") == 5);
  CHECK(s.metric(hits) == hits_before + 5);

  // The origin is the one the client used: its Host header, also on a page from the cache.
  header_list via_name = auth;
  via_name.emplace_back("Host", "webex-proxy.internal:" + std::to_string(s.proxy.port));
  auto named = http_request(s.proxy.port, "GET", list, via_name);
  CHECK(named.header("X-Cache") == "HIT");
  CHECK(named.header("Link") ==
        "<http://webex-proxy.internal:" + std::to_string(s.proxy.port) +
            "/v1/telephony/config/locations/" + s.world.loc_a1 +
            "/callParks?max=2&start=2>; rel=\"next\"");
  // A middle page has both links moved.
  auto middle = http_request(s.proxy.port, "GET", list + "&start=4", auth);
  CHECK(middle.header("Link").find("rel=\"prev\"") != std::string::npos);
  CHECK(middle.header("Link").find(s.fake.base_url()) == std::string::npos);
}

TEST_CASE("--public-url: Link URLs point at the load balancer's origin") {
  stack s({"--public-url", "https://webex-cache.example.com"});
  for (int i = 2; i <= 3; ++i) s.fake.add_call_park(s.world.loc_a1, "Park " + std::to_string(i));
  const auto list = "/v1/telephony/config/locations/" + s.world.loc_a1 + "/callParks?max=2";
  auto res = http_request(s.proxy.port, "GET", list, bearer(s.world.token_admin_a));
  CHECK(res.header("Link") == "<https://webex-cache.example.com/v1/telephony/config/locations/" +
                                  s.world.loc_a1 + "/callParks?max=2&start=2>; rel=\"next\"");
}

TEST_CASE("a Link on an answer the proxy reads whole (a cached route's miss) moves too") {
  stack s;
  const auto park = fake::call_park_path(s.world.loc_a1, s.world.park_a1);
  const std::string upstream_link = "<" + s.fake.base_url() + park + "?x=1>; rel=\"alternate\"";
  s.fake.set_interceptor([&](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.method != "GET" || r.path != park) return std::nullopt;
    fake::scripted_response res;
    res.body = R"({"id":"x","name":"Sales Park"})";
    res.headers.emplace_back("Link", upstream_link);
    return res;
  });
  auto miss = http_request(s.proxy.port, "GET", park, bearer(s.world.token_admin_a));
  REQUIRE(miss.status == 200);
  CHECK(miss.header("X-Cache") == "MISS");
  CHECK(miss.header("Link") == "<http://127.0.0.1:" + std::to_string(s.proxy.port) + park +
                                   "?x=1>; rel=\"alternate\"");
}

TEST_CASE("answers from the cache carry Date and Age: when the answer was stored, and how long ago - no Server") {
  stack s;
  const auto path = fake::call_park_path(s.world.loc_a1, s.world.park_a1);
  const auto parse_date = [](const std::string& text) -> std::optional<std::time_t> {
    std::tm tm{};
    const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0') return std::nullopt;
    return timegm(&tm);
  };
  const auto miss = s.get(path, s.world.token_admin_a);
  REQUIRE(miss.header("X-Cache") == "MISS");
  const auto stored = parse_date(miss.header("Date"));  // the fake sends none: the proxy's
  REQUIRE(stored.has_value());
  CHECK(std::abs(*stored - std::time(nullptr)) <= 5);
  // Read until the entry is a second old (no sleep: the reads are the wait).
  test::http_response hit;
  REQUIRE(test::eventually([&] {
    hit = s.get(path, s.world.token_admin_a);
    return hit.header("X-Cache") == "HIT" && hit.header("Age") != "0";
  }));
  CHECK(hit.header("Date") == miss.header("Date"));  // the stored answer's, not now
  const auto age = std::stoll(hit.header("Age"));
  CHECK(std::abs(*stored + age - std::time(nullptr)) <= 2);
  CHECK_FALSE(hit.has_header("Server"));
  CHECK(std::count_if(hit.headers.begin(), hit.headers.end(),
                      [](const auto& h) { return h.first == "Date"; }) == 1);
}

TEST_CASE("gzip: a cached answer goes out compressed to clients that accept it - the stored form, both within the memory bound") {
  stack s;
  // A list page large enough to be worth compressing.
  for (int i = 0; i < 20; ++i) s.fake.add_call_park(s.world.loc_a1, "Compressible Park " + std::to_string(i));
  const auto path = "/v1/telephony/config/locations/" + s.world.loc_a1 + "/callParks";
  auto with = [&](std::string accept) {
    auto h = bearer(s.world.token_admin_a);
    if (!accept.empty()) h.emplace_back("Accept-Encoding", std::move(accept));
    return h;
  };
  const auto plain = http_request(s.proxy.port, "GET", path, with(""));
  REQUIRE(plain.status == 200);
  REQUIRE(plain.header("X-Cache") == "MISS");
  CHECK_FALSE(plain.has_header("Content-Encoding"));
  CHECK(plain.header("Vary") == "Accept-Encoding");
  REQUIRE(plain.body.size() > 1000);

  const auto gz = http_request(s.proxy.port, "GET", path, with("gzip, deflate"));
  CHECK(gz.header("X-Cache") == "HIT");
  CHECK(gz.header("Content-Encoding") == "gzip");
  CHECK(gz.header("Vary") == "Accept-Encoding");
  CHECK(gz.header("Content-Length") == std::to_string(gz.body.size()));
  CHECK(gz.body.size() < plain.body.size() / 2);
  CHECK(cache::gunzip(gz.body) == plain.body);
  MESSAGE("a list page of ", plain.body.size(), " bytes goes out as ", gz.body.size(), " with gzip");

  // Refused, or not asked for: the identity body.
  for (const char* accept : {"gzip;q=0", "identity", "br"}) {
    CAPTURE(accept);
    const auto res = http_request(s.proxy.port, "GET", path, with(accept));
    CHECK_FALSE(res.has_header("Content-Encoding"));
    CHECK(res.body == plain.body);
  }
  CHECK(http_request(s.proxy.port, "GET", path, with("*")).header("Content-Encoding") == "gzip");
  // HEAD says how long the gzip body would be.
  const auto head = http_request(s.proxy.port, "HEAD", path, with("gzip"));
  CHECK(head.header("Content-Encoding") == "gzip");
  CHECK(head.header("Content-Length") == std::to_string(gz.body.size()));
  CHECK(head.body.empty());
  // Compressed once, when stored: one entry holds both forms, and the store counts both.
  CHECK(s.fake.count("GET", "/callParks") == 1);
  CHECK(s.metric("webex_cache_proxy_l1_bytes") >= static_cast<double>(plain.body.size() + gz.body.size()));
}
