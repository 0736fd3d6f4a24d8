// The standard Prometheus process collector, read from /proc/self at every scrape:
// process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
// process_max_fds, process_cpu_seconds_total and process_start_time_seconds (no prefix, as the
// client libraries name them). Works under the unit's ProcSubset=pid (only /proc/self is read).
#pragma once

#include "proxy/metrics.hpp"

namespace wcp::proxy {

void register_process_metrics(registry& r);

}  // namespace wcp::proxy
