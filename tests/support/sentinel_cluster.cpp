#include "support/sentinel_cluster.hpp"

#include "support/loopback.hpp"

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace wcp::test {

namespace {

constexpr const char* redis_server_binary = "/usr/bin/redis-server";
constexpr const char* redis_cli_binary = "/usr/bin/redis-cli";

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

// `SENTINEL replicas|sentinels NAME` as redis-cli prints it raw: every entry's field names and
// values, one per line, each entry starting with "name".
std::vector<std::map<std::string, std::string>> entries_of(const std::string& raw) {
  std::vector<std::map<std::string, std::string>> out;
  const auto lines = lines_of(raw);
  for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
    if (lines[i] == "name" || out.empty()) out.emplace_back();
    out.back()[lines[i]] = lines[i + 1];
  }
  return out;
}

bool healthy(const std::map<std::string, std::string>& entry) {
  const auto flags = entry.find("flags");
  return flags != entry.end() && flags->second.find("s_down") == std::string::npos &&
         flags->second.find("disconnected") == std::string::npos;
}

bool has_healthy_port(const std::vector<std::map<std::string, std::string>>& entries,
                      std::uint16_t port) {
  return std::any_of(entries.begin(), entries.end(), [&](const auto& e) {
    const auto p = e.find("port");
    return p != e.end() && p->second == std::to_string(port) && healthy(e);
  });
}

}  // namespace

sentinel_cluster::sentinel_cluster(options o) : opt_(std::move(o)) {
  // A full sync starts at once, not after the default 5 s wait for more replicas to join.
  std::vector<std::string> no_sync_delay{"--repl-diskless-sync-delay", "0"};
  if (!opt_.data_password.empty())
    no_sync_delay.insert(no_sync_delay.end(), {"--requirepass", opt_.data_password, "--masterauth",
                                               opt_.data_password});
  nodes_.push_back(std::make_unique<redis_server>(no_sync_delay));
  auto replica_args = no_sync_delay;
  replica_args.insert(replica_args.end(),
                      {"--replicaof", "127.0.0.1", std::to_string(nodes_[0]->port())});
  nodes_.push_back(std::make_unique<redis_server>(replica_args));
  master_port_ = nodes_[0]->port();

  const auto deadline = steady::now() + 30s;
  while (cli(nodes_[1]->port(), {"INFO", "replication"}).find("master_link_status:up") ==
         std::string::npos) {
    if (steady::now() > deadline)
      throw std::runtime_error("the replica's link to the master did not come up:\n" +
                               diagnostics());
    std::this_thread::sleep_for(20ms);  // polling the replica's link state
  }

  sentinels_.resize(3);
  try {
    for (auto& s : sentinels_) {
      s.dir = make_temp_dir("wcp-sentinel-");
      s.config = s.dir + "/sentinel.conf";
      bool up = false;
      for (int tries = 0; tries < 10 && !up; ++tries) {
        s.port = free_loopback_port();
        up = launch_sentinel(s, true);
      }
      if (!up) throw std::runtime_error("redis-sentinel did not start:\n" + diagnostics());
    }
    wait_until_settled(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max(deadline - steady::now(), steady::duration(1s))));
  } catch (...) {
    remove_sentinels();  // no destructor runs for a constructor that throws
    throw;
  }
}

sentinel_cluster::~sentinel_cluster() {
  remove_sentinels();
  // nodes_: each redis_server's destructor SIGKILLs it (a paused one too).
}

void sentinel_cluster::remove_sentinels() {
  for (auto& s : sentinels_) {
    s.proc.reset();  // SIGKILL and reap
    std::error_code ec;
    if (!s.dir.empty()) std::filesystem::remove_all(s.dir, ec);
  }
  sentinels_.clear();
}

