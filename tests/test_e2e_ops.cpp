// End-to-end: the daemon as ops run it — systemd notifications, signals, reload, metrics that
// Prometheus accepts, the unit file, log formats.
#include <doctest/doctest.h>

#include <optional>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "fake_webex/demo_world.hpp"
#include "fake_webex/fake_webex.hpp"
#include "support/e2e.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"

using namespace wcp;
using test::header_list;
using test::http_request;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

using test::bearer;

// Runs a shell command; yields its exit code and output.
std::pair<int, std::string> shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, ""};
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// A NOTIFY_SOCKET the test listens on, as systemd would.
class notify_socket {
 public:
  notify_socket() {
    dir_ = test::make_temp_dir("wcp-notify-");
    path_ = dir_ + "/notify";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~notify_socket() {
    ::close(fd_);
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }
  // Waits for a datagram containing `what`; everything received is kept in `seen`.
  bool wait_for(const std::string& what, milliseconds timeout = seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (seen.find(what) != std::string::npos) return true;
      receive_one();
    }
    return seen.find(what) != std::string::npos;
  }
  // Waits for the `n`th datagram containing `what`.
  bool wait_for_count(const std::string& what, std::size_t n, milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (count(what) < n && std::chrono::steady_clock::now() < deadline) receive_one();
    return count(what) >= n;
  }
  // Takes in what has been sent so far.
  void drain() {
    while (receive_one()) {}
  }
  std::size_t count(const std::string& what) const {
    std::size_t n = 0;
    for (auto at = seen.find(what); at != std::string::npos; at = seen.find(what, at + 1)) ++n;
    return n;
  }
  std::string seen;

 private:
  // One datagram into `seen`, waiting at most the socket's 100 ms receive timeout.
  bool receive_one() {
    char buf[1024];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    seen.append(buf, static_cast<std::size_t>(n)).append("\n");
    return true;
  }

  std::string dir_, path_;
  int fd_ = -1;
};

}  // namespace

TEST_CASE("systemd hears READY once listening - WATCHDOG while running - STOPPING on SIGTERM") {
  fake::fake_webex f;
  notify_socket sock;
  auto p = test::start_proxy({"--upstream", f.base_url()},
                             {"NOTIFY_SOCKET=" + sock.path(), "WATCHDOG_USEC=200000"});
  REQUIRE(sock.wait_for("READY=1"));
  // Ready means both listeners answer.
  CHECK(http_request(p.admin_port, "GET", "/readyz").status == 200);
  REQUIRE(sock.wait_for("WATCHDOG=1"));
  const auto before = sock.count("WATCHDOG=1");
  REQUIRE(sock.wait_for("WATCHDOG=1\nWATCHDOG=1"));  // it keeps coming
  CHECK(sock.count("WATCHDOG=1") > before);
  p.proc->signal(SIGTERM);
  CHECK(sock.wait_for("STOPPING=1"));
  CHECK(p.proc->wait(seconds(10)) == 0);
}

TEST_CASE("a stuck worker loop stops the watchdog pings") {
  fake::fake_webex f;
  notify_socket sock;
  auto p = test::start_proxy({"--upstream", f.base_url(), "--threads", "2"},
                             {"NOTIFY_SOCKET=" + sock.path(), "WATCHDOG_USEC=200000",
                              "WCP_DEBUG_WEDGE_ON_SIGUSR2=1"});
  REQUIRE(sock.wait_for("WATCHDOG=1\nWATCHDOG=1\nWATCHDOG=1"));  // both loops run: pings come
  const auto mark = p.proc->output().size();
  p.proc->signal(SIGUSR2);  // the test hook blocks the second worker's loop
  p.proc->wait_for_output("made no progress", seconds(10), mark);
  sock.drain();  // pings sent before the wedge was seen
  const auto pings = sock.count("WATCHDOG=1");
  // Ten watchdog periods later (half of WATCHDOG_USEC each) not one more ping has come.
  CHECK_FALSE(sock.wait_for_count("WATCHDOG=1", pings + 1, milliseconds(1000)));
  // The control loop itself still runs: the admin listener answers.
  CHECK(http_request(p.admin_port, "GET", "/healthz").status == 200);
}

