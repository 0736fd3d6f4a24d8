// How long upstream takes to answer, as TCP estimates a round trip (RFC 6298): a smoothed time and
// its smoothed deviation. A background refresh is sent this long before its entry's freshness
// ends, so that its answer is in before the entry expires, and not much earlier.
#pragma once

#include <chrono>
#include <mutex>

namespace wcp::proxy {

class round_trip_estimate {
 public:
  // `initial`: what is assumed before the first answer.
  explicit round_trip_estimate(std::chrono::milliseconds initial);

  // One upstream exchange took this long.
  void observe(std::chrono::duration<double> took);

  // The time within which nearly every answer comes: smoothed time + 4 × deviation (at least
  // `floor` of deviation allowance, for the clock's and the scheduler's jitter).
  std::chrono::milliseconds ample(std::chrono::milliseconds floor) const;

 private:
  mutable std::mutex mu_;
  bool first_ = true;
  double srtt_;    // seconds
  double rttvar_;  // seconds
};

}  // namespace wcp::proxy
