// Settings loader: command-line flags, WEBEX_CACHE_PROXY_* environment variables and a config
// file, merged with Boost.Program_options (flag > environment > file > default). Every value is
// taken as a string and converted here, so that a bad value gets a message naming its flag and,
// when it did not come from the command line, the variable or file it came from.
#include "config/config.hpp"

#include "config/cache_kinds.hpp"
#include "config/redis_url.hpp"
#include "config/upstream_proxy.hpp"

#include <boost/program_options.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

#include "wcp_commit.h"

#ifndef WCP_VERSION
#define WCP_VERSION "0.0.0"
#endif

namespace po = boost::program_options;

namespace wcp::config {
namespace {

constexpr std::string_view env_prefix = "WEBEX_CACHE_PROXY_";
constexpr double max_duration_seconds = 1e9;  // ~31 years; keeps every conversion in range

// ---------------------------------------------------------------------------------------------
// Small text helpers

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// A value quoted for a one-line message: control characters escaped, long values shortened.
std::string quote(std::string_view s) {
  constexpr std::size_t max_shown = 100;
  std::string out = "\"";
  std::size_t shown = 0;
  for (char c : s) {
    if (shown++ == max_shown) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

[[noreturn]] void bad(std::string_view text, std::string_view what) {
  throw std::invalid_argument(quote(text) + " " + std::string(what));
}

// "1", "1.5", ".5", "2." -> value; anything else (signs, exponents, inf, nan) -> nullopt.
std::optional<double> parse_decimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool digit = false, dot = false;
  for (char c : s) {
    if (is_digit(c)) {
      digit = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      return std::nullopt;
    }
  }
  if (!digit) return std::nullopt;
  double value = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value, std::chars_format::fixed);
  if (ec == std::errc::result_out_of_range) return std::numeric_limits<double>::infinity();
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

// Digits only -> value; overflow -> "too large"; anything else -> invalid_argument.
std::uint64_t parse_unsigned(std::string_view text, std::string_view digits, std::string_view what) {
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), is_digit)) bad(text, what);
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec == std::errc::result_out_of_range) bad(text, "is too large");
  if (ec != std::errc() || ptr != digits.data() + digits.size()) bad(text, what);
  return value;
}

std::uint64_t parse_count(const std::string& text) {
  const std::string_view t = trim(text);
  if (!t.empty() && t.front() == '-') bad(text, "is negative");
  return parse_unsigned(text, t, "is not a whole number");
}

// Shortest fixed-point text that reads back to the same double, e.g. "300", "0.05".
std::string format_number(double v) {
  char buf[400];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (ec != std::errc()) return std::to_string(v);
  return std::string(buf, ptr);
}

std::string format_seconds(seconds s) { return format_number(s.count()) + "s"; }
std::string format_ms(milliseconds ms) { return format_number(static_cast<double>(ms.count()) / 1000.0) + "s"; }

std::string format_endpoint(const endpoint& e) {
  const bool v6 = e.host.find(':') != std::string::npos;
  return (v6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port);
}

// redis://user:secret@host -> redis://user:***@host; a lone userinfo is masked whole.
std::string mask_password(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url;
  const auto auth_begin = scheme_end + 3;
  auto auth_end = url.find_first_of("/?#", auth_begin);
  if (auth_end == std::string::npos) auth_end = url.size();
  const auto at = url.rfind('@', auth_end == 0 ? 0 : auth_end - 1);
  if (at == std::string::npos || at < auth_begin) return url;
  const auto colon = url.find(':', auth_begin);
  if (colon != std::string::npos && colon < at)
    return url.substr(0, colon + 1) + "***" + url.substr(at);
  return url.substr(0, auth_begin) + "***" + url.substr(at);
}

milliseconds to_ms(seconds s) { return std::chrono::round<milliseconds>(s); }

// ---------------------------------------------------------------------------------------------
// The settings table: one row per option, with its conversion both ways.

struct setting {
  std::string name;       // long flag without dashes; also the file key and env suffix
  std::string arg;        // value name in --help
  std::string help;
  std::function<void(config&, const std::string&)> set;  // throws std::invalid_argument
  std::function<std::string(const config&)> get;          // as describe() prints it
  bool in_describe = true;
};

std::string env_name(const std::string& name) {
  std::string out(env_prefix);
  for (char c : name) out += c == '-' ? '_' : ascii_upper(c);
  return out;
}

setting duration_s(std::string name, std::string help, seconds config::*m) {
  return {std::move(name), "DURATION", std::move(help),
          [m](config& c, const std::string& v) { c.*m = parse_duration(v); },
          [m](const config& c) { return format_seconds(c.*m); }};
}

setting duration_ms(std::string name, std::string help, milliseconds config::*m) {
  return {std::move(name), "DURATION", std::move(help),
          [m](config& c, const std::string& v) { c.*m = to_ms(parse_duration(v)); },
          [m](const config& c) { return format_ms(c.*m); }};
}

setting bytes(std::string name, std::string help, std::size_t config::*m) {
  return {std::move(name), "BYTES", std::move(help),
          [m](config& c, const std::string& v) { c.*m = parse_bytes(v); },
          [m](const config& c) { return std::to_string(c.*m); }};
}