bool sentinel_cluster::launch_sentinel(sentinel& s, bool write_config) {
  if (write_config) {
    std::ofstream conf(s.config, std::ios::trunc);
    conf << "port " << s.port << "\n"
         << "bind 127.0.0.1\n"
         << "protected-mode no\n"
         << "daemonize no\n"
         << "logfile \"\"\n"
         << "dir " << s.dir << "\n"
         << "sentinel monitor " << master_name << " 127.0.0.1 " << master_port_ << " 2\n"
         << "sentinel down-after-milliseconds " << master_name << " 500\n"
         << "sentinel failover-timeout " << master_name << " 3000\n"
         << "sentinel parallel-syncs " << master_name << " 1\n";
    if (!opt_.data_password.empty())
      conf << "sentinel auth-pass " << master_name << " " << opt_.data_password << "\n";
    if (!opt_.sentinel_password.empty())
      conf << "requirepass " << opt_.sentinel_password << "\n"
           << "sentinel sentinel-pass " << opt_.sentinel_password << "\n";
    if (!conf) throw std::runtime_error("cannot write " + s.config);
  }
  s.proc = std::make_unique<process>(redis_server_binary,
                                     std::vector<std::string>{s.config, "--sentinel"});
  const auto deadline = steady::now() + 10s;
  while (steady::now() < deadline) {
    if (!s.proc->running()) return false;  // e.g. the port was taken meanwhile
    if (accepts_connections(s.port) && cli(s.port, {"PING"}) == "PONG") return true;
    std::this_thread::sleep_for(5ms);  // polling the new sentinel
  }
  s.proc.reset();
  return false;
}

void sentinel_cluster::wait_until_settled(std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  std::string last;
  for (;;) {
    bool ok = true;
    for (auto& s : sentinels_) {
      const auto addr = lines_of(cli(s.port, {"SENTINEL", "get-master-addr-by-name", master_name}));
      if (addr.size() != 2 || addr[1] != std::to_string(master_port_)) {
        ok = false;
        last = "sentinel " + std::to_string(s.port) + " reports the master as: " +
               (addr.empty() ? "" : addr[0]) + (addr.size() > 1 ? ":" + addr[1] : "");
        break;
      }
      const auto replicas = entries_of(cli(s.port, {"SENTINEL", "replicas", master_name}));
      for (auto& n : nodes_) {
        if (n->port() == master_port_ || !n->running()) continue;
        if (!has_healthy_port(replicas, n->port())) {
          ok = false;
          last = "sentinel " + std::to_string(s.port) + " does not know replica " +
                 std::to_string(n->port());
        }
      }
      const auto others = entries_of(cli(s.port, {"SENTINEL", "sentinels", master_name}));
      for (auto& o : sentinels_) {
        if (o.port == s.port || has_healthy_port(others, o.port)) continue;
        ok = false;
        last = "sentinel " + std::to_string(s.port) + " does not know sentinel " +
               std::to_string(o.port);
      }
      if (!ok) break;
    }
    if (ok) return;
    if (steady::now() > deadline)
      throw std::runtime_error("the sentinels did not settle (" + last + "):\n" + diagnostics());
    std::this_thread::sleep_for(50ms);  // polling the sentinels' view
  }
}

std::vector<std::uint16_t> sentinel_cluster::sentinel_ports() const {
  std::vector<std::uint16_t> out;
  for (auto& s : sentinels_) out.push_back(s.port);
  return out;
}

std::vector<std::uint16_t> sentinel_cluster::data_ports() const {
  std::vector<std::uint16_t> out;
  for (auto& n : nodes_) out.push_back(n->port());
  return out;
}

std::uint16_t sentinel_cluster::master_port() {
  std::string last;
  for (auto& s : sentinels_) {
    if (!s.proc || !s.proc->running()) continue;
    const auto addr =
        lines_of(cli(s.port, {"SENTINEL", "get-master-addr-by-name", master_name}, 2s));
    if (addr.size() == 2 && !addr[1].empty() &&
        std::all_of(addr[1].begin(), addr[1].end(), [](char c) { return c >= '0' && c <= '9'; }))
      return static_cast<std::uint16_t>(std::stoi(addr[1]));
    last = addr.empty() ? "" : addr[0];
  }
  throw std::runtime_error("no sentinel reports the master (" + last + ")");
}

std::string sentinel_cluster::url() const {
  std::string out = "redis+sentinel://";
  for (std::size_t i = 0; i < sentinels_.size(); ++i)
    out += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(sentinels_[i].port);
  return out + "/" + master_name;
}

void sentinel_cluster::kill_master() { node(master_port()).kill(); }

void sentinel_cluster::pause_master() {
  paused_port_ = master_port();
  node(paused_port_).pause();
}

