// Retry-After, as Webex sends it with 429 and 423: delta-seconds or an HTTP-date. Pure.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace wcp::proxy {

// How long to wait. Missing, 0, negative, a date not in the future, or anything unparsable
// (Webex has sent "rand(30),add(30)") → `fallback`; more than `cap` → `cap`. Never zero unless
// `fallback` is.
std::chrono::milliseconds retry_after_wait(std::string_view value,
                                           std::chrono::system_clock::time_point now,
                                           std::chrono::milliseconds fallback,
                                           std::chrono::milliseconds cap);

// An HTTP-date (IMF-fixdate, RFC 850 or asctime form) as a time; nullopt if it is not one.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text);

}  // namespace wcp::proxy