setting count(std::string name, std::string help, std::size_t config::*m) {
  return {std::move(name), "N", std::move(help),
          [m](config& c, const std::string& v) {
            const auto n = parse_count(v);
            if (n > std::numeric_limits<std::size_t>::max()) bad(v, "is too large");
            c.*m = static_cast<std::size_t>(n);
          },
          [m](const config& c) { return std::to_string(c.*m); }};
}

setting address(std::string name, std::string help, endpoint config::*m) {
  return {std::move(name), "HOST:PORT", std::move(help),
          [m](config& c, const std::string& v) { c.*m = parse_endpoint(v); },
          [m](const config& c) { return format_endpoint(c.*m); }};
}

setting text(std::string name, std::string arg, std::string help, std::string config::*m) {
  return {std::move(name), std::move(arg), std::move(help),
          [m](config& c, const std::string& v) { c.*m = std::string(trim(v)); },
          [m](const config& c) { return c.*m; }};
}

const std::vector<setting>& settings() {
  static const std::vector<setting> table = [] {
    std::vector<setting> t;
    setting cfg_file = text("config", "FILE", "read settings from this file (\"name = value\" lines)",
                            &config::config_file);
    cfg_file.in_describe = false;
    t.push_back(std::move(cfg_file));
    t.push_back(address("listen", "client listener", &config::listen));
    t.push_back(address("admin-listen", "admin listener: metrics, health, purge", &config::admin_listen));
    t.push_back(text("admin-token-file", "FILE",
                     "purges need \"Authorization: Bearer <first line of FILE>\"; unset: purges "
                     "from loopback peers only",
                     &config::admin_token_file));
    t.push_back(text("public-url", "URL",
                     "origin clients reach the proxy by (behind a load balancer): paging Link URLs "
                     "point there; unset: the origin each client used (its Host)",
                     &config::public_url));
    t.push_back(text("tls-cert", "FILE", "PEM certificate (chain): serve clients over HTTPS",
                     &config::tls_cert));
    t.push_back(text("tls-key", "FILE", "PEM private key of --tls-cert", &config::tls_key));
    t.push_back(text("upstream", "URL", "Webex API base URL, http:// or https://", &config::upstream));
    t.push_back(text("upstream-ca", "FILE", "PEM bundle to trust instead of the system store",
                     &config::upstream_ca));
    t.push_back(duration_ms("connect-timeout",
                            "TCP connect (+ the proxy's CONNECT) + TLS handshake to upstream",
                            &config::connect_timeout));
    t.push_back(duration_ms("upstream-timeout", "one whole upstream request",
                            &config::upstream_timeout));
    t.push_back(count("upstream-max-idle", "idle upstream connections kept per thread",
                      &config::upstream_max_idle));
    t.push_back(bytes("max-upstream-body-bytes", "larger upstream answers get 502",
                      &config::max_upstream_body_bytes));
    t.push_back({"upstream-proxy", "URL|none",
                 "reach upstream through this HTTP proxy, http://HOST:PORT, with CONNECT (TLS to "
                 "Webex end to end); HTTPS_PROXY and NO_PROXY are not read",
                 [](config& c, const std::string& v) {
                   const std::string_view w = trim(v);
                   c.upstream_proxy = lower(w) == "none" ? std::string() : std::string(w);
                 },
                 [](const config& c) { return c.upstream_proxy; }});
    t.push_back(text("upstream-proxy-credentials-file", "FILE",
                     "user:password for --upstream-proxy (first line), sent as Basic "
                     "Proxy-Authorization on the CONNECT only",
                     &config::upstream_proxy_credentials_file));
    t.push_back(text("redis", "URL|none",
                     "redis://[[user]:password@]host[:port][/db], unix:///path[?db=N], "
                     "redis+sentinel://[[user]:password@]host1:port1,host2:port2/MASTER_NAME[/db] "
                     "(sentinel port 26379 by default) or none",
                     &config::redis));
    t.push_back(text("redis-password-file", "FILE",
                     "read the Redis password from this file (first line) instead of the URL",
                     &config::redis_password_file));
    t.push_back(text("redis-sentinel-password-file", "FILE",
                     "with redis+sentinel://: the sentinels' own password (first line of FILE)",
                     &config::redis_sentinel_password_file));
    t.push_back(duration_ms("redis-timeout", "longest one request waits on Redis, all commands together", &config::redis_timeout));
    t.push_back(duration_ms("isolated-ttl",
                            "while an instance hears no invalidations (Redis down or paused), it "
                            "serves cached entries younger than this only; older ones are fetched "
                            "again (0 = none)",
                            &config::isolated_ttl));
    t.push_back(text("redis-prefix", "NAME", "first part of every Redis key and channel name",
                     &config::redis_prefix));
    t.push_back(bytes("l1-max-bytes", "with Redis: in-process L1 size bound, 0 = no L1",
                      &config::l1_max_bytes));
    t.push_back(duration_s("cache-ttl",
                           "entries are fresh this long (0 = do not cache); per kind in the config "
                           "file: cache-ttl.KIND = DURATION (KIND: callParks, paging, ...)",
                           &config::cache_ttl));
    t.push_back(duration_s("stale-ttl", "then kept this long as stale", &config::stale_ttl));
    t.push_back({"refresh-ahead", "FRACTION",
                 "a fresh entry read in this last part of its TTL is refreshed in the "
                 "background (0 = off, below 1)",
                 [](config& c, const std::string& v) {
                   const auto text = trim(v);
                   double f = 0;
                   const auto* end = text.data() + text.size();
                   const auto r = std::from_chars(text.data(), end, f);
                   if (text.empty() || r.ec != std::errc() || r.ptr != end)
                     bad(v, "is not a number");
                   c.refresh_ahead = f;
                 },
                 [](const config& c) { return format_number(c.refresh_ahead); }});
    t.push_back(duration_s("grant-ttl", "a learned access grant lasts this long", &config::grant_ttl));
    t.push_back(duration_s("max-retry-wait", "longest a request waits out a rate limit",
                           &config::max_retry_wait));
    t.push_back(duration_s("max-backoff", "Retry-After values above this are capped", &config::max_backoff));
    t.push_back(duration_s("default-backoff", "backoff when Retry-After is missing or bad",
                           &config::default_backoff));
    t.push_back(bytes("memory-max-bytes", "in-process cache size bound", &config::memory_max_bytes));
    t.push_back(bytes("max-header-bytes", "client request line + headers", &config::max_header_bytes));
    t.push_back(bytes("max-body-bytes", "client request body", &config::max_body_bytes));
    t.push_back(duration_ms("client-header-timeout", "to receive a whole request head",
                            &config::client_header_timeout));
    t.push_back(duration_ms("client-body-timeout", "to receive a whole request body",
                            &config::client_body_timeout));
    t.push_back(duration_ms("idle-timeout", "keep-alive connection with no request", &config::idle_timeout));
    t.push_back({"max-connections", "N", "open client connections; more are refused",
                 [](config& c, const std::string& v) {
                   const auto n = parse_count(v);
                   if (n > std::numeric_limits<std::size_t>::max()) bad(v, "is too large");
                   c.max_connections = static_cast<std::size_t>(n);
                 },
                 [](const config& c) { return std::to_string(c.max_connections); }});
    t.push_back(duration_ms("drain-timeout", "on SIGTERM, longest wait for in-flight requests",
                            &config::drain_timeout));
    t.push_back({"threads", "N", "worker threads, 0 = one per core",
                 [](config& c, const std::string& v) {
                   const auto n = parse_count(v);
                   if (n > std::numeric_limits<unsigned>::max()) bad(v, "is too large");
                   c.threads = static_cast<unsigned>(n);
                 },
                 [](const config& c) { return std::to_string(c.threads); }});
    t.push_back({"log-level", "LEVEL", "trace, debug, info, warn, error, critical or off",
                 [](config& c, const std::string& v) { c.log_level = lower(trim(v)); },
                 [](const config& c) { return c.log_level; }});
    t.push_back({"log-format", "FORMAT", "text or json",
                 [](config& c, const std::string& v) { c.log_format = lower(trim(v)); },
                 [](const config& c) { return c.log_format; }});
    t.push_back({"access-log", "on|off", "one line per request, whatever the log level",
                 [](config& c, const std::string& v) {
                   const auto w = lower(trim(v));
                   if (w == "on") c.access_log = true;
                   else if (w == "off") c.access_log = false;
                   else bad(v, "is not on or off");
                 },
                 [](const config& c) { return std::string(c.access_log ? "on" : "off"); }});
    return t;
  }();
  return table;
}

