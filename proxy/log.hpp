// Log lines with fields: `message key=value ...` as text, or one JSON object per line with each
// field as its own key. Every line goes through here, so that the JSON format never meets a line
// it cannot parse, and no client byte reaches the log raw (see json_text.hpp).
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/common.h>

namespace wcp::log {

// One field: a fixed snake_case key and a value (text, an integer, a number, or absent: `-` in
// text, null in JSON). Empty text and an empty optional are absent.
class field {
 public:
  enum class type { text, integer, number, absent };

  field(std::string_view key, std::string_view v) noexcept
      : key_(key), type_(v.empty() ? type::absent : type::text), text_(v) {}
  field(std::string_view key, const char* v) noexcept : field(key, std::string_view(v)) {}
  field(std::string_view key, const std::string& v) noexcept : field(key, std::string_view(v)) {}
  template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>)
  field(std::string_view key, T v) noexcept
      : key_(key), type_(type::integer), integer_(static_cast<std::int64_t>(v)) {}
  template <std::integral T>
  field(std::string_view key, std::optional<T> v) noexcept
      : key_(key), type_(v ? type::integer : type::absent), integer_(v ? *v : 0) {}
  // A number printed with 3 decimals (milliseconds).
  field(std::string_view key, double v) noexcept : key_(key), type_(type::number), number_(v) {}
  field(std::string_view key, std::optional<double> v) noexcept
      : key_(key), type_(v ? type::number : type::absent), number_(v ? *v : 0) {}

  std::string_view key() const noexcept { return key_; }
  type kind() const noexcept { return type_; }
  std::string_view text() const noexcept { return text_; }
  std::int64_t integer() const noexcept { return integer_; }
  double number() const noexcept { return number_; }

 private:
  std::string_view key_;
  type type_;
  std::string_view text_;
  std::int64_t integer_ = 0;
  double number_ = 0;
};

using fields = std::initializer_list<field>;
using level = spdlog::level::level_enum;

enum class format { text, json };

// Sets up the daemon's two loggers on standard error: the main one at `min_level`, and the
// access log (one line per request, on or off whatever the level). Under journald (JOURNAL_STREAM
// names this standard error) each line starts with its syslog priority `<N>` and carries no time.
void setup(format f, std::string_view min_level, bool access_log);
// Reload: the level and the access log switch change live.
void set_levels(std::string_view min_level, bool access_log);

bool enabled(level l) noexcept;
bool access_enabled() noexcept;

void write(level l, std::string_view message, fields f);

inline void debug(std::string_view m, fields f = {}) { if (enabled(level::debug)) write(level::debug, m, f); }
inline void info(std::string_view m, fields f = {}) { if (enabled(level::info)) write(level::info, m, f); }
inline void warn(std::string_view m, fields f = {}) { if (enabled(level::warn)) write(level::warn, m, f); }
inline void error(std::string_view m, fields f = {}) { if (enabled(level::err)) write(level::err, m, f); }
inline void critical(std::string_view m, fields f = {}) {
  if (enabled(level::critical)) write(level::critical, m, f);
}

// The access line of one request (message "access"); callers check access_enabled() first, so
// that building the fields costs nothing when the access log is off.
void access(fields f);

// The line as `write` would hand it to the sink (without time, level and priority); for tests.
std::string render(format f, std::string_view message, fields fs);

}  // namespace wcp::log