TEST_CASE("while draining /readyz answers 503 and an in-flight request still completes") {
  fake::fake_webex f;
  auto w = fake::populate_demo_world(f);
  f.set_response_delay(milliseconds(800));
  auto p = test::start_proxy({"--upstream", f.base_url()});
  std::atomic<unsigned> status{0};
  std::thread client([&] {
    status = http_request(p.port, "GET", "/v1/people/me", bearer(w.token_admin_a)).status;
  });
  const bool arrived = test::eventually([&] { return f.count("GET", "/v1/people/me") > 0; });
  if (!arrived) client.join();
  REQUIRE(arrived);
  p.proc->signal(SIGTERM);
  p.proc->wait_for_output("draining");
  CHECK(http_request(p.admin_port, "GET", "/readyz").status == 503);
  client.join();
  CHECK(status == 200);
  CHECK(p.proc->wait(seconds(10)) == 0);
}

TEST_CASE("SIGHUP re-reads the config file: the log level and the TTLs change live") {
  fake::fake_webex f;
  auto w = fake::populate_demo_world(f);
  const auto dir = test::make_temp_dir("wcp-reload-");
  const auto conf = dir + "/proxy.conf";
  std::ofstream(conf) << "log-level = info\ncache-ttl = 300s\n";
  auto p = test::start_proxy({"--upstream", f.base_url(), "--config", conf});
  const auto path = fake::call_park_path(w.loc_a1, w.park_a1);
  REQUIRE(http_request(p.port, "GET", path, bearer(w.token_admin_a)).status == 200);
  CHECK(http_request(p.port, "GET", path, bearer(w.token_admin_a)).header("X-Cache") == "HIT");
  // Both access lines (the miss and the hit) are out before the mark: a line is written once its
  // answer has been sent, so the client may see the answer first.
  p.proc->wait_for_output("access client=");
  p.proc->wait_for_output("access client=", seconds(10),
                          p.proc->output().find("access client=") + 1);

  std::ofstream(conf) << "log-level = warn\naccess-log = off\ncache-ttl = 0\n"
                          "# these need a restart\nmemory-max-bytes = 128MiB\nmax-connections = 77\n"
                          "client-header-timeout = 3s\nlog-format = json\nredis-prefix = other\n";
  const auto mark = p.proc->output().size();
  p.proc->signal(SIGHUP);
  // One warning line names every changed setting a reload does not apply, and only those.
  const auto line = p.proc->wait_for_output("needs a restart", seconds(10), mark);
  for (const char* name : {"memory-max-bytes", "max-connections", "client-header-timeout", "log-format",
                           "redis-prefix"}) {
    CAPTURE(name);
    CHECK(line.find(name) != std::string::npos);
  }
  for (const char* live : {"log-level", "access-log", "cache-ttl", "upstream"}) {
    CAPTURE(live);
    CHECK(line.find(live) == std::string::npos);
  }
  CHECK(line.find("{\"") == std::string::npos);  // log-format is not applied live
  // TTL 0: the entry is no longer fresh.
  test::http_connection c(p.port);
  CHECK(c.request("GET", path, bearer(w.token_admin_a)).header("X-Cache") == "MISS");
  // access-log off: no more access lines. The session writes a request's access line before it reads the
  // next request, so once a warning from a second request on the same connection is out, the
  // first one's access line would be out too.
  f.set_interceptor([](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.path != "/v1/warn-probe") return std::nullopt;
    fake::scripted_response lost;
    lost.close_without_answer = true;
    return lost;
  });
  CHECK(c.request("GET", "/v1/warn-probe", bearer(w.token_admin_a)).status == 502);
  p.proc->wait_for_output("upstream request failed", seconds(10), mark);
  CHECK(p.proc->output().find("access client=", mark) == std::string::npos);
  // warn: no info lines (a refusal is logged at info before its answer is sent).
  CHECK(c.request("GET", "/v1/telephony/../people", bearer(w.token_admin_a)).status == 400);
  CHECK(p.proc->output().find("refused a request", mark) == std::string::npos);
  f.set_interceptor({});

  // A bad file is refused (an error line shows even at warn) and the running settings stay.
  std::ofstream(conf) << "cache-ttl = soon\n";
  const auto mark2 = p.proc->output().size();
  p.proc->signal(SIGHUP);
  p.proc->wait_for_output("reload refused", seconds(10), mark2);
  CHECK(http_request(p.admin_port, "GET", "/healthz").status == 200);
  std::filesystem::remove_all(dir);
}

