#include <doctest/doctest.h>

#include "proxy/round_trip.hpp"

using namespace std::chrono;
using wcp::proxy::round_trip_estimate;

TEST_CASE("before any answer: the initial time and half of it again four times over") {
  round_trip_estimate e(milliseconds(200));
  CHECK(e.ample(milliseconds(10)) == milliseconds(200 + 4 * 100));
}

TEST_CASE("a steady upstream: the lead comes down to its time plus the floor") {
  round_trip_estimate e(milliseconds(200));
  for (int i = 0; i < 200; ++i) e.observe(milliseconds(120));
  const auto lead = e.ample(milliseconds(20));
  CHECK(lead >= milliseconds(140));
  CHECK(lead <= milliseconds(141));
}

TEST_CASE("an upstream that varies: the lead covers its slow answers") {
  round_trip_estimate e(milliseconds(200));
  for (int i = 0; i < 200; ++i) e.observe(milliseconds(i % 2 ? 100 : 300));
  // Mean 200 ms, every answer 100 ms off it: the deviation term is about 400 ms.
  const auto lead = e.ample(milliseconds(20));
  CHECK(lead >= milliseconds(300));
  CHECK(lead <= milliseconds(700));
}

TEST_CASE("one slow answer raises the lead at once; it comes down again as answers are quick") {
  round_trip_estimate e(milliseconds(100));
  for (int i = 0; i < 100; ++i) e.observe(milliseconds(100));
  const auto steady = e.ample(milliseconds(10));
  e.observe(seconds(2));
  const auto after_slow = e.ample(milliseconds(10));
  CHECK(after_slow >= steady + milliseconds(1500));
  for (int i = 0; i < 100; ++i) e.observe(milliseconds(100));
  CHECK(e.ample(milliseconds(10)) <= steady + milliseconds(5));
}
