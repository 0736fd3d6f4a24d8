#include "proxy/retry_after.hpp"

#include <array>
#include <cctype>
#include <cstdint>

namespace wcp::proxy {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Reads exactly `n` digits.
bool digits(std::string_view& s, std::size_t n, int& out) {
  if (s.size() < n) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  s.remove_prefix(n);
  return true;
}

bool literal(std::string_view& s, std::string_view lit) {
  if (s.substr(0, lit.size()) != lit) return false;
  s.remove_prefix(lit.size());
  return true;
}

bool month(std::string_view& s, int& m) {
  static constexpr std::array<std::string_view, 12> names = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i)
    if (literal(s, names[i])) {
      m = i + 1;
      return true;
    }
  return false;
}

bool weekday(std::string_view& s, bool long_form) {
  static constexpr std::array<std::string_view, 7> short_names = {"Mon", "Tue", "Wed", "Thu",
                                                                  "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 7> long_names = {
      "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
  for (auto n : long_form ? long_names : short_names)
    if (literal(s, n)) return true;
  return false;
}

bool clock(std::string_view& s, int& h, int& mi, int& sec) {
  return digits(s, 2, h) && literal(s, ":") && digits(s, 2, mi) && literal(s, ":") &&
         digits(s, 2, sec) && h < 24 && mi < 60 && sec <= 60;
}

std::optional<std::chrono::system_clock::time_point> make_time(int y, int m, int d, int h, int mi,
                                                               int sec) {
  using namespace std::chrono;
  // The clock counts nanoseconds (years ~1678-2262); a date outside 1900-2200 is no real
  // Retry-After and must not overflow it.
  if (y < 1900 || y > 2200) return std::nullopt;
  const year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(m)},
                           std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec};
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text) {
  std::string_view s = trim(text);
  int y = 0, m = 0, d = 0, h = 0, mi = 0, sec = 0;
  {  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    std::string_view t = s;
    if (weekday(t, false) && literal(t, ", ") && digits(t, 2, d) && literal(t, " ") && month(t, m) &&
        literal(t, " ") && digits(t, 4, y) && literal(t, " ") && clock(t, h, mi, sec) &&
        literal(t, " GMT") && t.empty())
      return make_time(y, m, d, h, mi, sec);
  }
  {  // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
    std::string_view t = s;
    if (weekday(t, true) && literal(t, ", ") && digits(t, 2, d) && literal(t, "-") && month(t, m) &&
        literal(t, "-") && digits(t, 2, y) && literal(t, " ") && clock(t, h, mi, sec) &&
        literal(t, " GMT") && t.empty())
      return make_time(y < 70 ? 2000 + y : 1900 + y, m, d, h, mi, sec);
  }
  {  // asctime: Sun Nov  6 08:49:37 1994
    std::string_view t = s;
    if (weekday(t, false) && literal(t, " ") && month(t, m) && literal(t, " ")) {
      if (!t.empty() && t.front() == ' ') {
        t.remove_prefix(1);
        if (!digits(t, 1, d)) return std::nullopt;
      } else if (!digits(t, 2, d)) {
        return std::nullopt;
      }
      if (literal(t, " ") && clock(t, h, mi, sec) && literal(t, " ") && digits(t, 4, y) && t.empty())
        return make_time(y, m, d, h, mi, sec);
    }
  }
  return std::nullopt;
}

std::chrono::milliseconds retry_after_wait(std::string_view value,
                                           std::chrono::system_clock::time_point now,
                                           std::chrono::milliseconds fallback,
                                           std::chrono::milliseconds cap) {
  using std::chrono::milliseconds;
  auto bounded = [&](milliseconds w) {
    if (w.count() <= 0) return std::min(fallback, cap);
    return std::min(w, cap);
  };
  const std::string_view s = trim(value);
  if (s.empty()) return bounded(milliseconds(0));
  bool all_digits = true;
  for (char c : s) all_digits = all_digits && std::isdigit(static_cast<unsigned char>(c));
  if (all_digits) {
    if (s.size() > 12) return cap;  // absurdly large: capped, not overflowed
    std::int64_t seconds = 0;
    for (char c : s) seconds = seconds * 10 + (c - '0');
    return bounded(milliseconds(seconds * 1000));
  }
  if (auto when = parse_http_date(s))
    return bounded(std::chrono::duration_cast<milliseconds>(*when - now));
  return bounded(milliseconds(0));
}

}  // namespace wcp::proxy
