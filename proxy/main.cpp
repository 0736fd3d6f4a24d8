// webex-cache-proxy: a caching read-through proxy for the Webex Calling configuration API.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "config/config.hpp"
#include "proxy/server.hpp"
#include "proxy/webex_error.hpp"

extern char** environ;

namespace {

// %* in a pattern: the message, escaped for a JSON string.
class json_message_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const auto escaped =
        wcp::proxy::json_escape(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<json_message_flag>();
  }
};

void setup_logging(const wcp::config::config& cfg) {
  auto logger = spdlog::stderr_logger_mt("webex-cache-proxy");
  // journald stamps each line itself; elsewhere the line carries its own time.
  const bool journald = std::getenv("JOURNAL_STREAM") != nullptr;
  if (cfg.log_format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<json_message_flag>('*').set_pattern(
        journald ? R"({"level":"%l","message":"%*"})"
                 : R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","message":"%*"})");
    logger->set_formatter(std::move(formatter));
  } else {
    logger->set_pattern(journald ? "%l %v" : "%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace

int main(int argc, char** argv) {
  wcp::config::load_result loaded;
  try {
    loaded = wcp::config::load(argc, argv, environ);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "webex-cache-proxy: %s\n", e.what());
    return 2;
  }
  switch (loaded.what) {
    case wcp::config::action::print_help:
      std::fputs(loaded.help_text.c_str(), stdout);
      return 0;
    case wcp::config::action::print_version:
      std::printf("webex-cache-proxy %s\n", wcp::config::version());
      return 0;
    case wcp::config::action::check_config:
      for (const auto& w : loaded.warnings) std::fprintf(stderr, "webex-cache-proxy: warning: %s\n", w.c_str());
      std::fputs(wcp::config::describe(loaded.cfg).c_str(), stdout);
      std::puts("# configuration is valid");
      return 0;
    case wcp::config::action::run: break;
  }
  const auto& cfg = loaded.cfg;

  setup_logging(cfg);
  for (const auto& w : loaded.warnings) spdlog::warn("{}", w);
  try {
    auto reload = [argc, argv]() -> std::optional<wcp::config::config> {
      try {
        auto next = wcp::config::reload(argc, argv, environ);
        for (const auto& w : next.warnings) spdlog::warn("reload: {}", w);
        return next.cfg;
      } catch (const std::exception& e) {
        spdlog::error("reload refused, keeping the running settings: {}", e.what());
        return std::nullopt;
      }
    };
    wcp::proxy::server server(cfg, reload);
    server.start();
    return server.run();
  } catch (const wcp::config::config_error& e) {
    // A setting that validated but does not work (a certificate that does not load).
    spdlog::critical("{}", e.what());
    return 2;
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}
