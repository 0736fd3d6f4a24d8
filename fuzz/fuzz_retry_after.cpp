// Fuzzes Retry-After: the input is the header value. Every value must give a wait in (0, cap]
// whenever fallback and cap are positive, at several clocks and (fallback, cap) pairs.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "proxy/retry_after.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace std::chrono;
  const std::string_view value(reinterpret_cast<const char*>(data), size);

  (void)wcp::proxy::parse_http_date(value);

  // Fixed clocks so that a crash reproduces: the epoch, 2024-06-01T12:00:00Z, 2100-01-01.
  const system_clock::time_point nows[] = {
      system_clock::time_point{},
      sys_days{year{2024} / June / 1} + hours{12},
      sys_days{year{2100} / January / 1},
  };
  struct limits {
    milliseconds fallback, cap;
  };
  const limits pairs[] = {
      {milliseconds(5000), milliseconds(300000)},  // the defaults
      {milliseconds(1), milliseconds(1)},
      {milliseconds(600000), milliseconds(10000)},  // fallback above the cap
      {milliseconds(1), milliseconds(INT64_MAX / 2)},
  };
  for (const auto now : nows) {
    for (const auto& l : pairs) {
      const milliseconds w = wcp::proxy::retry_after_wait(value, now, l.fallback, l.cap);
      FUZZ_CHECK(w.count() > 0);
      FUZZ_CHECK(w <= l.cap);
    }
  }
  return 0;
}