const setting* find_setting(std::string_view name) {
  for (const auto& s : settings())
    if (s.name == name) return &s;
  return nullptr;
}

// --help groups the settings by topic, in this order; a setting not listed goes last.
const std::vector<std::pair<std::string, std::vector<std::string>>>& help_topics() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> topics = {
      {"Listeners",
       {"listen", "admin-listen", "admin-token-file", "tls-cert", "tls-key", "max-connections",
        "public-url"}},
      {"Upstream (the Webex API)",
       {"upstream", "upstream-ca", "connect-timeout", "upstream-timeout", "upstream-max-idle",
        "max-upstream-body-bytes", "upstream-proxy", "upstream-proxy-credentials-file"}},
      {"Cache and grants",
       {"cache-ttl", "stale-ttl", "refresh-ahead", "grant-ttl", "memory-max-bytes"}},
      {"Redis (several instances, one cache)",
       {"redis", "redis-password-file", "redis-sentinel-password-file", "redis-timeout",
        "isolated-ttl", "redis-prefix", "l1-max-bytes"}},
      {"Rate limits", {"max-retry-wait", "max-backoff", "default-backoff"}},
      {"Client requests",
       {"max-header-bytes", "max-body-bytes", "client-header-timeout", "client-body-timeout",
        "idle-timeout"}},
      {"Process", {"config", "threads", "drain-timeout", "log-level", "log-format", "access-log"}},
  };
  return topics;
}

// A default as a person writes it: 16MiB, 50ms, 5m.
std::string human_default(const setting& s, const config& defaults) {
  const std::string v = s.get(defaults);
  if (s.arg == "BYTES") {
    const auto n = parse_bytes(v);
    for (const auto& [unit, size] : {std::pair{"GiB", std::size_t{1} << 30}, std::pair{"MiB", std::size_t{1} << 20},
                                     std::pair{"KiB", std::size_t{1} << 10}})
      if (n != 0 && n % size == 0) return std::to_string(n / size) + unit;
    return v;
  }
  if (s.arg == "DURATION") {
    const auto ms = std::chrono::round<milliseconds>(parse_duration(v)).count();
    if (ms == 0) return "0";
    if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
  }
  return v.empty() ? std::string("none") : v;
}

