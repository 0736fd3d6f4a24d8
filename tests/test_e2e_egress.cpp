// End-to-end: egress through a company proxy (--upstream-proxy). The real daemon reaches the fake
// Webex API through a real Squid (CONNECT tunnels, an ACL refusal, Basic authentication), and
// through a small recording proxy where a test must see the exact CONNECT head or needs an
// answer no real proxy gives (garbage, an oversized head, silence). All on loopback.
#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <strings.h>

#include "fake_webex/demo_world.hpp"
#include "fake_webex/fake_webex.hpp"
#include "support/connect_proxy.hpp"
#include "support/e2e.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/squid_server.hpp"
#include "support/tcp_tap.hpp"  // excerpt()
#include "support/test_ca.hpp"

using namespace wcp;
using test::bearer;
using test::http_request;

namespace {

using stack = test::e2e_stack;

// egress-user:s3cr3t-Pa55, base64 (computed outside the code under test).
constexpr const char* proxy_user = "egress-user";
constexpr const char* proxy_password = "s3cr3t-Pa55";
constexpr const char* proxy_basic = "Basic ZWdyZXNzLXVzZXI6czNjcjN0LVBhNTU=";
// The password for Squid's htpasswd file, as `openssl passwd -1 -salt abcdefgh s3cr3t-Pa55`.
constexpr const char* squid_user = "egress";
constexpr const char* squid_password_hash = "$1$abcdefgh$ri5GdeUIaFYqt5DBKkPSS0";

std::string park_path(const fake::demo_world& w) { return fake::call_park_path(w.loc_a1, w.park_a1); }

bool is_webex_error(const std::string& body) {
  return body.find("\"message\"") != std::string::npos &&
         body.find("\"errors\":[{\"description\"") != std::string::npos &&
         body.find("\"trackingId\"") != std::string::npos;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// webex_cache_proxy_upstream_errors_total{reason="..."}, summed over any other labels.
double upstream_errors(const stack& s, const std::string& reason) {
  const auto res = http_request(s.proxy.admin_port, "GET", "/metrics");
  const std::string name = "webex_cache_proxy_upstream_errors_total{";
  const std::string label = "reason=\"" + reason + "\"";
  double sum = 0;
  std::istringstream in(res.body);
  std::string line;
  while (std::getline(in, line)) {
    const auto close = line.find("} ");
    if (line.rfind(name, 0) == 0 && close != std::string::npos && line.find(label) < close)
      sum += std::stod(line.substr(close + 2));
  }
  return sum;
}

bool has_header(const fake::recorded_request& r, const char* name) {
  for (const auto& [k, v] : r.headers)
    if (strcasecmp(k.c_str(), name) == 0) return true;
  return false;
}

// A throwaway PKI and the options of a fake Webex that serves HTTPS with it.
struct tls_upstream {
  std::string dir = test::make_temp_dir("wcp-egress-pki-");
  test::test_pki pki = test::make_test_pki(dir);
  fake::options options() const {
    fake::options fo;
    fo.host = "localhost";
    fo.tls_cert_file = pki.server_cert;
    fo.tls_key_file = pki.server_key;
    return fo;
  }
  ~tls_upstream() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// A file holding `content`, removed at scope end.
struct secret_file {
  std::string dir = test::make_temp_dir("wcp-egress-secret-");
  std::string path = dir + "/proxy.creds";
  explicit secret_file(const std::string& content) { std::ofstream(path) << content << '\n'; }
  ~secret_file() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// Stops the daemon (its tunnels close with it, so Squid logs them).
void stop(stack& s) {
  s.proxy.proc->signal(SIGTERM);
  CHECK(s.proxy.proc->wait(std::chrono::seconds(10)) == 0);
}

}  // namespace

TEST_CASE("through Squid: a GET reaches Webex over TLS end to end - Squid sees only the CONNECT") {
  REQUIRE_MESSAGE(test::squid_installed(), "squid is not installed (.ci/install-deps installs it)");
  tls_upstream tls;
  test::squid_server squid;
  stack s({"--upstream-proxy", squid.url(), "--upstream-ca", tls.pki.ca_cert, "--threads", "1"},
          tls.options());
  REQUIRE(s.fake.base_url().rfind("https://127.0.0.1:", 0) == 0);
  const std::string webex = "127.0.0.1:" + std::to_string(s.fake.port());

  auto miss = s.get(park_path(s.world), bearer(s.world.token_admin_a));
  CHECK(miss.status == 200);
  CHECK(miss.header("X-Cache") == "MISS");
  CHECK(contains(miss.body, fake::demo_park_a1_name));
  CHECK(s.get(park_path(s.world), bearer(s.world.token_admin_a)).header("X-Cache") == "HIT");
  // A second upstream request rides the same tunnel: kept alive through the proxy.
  CHECK(s.get("/v1/people/me", bearer(s.world.token_admin_a)).status == 200);
  CHECK(s.fake.connections_accepted() == 1);

  // Webex got the requests as ever: its own Host, the caller's token, nothing of the proxy's.
  const auto reqs = s.fake.requests();
  REQUIRE(reqs.size() == 2);
  for (const auto& r : reqs) {
    CHECK(r.authorization == "Bearer " + s.world.token_admin_a);
    CHECK_FALSE(has_header(r, "Proxy-Authorization"));
    for (const auto& [k, v] : r.headers)
      if (strcasecmp(k.c_str(), "Host") == 0) CHECK(v == webex);
  }

  CHECK(upstream_errors(s, "proxy") == 0);

  stop(s);
  const auto line = squid.wait_for_access("CONNECT " + webex);
  CHECK(contains(line, "TCP_TUNNEL/200"));
  // One tunnel, and nothing else: no path, no token, no request line of the caller's.
  const auto log = squid.access_log();
  CHECK(log.find("CONNECT ") == log.rfind("CONNECT "));
  CHECK(!contains(log, "/v1/"));
  CHECK(!contains(log, "callParks"));
  CHECK(!contains(log, s.world.token_admin_a));
}

TEST_CASE("Squid with Basic authentication: the credentials file opens the tunnel - a wrong one is a 407 and a 502") {
  REQUIRE(test::squid_installed());
  tls_upstream tls;
  test::squid_options so;
  so.user = squid_user;
  so.password_hash = squid_password_hash;
  test::squid_server squid(so);

  {
    secret_file creds(std::string(squid_user) + ":" + proxy_password);
    stack s({"--upstream-proxy", squid.url(), "--upstream-proxy-credentials-file", creds.path,
             "--upstream-ca", tls.pki.ca_cert},
            tls.options());
    auto res = s.get(park_path(s.world), bearer(s.world.token_admin_a));
    CHECK(res.status == 200);
    CHECK(contains(res.body, fake::demo_park_a1_name));
    stop(s);
    // Squid names the user it authenticated on the tunnel's line.
    CHECK(contains(squid.wait_for_access("TCP_TUNNEL/200"), " " + std::string(squid_user) + " "));
    CHECK(!contains(s.proxy.proc->output(), proxy_password));
  }
  {
    secret_file creds(std::string(squid_user) + ":not-the-password");
    stack s({"--upstream-proxy", squid.url(), "--upstream-proxy-credentials-file", creds.path,
             "--upstream-ca", tls.pki.ca_cert},
            tls.options());
    auto res = s.get(park_path(s.world), bearer(s.world.token_admin_a));
    CHECK(res.status == 502);
    CHECK(is_webex_error(res.body));
    CHECK(s.fake.requests().empty());
    CHECK(upstream_errors(s, "proxy") == 1);
    const auto line = s.proxy.proc->wait_for_output("refused CONNECT");
    CHECK(contains(line, "407"));
    CHECK(!contains(s.proxy.proc->output(), "not-the-password"));
  }
}

TEST_CASE("a proxy that refuses the tunnel (403) - the caller gets a Webex-shaped 502 and nothing reaches Webex") {
  REQUIRE(test::squid_installed());
  tls_upstream tls;
  test::squid_options so;
  so.connect_ports = {443};  // not the fake's port: Squid answers 403
  test::squid_server squid(so);
  stack s({"--upstream-proxy", squid.url(), "--upstream-ca", tls.pki.ca_cert}, tls.options());

  auto res = s.get(park_path(s.world), {{"Authorization", "Bearer " + s.world.token_admin_a},
                                        {"TrackingID", "EGRESS_TEST_1"}});
  CHECK(res.status == 502);
  CHECK(is_webex_error(res.body));
  CHECK(contains(res.body, "EGRESS_TEST_1"));
  // A write the proxy refused never reached Webex: its outcome is known, nothing is invalidated.
  auto put = http_request(s.proxy.port, "PUT", park_path(s.world), test::json_bearer(s.world.token_admin_a),
                          R"({"name":"renamed"})");
  CHECK(put.status == 502);
  CHECK(is_webex_error(put.body));
  CHECK(s.fake.requests().empty());
  CHECK(upstream_errors(s, "proxy") == 2);
  CHECK(s.metric(R"(webex_cache_proxy_invalidations_total{reason="unknown_outcome"})") == 0);
  const auto line = s.proxy.proc->wait_for_output("refused CONNECT");
  CHECK(contains(line, "403"));
  CHECK(contains(line, "proxy 127.0.0.1:" + std::to_string(squid.port())));
  CHECK(contains(squid.wait_for_access("TCP_DENIED/403"), "CONNECT 127.0.0.1:" + std::to_string(s.fake.port())));
}

TEST_CASE("the CONNECT head names the Webex host - credentials go on it only and never into the log") {
  tls_upstream tls;
  test::connect_proxy recorder;
  secret_file creds(std::string(proxy_user) + ":" + proxy_password);
  stack s({"--upstream-proxy", recorder.url(), "--upstream-proxy-credentials-file", creds.path,
           "--upstream-ca", tls.pki.ca_cert},
          tls.options());
  const std::string webex = "127.0.0.1:" + std::to_string(s.fake.port());

  auto res = s.get(park_path(s.world), bearer(s.world.token_admin_a));
  CHECK(res.status == 200);
  CHECK(contains(res.body, fake::demo_park_a1_name));

  const auto heads = recorder.heads();
  REQUIRE(heads.size() == 1);
  const auto& head = heads[0];
  CAPTURE(test::excerpt(head, 400));
  CHECK(head.rfind("CONNECT " + webex + " HTTP/1.1\r\n", 0) == 0);
  CHECK(contains(head, "\r\nHost: " + webex + "\r\n"));
  CHECK(contains(head, "\r\nProxy-Authorization: " + std::string(proxy_basic) + "\r\n"));
  // TLS end to end: the proxy never saw the request, its path or the caller's token.
  CHECK(!contains(head, "/v1/"));
  CHECK(!contains(head, s.world.token_admin_a));
  // Webex never sees the proxy's credentials.
  REQUIRE(s.fake.requests().size() == 1);
  CHECK_FALSE(has_header(s.fake.requests()[0], "Proxy-Authorization"));

  // Nor does the log, even at debug, nor when the proxy refuses.
  recorder.refuse(407);
  CHECK(s.get("/v1/people/me", bearer(s.world.token_admin_a)).status == 502);
  CHECK(contains(s.proxy.proc->wait_for_output("refused CONNECT"), "407"));
  const auto log = s.proxy.proc->output();
  CHECK(!contains(log, proxy_password));
  CHECK(!contains(log, "ZWdyZXNzLXVzZXI6czNjcjN0LVBhNTU"));
  CHECK(!contains(log, s.world.token_admin_a));
}

TEST_CASE("a plain-http upstream is reached through a CONNECT tunnel too") {
  test::connect_proxy recorder;
  stack s({"--upstream-proxy", recorder.url()});
  REQUIRE(s.fake.base_url().rfind("http://", 0) == 0);
  const std::string webex = "127.0.0.1:" + std::to_string(s.fake.port());

  CHECK(s.get(park_path(s.world), bearer(s.world.token_admin_a)).status == 200);
  const auto heads = recorder.heads();
  REQUIRE(heads.size() == 1);
  CAPTURE(test::excerpt(heads[0], 400));
  CHECK(heads[0] == "CONNECT " + webex + " HTTP/1.1\r\nHost: " + webex + "\r\n\r\n");
  REQUIRE(s.fake.requests().size() == 1);
  CHECK(s.fake.requests()[0].target == park_path(s.world));  // origin-form, through the tunnel
}

TEST_CASE("an unreadable - oversized - cut or missing answer to CONNECT is an upstream failure") {
  test::connect_proxy recorder;
  stack s({"--upstream-proxy", recorder.url()});
  const auto errors = [&](const char* reason) { return upstream_errors(s, reason); };
  const auto get = [&] { return s.get("/v1/people/me", bearer(s.world.token_admin_a)); };

  recorder.answer_raw("SSH-2.0-OpenSSH_9.2p1\r\n");
  auto not_http = get();
  CHECK(not_http.status == 502);
  CHECK(is_webex_error(not_http.body));
  CHECK(errors("proxy") == 1);

  recorder.answer_raw("HTTP/1.1 200 Connection established\r\nX-Padding: " + std::string(9000, 'a') +
                      "\r\n\r\n");
  CHECK(get().status == 502);
  CHECK(errors("proxy") == 2);

  recorder.answer_raw("HTTP/1.1 200 Connection established\r\n");  // then closed
  CHECK(get().status == 502);
  CHECK(errors("proxy") == 3);

  recorder.answer_raw("HTTP/1.1 2x0 Fine\r\n\r\n");
  CHECK(get().status == 502);
  CHECK(errors("proxy") == 4);

  CHECK(s.fake.requests().empty());
  recorder.open_tunnels();
  CHECK(get().status == 200);
  CHECK(errors("proxy") == 4);
  CHECK(errors("timeout") == 0);

  // Silence is bounded by --connect-timeout, as a connect is.
  stack quick({"--upstream-proxy", recorder.url(), "--connect-timeout", "300ms"});
  recorder.stay_silent();
  const auto start = std::chrono::steady_clock::now();
  auto silent = quick.get("/v1/people/me", bearer(quick.world.token_admin_a));
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(silent.status == 504);
  CHECK(is_webex_error(silent.body));
  CHECK(upstream_errors(quick, "timeout") == 1);
  CHECK(took < std::chrono::seconds(3));
}

TEST_CASE("the bytes right after the proxy's answer are upstream's - none is swallowed") {
  // A proxy that passes on upstream's answer at once, before the request (a plain-http upstream
  // makes it readable): the daemon must read its CONNECT answer exactly to the blank line.
  test::connect_proxy recorder;
  stack s({"--upstream-proxy", recorder.url()});
  recorder.answer_raw(
      "HTTP/1.1 200 Connection established\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"early\":true}");
  auto res = s.get("/v1/people/me", bearer(s.world.token_admin_a));
  CHECK(res.status == 200);
  CHECK(res.body == R"({"early":true})");
}

TEST_CASE("a refused --upstream-proxy stops the daemon with code 2 - check-config shows an accepted one") {
  for (const char* bad : {"https://proxy.corp:3128", "http://alice:hunter2@proxy.corp:3128", "http://proxy.corp"}) {
    CAPTURE(bad);
    test::process p(WCP_PROXY_BINARY, {"--upstream-proxy", bad});
    CHECK(p.wait(std::chrono::seconds(10)) == 2);
    CHECK(contains(p.output(), "--upstream-proxy"));
    CHECK(!contains(p.output(), "hunter2"));
  }
  test::process env(WCP_PROXY_BINARY, {"--check-config"}, {"WEBEX_CACHE_PROXY_UPSTREAM_PROXY=https://proxy.corp:3128"});
  CHECK(env.wait(std::chrono::seconds(10)) == 2);
  CHECK(contains(env.output(), "(from WEBEX_CACHE_PROXY_UPSTREAM_PROXY)"));

  test::process ok(WCP_PROXY_BINARY, {"--check-config", "--upstream-proxy", "http://proxy.corp:3128"});
  CHECK(ok.wait(std::chrono::seconds(10)) == 0);
  CHECK(contains(ok.output(), "upstream-proxy = http://proxy.corp:3128\n"));
}
