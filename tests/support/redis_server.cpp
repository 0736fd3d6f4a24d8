#include "support/redis_server.hpp"

#include "support/loopback.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace wcp::test {

namespace {

constexpr const char* redis_server_binary = "/usr/bin/redis-server";
constexpr const char* redis_cli_binary = "/usr/bin/redis-cli";

using steady = std::chrono::steady_clock;

// True when something on the port answers PING with any RESP reply (+PONG, or -NOAUTH when a
// password is required).
bool answers_ping(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const char ping[] = "PING\r\n";
    if (::send(fd, ping, sizeof ping - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof ping - 1)) {
      pollfd p{fd, POLLIN, 0};
      char buf[64];
      if (::poll(&p, 1, 200) == 1) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        ok = n > 0 && (buf[0] == '+' || buf[0] == '-');
      }
    }
  }
  ::close(fd);
  return ok;
}

}  // namespace

redis_server::redis_server(std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)), dir_(make_temp_dir("wcp-redis-")) {
  for (std::size_t i = 0; i + 1 < extra_args_.size(); ++i)
    if (extra_args_[i] == "--requirepass") password_ = extra_args_[i + 1];
  for (int tries = 0; tries < 10; ++tries) {
    // A port the kernel just handed out; another process may take it before us (then we retry).
    port_ = free_loopback_port();
    if (launch()) return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  throw std::runtime_error("redis-server did not start");
}

redis_server::~redis_server() {
  proc_.reset();  // SIGKILL and reap
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string redis_server::url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

bool redis_server::launch() {
  std::vector<std::string> args{"--port",          std::to_string(port_),
                                "--bind",          "127.0.0.1",
                                "--save",          "",
                                "--appendonly",    "no",
                                "--protected-mode", "no",
                                "--dir",           dir_};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  proc_ = std::make_unique<process>(redis_server_binary, args);
  const auto deadline = steady::now() + std::chrono::seconds(10);
  while (steady::now() < deadline) {
    if (!proc_->running()) return false;  // e.g. the port was taken meanwhile
    if (answers_ping(port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling the new server
  }
  proc_.reset();
  return false;
}

void redis_server::stop() {
  if (!proc_ || !proc_->running()) return;
  proc_->signal(SIGCONT);  // a paused server cannot act on SIGTERM
  proc_->signal(SIGTERM);
  if (!proc_->wait(std::chrono::seconds(10))) kill();
}

void redis_server::kill() {
  if (!proc_ || !proc_->running()) return;
  proc_->signal(SIGKILL);
  proc_->wait(std::chrono::seconds(10));
}

void redis_server::restart() {
  stop();
  // The port may still be held for a moment by the old process's sockets: retry on it.
  for (int tries = 0; tries < 50; ++tries) {
    if (launch()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // waiting for the port
  }
  throw std::runtime_error("redis-server did not restart on port " + std::to_string(port_));
}

void redis_server::pause() {
  if (proc_) proc_->signal(SIGSTOP);
}

void redis_server::resume() {
  if (proc_) proc_->signal(SIGCONT);
}

bool redis_server::running() { return proc_ && proc_->running(); }

std::string redis_server::cli(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv_s{redis_cli_binary, "-h", "127.0.0.1", "-p",
                                  std::to_string(port_)};
  if (!password_.empty()) {
    argv_s.insert(argv_s.end(), {"-a", password_, "--no-auth-warning"});
  }
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, redis_cli_binary, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    throw std::runtime_error(std::string("cannot start redis-cli: ") + std::strerror(rc));
  }

  std::string out;
  const auto deadline = steady::now() + timeout;
  bool timed_out = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{pipe_fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (timed_out) throw std::runtime_error("redis-cli timed out; output so far: " + out);
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace wcp::test
