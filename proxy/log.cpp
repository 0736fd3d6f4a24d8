#include "proxy/log.hpp"

#include <sys/stat.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "proxy/json_text.hpp"

namespace wcp::log {

namespace {

using proxy::append_json_string;

format g_format = format::text;
std::shared_ptr<spdlog::logger> g_main;
std::shared_ptr<spdlog::logger> g_access;

// %* in a pattern: the line's syslog priority, which journald reads from a `<N>` prefix.
class priority_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    int p = 6;
    switch (msg.level) {
      case level::trace:
      case level::debug: p = 7; break;
      case level::info: p = 6; break;
      case level::warn: p = 4; break;
      case level::err: p = 3; break;
      case level::critical: p = 2; break;
      default: break;
    }
    const char prefix[3] = {'<', static_cast<char>('0' + p), '>'};
    dest.append(prefix, prefix + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<priority_flag>();
  }
};

// True when standard error is the stream systemd connected to the journal: JOURNAL_STREAM holds
// its "device:inode" (a child that inherited the variable but writes elsewhere is not).
bool stderr_is_journal() {
  const char* v = std::getenv("JOURNAL_STREAM");
  if (v == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(v, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (fstat(2, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

// A text value that needs no quotes: printable ASCII without space, quote, backslash or `=`.
bool bare(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7F || c == '"' || c == '\\' || c == '=') return false;
  return true;
}

void append_integer(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_number(std::string& out, double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 3);
  out.append(buf, r.ptr);
}

void render_into(std::string& out, format f, std::string_view message, fields fs) {
  if (f == format::json) {
    out += "\"message\":";
    append_json_string(out, message);
    for (const auto& x : fs) {
      out += ',';
      append_json_string(out, x.key());
      out += ':';
      switch (x.kind()) {
        case field::type::text: append_json_string(out, x.text()); break;
        case field::type::integer: append_integer(out, x.integer()); break;
        case field::type::number:
          if (std::isfinite(x.number())) append_number(out, x.number());
          else out += "null";
          break;
        case field::type::absent: out += "null"; break;
      }
    }
    return;
  }
  // Text: the message as it is when it is plain, quoted otherwise (a line break or a byte that
  // is not UTF-8 never splits or corrupts the line).
  bool plain = !message.empty();
  for (unsigned char c : message)
    if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\') plain = false;
  if (plain) out.append(message);
  else append_json_string(out, message);
  for (const auto& x : fs) {
    out += ' ';
    out.append(x.key());
    out += '=';
    switch (x.kind()) {
      case field::type::text:
        if (bare(x.text())) out.append(x.text());
        else append_json_string(out, x.text());
        break;
      case field::type::integer: append_integer(out, x.integer()); break;
      case field::type::number: append_number(out, x.number()); break;
      case field::type::absent: out += '-'; break;
    }
  }
}

void emit(spdlog::logger& logger, level l, std::string_view message, fields fs) {
  thread_local std::string line;
  line.clear();
  render_into(line, g_format, message, fs);
  logger.log(l, spdlog::string_view_t(line.data(), line.size()));
}

}  // namespace

std::string render(format f, std::string_view message, fields fs) {
  std::string out;
  render_into(out, f, message, fs);
  return out;
}

void setup(format f, std::string_view min_level, bool access_log) {
  g_format = f;
  const bool journal = stderr_is_journal();
  // journald stamps each line itself; elsewhere the line carries its own time.
  std::string pattern = journal ? "%*" : "";
  if (f == format::json)
    pattern += journal ? R"({"level":"%l",%v})"
                       : R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l",%v})";
  else
    pattern += journal ? "%l %v" : "%Y-%m-%dT%H:%M:%S.%e%z %l %v";

  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<priority_flag>('*').set_pattern(pattern);
  sink->set_formatter(std::move(formatter));
  g_main = std::make_shared<spdlog::logger>("webex-cache-proxy", sink);
  g_access = std::make_shared<spdlog::logger>("access", sink);
  g_main->flush_on(level::info);
  g_access->flush_on(level::info);
  spdlog::set_default_logger(g_main);
  set_levels(min_level, access_log);
}

void set_levels(std::string_view min_level, bool access_log) {
  g_main->set_level(spdlog::level::from_str(std::string(min_level)));
  g_access->set_level(access_log ? level::info : level::off);
}

bool enabled(level l) noexcept { return g_main && g_main->should_log(l); }
bool access_enabled() noexcept { return g_access && g_access->should_log(level::info); }

void write(level l, std::string_view message, fields f) {
  if (g_main) emit(*g_main, l, message, f);
}

void access(fields f) {
  if (g_access) emit(*g_access, level::info, "access", f);
}

}  // namespace wcp::log
