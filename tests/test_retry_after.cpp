#include <doctest/doctest.h>

#include "proxy/retry_after.hpp"

using namespace std::chrono;
using wcp::proxy::parse_http_date;
using wcp::proxy::retry_after_wait;

namespace {
const auto now = sys_days{year{2026} / 11 / 25} + hours{12};  // Wed, 25 Nov 2026 12:00:00 GMT
constexpr milliseconds fallback = seconds(5);
constexpr milliseconds cap = seconds(300);
milliseconds wait(std::string_view v) { return retry_after_wait(v, now, fallback, cap); }
}  // namespace

TEST_CASE("delta-seconds") {
  CHECK(wait("1") == seconds(1));
  CHECK(wait("30") == seconds(30));
  CHECK(wait(" 7 ") == seconds(7));
  CHECK(wait("300") == seconds(300));
}

TEST_CASE("values above the cap are capped - without overflow") {
  CHECK(wait("301") == cap);
  CHECK(wait("86400") == cap);
  CHECK(wait("99999999999999999999999999") == cap);
}

TEST_CASE("missing - zero - negative and garbage give the default backoff") {
  CHECK(wait("") == fallback);
  CHECK(wait("0") == fallback);
  CHECK(wait("000") == fallback);
  CHECK(wait("-5") == fallback);
  CHECK(wait("rand(30),add(30)") == fallback);
  CHECK(wait("1.5") == fallback);
  CHECK(wait("soon") == fallback);
  CHECK(wait("5s") == fallback);
  CHECK(wait(std::string_view("\0", 1)) == fallback);
}

TEST_CASE("HTTP-dates in all three forms") {
  CHECK(wait("Wed, 25 Nov 2026 12:00:30 GMT") == seconds(30));
  CHECK(wait("Wednesday, 25-Nov-26 12:01:00 GMT") == seconds(60));
  CHECK(wait("Wed Nov 25 12:00:10 2026") == seconds(10));
  CHECK(wait("Wed Nov  5 12:00:10 2026").count() == fallback.count());  // in the past
}

TEST_CASE("HTTP-dates in the past or far future") {
  CHECK(wait("Wed, 25 Nov 2026 11:59:00 GMT") == fallback);
  CHECK(wait("Sun, 06 Nov 1994 08:49:37 GMT") == fallback);
  CHECK(wait("Fri, 25 Dec 2026 12:00:00 GMT") == cap);
}

TEST_CASE("malformed dates are not dates") {
  CHECK_FALSE(parse_http_date("Wed, 31 Feb 2026 12:00:00 GMT").has_value());
  CHECK_FALSE(parse_http_date("Wed, 25 Nov 2026 25:00:00 GMT").has_value());
  CHECK_FALSE(parse_http_date("Wed, 25 Nov 2026 12:00:00 UTC").has_value());
  CHECK_FALSE(parse_http_date("Wed, 25 Nov 2026 12:00:00 GMT trailing").has_value());
  CHECK_FALSE(parse_http_date("25 Nov 2026").has_value());
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").has_value());
  // Found by fuzzing: years the clock cannot hold are not dates (and must not overflow).
  CHECK_FALSE(parse_http_date("Sun Nov  6 08:49:37 3988").has_value());
  CHECK_FALSE(parse_http_date("Sat, 01 Jun 1012 13:00:30 GMT").has_value());
  CHECK(wait("Sat, 01 Jun 3204 12:00:30 GMT") == fallback);
  CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"));
  CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"));
}

TEST_CASE("the wait is never zero while the default is not") {
  for (const char* v : {"", "0", "x", "Thu, 01 Jan 1970 00:00:00 GMT"}) CHECK(wait(v) > milliseconds(0));
}