void add_setting(po::options_description& desc, const setting& s, bool for_help, const config& defaults) {
  std::string help = s.help;
  if (for_help && s.in_describe) help += " (default " + human_default(s, defaults) + ")";
  desc.add_options()(s.name.c_str(), po::value<std::string>()->value_name(s.arg), help.c_str());
}

// Every setting, as a string: what the command line, the environment and the file accept. The
// actions (--check-config, --version, --help) are command-line switches only (see
// switches_description). For --help, grouped by topic.
po::options_description settings_description(bool for_help = false) {
  const config defaults;
  po::options_description desc("", 100, 50);
  if (!for_help) {
    for (const auto& s : settings()) add_setting(desc, s, false, defaults);
    return desc;
  }
  std::set<std::string> placed;
  for (const auto& [title, names] : help_topics()) {
    po::options_description group(title, 100, 50);
    for (const auto& name : names) {
      const setting* s = find_setting(name);
      if (!s) continue;
      add_setting(group, *s, true, defaults);
      placed.insert(name);
    }
    desc.add(group);
  }
  po::options_description rest("Other", 100, 50);
  bool any = false;
  for (const auto& s : settings()) {
    if (placed.count(s.name)) continue;
    add_setting(rest, s, true, defaults);
    any = true;
  }
  if (any) desc.add(rest);
  return desc;
}

po::options_description switches_description(const char* title = "") {
  po::options_description desc(title);
  desc.add_options()("check-config", po::bool_switch(), "validate the settings, print them and exit")(
      "version", po::bool_switch(), "print the version and exit")(
      "help,h", po::bool_switch(), "print this help and exit");
  return desc;
}

std::string make_help_text() {
  po::options_description shown = settings_description(true);
  shown.add(switches_description("Actions"));
  std::ostringstream out;
  out << "Usage: webex-cache-proxy [options]\n\n"
      << "A caching HTTP proxy for the Webex API.\n\n"
      << shown << "\n"
      << "Every option can also be set as the environment variable WEBEX_CACHE_PROXY_<NAME>\n"
      << "(e.g. WEBEX_CACHE_PROXY_CACHE_TTL=60) and as a config-file key (cache-ttl = 60 or\n"
      << "cache_ttl = 60). Precedence: flag > environment > file > default.\n"
      << "SIGHUP (systemctl reload) re-reads the config file; the environment is the one the\n"
      << "process started with, so put settings that change in the file.\n"
      << "Durations: seconds (300, 1.5) or with a suffix: 250ms, 5s, 10m, 1h.\n"
      << "Sizes: bytes (1048576) or with a suffix: 64k, 64KiB, 256M, 1G (powers of 1024).\n";
  return out.str();
}

// Where a setting's value came from, as a message suffix: "" (flag or default),
// " (from WEBEX_CACHE_PROXY_X)" or " (from /path/file)".
using source_fn = std::function<std::string(const std::string& name)>;

[[noreturn]] void fail(const std::string& name, const std::string& what, const source_fn& source) {
  throw config_error("--" + name + ": " + what + (source ? source(name) : std::string()));
}

std::string os_error(int err) { return std::generic_category().message(err); }

// Empty when readable, else why not.
std::string unreadable_file(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec) return os_error(ec.value());
  if (std::filesystem::is_directory(st)) return "is a directory";
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return os_error(errno);
  std::fclose(f);
  return {};
}

bool valid_port_text(std::string_view p) {
  if (p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), is_digit)) return false;
  const unsigned long n = std::stoul(std::string(p));
  return n >= 1 && n <= 65535;
}

// An absolute http:// or https:// URL with a host and nothing but a path after it.
void check_http_url(const std::string& name, const std::string& u, const source_fn& source) {
  const std::string what = quote(u) + " is not an http:// or https:// URL with a host";
  auto r = boost::urls::parse_uri(u);
  if (!r) fail(name, what, source);
  const boost::urls::url_view url = *r;
  if (url.scheme_id() != boost::urls::scheme::http && url.scheme_id() != boost::urls::scheme::https)
    fail(name, what, source);
  if (!url.has_authority() || url.encoded_host().empty()) fail(name, what, source);
  if (url.has_port() && !valid_port_text(url.port()))
    fail(name, quote(u) + " has a bad port (1-65535)", source);
  if (url.has_userinfo()) fail(name, quote(u) + ": credentials do not belong in the URL", source);
  if (url.has_query() || url.has_fragment())
    fail(name, quote(u) + " must not have a query or fragment", source);
}

