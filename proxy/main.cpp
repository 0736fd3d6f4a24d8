// webex-cache-proxy: a caching read-through proxy for the Webex Calling configuration API.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "config/config.hpp"
#include "proxy/log.hpp"
#include "proxy/server.hpp"

extern char** environ;

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

  wcp::log::setup(cfg.log_format == "json" ? wcp::log::format::json : wcp::log::format::text,
                  cfg.log_level, cfg.access_log);
  for (const auto& w : loaded.warnings) wcp::log::warn(w);
  try {
    auto reload = [argc, argv]() -> std::optional<wcp::config::config> {
      try {
        auto next = wcp::config::reload(argc, argv, environ);
        for (const auto& w : next.warnings) wcp::log::warn("reload: " + w);
        return next.cfg;
      } catch (const std::exception& e) {
        wcp::log::error("reload refused, keeping the running settings", {{"error", e.what()}});
        return std::nullopt;
      }
    };
    wcp::proxy::server server(cfg, reload);
    server.start();
    return server.run();
  } catch (const wcp::config::config_error& e) {
    // A setting that validated but does not work (a certificate that does not load).
    wcp::log::critical(e.what());
    return 2;
  } catch (const std::exception& e) {
    wcp::log::critical(e.what());
    return 1;
  }
}
