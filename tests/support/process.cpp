#include "support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace wcp::test {

namespace {

std::uint16_t port_after(const std::string& line, std::string_view marker) {
  auto at = line.find(marker);
  if (at == std::string::npos) throw std::runtime_error("no address in: " + line);
  auto colon = line.find_last_of(':');
  return static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)));
}

}  // namespace

std::string make_temp_dir(std::string_view prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (std::string(prefix) + "XXXXXX"));
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

process::process(std::string binary, std::vector<std::string> args, std::vector<std::string> env) {
  log_path_ = make_temp_dir("wcp-proc-") + "/output.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);

  std::vector<std::string> argv_s{binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "WEBEX_CACHE_PROXY_", 18) != 0 && std::strncmp(*e, "JOURNAL_STREAM=", 15) != 0)
      env_s.emplace_back(*e);
  // JOURNAL_STREAM=@output: the output file's "device:inode", as systemd names the journal stream
  // it connects to a service's standard error.
  for (auto& e : env) {
    if (e != "JOURNAL_STREAM=@output") continue;
    const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT, 0644);
    struct stat st {};
    ::fstat(fd, &st);
    ::close(fd);
    e = "JOURNAL_STREAM=" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  }
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  const int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + binary + ": " + std::strerror(rc));
}

process::~process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
  std::error_code ec;
  std::filesystem::remove_all(std::filesystem::path(log_path_).parent_path(), ec);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string process::output() const { return read_file(log_path_); }

std::string process::wait_for_output(std::string_view needle, std::chrono::milliseconds timeout,
                                     std::size_t from) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::string out = output();
    auto at = out.find(needle, std::min(from, out.size()));
    if (at != std::string::npos) {
      auto start = out.rfind('\n', at);
      start = start == std::string::npos ? 0 : start + 1;
      auto end = out.find('\n', at);
      return out.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    if (!running())
      throw std::runtime_error("process exited before printing '" + std::string(needle) +
                               "'; output:\n" + out);
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("timed out waiting for '" + std::string(needle) + "'; output:\n" +
                               out);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling the log file
  }
}

void process::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<int> process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!status_) {
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (r < 0) {
      status_ = -1;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling the child's state
  }
  return status_;
}

bool process::running() { return !wait(std::chrono::milliseconds(0)).has_value(); }

proxy_process start_proxy(std::vector<std::string> args, std::vector<std::string> env) {
  std::vector<std::string> all{"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"};
  all.insert(all.end(), args.begin(), args.end());
  proxy_process p;
  // WCP_PROXY_BINARY in the environment runs another build (a benchmark against an older one).
  const char* binary = std::getenv("WCP_PROXY_BINARY");
  p.proc = std::make_unique<process>(binary && *binary ? binary : WCP_PROXY_BINARY, all, env);
  p.port = port_after(p.proc->wait_for_output("client listener"), "client listener");
  p.admin_port = port_after(p.proc->wait_for_output("admin listener"), "admin listener");
  return p;
}

}  // namespace wcp::test