void check_redis(const config& c, const source_fn& source) {
  if (c.redis == "none") {
    if (!c.redis_password_file.empty())
      fail("redis-password-file", "is set but --redis is none", source);
    if (!c.redis_sentinel_password_file.empty())
      fail("redis-sentinel-password-file", "is set but --redis is none", source);
    return;
  }
  // The parser start-up uses: what passes here connects with the same settings.
  const auto parsed = parse_redis_url(c.redis);
  if (!parsed.url) fail("redis", quote(mask_password(c.redis)) + " " + parsed.error, source);
  const auto& url = *parsed.url;
  if (!c.redis_sentinel_password_file.empty()) {
    if (url.sentinels.empty())
      fail("redis-sentinel-password-file", "is set but --redis is not a redis+sentinel:// URL",
           source);
    read_secret_file(c.redis_sentinel_password_file, "redis-sentinel-password-file");
  }
  if (!c.redis_password_file.empty()) {
    if (url.has_password)
      fail("redis-password-file",
           "the URL has a password too; give it in one place (the file keeps it out of the "
           "process list and the environment)",
           source);
    read_secret_file(c.redis_password_file, "redis-password-file");
  } else if (!url.username.empty() && !url.has_password) {
    fail("redis", quote(mask_password(c.redis)) +
                      " has a user name but no password (add :password or --redis-password-file)",
         source);
  }
}

void check_upstream_proxy(const config& c, const source_fn& source) {
  if (c.upstream_proxy.empty()) {
    if (!c.upstream_proxy_credentials_file.empty())
      fail("upstream-proxy-credentials-file", "is set but --upstream-proxy is not", source);
    return;
  }
  // The parser start-up uses. The URL is shown masked: a refused one may hold a password.
  const auto parsed = parse_upstream_proxy_url(c.upstream_proxy);
  if (!parsed.url) fail("upstream-proxy", quote(mask_password(c.upstream_proxy)) + " " + parsed.error, source);
  if (c.upstream_proxy_credentials_file.empty()) return;
  const std::string line =
      read_secret_file(c.upstream_proxy_credentials_file, "upstream-proxy-credentials-file");
  if (auto why = check_proxy_credentials(line); !why.empty())
    fail("upstream-proxy-credentials-file", quote(c.upstream_proxy_credentials_file) + " " + why, source);
}

void validate_impl(const config& c, const source_fn& source) {
  check_http_url("upstream", c.upstream, source);
  if (!c.public_url.empty()) check_http_url("public-url", c.public_url, source);
  check_upstream_proxy(c, source);
  if (!c.upstream_ca.empty()) {
    if (auto why = unreadable_file(c.upstream_ca); !why.empty())
      fail("upstream-ca", "cannot read " + quote(c.upstream_ca) + ": " + why, source);
  }
  if (c.tls_cert.empty() != c.tls_key.empty())
    fail(c.tls_cert.empty() ? "tls-cert" : "tls-key",
         "--tls-cert and --tls-key go together: set both or neither", source);
  for (const auto& [name, file] : {std::pair<const char*, const std::string&>{"tls-cert", c.tls_cert},
                                   {"tls-key", c.tls_key}}) {
    if (file.empty()) continue;
    if (auto why = unreadable_file(file); !why.empty())
      fail(name, "cannot read " + quote(file) + ": " + why, source);
  }
  check_redis(c, source);
  if (!c.admin_token_file.empty()) read_secret_file(c.admin_token_file, "admin-token-file");
  if (c.redis_prefix.empty() || c.redis_prefix.size() > 64 ||
      c.redis_prefix.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.") !=
          std::string::npos)
    fail("redis-prefix", "must be 1-64 characters of [A-Za-z0-9_.-]", source);

  const std::pair<const char*, milliseconds> timeouts[] = {
      {"connect-timeout", c.connect_timeout},
      {"upstream-timeout", c.upstream_timeout},
      {"redis-timeout", c.redis_timeout},
      {"client-header-timeout", c.client_header_timeout},
      {"client-body-timeout", c.client_body_timeout},
      {"idle-timeout", c.idle_timeout},
      {"drain-timeout", c.drain_timeout},
  };
  for (const auto& [name, value] : timeouts) {
    if (value < milliseconds(1)) fail(name, "must be at least 1ms, not " + format_ms(value), source);
    if (value.count() > static_cast<std::int64_t>(max_duration_seconds) * 1000)
      fail(name, format_ms(value) + " is too large", source);
  }
  if (c.isolated_ttl < milliseconds(0) ||
      c.isolated_ttl.count() > static_cast<std::int64_t>(max_duration_seconds) * 1000)
    fail("isolated-ttl", "must be between 0s and " + format_number(max_duration_seconds) +
                             "s, not " + format_ms(c.isolated_ttl), source);
  const std::pair<const char*, seconds> ttls[] = {
      {"cache-ttl", c.cache_ttl},           {"stale-ttl", c.stale_ttl},
      {"grant-ttl", c.grant_ttl},           {"max-retry-wait", c.max_retry_wait},
      {"max-backoff", c.max_backoff},       {"default-backoff", c.default_backoff},
  };
  for (const auto& [name, value] : ttls) {
    if (!std::isfinite(value.count()) || value.count() < 0 || value.count() > max_duration_seconds)
      fail(name, "must be between 0s and " + format_number(max_duration_seconds) + "s, not " +
                     format_seconds(value), source);
  }

  if (!std::isfinite(c.refresh_ahead) || c.refresh_ahead < 0 || c.refresh_ahead >= 1)
    fail("refresh-ahead", "must be a fraction of the TTL from 0 (off) to below 1, not " +
                              format_number(c.refresh_ahead), source);

  if (c.threads > 1024) fail("threads", "must be at most 1024, not " + std::to_string(c.threads), source);
  static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (!levels.count(c.log_level))
    fail("log-level", quote(c.log_level) + " is not one of trace, debug, info, warn, error, critical, off",
         source);
  if (c.log_format != "text" && c.log_format != "json")
    fail("log-format", quote(c.log_format) + " is not text or json", source);

  if (c.max_header_bytes < 1024)
    fail("max-header-bytes", "must be at least 1024, not " + std::to_string(c.max_header_bytes), source);
  if (c.max_body_bytes < 1) fail("max-body-bytes", "must be at least 1", source);
  if (c.max_upstream_body_bytes < 1) fail("max-upstream-body-bytes", "must be at least 1", source);
  if (c.memory_max_bytes < (std::size_t{1} << 20))
    fail("memory-max-bytes", "must be at least 1048576 (1MiB), not " + std::to_string(c.memory_max_bytes),
         source);
  if (c.max_connections < 1) fail("max-connections", "must be at least 1", source);

  if (c.listen.host.empty()) fail("listen", "no host", source);
  if (c.admin_listen.host.empty()) fail("admin-listen", "no host", source);
  if (c.admin_listen.port != 0 && c.admin_listen.port == c.listen.port && c.admin_listen.host == c.listen.host)
    fail("admin-listen", format_endpoint(c.admin_listen) + " is also --listen; use another port", source);
}

