// Fuzzes config file parsing through the whole loader: the input is written to a file in a
// per-process temporary directory and loaded as `webex-cache-proxy --config FILE --check-config`
// with an empty environment. config_error is the expected answer to bad input; any other
// exception escaping load() is a bug and is left to crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "config/config.hpp"

#define FUZZ_CHECK(cond)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                           \
    }                                                                         \
  } while (0)

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
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
