#include "support/squid_server.hpp"

#include "support/loopback.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace wcp::test {

namespace {

constexpr const char* squid_binary = "/usr/sbin/squid";
constexpr const char* ncsa_auth_helper = "/usr/lib/squid/basic_ncsa_auth";

using steady = std::chrono::steady_clock;

}  // namespace

bool squid_installed() { return ::access(squid_binary, X_OK) == 0; }

squid_server::squid_server(squid_options options)
    : options_(std::move(options)), dir_(make_temp_dir("wcp-squid-")) {
  if (!squid_installed())
    throw std::runtime_error(std::string(squid_binary) + " is not installed (.ci/install-deps installs squid)");
  // Started as root, squid runs as its effective user (Debian: proxy), which must write here.
  if (::geteuid() == 0) {
    if (const passwd* pw = ::getpwnam("proxy")) {
      if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
        throw std::runtime_error("cannot give " + dir_ + " to the proxy user");
    }
  }
  if (!options_.user.empty())
    std::ofstream(dir_ + "/passwd") << options_.user << ':' << options_.password_hash << '\n';
  for (int tries = 0; tries < 10; ++tries) {
    port_ = free_loopback_port();
    if (launch()) return;
  }
  const std::string why = proc_ ? proc_->output() + read_file(dir_ + "/cache.log") : std::string();
  proc_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  throw std::runtime_error("squid did not start: " + why);
}

squid_server::~squid_server() {
  // SIGKILL and reap: a SIGTERM costs a second (Squid's shutdown waits for its next tick). Its
  // helpers (basic_ncsa_auth) exit when their stdin closes.
  proc_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string squid_server::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string squid_server::access_log() const { return read_file(dir_ + "/access.log"); }

std::string squid_server::wait_for_access(std::string_view needle,
                                          std::chrono::milliseconds timeout) const {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    const std::string log = access_log();
    if (const auto at = log.find(needle); at != std::string::npos) {
      auto start = log.rfind('\n', at);
      start = start == std::string::npos ? 0 : start + 1;
      const auto end = log.find('\n', at);
      return log.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    if (steady::now() > deadline)
      throw std::runtime_error("squid logged no line with '" + std::string(needle) +
                               "'; access log:\n" + log);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling the log file
  }
}

bool squid_server::launch() {
  std::ostringstream conf;
  conf << "http_port 127.0.0.1:" << port_ << "\n"
       << "visible_hostname webex-cache-proxy-test\n"
       << "pid_filename " << dir_ << "/squid.pid\n"
       << "access_log stdio:" << dir_ << "/access.log\n"
       << "cache_log " << dir_ << "/cache.log\n"
       << "coredump_dir " << dir_ << "\n"
       << "cache_store_log none\n"
       << "cache deny all\n"
       << "cache_mem 1 MB\n"
       << "pinger_enable off\n"
       << "icp_port 0\n"
       << "htcp_port 0\n"
       << "shutdown_lifetime 0 seconds\n"
       << "acl CONNECT method CONNECT\n";
  if (!options_.connect_ports.empty()) {
    conf << "acl tunnel_ports port";
    for (auto p : options_.connect_ports) conf << ' ' << p;
    conf << "\nhttp_access deny CONNECT !tunnel_ports\n";
  }
  if (!options_.user.empty()) {
    conf << "auth_param basic program " << ncsa_auth_helper << ' ' << dir_ << "/passwd\n"
         << "auth_param basic children 1 startup=1 idle=1\n"
         << "auth_param basic realm webex-cache-proxy-test\n"
         << "acl authenticated proxy_auth REQUIRED\n"
         << "http_access allow CONNECT authenticated\n";
  } else {
    conf << "http_access allow CONNECT\n";
  }
  conf << "http_access deny all\n";
  const std::string conf_path = dir_ + "/squid.conf";
  std::ofstream(conf_path) << conf.str();

  proc_ = std::make_unique<process>(squid_binary, std::vector<std::string>{"-N", "-f", conf_path});
  const auto deadline = steady::now() + std::chrono::seconds(10);
  while (steady::now() < deadline) {
    if (!proc_->running()) return false;  // e.g. the port was taken meanwhile
    if (accepts_connections(port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling the new server
  }
  proc_.reset();
  return false;
}

}  // namespace wcp::test