// The message for a Boost.Program_options error, built here rather than by its what(): what()
// fills %placeholders% in a loop that never ends when the user's own text contains one
// (`--x%canonical_option%`, a config line holding `%invalid_line%`) in Boost 1.81.
std::string describe(const po::error& e) {
  if (const auto* u = dynamic_cast<const po::unknown_option*>(&e))
    return "unrecognised option " + quote(u->get_option_name());
  if (const auto* line = dynamic_cast<const po::invalid_config_file_syntax*>(&e))
    return "a line is not \"name = value\": " + quote(line->tokens());
  if (const auto* syntax = dynamic_cast<const po::invalid_syntax*>(&e)) {
    const std::string name = quote(syntax->get_option_name());
    switch (syntax->kind()) {
      case po::invalid_syntax::missing_parameter: return name + " needs a value";
      case po::invalid_syntax::extra_parameter: return name + " takes no value";
      case po::invalid_syntax::empty_adjacent_parameter: return name + " has an empty value";
      default: return name + " is not written as --name value or --name=value";
    }
  }
  if (const auto* twice = dynamic_cast<const po::multiple_occurrences*>(&e))
    return quote(twice->get_option_name()) + " is given more than once";
  if (const auto* other = dynamic_cast<const po::error_with_option_name*>(&e))
    return quote(other->get_option_name()) + " is not valid here";
  return e.what();  // no user text in these messages
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Parsers

seconds parse_duration(const std::string& text) {
  std::string_view t = trim(text);
  if (t.empty()) bad(text, "is not a duration");
  if (t.front() == '-') bad(text, "is negative");
  std::size_t end = 0;
  while (end < t.size() && (is_digit(t[end]) || t[end] == '.')) ++end;
  const std::string_view number = t.substr(0, end);
  const std::string_view suffix = trim(t.substr(end));
  double factor = 0;
  if (suffix.empty() || suffix == "s") {
    factor = 1;
  } else if (suffix == "ms") {
    factor = 0.001;
  } else if (suffix == "m") {
    factor = 60;
  } else if (suffix == "h") {
    factor = 3600;
  } else {
    bad(text, "is not a duration");
  }
  const auto value = parse_decimal(number);
  if (!value) bad(text, "is not a duration");
  const double s = *value * factor;
  if (!std::isfinite(s) || s > max_duration_seconds)
    bad(text, "is too large (at most " + format_number(max_duration_seconds) + "s)");
  return seconds(s);
}

std::size_t parse_bytes(const std::string& text) {
  std::string_view t = trim(text);
  if (t.empty()) bad(text, "is not a byte size");
  if (t.front() == '-') bad(text, "is negative");
  std::size_t end = 0;
  while (end < t.size() && is_digit(t[end])) ++end;
  const std::string_view number = t.substr(0, end);
  const std::string suffix = lower(trim(t.substr(end)));
  std::uint64_t factor = 0;
  if (suffix.empty() || suffix == "b") {
    factor = 1;
  } else if (suffix == "k" || suffix == "kb" || suffix == "kib") {
    factor = std::uint64_t{1} << 10;
  } else if (suffix == "m" || suffix == "mb" || suffix == "mib") {
    factor = std::uint64_t{1} << 20;
  } else if (suffix == "g" || suffix == "gb" || suffix == "gib") {
    factor = std::uint64_t{1} << 30;
  } else {
    bad(text, "is not a byte size");
  }
  const std::uint64_t n = parse_unsigned(text, number, "is not a byte size");
  if (n > std::numeric_limits<std::uint64_t>::max() / factor) bad(text, "is too large");
  const std::uint64_t total = n * factor;
  if (total > std::numeric_limits<std::size_t>::max()) bad(text, "is too large");
  return static_cast<std::size_t>(total);
}

endpoint parse_endpoint(const std::string& text) {
  const std::string_view t = trim(text);
  if (t.empty()) bad(text, "is not host:port");
  endpoint e;
  std::string_view port;
  if (t.front() == '[') {
    const auto close = t.find(']');
    if (close == std::string_view::npos) bad(text, "has no closing ']'");
    e.host = std::string(t.substr(1, close - 1));
    if (e.host.empty()) bad(text, "has no host");
    const std::string_view rest = t.substr(close + 1);
    if (rest.empty()) bad(text, "has no port (host:port)");
    if (rest.front() != ':') bad(text, "is not [address]:port");
    port = rest.substr(1);
  } else {
    const auto colon = t.rfind(':');
    if (colon == std::string_view::npos && std::all_of(t.begin(), t.end(), is_digit))
      bad(text, "is a port alone: the form is HOST:PORT, e.g. 127.0.0.1:" + std::string(t) +
                    " (this host only) or 0.0.0.0:" + std::string(t) + " (every IPv4 address)");
    if (colon == std::string_view::npos) bad(text, "has no port: the form is HOST:PORT");
    e.host = std::string(t.substr(0, colon));
    if (e.host.empty()) bad(text, "has no host");
    if (e.host.find(':') != std::string::npos) bad(text, "has an IPv6 address without brackets ([::1]:port)");
    port = t.substr(colon + 1);
  }
  for (char c : e.host) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '[' || c == ']' || c == '/' || c == '@')
      bad(text, "has a bad character in the host");
  }
  if (port.empty()) bad(text, "has no port (host:port)");
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) bad(text, "has a bad port (0-65535)");
  const unsigned long n = std::stoul(std::string(port));
  if (n > 65535) bad(text, "has a bad port (0-65535)");
  e.port = static_cast<std::uint16_t>(n);
  return e;
}