void sentinel_cluster::resume_master() {
  if (paused_port_) node(paused_port_).resume();
  paused_port_ = 0;
}

std::uint16_t sentinel_cluster::wait_for_failover(std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  std::string last;
  for (;;) {
    std::uint16_t agreed = 0;
    bool ok = true;
    for (auto& s : sentinels_) {
      if (!s.proc || !s.proc->running()) continue;
      const auto addr =
          lines_of(cli(s.port, {"SENTINEL", "get-master-addr-by-name", master_name}, 2s));
      const std::string port = addr.size() == 2 ? addr[1] : "";
      last = "sentinel " + std::to_string(s.port) + " reports master port '" + port + "'";
      if (port.empty() || port == std::to_string(master_port_) ||
          (agreed && port != std::to_string(agreed))) {
        ok = false;
        break;
      }
      agreed = static_cast<std::uint16_t>(std::stoi(port));
    }
    if (ok && agreed) {
      const std::string r = role(agreed);
      if (r == "master") {
        master_port_ = agreed;
        return agreed;
      }
      last = "the new master " + std::to_string(agreed) + " says its role is '" + r + "'";
    }
    if (steady::now() > deadline)
      throw std::runtime_error("no failover within " + std::to_string(timeout.count()) + " ms (" +
                               last + "):\n" + diagnostics());
    std::this_thread::sleep_for(20ms);  // polling the sentinels' view
  }
}

void sentinel_cluster::stop_sentinels() {
  for (auto& s : sentinels_) {
    if (!s.proc || !s.proc->running()) continue;
    s.proc->signal(SIGTERM);
    if (!s.proc->wait(10s)) {
      s.proc->signal(SIGKILL);
      s.proc->wait(10s);
    }
  }
}

void sentinel_cluster::start_sentinels() {
  for (auto& s : sentinels_) {
    if (s.proc && s.proc->running()) continue;
    bool up = false;
    // The port may still be held for a moment by the old process's sockets: retry on it.
    for (int tries = 0; tries < 50 && !up; ++tries) {
      up = launch_sentinel(s, false);
      if (!up) std::this_thread::sleep_for(100ms);  // waiting for the port
    }
    if (!up)
      throw std::runtime_error("redis-sentinel did not restart on port " + std::to_string(s.port) +
                               ":\n" + diagnostics());
  }
  wait_until_settled(30s);
}

std::string sentinel_cluster::cli(std::uint16_t port, std::vector<std::string> args,
                                  std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{"-h", "127.0.0.1", "-p", std::to_string(port)};
  const bool sentinel = std::any_of(sentinels_.begin(), sentinels_.end(),
                                    [&](const auto& s) { return s.port == port; });
  const auto& password = sentinel ? opt_.sentinel_password : opt_.data_password;
  if (!password.empty()) argv.insert(argv.end(), {"--no-auth-warning", "-a", password});
  argv.insert(argv.end(), args.begin(), args.end());
  process p(redis_cli_binary, argv);
  if (!p.wait(timeout)) throw std::runtime_error("redis-cli timed out; output so far: " + p.output());
  std::string out = p.output();
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string sentinel_cluster::role(std::uint16_t port) {
  try {
    const auto lines = lines_of(cli(port, {"ROLE"}, 1s));
    return lines.empty() ? "" : lines[0];
  } catch (const std::runtime_error&) {
    return "";  // paused or hung
  }
}

redis_server& sentinel_cluster::node(std::uint16_t port) {
  for (auto& n : nodes_)
    if (n->port() == port) return *n;
  throw std::runtime_error("no data node on port " + std::to_string(port));
}

std::string sentinel_cluster::diagnostics() {
  std::string out;
  for (auto& n : nodes_) {
    out += "--- redis-server " + std::to_string(n->port()) + ": ";
    if (!n->running()) {
      out += "not running\n";
      continue;
    }
    try {
      out += "\n" + cli(n->port(), {"INFO", "replication"}, 1s) + "\n";
    } catch (const std::runtime_error& e) {
      out += std::string(e.what()) + "\n";
    }
  }
  for (auto& s : sentinels_) {
    out += "--- sentinel " + std::to_string(s.port) + " log:\n";
    if (s.proc) out += s.proc->output();
  }
  return out;
}

}  // namespace wcp::test
