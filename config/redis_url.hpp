// The --redis URL grammar: the one parser that --check-config, start-up and reload all use.
//
//   redis://[[user][:password]@]host[:port][/db]   host: a name, IPv4, or [IPv6]; port 1-65535;
//                                                  db 0-15; user and password percent-encoded
//   unix:///absolute/path/to/socket[?db=N]
//   redis+sentinel://[[user][:password]@]host1[:port1],host2[:port2],.../MASTER_NAME[/db]
//                                                  Redis Sentinel: the sentinels (port 26379 by
//                                                  default) name the master; user and password
//                                                  are the data Redis's
//
// Scheme names are case-insensitive. `rediss://` (TLS) is refused: the packaged hiredis 0.14
// has no TLS. "none" is not a URL; the caller handles it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wcp::config {

struct redis_url {
  struct sentinel_address {
    std::string host;
    std::uint16_t port = 26379;
  };
  std::string host;       // empty with unix_path and with sentinels
  std::uint16_t port = 6379;
  std::string unix_path;  // set: a Unix socket
  std::string username;   // set: AUTH username password (Redis 6 ACL)
  std::string password;
  bool has_password = false;  // a password was given in the URL (it may be empty: redis://:@h)
  int db = 0;
  std::vector<sentinel_address> sentinels;  // set: redis+sentinel://, the master is discovered
  std::string master_name;                  // with sentinels: the name they monitor it by
};

struct redis_url_result {
  std::optional<redis_url> url;
  std::string error;  // why not, when url is empty: "has a bad port (1-65535)", ...
};

redis_url_result parse_redis_url(std::string_view text);

}  // namespace wcp::config