const char* version() { return WCP_VERSION " (commit " WCP_COMMIT ")"; }

void validate(const config& cfg) { validate_impl(cfg, nullptr); }

std::string describe(const config& cfg) {
  std::string out;
  for (const auto& s : settings()) {
    if (!s.in_describe) continue;
    std::string value = s.get(cfg);
    if (s.name == "redis" || s.name == "upstream-proxy") value = mask_password(value);
    out += s.name + " = " + value + "\n";
    if (s.name == "cache-ttl")
      for (const auto& [kind, ttl] : cfg.cache_ttl_by_kind)
        out += "cache-ttl." + kind + " = " + format_seconds(ttl) + "\n";
  }
  return out;
}

std::string describe_redis(const std::string& url) { return mask_password(url); }

std::vector<std::string> changed_settings(const config& a, const config& b) {
  std::vector<std::string> out;
  for (const auto& s : settings())
    if (s.in_describe && s.get(a) != s.get(b)) out.push_back(s.name);
  for (auto kind : cache_kinds) {
    const auto x = a.cache_ttl_by_kind.find(kind), y = b.cache_ttl_by_kind.find(kind);
    const bool in_a = x != a.cache_ttl_by_kind.end(), in_b = y != b.cache_ttl_by_kind.end();
    if (in_a != in_b || (in_a && x->second != y->second))
      out.push_back("cache-ttl." + std::string(kind));
  }
  return out;
}

std::string read_secret_file(const std::string& path, const std::string& setting) {
  if (auto why = unreadable_file(path); !why.empty())
    throw config_error("--" + setting + ": cannot read " + quote(path) + ": " + why);
  std::ifstream in(path, std::ios::binary);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) throw config_error("--" + setting + ": " + quote(path) + " is empty");
  return line;
}

// ---------------------------------------------------------------------------------------------
// Loading

