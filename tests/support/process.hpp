// Runs a real executable for end-to-end tests: its output goes to a file the test can read and
// wait on; the destructor kills and reaps it, so a failing test cannot leave it behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wcp::test {

class process {
 public:
  // `env` is added to this process's environment, minus any WEBEX_CACHE_PROXY_* variables.
  // `JOURNAL_STREAM=@output` becomes the output file's device:inode (the process then writes to
  // what it takes for the journal).
  process(std::string binary, std::vector<std::string> args, std::vector<std::string> env = {});
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  pid_t pid() const noexcept { return pid_; }
  // Everything the process wrote to stdout and stderr so far.
  std::string output() const;
  // Waits for a line containing `needle` (after `from` bytes of output); returns the line.
  // Throws std::runtime_error on timeout or when the process exits first.
  std::string wait_for_output(std::string_view needle,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10),
                              std::size_t from = 0);
  void signal(int sig);
  // The exit code (or 128 + signal), or nullopt while still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> status_;
};

// The daemon under test, on ephemeral loopback ports it reports in its log.
struct proxy_process {
  std::unique_ptr<process> proc;
  std::uint16_t port = 0;
  std::uint16_t admin_port = 0;
};

// Starts the daemon with `args` (after --listen/--admin-listen on 127.0.0.1:0) and waits until
// both listeners are up. WCP_PROXY_BINARY in the environment names another binary to run.
proxy_process start_proxy(std::vector<std::string> args, std::vector<std::string> env = {});

// The whole file ("" when it cannot be read).
std::string read_file(const std::string& path);

// A fresh empty directory under the system temp dir.
std::string make_temp_dir(std::string_view prefix);

}  // namespace wcp::test
