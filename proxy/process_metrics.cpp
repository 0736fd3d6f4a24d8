#include "proxy/process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace wcp::proxy {

namespace {

// The fields of /proc/self/stat this collector uses; zero when it cannot be read.
struct proc_stat {
  double cpu_seconds = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
};

proc_stat read_stat() {
  proc_stat out;
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  // Field 3 is the first after the name; utime is 14, stime 15, vsize 23, rss 24.
  unsigned long long utime = 0, stime = 0, vsize = 0;
  long long rss = 0;
  for (int i = 3; i <= 24 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
    if (i == 23) vsize = std::stoull(f);
    if (i == 24) rss = std::stoll(f);
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  out.cpu_seconds = ticks > 0 ? static_cast<double>(utime + stime) / ticks : 0;
  out.virtual_bytes = static_cast<double>(vsize);
  out.resident_bytes = static_cast<double>(rss) * static_cast<double>(sysconf(_SC_PAGESIZE));
  return out;
}

double open_fds() {
  std::error_code ec;
  double n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec))
    ++n;
  return n;
}

double max_fds() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 0;
  return static_cast<double>(lim.rlim_cur);
}

}  // namespace

void register_process_metrics(registry& r) {
  // Taken when the collector is registered, at start-up: /proc/stat (boot time) is not visible
  // under ProcSubset=pid.
  const double started =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  r.add_gauge_fn("process_resident_memory_bytes", "Resident memory size in bytes.",
                 [] { return read_stat().resident_bytes; });
  r.add_gauge_fn("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                 [] { return read_stat().virtual_bytes; });
  r.add_gauge_fn("process_open_fds", "Number of open file descriptors.", [] { return open_fds(); });
  r.add_gauge_fn("process_max_fds", "Maximum number of open file descriptors.",
                 [] { return max_fds(); });
  r.add_counter_fn("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                   [] { return read_stat().cpu_seconds; });
  r.add_gauge_fn("process_start_time_seconds",
                 "Start time of the process since unix epoch in seconds.",
                 [started] { return started; });
}

}  // namespace wcp::proxy
