#include "proxy/round_trip.hpp"

#include <algorithm>
#include <cmath>

namespace wcp::proxy {

round_trip_estimate::round_trip_estimate(std::chrono::milliseconds initial)
    : srtt_(std::chrono::duration<double>(initial).count()), rttvar_(srtt_ / 2) {}

void round_trip_estimate::observe(std::chrono::duration<double> took) {
  const double r = std::max(0.0, took.count());
  std::lock_guard lock(mu_);
  if (first_) {
    // RFC 6298 2.2: the first measurement sets both.
    srtt_ = r;
    rttvar_ = r / 2;
    first_ = false;
    return;
  }
  rttvar_ = 0.75 * rttvar_ + 0.25 * std::abs(srtt_ - r);
  srtt_ = 0.875 * srtt_ + 0.125 * r;
}

std::chrono::milliseconds round_trip_estimate::ample(std::chrono::milliseconds floor) const {
  double srtt, rttvar;
  {
    std::lock_guard lock(mu_);
    srtt = srtt_;
    rttvar = rttvar_;
  }
  const double allowance = std::max(std::chrono::duration<double>(floor).count(), 4 * rttvar);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil((srtt + allowance) * 1000 - 1e-6)));
}

}  // namespace wcp::proxy