load_result load(int argc, const char* const argv[], const char* const* environ) {
  load_result result;

  // 1. Command line.
  po::options_description settings_desc = settings_description();
  po::options_description cmdline_desc;
  cmdline_desc.add(settings_description()).add(switches_description());

  po::parsed_options cmdline(&cmdline_desc);
  po::variables_map vm;
  try {
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    static const char* const no_args[] = {"webex-cache-proxy", nullptr};
    if (argc < 1 || argv == nullptr) {
      argc = 1;
      argv = no_args;
    }
    cmdline = po::command_line_parser(argc, argv).options(cmdline_desc).style(style).run();
    for (const auto& o : cmdline.options) {
      if (o.string_key.empty() || o.position_key >= 0) {
        const std::string arg = o.original_tokens.empty() ? std::string() : o.original_tokens.front();
        throw config_error("unexpected argument " + quote(arg) + " (options start with --)");
      }
    }
    po::store(cmdline, vm);
  } catch (const po::error& e) {
    throw config_error(describe(e));
  }

  if (vm["help"].as<bool>()) {
    result.what = action::print_help;
    result.help_text = make_help_text();
    return result;
  }
  if (vm["version"].as<bool>()) {
    result.what = action::print_version;
    return result;
  }

  std::set<std::string> from_flag;
  for (const auto& o : cmdline.options) from_flag.insert(o.string_key);

  // 2. Environment: only WEBEX_CACHE_PROXY_* names, each must name a setting. (Built by hand rather
  //    than with po::parse_environment, which reads the global environ instead of the given block.)
  std::map<std::string, std::string> env_var_of;  // setting name -> variable name
  {
    std::map<std::string, std::string> known;  // variable name -> setting name
    for (const auto& s : settings()) known.emplace(env_name(s.name), s.name);
    po::parsed_options env(&settings_desc);
    for (const char* const* p = environ; p != nullptr && *p != nullptr; ++p) {
      const std::string_view entry = *p;
      const auto eq = entry.find('=');
      if (eq == std::string_view::npos) continue;
      const std::string name(entry.substr(0, eq));
      if (name.compare(0, env_prefix.size(), env_prefix) != 0) continue;
      const auto it = known.find(name);
      if (it == known.end()) {
        // Kubernetes sets WEBEX_CACHE_PROXY_SERVICE_HOST and the like for a Service of that
        // name; actions (CHECK_CONFIG, HELP, VERSION) are flags only.
        result.warnings.push_back("ignoring the environment variable " + name +
                                  ": it names no setting (see --help)");
        continue;
      }
      if (env_var_of.count(it->second)) throw config_error(name + " is set more than once in the environment");
      po::option o;
      o.string_key = it->second;
      o.value.emplace_back(entry.substr(eq + 1));
      o.original_tokens = {name};
      env.options.push_back(std::move(o));
      env_var_of[it->second] = name;
    }
    try {
      po::store(env, vm);
    } catch (const po::error& e) {
      throw config_error(describe(e) + " (in the environment)");
    }
  }

  // 3. Config file: --config, else WEBEX_CACHE_PROXY_CONFIG.
  std::string path = vm.count("config") ? std::string(trim(vm["config"].as<std::string>())) : std::string();
  std::set<std::string> from_file;
  std::map<std::string, seconds, std::less<>> per_kind_ttl;  // cache-ttl.KIND lines
  const auto source = [&](const std::string& name) -> std::string {
    if (from_flag.count(name)) return {};
    if (auto it = env_var_of.find(name); it != env_var_of.end()) return " (from " + it->second + ")";
    if (from_file.count(name)) return " (from " + path + ")";
    return {};
  };
  if (!path.empty()) {
    std::ifstream in;
    if (auto why = unreadable_file(path); !why.empty())
      fail("config", "cannot read " + quote(path) + ": " + why, source);
    in.open(path);
    if (!in) fail("config", "cannot read " + quote(path) + ": " + os_error(errno), source);

    po::parsed_options file(&settings_desc);
    try {
      file = po::parse_config_file(in, settings_desc, true);
    } catch (const po::error& e) {
      throw config_error(path + ": " + describe(e));
    }
    std::set<std::string> seen;
    // `cache-ttl.KIND = DURATION` lines: a TTL per kind, taken out before the settings are stored.
    constexpr std::string_view per_kind = "cache-ttl.";
    std::erase_if(file.options, [&](const po::option& o) {
      std::string key = o.string_key;
      const auto dot = key.find('.');
      std::replace(key.begin(), key.begin() + static_cast<std::ptrdiff_t>(std::min(dot, key.size())), '_', '-');
      if (!key.starts_with(per_kind)) return false;
      const std::string kind = key.substr(per_kind.size());
      if (!is_cache_kind(kind)) {
        std::string known;
        for (auto k : cache_kinds) known += (known.empty() ? "" : ", ") + std::string(k);
        throw config_error(path + ": " + quote(o.string_key) + " names no kind (kinds: " + known + ")");
      }
      if (!seen.insert(key).second)
        throw config_error(path + ": " + quote(o.string_key) + " is set more than once");
      if (o.value.size() != 1 || o.value.front().empty())
        throw config_error(path + ": " + quote(o.string_key) + " has no value");
      try {
        per_kind_ttl[kind] = parse_duration(o.value.front());
      } catch (const std::invalid_argument& e) {
        throw config_error(path + ": " + quote(o.string_key) + ": " + e.what());
      }
      return true;
    });
    for (auto& o : file.options) {
      std::string key = o.string_key;
      std::replace(key.begin(), key.end(), '_', '-');
      if (key == "config")
        throw config_error(path + ": " + quote(o.string_key) + " cannot be set in a config file");
      if (key.empty()) throw config_error(path + ": a line has a value but no setting name");
      if (!find_setting(key))
        throw config_error(path + ": unknown setting " + quote(o.string_key));
      if (!seen.insert(key).second)
        throw config_error("--" + key + ": set more than once in " + path);
      o.string_key = key;
      o.unregistered = false;
      from_file.insert(key);
    }
    try {
      po::store(file, vm);
    } catch (const po::error& e) {
      throw config_error(path + ": " + describe(e));
    }
  }

  // 4. Convert, then check.
  config& cfg = result.cfg;
  for (const auto& s : settings()) {
    if (!vm.count(s.name)) continue;
    const std::string& value = vm[s.name].as<std::string>();
    try {
      s.set(cfg, value);
    } catch (const std::invalid_argument& e) {
      fail(s.name, e.what(), source);
    }
  }
  cfg.cache_ttl_by_kind = std::move(per_kind_ttl);
  cfg.config_file = path;
  cfg.check_config = vm["check-config"].as<bool>();
  validate_impl(cfg, source);

  result.what = cfg.check_config ? action::check_config : action::run;
  return result;
}

}  // namespace wcp::config
