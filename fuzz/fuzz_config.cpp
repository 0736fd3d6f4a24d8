// Fuzzes configuration loading through the whole loader, from all three sources:
//  - the input as a config file, written to a per-process temporary directory and loaded as
//    `webex-cache-proxy --config FILE --check-config` with an empty environment;
//  - its lines as command-line arguments, and as an environment block (a setting naming another
//    config file is left out: that file could be a FIFO or /dev/zero).
// config_error is the expected answer to bad input; any other exception escaping load() is a bug
// and is left to crash, and a hang is reported by libFuzzer's timeout.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>
#include <unistd.h>

#include "config/config.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

std::string temp_dir;
std::string config_path;

void remove_temp() {
  if (!config_path.empty()) ::unlink(config_path.c_str());
  if (!temp_dir.empty()) ::rmdir(temp_dir.c_str());
}

const std::string& path() {
  if (config_path.empty()) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/wcp-fuzz-config.XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    temp_dir = tmpl;
    config_path = temp_dir + "/webex-cache-proxy.conf";
    std::atexit(remove_temp);
  }
  return config_path;
}

void write_file(const std::string& p, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(p.c_str(), "wb");
  if (f == nullptr) {
    std::perror("fopen");
    std::abort();
  }
  if (size && std::fwrite(data, 1, size, f) != size) {
    std::perror("fwrite");
    std::abort();
  }
  std::fclose(f);
}

// Loads with these arguments (after the program name) and environment; a config_error must
// carry a message.
void load_from(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<const char*> argv{"webex-cache-proxy"};
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  std::vector<const char*> envp;
  for (const auto& e : env) envp.push_back(e.c_str());
  envp.push_back(nullptr);
  try {
    const auto r = wcp::config::load(static_cast<int>(argv.size() - 1), argv.data(), envp.data());
    if (r.what == wcp::config::action::check_config || r.what == wcp::config::action::run)
      wcp::config::validate(r.cfg);
  } catch (const wcp::config::config_error& e) {
    FUZZ_CHECK(e.what() != nullptr && *e.what() != '\0');
  }
}

// The input's lines, without those that would name another config file to read.
std::vector<std::string> lines_of(const uint8_t* data, size_t size) {
  std::vector<std::string> lines;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty() && lines.size() < 64) {
    const auto nl = rest.find('\n');
    std::string line(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    std::string lower = line;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("config") != std::string::npos && lower.find("check") == std::string::npos)
      continue;
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto lines = lines_of(data, size);
  load_from(lines, {});
  load_from({"--check-config"}, lines);

  const std::string& p = path();
  write_file(p, data, size);

  const char* const argv[] = {"webex-cache-proxy", "--config", p.c_str(), "--check-config", nullptr};
  const char* const environ_block[] = {nullptr};
  wcp::config::load_result r;
  try {
    r = wcp::config::load(4, argv, environ_block);
  } catch (const wcp::config::config_error& e) {
    FUZZ_CHECK(e.what() != nullptr && *e.what() != '\0');
    return 0;
  }
  FUZZ_CHECK(r.what == wcp::config::action::check_config);
  FUZZ_CHECK(r.cfg.check_config);
  FUZZ_CHECK(r.cfg.config_file == p);
  // What load() accepted passes validate() on its own, and --check-config can print it.
  wcp::config::validate(r.cfg);
  FUZZ_CHECK(!wcp::config::describe(r.cfg).empty());
  return 0;
}
