// Settings loader: sources and precedence, error messages, parsers, actions, validate, describe.
#include "config/config.hpp"
#include "config/upstream_proxy.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include <unistd.h>

namespace cfg = wcp::config;
using namespace std::chrono_literals;

namespace {

// argv and environ blocks built from string lists; argv[0] is the program name.
struct args {
  std::vector<std::string> argv_strings;
  std::vector<std::string> env_strings;
  std::vector<const char*> argv;
  std::vector<const char*> env;

  args(std::initializer_list<std::string> a, std::initializer_list<std::string> e = {})
      : argv_strings(a), env_strings(e) {
    argv.push_back("webex-cache-proxy");
    for (const auto& s : argv_strings) argv.push_back(s.c_str());
    argv.push_back(nullptr);
    for (const auto& s : env_strings) env.push_back(s.c_str());
    env.push_back(nullptr);
  }
  cfg::load_result load() const { return cfg::load(static_cast<int>(argv.size() - 1), argv.data(), env.data()); }
};

cfg::load_result load(std::initializer_list<std::string> a, std::initializer_list<std::string> e = {}) {
  return args(a, e).load();
}

// A file in the temp directory, removed at scope end.
struct temp_file {
  std::string path;
  explicit temp_file(const std::string& content) {
    static std::atomic<int> n{0};
    path = (std::filesystem::temp_directory_path() /
            ("wcp_test_config_" + std::to_string(::getpid()) + "_" + std::to_string(n++) + ".conf"))
               .string();
    std::ofstream(path) << content;
  }
  ~temp_file() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

// The config_error message load() throws, or "" if it does not throw.
std::string load_error(std::initializer_list<std::string> a, std::initializer_list<std::string> e = {}) {
  try {
    load(a, e);
  } catch (const cfg::config_error& err) {
    return err.what();
  }
  return {};
}

std::string validate_error(const cfg::config& c) {
  try {
    cfg::validate(c);
  } catch (const cfg::config_error& err) {
    return err.what();
  }
  return {};
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("defaults when nothing given") {
  const auto r = load({}, {"PATH=/usr/bin", "HOME=/root", "WEBEX_OTHER=1"});
  CHECK(r.what == cfg::action::run);
  CHECK(r.cfg == cfg::config{});
  CHECK(r.cfg.listen == cfg::endpoint{"127.0.0.1", 8080});
  CHECK(r.cfg.admin_listen == cfg::endpoint{"127.0.0.1", 9464});
  CHECK(r.cfg.redis == "none");
  CHECK(r.cfg.cache_ttl == 300s);
  CHECK(r.cfg.config_file.empty());
  CHECK_NOTHROW(cfg::validate(r.cfg));
  // A null environment block and no argv are fine too.
  CHECK(cfg::load(0, nullptr, nullptr).cfg == cfg::config{});
}

TEST_CASE("flag beats env beats file beats default") {
  temp_file file(
      "cache-ttl = 10\n"
      "stale-ttl = 20\n"
      "grant-ttl = 30\n"
      "max-backoff = 40\n");
  const auto r = load({"--config", file.path, "--cache-ttl", "12"},
                      {"WEBEX_CACHE_PROXY_CACHE_TTL=11", "WEBEX_CACHE_PROXY_STALE_TTL=21"});
  CHECK(r.cfg.cache_ttl == 12s);
  CHECK(r.cfg.stale_ttl == 21s);
  CHECK(r.cfg.grant_ttl == 30s);
  CHECK(r.cfg.max_backoff == 40s);
  CHECK(r.cfg.default_backoff == 5s);
  CHECK(r.cfg.config_file == file.path);

  // The file can be named by the environment, and --config overrides it.
  temp_file other("grant-ttl = 99\n");
  CHECK(load({}, {"WEBEX_CACHE_PROXY_CONFIG=" + file.path}).cfg.grant_ttl == 30s);
  CHECK(load({"--config=" + other.path}, {"WEBEX_CACHE_PROXY_CONFIG=" + file.path}).cfg.grant_ttl == 99s);
  // --config "" turns the file off.
  CHECK(load({"--config", ""}, {"WEBEX_CACHE_PROXY_CONFIG=" + file.path}).cfg.grant_ttl == 300s);
}

TEST_CASE("file with comments and underscore names") {
  temp_file file(
      "# webex-cache-proxy settings\n"
      "\n"
      "cache_ttl = 60   # a minute\n"
      "  max-body-bytes=64KiB\n"
      "listen = [::1]:8081\n"
      "log_level = debug\n"
      "upstream_ca =\n");
  const auto r = load({"--config", file.path});
  CHECK(r.cfg.cache_ttl == 60s);
  CHECK(r.cfg.max_body_bytes == 64u * 1024);
  CHECK(r.cfg.listen == cfg::endpoint{"::1", 8081});
  CHECK(r.cfg.log_level == "debug");
  CHECK(r.cfg.upstream_ca.empty());
}

TEST_CASE("unknown flag - env var and file key") {
  CHECK(contains(load_error({"--cache-tll", "5"}), "--cache-tll"));
  CHECK(contains(load_error({"--cache", "5"}), "--cache"));  // no abbreviations
  CHECK(contains(load_error({"stray"}), "\"stray\""));

  temp_file file("cache-ttl = 5\nbogus_key = 1\n");
  const auto msg = load_error({"--config", file.path});
  CHECK(contains(msg, file.path));
  CHECK(contains(msg, "bogus_key"));

  temp_file nested("config = /etc/other.conf\n");
  CHECK(contains(load_error({"--config", nested.path}), "config"));
  temp_file twice("cache-ttl = 5\ncache_ttl = 6\n");
  CHECK(contains(load_error({"--config", twice.path}), "--cache-ttl"));
  CHECK(contains(load_error({"--cache-ttl", "1", "--cache-ttl", "2"}), "--cache-ttl"));
  CHECK(contains(load_error({"--cache-ttl"}), "--cache-ttl"));

  const auto missing = load_error({}, {"WEBEX_CACHE_PROXY_CONFIG=/nonexistent/wcp.conf"});
  CHECK(contains(missing, "--config"));
  CHECK(contains(missing, "/nonexistent/wcp.conf"));
  CHECK(contains(missing, "(from WEBEX_CACHE_PROXY_CONFIG)"));
}

TEST_CASE("unknown WEBEX_CACHE_PROXY_ variables are warnings - actions are flags only") {
  // What Kubernetes sets for a Service named webex-cache-proxy, and variables naming actions.
  const auto r = load({}, {"WEBEX_CACHE_PROXY_SERVICE_HOST=10.0.0.1", "WEBEX_CACHE_PROXY_PORT=tcp://10.0.0.1:80",
                           "WEBEX_CACHE_PROXY_CHECK_CONFIG=true", "WEBEX_CACHE_PROXY_HELP=1",
                           "WEBEX_CACHE_PROXY_VERSION=1", "WEBEX_CACHE_PROXY_CACHE_TTL=7"});
  CHECK(r.what == cfg::action::run);
  CHECK(r.cfg.cache_ttl == 7s);
  REQUIRE(r.warnings.size() == 5);
  for (const char* name : {"WEBEX_CACHE_PROXY_SERVICE_HOST", "WEBEX_CACHE_PROXY_PORT",
                           "WEBEX_CACHE_PROXY_CHECK_CONFIG", "WEBEX_CACHE_PROXY_HELP",
                           "WEBEX_CACHE_PROXY_VERSION"}) {
    CAPTURE(name);
    bool named = false;
    for (const auto& w : r.warnings) named = named || contains(w, name);
    CHECK(named);
  }
  for (const auto& w : r.warnings) CHECK(!contains(w, "10.0.0.1"));  // values are not echoed
  // Flags and file keys stay strict.
  temp_file file("check-config = true\n");
  CHECK(contains(load_error({"--config", file.path}), "check-config"));
}

TEST_CASE("text shaped like a message placeholder still gets a clear error") {
  // The option parser's own messages loop for ever on these; each must come back as one line.
  CHECK(contains(load_error({"--x%canonical_option%"}), "unrecognised option \"--x%canonical_option%\""));
  CHECK(contains(load_error({"--listen=%value%"}), "%value%"));
  CHECK(contains(load_error({"--listen"}), "needs a value"));
  CHECK(contains(load_error({"--check-config=%value%"}), "takes no value"));
  for (const char* line : {"h%invalid_line%x\n", "'h$'\v''mathreadsx%invalid_line%7296\n"}) {
    temp_file file(line);
    const auto msg = load_error({"--config", file.path});
    CAPTURE(msg);
    CHECK(contains(msg, file.path));
    CHECK(contains(msg, "%invalid_line%"));
  }
}

TEST_CASE("bad values name the flag and the source") {
  CHECK(load_error({}, {"WEBEX_CACHE_PROXY_CACHE_TTL=abc"}) ==
        "--cache-ttl: \"abc\" is not a duration (from WEBEX_CACHE_PROXY_CACHE_TTL)");
  CHECK(load_error({"--cache-ttl=abc"}) == "--cache-ttl: \"abc\" is not a duration");

  temp_file file("max_body_bytes = 12Q\n");
  CHECK(load_error({"--config", file.path}) ==
        "--max-body-bytes: \"12Q\" is not a byte size (from " + file.path + ")");
  CHECK(load_error({"--config", file.path}, {"WEBEX_CACHE_PROXY_MAX_BODY_BYTES=-3"}) ==
        "--max-body-bytes: \"-3\" is negative (from WEBEX_CACHE_PROXY_MAX_BODY_BYTES)");
  CHECK(load({"--config", file.path, "--max-body-bytes", "1k"}).cfg.max_body_bytes == 1024);
  temp_file listen("listen = localhost\n");
  CHECK(load_error({"--config", listen.path}) ==
        "--listen: \"localhost\" has no port: the form is HOST:PORT (from " + listen.path + ")");
  CHECK(load_error({"--listen", "8080"}) ==
        "--listen: \"8080\" is a port alone: the form is HOST:PORT, e.g. 127.0.0.1:8080 (this host "
        "only) or 0.0.0.0:8080 (every IPv4 address)");

  CHECK(contains(load_error({"--connect-timeout=0"}), "--connect-timeout: must be at least 1ms"));
  CHECK(contains(load_error({}, {"WEBEX_CACHE_PROXY_LOG_LEVEL=loud"}), "--log-level"));
  CHECK(contains(load_error({}, {"WEBEX_CACHE_PROXY_LOG_LEVEL=loud"}), "(from WEBEX_CACHE_PROXY_LOG_LEVEL)"));
  CHECK(contains(load_error({"--threads=2000"}), "--threads"));
  CHECK(contains(load_error({"--threads=-1"}), "--threads"));
  // Messages stay on one line.
  CHECK(!contains(load_error({}, {"WEBEX_CACHE_PROXY_CACHE_TTL=a\nb"}), "\n"));
  // A TTL of 0 is allowed, a timeout of 0 is not.
  CHECK(load({"--cache-ttl=0", "--stale-ttl=0"}).cfg.cache_ttl == 0s);
  CHECK(load({"--upstream-max-idle=0"}).cfg.upstream_max_idle == 0);
}

TEST_CASE("parse_duration") {
  struct row {
    const char* text;
    double seconds;
  };
  for (const row& r : {row{"300", 300}, row{"1.5", 1.5}, row{"0", 0}, row{".5", 0.5}, row{"250ms", 0.25},
                       row{"5s", 5}, row{"10m", 600}, row{"1h", 3600}, row{"1.5m", 90}, row{" 7s ", 7},
                       row{"0.05s", 0.05}}) {
    CAPTURE(r.text);
    CHECK(cfg::parse_duration(r.text).count() == doctest::Approx(r.seconds));
  }
  for (const char* text : {"", " ", "-1", "-0.5s", "abc", "5x", "s", "1..2", "1e3", "inf", "nan", "+5",
                           "5 sec", "1H", "99999999999999999999h"}) {
    CAPTURE(text);
    CHECK_THROWS_AS(cfg::parse_duration(text), std::invalid_argument);
  }
}

TEST_CASE("parse_bytes") {
  struct row {
    const char* text;
    std::size_t bytes;
  };
  for (const row& r : {row{"0", 0}, row{"1048576", 1048576}, row{"64k", 64 << 10}, row{"64K", 64 << 10},
                       row{"64KB", 64 << 10}, row{"64KiB", 64 << 10}, row{"256M", 256u << 20},
                       row{"2MiB", 2u << 20}, row{"1G", 1u << 30}, row{"1GiB", 1u << 30}, row{"3gb", 3ull << 30},
                       row{" 12 ", 12}}) {
    CAPTURE(r.text);
    CHECK(cfg::parse_bytes(r.text) == r.bytes);
  }
  for (const char* text : {"", "-1", "abc", "1.5M", "12Q", "K", "18446744073709551616",
                           "18446744073709551615K", "99999999999G", "1T", "0x10"}) {
    CAPTURE(text);
    CHECK_THROWS_AS(cfg::parse_bytes(text), std::invalid_argument);
  }
}

TEST_CASE("parse_endpoint") {
  struct row {
    const char* text;
    const char* host;
    unsigned port;
  };
  for (const row& r : {row{"127.0.0.1:8080", "127.0.0.1", 8080}, row{"localhost:1", "localhost", 1},
                       row{"[::1]:9464", "::1", 9464}, row{"0.0.0.0:0", "0.0.0.0", 0},
                       row{"[::]:65535", "::", 65535}}) {
    CAPTURE(r.text);
    const auto e = cfg::parse_endpoint(r.text);
    CHECK(e.host == r.host);
    CHECK(e.port == r.port);
  }
  for (const char* text : {"", "localhost", "localhost:", ":8080", "host:65536", "host:-1", "host:http",
                           "::1:80", "[::1]", "[::1]80", "[]:80", "[::1:80", "a b:80"}) {
    CAPTURE(text);
    CHECK_THROWS_AS(cfg::parse_endpoint(text), std::invalid_argument);
  }
}

TEST_CASE("help - version and check-config actions") {
  const auto help = load({"--help"});
  CHECK(help.what == cfg::action::print_help);
  CHECK(contains(help.help_text, "webex-cache-proxy [options]"));
  CHECK(contains(help.help_text, "--cache-ttl"));
  CHECK(contains(help.help_text, "--max-upstream-body-bytes"));
  CHECK(contains(help.help_text, "WEBEX_CACHE_PROXY_"));
  // Grouped by topic, defaults as people write them.
  CHECK(contains(help.help_text, "Redis (several instances, one cache):"));
  CHECK(contains(help.help_text, "(default 16MiB)"));
  CHECK(contains(help.help_text, "(default 50ms)"));
  CHECK(contains(help.help_text, "(default 5m)"));
  CHECK(!contains(help.help_text, "16777216"));
  CHECK(contains(std::string(cfg::version()), "commit "));
  CHECK(load({"-h"}).what == cfg::action::print_help);
  CHECK(load({"--version", "--help", "--check-config"}).what == cfg::action::print_help);
  // --help works even when the environment is bad.
  CHECK(load({"--help"}, {"WEBEX_CACHE_PROXY_CACHE_TTL=abc"}).what == cfg::action::print_help);

  CHECK(load({"--version"}).what == cfg::action::print_version);
  CHECK(load({"--check-config", "--version"}).what == cfg::action::print_version);
  CHECK(std::string(cfg::version()).size() > 0);

  const auto check = load({"--check-config"});
  CHECK(check.what == cfg::action::check_config);
  CHECK(check.cfg.check_config);
  CHECK(contains(load_error({"--check-config=yes"}), "--check-config"));  // a switch takes no value
}

TEST_CASE("validate rejects bad settings") {
  const cfg::config good;
  CHECK(validate_error(good).empty());

  auto c = good;
  c.upstream = "ftp://webexapis.com";
  CHECK(contains(validate_error(c), "--upstream"));
  for (const char* u : {"webexapis.com", "https://", "http:///v1", "https://host:99999", "https://a b"}) {
    CAPTURE(u);
    c.upstream = u;
    CHECK(contains(validate_error(c), "--upstream"));
  }
  for (const char* u : {"http://127.0.0.1:8443", "https://webexapis.com/v1", "HTTPS://Example.com"}) {
    CAPTURE(u);
    c.upstream = u;
    CHECK(validate_error(c).empty());
  }

  c = good;
  c.log_level = "verbose";
  CHECK(contains(validate_error(c), "--log-level"));
  c = good;
  c.log_format = "xml";
  CHECK(contains(validate_error(c), "--log-format"));

  c = good;
  c.upstream_ca = "/nonexistent/ca.pem";
  CHECK(contains(validate_error(c), "--upstream-ca"));
  c.upstream_ca = std::filesystem::temp_directory_path().string();  // a directory
  CHECK(contains(validate_error(c), "--upstream-ca"));
  temp_file ca("-----BEGIN CERTIFICATE-----\n");
  c.upstream_ca = ca.path;
  CHECK(validate_error(c).empty());

  c = good;
  temp_file cert("-----BEGIN CERTIFICATE-----\n");
  temp_file key("-----BEGIN PRIVATE KEY-----\n");
  c.tls_cert = cert.path;
  CHECK(contains(validate_error(c), "--tls-key"));  // one without the other
  c.tls_key = key.path;
  CHECK(validate_error(c).empty());
  c.tls_key = "/nonexistent/key.pem";
  CHECK(contains(validate_error(c), "--tls-key"));
  c.tls_cert.clear();
  c.tls_key = key.path;
  CHECK(contains(validate_error(c), "--tls-cert"));

  c = good;
  for (const char* r : {"none", "redis://127.0.0.1:6379", "redis://:secret@cache:6379/2", "redis://cache",
                        "unix:///run/redis.sock", "unix:///run/redis.sock?db=2", "redis://alice:pw@cache/15",
                        "REDIS://[::1]:7000"}) {
    CAPTURE(r);
    c.redis = r;
    CHECK(validate_error(c).empty());
  }
  for (const char* r : {"rediss://cache:6380", "http://cache", "redis://", "redis://cache:0", "redis://cache/x",
                        "unix://host/sock", "unix://", "cache:6379", "redis://secret@cache", "redis://cache/16",
                        "redis://cache?db=1", "unix:///run/redis.sock?db=16", "redis://alice:@cache"}) {
    CAPTURE(r);
    c.redis = r;
    CHECK(contains(validate_error(c), "--redis"));
  }
  c.redis = "rediss://:hunter2@cache:6380";
  CHECK(!contains(validate_error(c), "hunter2"));
  c.redis = "redis://hunter2@cache";  // a password written where the user name goes
  CHECK(!contains(validate_error(c), "hunter2"));

  // The password from a file: the URL may name the user, not the password too.
  temp_file secret("s3cret\n");
  c = good;
  c.redis = "redis://alice@cache";
  c.redis_password_file = secret.path;
  CHECK(validate_error(c).empty());
  CHECK(cfg::read_secret_file(secret.path, "redis-password-file") == "s3cret");
  c.redis = "redis://alice:pw@cache";
  CHECK(contains(validate_error(c), "--redis-password-file"));
  c.redis = "none";
  CHECK(contains(validate_error(c), "--redis-password-file"));
  temp_file empty("");
  c.redis = "redis://cache";
  c.redis_password_file = empty.path;
  CHECK(contains(validate_error(c), "is empty"));
  c.redis_password_file = "/nonexistent/secret";
  CHECK(contains(validate_error(c), "cannot read"));
  CHECK(!contains(cfg::describe(c), "s3cret"));

  c = good;
  c.threads = 1025;
  CHECK(contains(validate_error(c), "--threads"));
  c = good;
  c.max_header_bytes = 1023;
  CHECK(contains(validate_error(c), "--max-header-bytes"));
  c = good;
  c.max_body_bytes = 0;
  CHECK(contains(validate_error(c), "--max-body-bytes"));
  c = good;
  c.memory_max_bytes = (1u << 20) - 1;
  CHECK(contains(validate_error(c), "--memory-max-bytes"));
  c = good;
  c.max_connections = 0;
  CHECK(contains(validate_error(c), "--max-connections"));
  c = good;
  c.redis_timeout = 0ms;
  CHECK(contains(validate_error(c), "--redis-timeout"));
  c = good;
  c.cache_ttl = cfg::seconds(-1);
  CHECK(contains(validate_error(c), "--cache-ttl"));
  c = good;
  c.admin_listen = c.listen;
  CHECK(contains(validate_error(c), "--admin-listen"));
  c.listen.port = c.admin_listen.port = 0;
  CHECK(validate_error(c).empty());
}

TEST_CASE("describe round-trips through a config file") {
  const auto original = load({"--listen=[::1]:18080", "--admin-listen=0.0.0.0:19464", "--upstream=http://127.0.0.1:9000/v1",
                              "--connect-timeout=250ms", "--upstream-timeout=1.5", "--upstream-max-idle=0",
                              "--max-upstream-body-bytes=3M", "--redis=redis://cache:6379/1", "--redis-timeout=50ms",
                              "--cache-ttl=0", "--stale-ttl=0.05", "--grant-ttl=2m", "--max-retry-wait=1h",
                              "--max-backoff=7", "--default-backoff=0.5s", "--memory-max-bytes=2G",
                              "--max-header-bytes=8k", "--max-body-bytes=1", "--client-header-timeout=1ms",
                              "--client-body-timeout=2", "--idle-timeout=90s", "--max-connections=3",
                              "--drain-timeout=1m", "--threads=4", "--log-level=warn", "--log-format=json"})
                            .cfg;
  const std::string text = cfg::describe(original);
  CHECK(contains(text, "cache-ttl = 0s\n"));
  CHECK(contains(text, "redis-timeout = 0.05s\n"));
  CHECK(contains(text, "memory-max-bytes = 2147483648\n"));
  CHECK(contains(text, "listen = [::1]:18080\n"));
  CHECK(!contains(text, "check-config"));

  temp_file file(text);
  auto reloaded = load({"--config", file.path}).cfg;
  CHECK(reloaded.config_file == file.path);
  reloaded.config_file.clear();
  CHECK(reloaded == original);
  CHECK(cfg::describe(reloaded) == text);

  // Defaults round-trip too.
  temp_file defaults(cfg::describe(cfg::config{}));
  auto loaded = load({"--config", defaults.path}).cfg;
  loaded.config_file.clear();
  CHECK(loaded == cfg::config{});
}

TEST_CASE("describe masks the redis password") {
  cfg::config c;
  c.redis = "redis://:hunter2@cache:6379/0";
  const auto text = cfg::describe(c);
  CHECK(!contains(text, "hunter2"));
  CHECK(contains(text, "redis = redis://:***@cache:6379/0\n"));
  c.redis = "redis://user:hunter2@cache:6379";
  CHECK(contains(cfg::describe(c), "redis = redis://user:***@cache:6379\n"));
  c.redis = "unix:///run/redis.sock";
  CHECK(contains(cfg::describe(c), "redis = unix:///run/redis.sock\n"));
}

TEST_CASE("redis+sentinel URLs and --redis-sentinel-password-file - validated, masked") {
  cfg::config c;
  c.upstream = "https://webexapis.com";
  c.redis = "redis+sentinel://:hunter2@10.0.0.1:26379,10.0.0.2,10.0.0.3:26380/cache-master/2";
  CHECK(validate_error(c).empty());
  CHECK(contains(cfg::describe(c),
                 "redis = redis+sentinel://:***@10.0.0.1:26379,10.0.0.2,10.0.0.3:26380/cache-master/2\n"));
  for (const char* bad : {"redis+sentinel://10.0.0.1", "redis+sentinel://10.0.0.1:0/m",
                          "redis+sentinel://a,a/m", "redis+sentinel://a/m/99"}) {
    CAPTURE(bad);
    c.redis = bad;
    CHECK(contains(validate_error(c), "--redis"));
  }
  temp_file secret("sentinel-secret\n");
  c.redis = "redis+sentinel://10.0.0.1/m";
  c.redis_sentinel_password_file = secret.path;
  CHECK(validate_error(c).empty());
  c.redis = "redis://cache";
  CHECK(contains(validate_error(c), "--redis-sentinel-password-file"));
  c.redis = "none";
  CHECK(contains(validate_error(c), "--redis-sentinel-password-file"));
  c.redis = "redis+sentinel://10.0.0.1/m";
  c.redis_sentinel_password_file = "/nonexistent/secret";
  CHECK(contains(validate_error(c), "redis-sentinel-password-file"));
}

TEST_CASE("upstream-proxy - accepted and refused URL forms") {
  struct accepted {
    const char* text;
    const char* host;
    unsigned port;
  };
  for (const accepted& a : {accepted{"http://proxy.corp:3128", "proxy.corp", 3128},
                            accepted{"HTTP://10.0.0.1:8080", "10.0.0.1", 8080},
                            accepted{"http://[::1]:3128", "::1", 3128},
                            accepted{"http://proxy:3128/", "proxy", 3128},
                            accepted{"http://egress_gw-1.example:65535", "egress_gw-1.example", 65535}}) {
    CAPTURE(a.text);
    const auto parsed = cfg::parse_upstream_proxy_url(a.text);
    REQUIRE(parsed.url);
    CHECK(parsed.url->host == a.host);
    CHECK(parsed.url->port == a.port);
    CHECK(load({"--upstream-proxy", a.text}).cfg.upstream_proxy == a.text);
  }
  // Unset, empty and "none" all mean: connect directly.
  CHECK(load({}).cfg.upstream_proxy.empty());
  CHECK(load({"--upstream-proxy", "none"}).cfg.upstream_proxy.empty());
  CHECK(load({"--upstream-proxy", " None "}).cfg.upstream_proxy.empty());
  CHECK(load({}, {"WEBEX_CACHE_PROXY_UPSTREAM_PROXY="}).cfg.upstream_proxy.empty());

  struct refused {
    const char* text;
    const char* says;
  };
  for (const refused& r : {refused{"https://proxy:3128", "https:// proxy"},
                           refused{"HTTPS://proxy:3128", "https:// proxy"},
                           refused{"http://alice:hunter2@proxy:3128", "--upstream-proxy-credentials-file"},
                           refused{"http://hunter2@proxy:3128", "--upstream-proxy-credentials-file"},
                           refused{"http://proxy", "has no port"},
                           refused{"http://proxy:", "has no port"},
                           refused{"http://proxy:0", "bad port"},
                           refused{"http://proxy:65536", "bad port"},
                           refused{"http://proxy:31x8", "is not an http://HOST:PORT URL"},
                           refused{"http://:3128", "has no host"},
                           refused{"http://proxy:3128/path", "must not have a path"},
                           refused{"http://proxy:3128?x=1", "query"},
                           refused{"http://proxy:3128#frag", "fragment"},
                           refused{"http://pro%78y:3128", "bad host name"},
                           refused{"proxy.corp:3128", "is not an http://HOST:PORT URL"},
                           refused{"socks5://proxy:1080", "is not an http://HOST:PORT URL"},
                           refused{"http://proxy :3128", "is not an http://HOST:PORT URL"}}) {
    CAPTURE(r.text);
    CHECK_FALSE(cfg::parse_upstream_proxy_url(r.text).url);
    const auto msg = load_error({"--upstream-proxy", r.text});
    CAPTURE(msg);
    CHECK(msg.rfind("--upstream-proxy: ", 0) == 0);
    CHECK(contains(msg, r.says));
    CHECK(!contains(msg, "hunter2"));  // a password in a refused URL is never echoed
  }
  // Every source is checked alike and named.
  CHECK(contains(load_error({}, {"WEBEX_CACHE_PROXY_UPSTREAM_PROXY=https://proxy:3128"}),
                 "(from WEBEX_CACHE_PROXY_UPSTREAM_PROXY)"));
  temp_file file("upstream_proxy = http://proxy\n");
  CHECK(contains(load_error({"--config", file.path}), "--upstream-proxy: \"http://proxy\" has no port"));
  temp_file good_file("upstream-proxy = http://proxy.corp:3128\n");
  CHECK(load({"--config", good_file.path}).cfg.upstream_proxy == "http://proxy.corp:3128");
  CHECK(load({}, {"WEBEX_CACHE_PROXY_UPSTREAM_PROXY=http://10.1.2.3:8080"}).cfg.upstream_proxy ==
        "http://10.1.2.3:8080");
}

TEST_CASE("upstream-proxy-credentials-file - user:password from a file, never echoed") {
  temp_file creds("egress-user:s3cr3t:with:colons\n");
  const auto r = load({"--upstream-proxy", "http://proxy:3128", "--upstream-proxy-credentials-file", creds.path});
  CHECK(r.cfg.upstream_proxy_credentials_file == creds.path);
  CHECK(!contains(cfg::describe(r.cfg), "s3cr3t"));
  CHECK(contains(cfg::describe(r.cfg), "upstream-proxy-credentials-file = " + creds.path + "\n"));
  temp_file empty_password("egress-user:\n");
  CHECK(load_error({"--upstream-proxy", "http://proxy:3128", "--upstream-proxy-credentials-file",
                    empty_password.path}).empty());

  // Without a proxy, the file is a mistake.
  const auto alone = load_error({"--upstream-proxy-credentials-file", creds.path});
  CHECK(contains(alone, "--upstream-proxy-credentials-file: is set but --upstream-proxy is not"));

  struct bad {
    const char* content;
    const char* says;
  };
  for (const bad& b : {bad{"hunter2\n", "user:password"}, bad{":hunter2\n", "empty user name"},
                       bad{"alice:hun\tter2\n", "control character"}, bad{"", "is empty"},
                       bad{"\nalice:hunter2\n", "is empty"}}) {
    CAPTURE(b.content);
    temp_file f(b.content);
    const auto msg =
        load_error({"--upstream-proxy", "http://proxy:3128", "--upstream-proxy-credentials-file", f.path});
    CAPTURE(msg);
    CHECK(msg.rfind("--upstream-proxy-credentials-file: ", 0) == 0);
    CHECK(contains(msg, b.says));
    CHECK(!contains(msg, "hunter2"));
  }
  CHECK(contains(load_error({"--upstream-proxy", "http://proxy:3128", "--upstream-proxy-credentials-file",
                             "/nonexistent/proxy.creds"}),
                 "cannot read"));
}

TEST_CASE("upstream-proxy - in --help under Upstream, in --check-config, round-tripped") {
  const auto help = load({"--help"}).help_text;
  const auto upstream_topic = help.find("Upstream (the Webex API):");
  const auto next_topic = help.find("Cache and grants:");
  REQUIRE(upstream_topic != std::string::npos);
  for (const char* flag : {"--upstream-proxy URL", "--upstream-proxy-credentials-file FILE"}) {
    CAPTURE(flag);
    const auto at = help.find(flag);
    CHECK(at > upstream_topic);
    CHECK(at < next_topic);
  }
  CHECK(contains(help, "NO_PROXY"));  // says the usual variables are not read

  temp_file creds("u:p\n");
  const auto original =
      load({"--upstream-proxy", "http://[::1]:3128", "--upstream-proxy-credentials-file", creds.path}).cfg;
  const auto text = cfg::describe(original);
  CHECK(contains(text, "upstream-proxy = http://[::1]:3128\n"));
  temp_file file(text);
  auto reloaded = load({"--config", file.path}).cfg;
  reloaded.config_file.clear();
  CHECK(reloaded == original);
  CHECK(cfg::changed_settings(cfg::config{}, original) ==
        std::vector<std::string>{"upstream-proxy", "upstream-proxy-credentials-file"});
}

TEST_CASE("public-url - an http(s) origin, with a path at most") {
  cfg::config c;
  c.upstream = "https://webexapis.com";
  for (const char* good : {"https://webex-cache.example.com", "http://10.0.0.5:8080",
                           "https://lb.example.com/webex/"}) {
    CAPTURE(good);
    c.public_url = good;
    CHECK(validate_error(c).empty());
  }
  for (const char* bad : {"webex-cache.example.com", "ftp://x", "https://", "https://h:0",
                          "https://u:p@h", "https://h/?q=1", "https://h/#f"}) {
    CAPTURE(bad);
    c.public_url = bad;
    CHECK(contains(validate_error(c), "--public-url"));
  }
  c.public_url = "https://webex-cache.example.com";
  CHECK(contains(cfg::describe(c), "public-url = https://webex-cache.example.com\n"));
}

TEST_CASE("cache-ttl.KIND in the config file: a TTL per kind - unknown kinds refused, shown by describe") {
  temp_file file(
      "cache-ttl = 120\n"
      "cache-ttl.callParks = 30s\n"
      "cache_ttl.paging = 0\n"
      "cache-ttl.schedules = 10m\n");
  const auto r = load({"--config", file.path});
  CHECK(r.cfg.cache_ttl == 120s);
  CHECK(r.cfg.cache_ttl_for("callParks") == 30s);
  CHECK(r.cfg.cache_ttl_for("paging") == 0s);
  CHECK(r.cfg.cache_ttl_for("schedules") == 600s);
  CHECK(r.cfg.cache_ttl_for("queues") == 120s);  // not set: the default
  const auto text = cfg::describe(r.cfg);
  CHECK(contains(text, "cache-ttl = 120s\ncache-ttl.callParks = 30s\ncache-ttl.paging = 0s\n"
                       "cache-ttl.schedules = 600s\n"));

  // A reload that changes one kind names it.
  temp_file changed("cache-ttl = 120\ncache-ttl.callParks = 45s\ncache_ttl.paging = 0\n"
                    "cache-ttl.schedules = 10m\n");
  const auto next = load({"--config", changed.path});
  CHECK(cfg::changed_settings(r.cfg, next.cfg) == std::vector<std::string>{"cache-ttl.callParks"});

  temp_file unknown("cache-ttl.callparks = 30s\n");
  const auto e = load_error({"--config", unknown.path});
  CHECK(contains(e, "cache-ttl.callparks"));
  CHECK(contains(e, "callParks, callPickups"));
  temp_file twice("cache-ttl.paging = 1\ncache_ttl.paging = 2\n");
  CHECK(contains(load_error({"--config", twice.path}), "more than once"));
  temp_file bad("cache-ttl.paging = soon\n");
  CHECK(contains(load_error({"--config", bad.path}), "not a duration"));
  // Only in the file: not a flag.
  CHECK(!load_error({"--cache-ttl.paging", "5"}).empty());
}

TEST_CASE("refresh-ahead: a fraction of the TTL from 0 (off) to below 1") {
  CHECK(load({}).cfg.refresh_ahead == 0.2);
  CHECK(load({"--refresh-ahead", "0"}).cfg.refresh_ahead == 0);
  CHECK(load({}, {"WEBEX_CACHE_PROXY_REFRESH_AHEAD=0.5"}).cfg.refresh_ahead == 0.5);
  temp_file file("refresh-ahead = 0.1\n");
  CHECK(load({"--config", file.path}).cfg.refresh_ahead == 0.1);
  CHECK(contains(load_error({"--refresh-ahead", "1"}), "--refresh-ahead: must be a fraction"));
  CHECK(contains(load_error({"--refresh-ahead", "-0.1"}), "--refresh-ahead"));
  CHECK(contains(load_error({"--refresh-ahead", "20%"}), "--refresh-ahead: \"20%\" is not a number"));
  CHECK(contains(cfg::describe(load({"--refresh-ahead", "0.3"}).cfg), "refresh-ahead = 0.3\n"));
}

TEST_CASE("isolated-ttl: 1s by default, 0 allowed, from flag, environment and file") {
  CHECK(load({}).cfg.isolated_ttl == 1000ms);
  CHECK(load({"--isolated-ttl", "0"}).cfg.isolated_ttl == 0ms);
  CHECK(load({"--isolated-ttl", "250ms"}).cfg.isolated_ttl == 250ms);
  CHECK(load({}, {"WEBEX_CACHE_PROXY_ISOLATED_TTL=2s"}).cfg.isolated_ttl == 2000ms);
  temp_file file("isolated-ttl = 0.5s\n");
  CHECK(load({"--config", file.path}).cfg.isolated_ttl == 500ms);
  CHECK(contains(load_error({"--isolated-ttl", "-1s"}), "--isolated-ttl"));
  CHECK(contains(load_error({"--isolated-ttl", "soon"}), "--isolated-ttl"));
  CHECK(contains(cfg::describe(load({"--isolated-ttl", "3s"}).cfg), "isolated-ttl = 3s\n"));
  CHECK(contains(load({"--help"}).help_text, "--isolated-ttl"));
}