TEST_CASE("--check-config and start-up agree on every --redis URL - a refusal exits 2 both ways") {
  fake::fake_webex f;
  const auto dir = test::make_temp_dir("wcp-redis-url-");
  const auto secret = dir + "/redis.pass";
  std::ofstream(secret) << "s3cret\n";
  struct row {
    std::string url;
    std::vector<std::string> extra;
    bool valid;
  };
  const std::vector<row> table = {
      {"redis://127.0.0.1:1", {}, true},
      {"redis://127.0.0.1:1/15", {}, true},
      {"redis://:pw@127.0.0.1:1", {}, true},
      {"unix://" + dir + "/redis.sock?db=2", {}, true},
      {"redis://alice@127.0.0.1:1", {"--redis-password-file", secret}, true},
      {"redis://secret@127.0.0.1:1", {}, false},
      {"redis://127.0.0.1:1/16", {}, false},
      {"redis://127.0.0.1:1?db=2", {}, false},
      {"rediss://127.0.0.1:1", {}, false},
      {"unix://" + dir + "/redis.sock?db=16", {}, false},
      {"redis://:pw@127.0.0.1:1", {"--redis-password-file", secret}, false},
  };
  for (const auto& r : table) {
    CAPTURE(r.url);
    std::vector<std::string> args{"--upstream", f.base_url(), "--redis", r.url};
    args.insert(args.end(), r.extra.begin(), r.extra.end());
    auto check_args = args;
    check_args.push_back("--check-config");
    test::process check(WCP_PROXY_BINARY, check_args);
    CHECK(check.wait(seconds(10)) == (r.valid ? 0 : 2));
    if (r.valid) {
      // Redis is not there: the daemon starts anyway, serves, and keeps trying.
      auto p = test::start_proxy(args);
      CHECK(http_request(p.admin_port, "GET", "/healthz").status == 200);
      p.proc->signal(SIGTERM);
      CHECK(p.proc->wait(seconds(10)) == 0);
    } else {
      auto run_args = args;
      for (const char* flag : {"--listen", "--admin-listen"}) {
        run_args.push_back(flag);
        run_args.push_back("127.0.0.1:0");
      }
      test::process run(WCP_PROXY_BINARY, run_args);
      CHECK(run.wait(seconds(10)) == 2);
      CHECK(run.output().find("--redis") != std::string::npos);
      CHECK(run.output().find("s3cret") == std::string::npos);
    }
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("with --admin-token-file purges need the token - metrics and health stay open - a reload rotates it") {
  fake::fake_webex f;
  const auto w = fake::populate_demo_world(f);
  const auto dir = test::make_temp_dir("wcp-admin-token-");
  const std::string token = "adm1n-t0ken-for-purges";
  std::ofstream(dir + "/admin.token") << token << "\n";
  auto p = test::start_proxy({"--upstream", f.base_url(), "--admin-token-file", dir + "/admin.token"});
  const auto path = fake::call_park_path(w.loc_a1, w.park_a1);
  REQUIRE(http_request(p.port, "GET", path, bearer(w.token_admin_a)).status == 200);
  REQUIRE(http_request(p.port, "GET", path, bearer(w.token_admin_a)).header("X-Cache") == "HIT");
  const auto purge = "/cache/locations/" + w.loc_a1 + "/callParks/" + w.park_a1;

  auto none = http_request(p.admin_port, "DELETE", purge);
  CHECK(none.status == 401);
  CHECK(none.header("WWW-Authenticate").find("Bearer") == 0);
  CHECK(http_request(p.admin_port, "DELETE", purge, {{"Authorization", "Bearer wrong"}}).status == 401);
  CHECK(http_request(p.admin_port, "POST", "/purge?location=" + w.loc_a1,
                     {{"Authorization", "Bearer " + token + "x"}}).status == 401);
  CHECK(test::metric(p.admin_port, R"(webex_cache_proxy_admin_refused_total{reason="unauthorized"})") == 3);
  // Nothing was purged.
  CHECK(http_request(p.port, "GET", path, bearer(w.token_admin_a)).header("X-Cache") == "HIT");
  // Scraping and health checks need no token.
  for (const char* open : {"/metrics", "/healthz", "/readyz"}) {
    CAPTURE(open);
    CHECK(http_request(p.admin_port, "GET", open).status == 200);
  }
  CHECK(http_request(p.admin_port, "DELETE", purge, {{"Authorization", "Bearer " + token}}).status == 200);
  CHECK(http_request(p.port, "GET", path, bearer(w.token_admin_a)).header("X-Cache") == "MISS");
  p.proc->wait_for_output("no valid admin token");
  CHECK(p.proc->output().find(token) == std::string::npos);

  // Rotation: a new token in the file and a reload; the old one no longer purges.
  const std::string rotated = "r0tated-adm1n-t0ken";
  std::ofstream(dir + "/admin.token") << rotated << "\n";
  const auto mark = p.proc->output().size();
  p.proc->signal(SIGHUP);
  p.proc->wait_for_output("reloaded", seconds(10), mark);
  CHECK(http_request(p.admin_port, "DELETE", purge, {{"Authorization", "Bearer " + token}}).status == 401);
  CHECK(http_request(p.admin_port, "DELETE", purge, {{"Authorization", "Bearer " + rotated}}).status == 200);
  CHECK(p.proc->output().find(rotated) == std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("the metrics pass promtool check metrics and follow the naming rules") {
  fake::fake_webex f;
  auto w = fake::populate_demo_world(f);
  auto p = test::start_proxy({"--upstream", f.base_url()});
  const auto path = fake::call_park_path(w.loc_a1, w.park_a1);
  http_request(p.port, "GET", path, bearer(w.token_admin_a));
  http_request(p.port, "GET", path, bearer(w.token_admin_a));
  http_request(p.port, "GET", "/v1/telephony/config/locations/x/callParks/bad.id");
  auto metrics = http_request(p.admin_port, "GET", "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.header("Content-Type").find("text/plain; version=0.0.4") == 0);

  const auto dir = test::make_temp_dir("wcp-metrics-");
  std::ofstream(dir + "/metrics.txt") << metrics.body;
  auto [rc, out] = shell("promtool check metrics < " + dir + "/metrics.txt");
  CAPTURE(out);
  CHECK(rc == 0);
  std::filesystem::remove_all(dir);

  std::istringstream in(metrics.body);
  std::string line;
  const std::regex type_line(R"(# TYPE (\S+) (counter|gauge|histogram))");
  int families = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_match(line, m, type_line)) continue;
    ++families;
    CAPTURE(line);
    // The daemon's own, and the standard process collector's (named as every client library does).
    CHECK((m[1].str().rfind("webex_cache_proxy_", 0) == 0 || m[1].str().rfind("process_", 0) == 0));
    if (m[2] == "counter") CHECK(m[1].str().size() > 6);
    if (m[2] == "counter") CHECK(m[1].str().substr(m[1].str().size() - 6) == "_total");
  }
  CHECK(families >= 15);
  // No token or ID ever becomes a label value.
  CHECK(metrics.body.find(w.token_admin_a) == std::string::npos);
  CHECK(metrics.body.find(w.park_a1) == std::string::npos);
  CHECK(metrics.body.find(w.loc_a1) == std::string::npos);
}

TEST_CASE("the process collector reports this process") {
  fake::fake_webex f;
  const auto before =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto p = test::start_proxy({"--upstream", f.base_url()});
  const auto port = p.admin_port;
  CHECK(test::metric(port, "process_resident_memory_bytes") > 1 << 20);
  CHECK(test::metric(port, "process_virtual_memory_bytes") >= test::metric(port, "process_resident_memory_bytes"));
  const auto fds = test::metric(port, "process_open_fds");
  CHECK(fds >= 5);  // stdio, two listeners, the epoll and the admin connection at least
  CHECK(test::metric(port, "process_max_fds") >= fds);
  CHECK(test::metric(port, "process_cpu_seconds_total") >= 0);
  const auto started = test::metric(port, "process_start_time_seconds");
  CHECK(started >= before - 1);
  CHECK(started <= before + 60);
  // Open descriptors follow the process: ten idle client connections more.
  std::vector<std::unique_ptr<test::http_connection>> held;
  for (int i = 0; i < 10; ++i) held.push_back(std::make_unique<test::http_connection>(p.port));
  CHECK(test::eventually([&] { return test::metric(port, "process_open_fds") >= fds + 10; }));
}

TEST_CASE("a fresh daemon exports its known series at zero, before any event") {
  fake::fake_webex f;
  auto p = test::start_proxy({"--upstream", f.base_url()});
  const auto body = http_request(p.admin_port, "GET", "/metrics").body;
  for (const char* series : {
           R"(webex_cache_proxy_requests_total{route="call_park",cache="hit"} 0)",
           R"(webex_cache_proxy_requests_total{route="paging_group",cache="stale"} 0)",
           R"(webex_cache_proxy_invalidations_total{reason="rename"} 0)",
           R"(webex_cache_proxy_invalidations_total{reason="remote"} 0)",
           R"(webex_cache_proxy_backoffs_total{reason="429"} 0)",
           R"(webex_cache_proxy_rate_limited_total{reason="423"} 0)",
           R"(webex_cache_proxy_grants_total{event="dropped"} 0)",
           "webex_cache_proxy_coalesced_requests_total 0",
           "webex_cache_proxy_retries_total 0",
           "webex_cache_proxy_retry_wait_seconds_count 0",
           R"(webex_cache_proxy_upstream_duration_seconds_count{route="call_park"} 0)",
           R"(webex_cache_proxy_rate_limit_blocks{reason="429"} 0)",
       }) {
    CAPTURE(series);
    CHECK(body.find(std::string("\n") + series + "\n") != std::string::npos);
  }
}

TEST_CASE("a client that has its answer finds it counted on /metrics") {
  // A scrape right after an answer must already count it, whichever worker thread served it:
  // dashboards and alerts compare these counters with what clients saw.
  test::e2e_stack s({"--threads", "2"});
  const auto path = fake::call_park_path(s.world.loc_a1, s.world.park_a1);
  const auto hits = R"(webex_cache_proxy_requests_total{route="call_park",cache="hit"})";
  const auto passthrough = R"(webex_cache_proxy_requests_total{route="passthrough",cache="bypass"})";
  const auto ok = R"(webex_cache_proxy_responses_total{code="200"})";
  const auto refused = R"(webex_cache_proxy_responses_total{code="400"})";
  REQUIRE(s.get(path, s.world.token_admin_a).header("X-Cache") == "MISS");
  for (int i = 1; i <= 40; ++i) {
    CAPTURE(i);
    REQUIRE(s.get(path, s.world.token_admin_a).header("X-Cache") == "HIT");
    CHECK(s.metric(hits) == i);
    REQUIRE(s.get("/v1/people/me", s.world.token_admin_a).status == 200);
    CHECK(s.metric(passthrough) == i);
    CHECK(s.metric(ok) == 2 * i + 1);
    REQUIRE(s.get(fake::call_park_path(s.world.loc_a1, "not%20an%20id"), s.world.token_admin_a)
                .status == 400);
    CHECK(s.metric(refused) == i);
  }
}

TEST_CASE("the systemd unit verifies and its exposure is rated 2.0 or lower") {
  const auto dir = test::make_temp_dir("wcp-unit-");
  // The unit as the build generated it for its install prefix (the default, /usr/local).
  const std::string build_dir = std::filesystem::path(WCP_PROXY_BINARY).parent_path();
  std::ifstream in(build_dir + "/systemd/webex-cache-proxy.service");
  std::stringstream unit;
  unit << in.rdbuf();
  std::string text = unit.str();
  CHECK(text.find("RestartPreventExitStatus=2") != std::string::npos);
  CHECK(text.find("--check-config") != std::string::npos);  // a refused reload fails the reload
  // Verify against the binary just built.
  const std::string installed = "/usr/local/bin/webex-cache-proxy";
  REQUIRE(text.find(installed) != std::string::npos);
  for (auto at = text.find(installed); at != std::string::npos; at = text.find(installed, at))
    text.replace(at, installed.size(), WCP_PROXY_BINARY);
  std::ofstream(dir + "/webex-cache-proxy.service") << text;

  auto [vrc, vout] = shell("systemd-analyze verify " + dir + "/webex-cache-proxy.service");
  CAPTURE(vout);
  CHECK(vrc == 0);
  auto [src, sout] =
      shell("systemd-analyze security --offline=true " + dir + "/webex-cache-proxy.service");
  std::smatch m;
  REQUIRE(std::regex_search(sout, m, std::regex(R"(Overall exposure level for \S+: ([0-9.]+))")));
  CAPTURE(sout);
  CHECK(std::stod(m[1].str()) <= 2.0);
  CHECK(text.find("Type=notify") != std::string::npos);
  CHECK(text.find("ExecReload=") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("cmake --install puts the binary - the unit and the default config in place") {
  const auto dir = test::make_temp_dir("wcp-install-");
  const std::string build_dir = std::filesystem::path(WCP_PROXY_BINARY).parent_path();
  auto [rc, out] = shell("DESTDIR=" + dir + " cmake --install " + build_dir + " --prefix /usr/local");
  CAPTURE(out);
  CHECK(rc == 0);
  CHECK(std::filesystem::exists(dir + "/usr/local/bin/webex-cache-proxy"));
  CHECK(std::filesystem::exists(dir + "/usr/local/lib/systemd/system/webex-cache-proxy.service"));
  CHECK(std::filesystem::exists(dir + "/etc/webex-cache-proxy/webex-cache-proxy.conf"));
  // The installed config is valid as it is.
  auto [crc, cout] = shell(dir + "/usr/local/bin/webex-cache-proxy --config " + dir +
                           "/etc/webex-cache-proxy/webex-cache-proxy.conf --check-config");
  CAPTURE(cout);
  CHECK(crc == 0);
  // The unit names the binary where the prefix put it.
  std::ifstream unit(dir + "/usr/local/lib/systemd/system/webex-cache-proxy.service");
  std::stringstream text;
  text << unit.rdbuf();
  CHECK(text.str().find("ExecStart=/usr/local/bin/webex-cache-proxy ") != std::string::npos);
  // An operator's edits survive the next install.
  const auto conf = dir + "/etc/webex-cache-proxy/webex-cache-proxy.conf";
  std::ofstream(conf, std::ios::app) << "cache-ttl = 42\n";
  auto [rc2, out2] = shell("DESTDIR=" + dir + " cmake --install " + build_dir + " --prefix /usr/local");
  CAPTURE(out2);
  CHECK(rc2 == 0);
  std::ifstream kept(conf);
  std::stringstream kept_text;
  kept_text << kept.rdbuf();
  CHECK(kept_text.str().find("cache-ttl = 42") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("cache-ttl.KIND: each kind its own freshness - changed live by a reload") {
  fake::fake_webex f;
  auto w = fake::populate_demo_world(f);
  const auto dir = test::make_temp_dir("wcp-kind-ttl-");
  const auto conf = dir + "/proxy.conf";
  std::ofstream(conf) << "cache-ttl = 300s\ncache-ttl.paging = 0\ncache-ttl.schedules = 0\n"
                          "cache-ttl.settings = 0\n";
  auto p = test::start_proxy({"--upstream", f.base_url(), "--config", conf});
  const auto park = fake::call_park_path(w.loc_a1, w.park_a1);
  const auto paging = fake::paging_path(w.loc_a1, w.paging_a1);
  const auto auth = bearer(w.token_admin_a);
  auto x_cache = [&](const std::string& path) {
    return http_request(p.port, "GET", path, auth).header("X-Cache");
  };
  REQUIRE(x_cache(park) == "MISS");
  CHECK(x_cache(park) == "HIT");
  REQUIRE(x_cache(paging) == "MISS");
  CHECK(x_cache(paging) == "MISS");  // never fresh: every read goes to Webex
  CHECK(f.count("GET", "/paging/") == 2);
  // The other kinds of the route table: each its own line, or cache-ttl.
  const auto schedule = fake::item_path(w.loc_a1, "schedules/holidays", w.schedule_a1);
  const auto schedules = fake::location_path(w.loc_a1, "schedules?max=5");
  const auto intercept = fake::location_path(w.loc_a1, "intercept");
  const auto pickup = fake::item_path(w.loc_a1, "callPickups", w.pickup_a1);
  for (const auto& never_fresh : {schedule, schedules, intercept}) {
    CAPTURE(never_fresh);
    REQUIRE(x_cache(never_fresh) == "MISS");
    CHECK(x_cache(never_fresh) == "MISS");
  }
  REQUIRE(x_cache(pickup) == "MISS");
  CHECK(x_cache(pickup) == "HIT");

  std::ofstream(conf) << "cache-ttl = 300s\ncache-ttl.callParks = 0\ncache-ttl.paging = 5m\n";
  const auto mark = p.proc->output().size();
  p.proc->signal(SIGHUP);
  p.proc->wait_for_output("reloaded", seconds(10), mark);
  CHECK(p.proc->output().find("needs a restart", mark) == std::string::npos);
  CHECK(x_cache(park) == "MISS");
  CHECK(x_cache(paging) == "HIT");  // the stored copy is fresh again under 5 minutes
  CHECK(f.count("GET", "/paging/") == 2);

  // --check-config shows them.
  test::process check(WCP_PROXY_BINARY, {"--config", conf, "--upstream", f.base_url(), "--check-config"});
  REQUIRE(check.wait(seconds(10)) == 0);
  CHECK(check.output().find("cache-ttl.callParks = 0s") != std::string::npos);
  CHECK(check.output().find("cache-ttl.paging = 300s") != std::string::npos);
}
