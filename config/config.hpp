// The daemon's settings: one struct whose members carry their defaults, and the loader that fills it
// from command-line flags, WEBEX_CACHE_PROXY_* environment variables and a config file, with
// precedence flag > environment > file > default.
//
// Thread-safety: a config is a plain value; load() touches no global state except reading the
// environment block it is given.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace wcp::config {

using seconds = std::chrono::duration<double>;
using milliseconds = std::chrono::milliseconds;

struct endpoint {
  std::string host;    // literal address or name, without brackets
  std::uint16_t port = 0;

  friend bool operator==(const endpoint&, const endpoint&) = default;
};

struct config {
  std::string config_file;                        // --config: file read for settings, "" = none

  endpoint listen{"127.0.0.1", 8080};             // client listener
  endpoint admin_listen{"127.0.0.1", 9464};       // metrics, health, purge
  std::string admin_token_file;                   // purges need this bearer token; "" = loopback peers only
  std::string public_url;                         // Link URLs point here; "" = the origin each client used
  std::string tls_cert;                           // PEM certificate (chain): the client listener speaks HTTPS
  std::string tls_key;                            // PEM private key of tls_cert; both or neither

  std::string upstream = "https://webexapis.com"; // Webex API base URL, http:// or https://
  std::string upstream_ca;                        // PEM bundle to trust instead of the system store
  milliseconds connect_timeout{5000};             // TCP connect + TLS handshake to upstream
  milliseconds upstream_timeout{30000};           // one whole upstream request, send to last byte
  std::size_t upstream_max_idle = 32;             // idle keep-alive connections kept per thread
  std::size_t max_upstream_body_bytes = 16u << 20;// larger upstream answers are refused with 502
  std::string upstream_proxy;                     // http://HOST:PORT to reach upstream through (CONNECT); "" = direct
  std::string upstream_proxy_credentials_file;    // file holding user:password for the proxy ("" = none)

  std::string redis = "none";                     // redis://..., unix:///path[?db=N], redis+sentinel://..., none
  std::string redis_password_file;                // file holding the Redis password ("" = none)
  std::string redis_sentinel_password_file;       // file holding the sentinels' password ("" = none)
  milliseconds redis_timeout{50};                 // longest any request waits on Redis
  milliseconds isolated_ttl{1000};                // entries served while isolated are younger
  std::string redis_prefix = "wcp";               // keys are <prefix>:v1:..., channel <prefix>:v1:invalidations
  std::size_t l1_max_bytes = 64u << 20;           // with Redis: in-process L1 bound, 0 = no L1

  seconds cache_ttl{300};                         // entries are fresh this long
  // Config-file lines `cache-ttl.KIND = DURATION`: the freshness of one kind (config/cache_kinds.hpp).
  std::map<std::string, seconds, std::less<>> cache_ttl_by_kind;
  // The freshness of entries of `kind`: its own TTL when set, else cache_ttl.
  seconds cache_ttl_for(std::string_view kind) const {
    const auto it = cache_ttl_by_kind.find(kind);
    return it == cache_ttl_by_kind.end() ? cache_ttl : it->second;
  }
  seconds stale_ttl{3600};                        // then kept this long as stale
  // A fresh entry read in the last refresh_ahead of its TTL (a fraction, 0 = off) is refreshed
  // in the background with the reader's token.
  double refresh_ahead = 0.2;
  seconds grant_ttl{300};                         // a learned (token, org, location) grant lasts this long
  seconds max_retry_wait{10};                     // longest a request waits out a rate limit
  seconds max_backoff{300};                       // Retry-After values above this are capped
  seconds default_backoff{5};                     // used when Retry-After is missing, 0 or unparsable

  std::size_t memory_max_bytes = 256u << 20;      // in-process store bound (entries, keys, headers)

  std::size_t max_header_bytes = 16u << 10;       // request line + headers from a client
  std::size_t max_body_bytes = 1u << 20;          // request body from a client
  milliseconds client_header_timeout{10000};      // to receive a whole request head
  milliseconds client_body_timeout{30000};        // to receive a whole request body
  milliseconds idle_timeout{60000};               // keep-alive connection with no request
  std::size_t max_connections = 10000;            // open client connections; more are refused
  milliseconds drain_timeout{10000};              // SIGTERM: longest wait for in-flight requests

  unsigned threads = 0;                           // worker threads, 0 = one per core
  std::string log_level = "info";                 // trace, debug, info, warn, error, critical, off
  std::string log_format = "text";                // text or json
  bool access_log = true;                         // the access line of every request

  bool check_config = false;                      // validate, print the effective settings, exit

  friend bool operator==(const config&, const config&) = default;
};

// What load() decided the process should do.
enum class action { run, check_config, print_help, print_version };

struct load_result {
  config cfg;
  action what = action::run;
  std::string help_text;  // filled for print_help
  // Things worth a warning that do not stop the daemon (an unknown WEBEX_CACHE_PROXY_* variable:
  // Kubernetes sets some for a Service of that name). One line each.
  std::vector<std::string> warnings;
};

// Thrown by load() for any bad flag, variable, file or value. what() is one line that names the
// setting (flag form, e.g. "--cache-ttl") and says what is wrong.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Loads settings. `environ` is the process environment block (NULL-terminated "NAME=value"
// strings); only WEBEX_CACHE_PROXY_* names are read; one that names no setting (or names an
// action: CHECK_CONFIG, HELP, VERSION) is ignored with a warning.
// The config file is --config, else WEBEX_CACHE_PROXY_CONFIG; its lines are "name = value"
// with '#' comments; names are the long flag names with '-' or '_'.
load_result load(int argc, const char* const argv[], const char* const* environ);

// Re-reads environment and file (for SIGHUP), keeping the command-line flags of `argv` on top.
// Same rules and errors as load().
inline load_result reload(int argc, const char* const argv[], const char* const* environ) {
  return load(argc, argv, environ);
}

// Checks cross-setting rules (ranges, URL schemes, files readable). Throws config_error.
void validate(const config& cfg);

// The settings (flag names without dashes) whose values differ between `a` and `b`.
std::vector<std::string> changed_settings(const config& a, const config& b);

// The secret in a file (the Redis password): its first line without the line end. Throws
// config_error naming `setting` when the file cannot be read or holds no secret.
std::string read_secret_file(const std::string& path, const std::string& setting);

// A --redis value for a log line: the URL with any password masked.
std::string describe_redis(const std::string& url);

// "name = value" lines of every setting, as the file format accepts them (for --check-config).
std::string describe(const config& cfg);

// Parsers shared with the loader, exposed for tests. Throw std::invalid_argument with a short
// reason on bad input.
seconds parse_duration(const std::string& text);        // "300", "1.5", "250ms", "5s", "10m", "1h"
std::size_t parse_bytes(const std::string& text);       // "1048576", "64k", "64KiB", "256M", "1G"
endpoint parse_endpoint(const std::string& text);       // "host:port", "[::1]:port"

const char* version();

}  // namespace wcp::config
