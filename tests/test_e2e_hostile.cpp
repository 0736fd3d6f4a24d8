// End-to-end: hostile clients and a misbehaving upstream. The daemon must answer each with a
// clear error (or close a slow client), never forward a smuggling attempt, never store a broken
// answer, never hand one tenant's data to another — and keep serving everyone else.
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <random>
#include <sstream>
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
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

namespace {

using stack = test::e2e_stack;
using test::bearer;

std::string park_a1(const fake::demo_world& w) { return fake::call_park_path(w.loc_a1, w.park_a1); }

fake::scripted_response raw_answer(std::string bytes) {
  fake::scripted_response r;
  r.raw = std::move(bytes);
  return r;
}

}  // namespace

TEST_CASE("smuggling and framing tricks get 400 and a closed connection and are never forwarded") {
  stack s;
  const std::string auth = "Authorization: Bearer " + s.world.token_admin_a + "\r\n";
  const std::vector<std::pair<std::string, std::string>> attempts = {
      {"both lengths", "POST /v1/smuggle HTTP/1.1\r\nHost: x\r\n" + auth +
                           "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"duplicate length", "POST /v1/smuggle HTTP/1.1\r\nHost: x\r\n" + auth +
                               "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc"},
      {"different lengths", "POST /v1/smuggle HTTP/1.1\r\nHost: x\r\n" + auth +
                                "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
      {"negative length", "POST /v1/smuggle HTTP/1.1\r\nHost: x\r\n" + auth +
                              "Content-Length: -3\r\n\r\nabc"},
      {"obsolete folding", "GET /v1/smuggle HTTP/1.1\r\nHost: x\r\n" + auth +
                               "X-Folded: a\r\n b\r\n\r\n"},
      {"bare LF", "GET /v1/smuggle HTTP/1.1\nHost: x\n\n"},
      {"bad chunk size", "POST /v1/smuggle HTTP/1.1\r\nHost: x\r\n" + auth +
                             "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
      {"chunked not last", "POST /v1/smuggle HTTP/1.1\r\nHost: x\r\n" + auth +
                               "Transfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
      {"other coding", "POST /v1/smuggle HTTP/1.1\r\nHost: x\r\n" + auth +
                           "Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
      {"space before colon", "POST /v1/smuggle HTTP/1.1\r\nHost: x\r\n" + auth +
                                 "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"},
      {"underscore for dash", "POST /v1/smuggle HTTP/1.1\r\nHost: x\r\n" + auth +
                                  "Content-Length: 5\r\nTransfer_Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"underscore length", "POST /v1/smuggle HTTP/1.1\r\nHost: x\r\n" + auth +
                                "Content_Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
  };
  for (const auto& [name, bytes] : attempts) {
    CAPTURE(name);
    test::http_connection c(s.proxy.port);
    c.send_raw(bytes);
    auto res = c.read_raw_response();
    CHECK(res.status == 400);
    CHECK(res.body.find("\"message\"") != std::string::npos);
    CHECK(c.is_closed_by_peer());
  }
  CHECK(s.fake.count("", "/v1/smuggle") == 0);
  CHECK(s.metric(R"(webex_cache_proxy_bad_requests_total{reason="smuggling"})") +
            s.metric(R"(webex_cache_proxy_bad_requests_total{reason="malformed"})") ==
        attempts.size());
  CHECK(s.get(park_a1(s.world), s.world.token_admin_a).status == 200);
}

TEST_CASE("an over-long request line gets 414 - over-long headers 431") {
  stack s({"--max-header-bytes", "8k"});
  test::http_connection c(s.proxy.port);
  c.send_raw("GET /v1/" + std::string(10000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(c.read_raw_response().status == 414);
  CHECK(c.is_closed_by_peer());
  test::http_connection d(s.proxy.port);
  d.send_raw("GET /v1/a HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'h') + "\r\n\r\n");
  CHECK(d.read_raw_response().status == 431);
  CHECK(s.get(park_a1(s.world), s.world.token_admin_a).status == 200);
}

TEST_CASE("hundreds of half-sent requests do not starve a normal one - and are closed") {
  stack s({"--client-header-timeout", "1s"});
  std::vector<std::unique_ptr<test::http_connection>> slow;
  for (int i = 0; i < 300; ++i) {
    slow.push_back(std::make_unique<test::http_connection>(s.proxy.port));
    slow.back()->send_raw("GET /v1/people/me HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  }
  const auto start = steady_clock::now();
  CHECK(s.get(park_a1(s.world), s.world.token_admin_a).status == 200);
  CHECK(steady_clock::now() - start < seconds(1));
  int closed = 0;
  for (auto& c : slow)
    if (c->is_closed_by_peer(seconds(5))) ++closed;
  CHECK(closed == 300);
  CHECK(s.metric(R"(webex_cache_proxy_bad_requests_total{reason="slow_client"})") == 300);
  CHECK(s.fake.count("", "/v1/people/me") == 0);
}

TEST_CASE("an idle keep-alive connection is closed after the idle timeout") {
  stack s({"--idle-timeout", "300ms"});
  test::http_connection c(s.proxy.port);
  CHECK(c.request("GET", park_a1(s.world), bearer(s.world.token_admin_a)).status == 200);
  CHECK(c.is_closed_by_peer(seconds(5)));
}

TEST_CASE("connections past --max-connections get 503 and are closed") {
  stack s({"--max-connections", "3"});
  std::vector<std::unique_ptr<test::http_connection>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<test::http_connection>(s.proxy.port));
    REQUIRE(open.back()->request("GET", park_a1(s.world), bearer(s.world.token_admin_a)).status == 200);
  }
  test::http_connection extra(s.proxy.port);
  auto refused = extra.read_raw_response();
  CHECK(refused.status == 503);
  CHECK(extra.is_closed_by_peer());
  CHECK(s.metric("webex_cache_proxy_rejected_connections_total") == 1);
  open.clear();  // room again
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    try {
      served = s.get(park_a1(s.world), s.world.token_admin_a).status == 200;
    } catch (const std::exception&) {
    }
    if (!served) std::this_thread::sleep_for(milliseconds(20));  // the closes reach the proxy
  }
  CHECK(served);
}

TEST_CASE("upstream garbage gets a clear 502 - and nothing broken is cached") {
  struct garbage {
    const char* name;
    fake::scripted_response answer;
  };
  std::vector<garbage> cases;
  cases.push_back({"truncated body", raw_answer("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                                "Content-Length: 500\r\n\r\n{\"id\":\"x\"")});
  cases.push_back({"not HTTP at all", raw_answer("SSH-2.0-OpenSSH_9.2\r\n\r\n")});
  cases.push_back({"bad status line", raw_answer("HTTP/1.1 2OO OK\r\n\r\n")});
  cases.push_back({"bad chunking", raw_answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n")});
  fake::scripted_response silent_close;
  silent_close.close_without_answer = true;
  cases.push_back({"closed without an answer", silent_close});
  fake::scripted_response huge;
  huge.body = "{\"id\":\"" + std::string(100000, 'x') + "\"}";
  cases.push_back({"larger than allowed", huge});

  for (auto& g : cases) {
    CAPTURE(g.name);
    stack s({"--max-upstream-body-bytes", "64k"});
    auto answer = g.answer;
    s.fake.set_interceptor([answer](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
      if (r.method != "GET") return std::nullopt;
      return answer;
    });
    auto res = s.get(park_a1(s.world), s.world.token_admin_a);
    CHECK(res.status == 502);
    CHECK(res.body.find("\"trackingId\"") != std::string::npos);
    // Upstream well again: the next read goes upstream and is correct.
    s.fake.set_interceptor({});
    auto good = s.get(park_a1(s.world), s.world.token_admin_a);
    CHECK(good.status == 200);
    CHECK(good.header("X-Cache") == "MISS");
    CHECK(good.body.find(fake::demo_park_a1_name) != std::string::npos);
  }
}

TEST_CASE("a huge answer on a passthrough route is streamed - not refused") {
  stack s({"--max-upstream-body-bytes", "64k"});
  const std::string big(1 << 20, 'q');
  s.fake.set_interceptor([&](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.path != "/v1/export") return std::nullopt;
    fake::scripted_response res;
    res.body = big;
    return res;
  });
  auto res = s.get("/v1/export", s.world.token_admin_a);
  CHECK(res.status == 200);
  CHECK(res.body == big);
}

TEST_CASE("nothing leaks: across a random mix of tokens - orgs and locations every answer is upstream's own") {
  stack s;
  const auto& w = s.world;
  const std::vector<std::string> tokens{w.token_admin_a, w.token_loc_admin_a1, w.token_admin_b,
                                        w.token_partner, "not-a-token"};
  std::vector<std::string> paths{
      fake::call_park_path(w.loc_a1, w.park_a1),   fake::call_park_path(w.loc_a2, w.park_a2),
      fake::call_park_path(w.loc_b1, w.park_b1),   fake::paging_path(w.loc_a1, w.paging_a1),
      fake::paging_path(w.loc_b1, w.paging_b1),    fake::call_park_path(w.loc_a1, w.park_a2),
      fake::call_park_path(w.loc_b1, w.park_a1)};
  const std::size_t base = paths.size();
  for (std::size_t i = 0; i < base; ++i) {
    paths.push_back(paths[i] + "?orgId=" + w.org_a);
    paths.push_back(paths[i] + "?orgId=" + w.org_b);
  }
  std::mt19937 rng(20261125);
  test::http_connection c(s.proxy.port);
  int served_from_cache = 0;
  for (int i = 0; i < 600; ++i) {
    const auto& token = tokens[rng() % tokens.size()];
    const auto& path = paths[rng() % paths.size()];
    CAPTURE(token);
    CAPTURE(path);
    auto via_proxy = c.request("GET", path, bearer(token));
    if (via_proxy.header("X-Cache") == "HIT") ++served_from_cache;
    // What upstream itself says to this token for this path (the fake's world never changes).
    auto direct = http_request(s.fake.port(), "GET", path, bearer(token));
    CHECK(via_proxy.status == direct.status);
    if (direct.status == 200) CHECK(via_proxy.body == direct.body);
    else CHECK(via_proxy.body.find("\"name\"") == std::string::npos);
  }
  CHECK(served_from_cache > 50);  // the cache was really in play
}

TEST_CASE("TLS on the client listener: a client trusting the CA is served - others are not") {
  const auto dir = test::make_temp_dir("wcp-listener-pki-");
  const auto pki = test::make_test_pki(dir);
  stack s({"--tls-cert", pki.server_cert, "--tls-key", pki.server_key});
  const auto path = park_a1(s.world);
  const header_list auth = bearer(s.world.token_admin_a);

  auto first = test::https_request(s.proxy.port, pki.ca_cert, "GET", path, auth);
  CHECK(first.status == 200);
  CHECK(first.header("X-Cache") == "MISS");
  CHECK(first.body.find(fake::demo_park_a1_name) != std::string::npos);
  auto second = test::https_request(s.proxy.port, pki.ca_cert, "GET", path, auth, {},
                                    seconds(10), "127.0.0.1");
  CHECK(second.status == 200);
  CHECK(second.header("X-Cache") == "HIT");
  CHECK(second.body == first.body);
  // The token crossed the encrypted hop and reached upstream byte for byte.
  REQUIRE(s.fake.requests().size() == 1);
  CHECK(s.fake.requests().front().authorization == "Bearer " + s.world.token_admin_a);

  // A client that trusts another CA refuses the proxy; a plain-HTTP client gets no answer.
  CHECK_THROWS(test::https_request(s.proxy.port, pki.other_ca_cert, "GET", path, auth));
  CHECK_THROWS(http_request(s.proxy.port, "GET", path, auth, {}, seconds(5)));
  CHECK(test::eventually(
      [&] { return s.metric(R"(webex_cache_proxy_bad_requests_total{reason="tls"})") >= 2; }));
  // ... and the daemon keeps serving.
  CHECK(test::https_request(s.proxy.port, pki.ca_cert, "GET", path, auth).header("X-Cache") == "HIT");
  CHECK(s.fake.requests().size() == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a TLS key that does not belong to the certificate stops the daemon with code 2") {
  const auto dir = test::make_temp_dir("wcp-listener-pki-");
  const auto pki = test::make_test_pki(dir);
  // The CA certificate with the server's key: both load, but they do not match.
  test::process p(WCP_PROXY_BINARY, {"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                                     "--tls-cert", pki.ca_cert, "--tls-key", pki.server_key});
  CHECK(p.wait(seconds(10)) == 2);
  CHECK(p.output().find("--tls-key") != std::string::npos);
  test::process half(WCP_PROXY_BINARY, {"--tls-cert", pki.server_cert});
  CHECK(half.wait(seconds(10)) == 2);
  CHECK(half.output().find("--tls-key") != std::string::npos);
  std::filesystem::remove_all(dir);
}
