#include "proxy/proxy_service.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>

#include <simdjson.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "cache/compression.hpp"
#include "cache/fingerprint.hpp"
#include "proxy/log.hpp"
#include "proxy/redis_budget.hpp"
#include "proxy/retry_after.hpp"
#include "proxy/webex_error.hpp"

namespace wcp::proxy {

namespace {

using std::chrono::milliseconds;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Whether a comma-separated header value lists `token` (case-insensitive).
bool lists_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    auto comma = value.find(',');
    auto item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    auto eq = item.find('=');
    if (iequals(item.substr(0, eq), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

bool wants_refresh(const http::request<http::string_body>& req) {
  return lists_token(req[http::field::cache_control], "no-cache") ||
         lists_token(req[http::field::pragma], "no-cache");
}

std::string_view tracking_of(const http::request<http::string_body>& req) {
  return req["TrackingID"];
}

std::string tracking_or_new(const http::request<http::string_body>& req) {
  auto t = tracking_of(req);
  return t.empty() ? new_tracking_id() : std::string(t);
}

// The top-level "id" of a JSON object, if it has one.
std::optional<std::string> json_id(std::string_view body) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS) return std::nullopt;
  std::string_view id;
  if (doc["id"].get(id) != simdjson::SUCCESS) return std::nullopt;
  return std::string(id);
}

}  // namespace

void live_settings::apply(const config::config& cfg) {
  auto ms = [](config::seconds s) {
    return std::chrono::duration_cast<milliseconds>(s).count();
  };
  for (std::size_t kind = 0; kind < kind_cache_ttl_ms.size(); ++kind)
    kind_cache_ttl_ms[kind] = ms(cfg.cache_ttl_for(cache::to_string(static_cast<cache::resource_kind>(kind))));
  stale_ttl_ms = ms(cfg.stale_ttl);
  refresh_ahead = cfg.refresh_ahead;
  grant_ttl_ms = ms(cfg.grant_ttl);
  max_retry_wait_ms = ms(cfg.max_retry_wait);
  max_backoff_ms = ms(cfg.max_backoff);
  default_backoff_ms = ms(cfg.default_backoff);
}

std::string_view to_string(cache_result r) noexcept {
  switch (r) {
    case cache_result::hit: return "hit";
    case cache_result::miss: return "miss";
    case cache_result::stale: return "stale";
    case cache_result::bypass: return "bypass";
  }
  return "bypass";
}

namespace {
std::string_view x_cache_value(cache_result r) noexcept {
  switch (r) {
    case cache_result::hit: return "HIT";
    case cache_result::miss: return "MISS";
    case cache_result::stale: return "STALE";
    case cache_result::bypass: return "BYPASS";
  }
  return "BYPASS";
}
}  // namespace

namespace {
// Whether header lines ("Name: value\r\n"...) have a Date field.
bool has_date_line(std::string_view lines) {
  for (std::size_t at = 0; at < lines.size();) {
    const auto end = lines.find("\r\n", at);
    const auto line = lines.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    if (line.size() >= 5 && iequals(line.substr(0, 5), "date:")) return true;
    if (end == std::string_view::npos) break;
    at = end + 2;
  }
  return false;
}
}  // namespace

void append_http_date(std::string& out, cache::wall_clock::time_point t) {
  // Formatted once per second and thread: hits of entries stored in the same second share it.
  thread_local std::time_t last = -1;
  thread_local char text[32];
  thread_local std::size_t length = 0;
  const std::time_t secs = cache::wall_clock::to_time_t(t);
  if (secs != last) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    length = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    last = secs;
  }
  out.append(text, length);
}

void format_entry_head(std::string& out, const cache::entry& e, cache_result result,
                       unsigned version, bool keep_alive, std::int64_t age,
                       std::string_view tracking_id, std::string_view link,
                       std::string_view more_headers, bool gzipped) {
  char num[24];
  auto append_number = [&](std::uint64_t n) {
    const auto r = std::to_chars(num, num + sizeof num, n);
    out.append(num, r.ptr);
  };
  out.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  append_number(e.status);
  out += ' ';
  out.append(http::obsolete_reason(static_cast<http::status>(e.status)));
  out.append("\r\n");
  if (!e.content_type.empty()) out.append("Content-Type: ").append(e.content_type).append("\r\n");
  if (gzipped) out.append("Content-Encoding: gzip\r\n");
  // Whether this answer was compressed depends on the request's Accept-Encoding.
  out.append("Vary: Accept-Encoding\r\n");
  if (!tracking_id.empty()) out.append("trackingid: ").append(tracking_id).append("\r\n");
  if (!link.empty()) out.append("Link: ").append(link).append("\r\n");
  out.append(more_headers);  // upstream's own, for the answer that filled the entry
  if (!has_date_line(more_headers)) {
    // When the answer was stored (RFC 9111 section 4: a stored answer keeps its Date), with Age
    // beside it.
    out.append("Date: ");
    append_http_date(out, e.stored_at);
    out.append("\r\n");
  }
  out.append("X-Cache: ").append(x_cache_value(result)).append("\r\nAge: ");
  append_number(static_cast<std::uint64_t>(std::max<std::int64_t>(age, 0)));
  out.append("\r\nContent-Length: ");
  append_number(gzipped ? e.gzip_body.size() : e.body.size());
  out.append("\r\n");
  if (version == 10 && keep_alive) out.append("Connection: keep-alive\r\n");
  if (version != 10 && !keep_alive) out.append("Connection: close\r\n");
  out.append("\r\n");
}

proxy_metrics::proxy_metrics(registry& r)
    : requests(r.add_counter("webex_cache_proxy_requests_total",
                             "Client requests by route and cache result.", {"route", "cache"})),
      responses(r.add_counter("webex_cache_proxy_responses_total",
                              "Responses to clients by HTTP status code.", {"code"})),
      request_duration(r.add_histogram("webex_cache_proxy_request_duration_seconds",
                                       "Time from a request's head to its answer's last byte.",
                                       latency_buckets(), {"cache"})),
      upstream_requests(r.add_counter("webex_cache_proxy_upstream_requests_total",
                                      "Upstream answers by route and HTTP status code.",
                                      {"route", "code"})),
      upstream_duration(r.add_histogram("webex_cache_proxy_upstream_duration_seconds",
                                        "Upstream latency to the answer's head, by route.",
                                        latency_buckets(), {"route"})),
      upstream_errors(r.add_counter("webex_cache_proxy_upstream_errors_total",
                                    "Upstream exchanges that produced no answer, by route and "
                                    "reason.",
                                    {"route", "reason"})),
      bad_requests(r.add_counter("webex_cache_proxy_bad_requests_total",
                                 "Client requests refused by the proxy itself, by reason.",
                                 {"reason"})),
      grants(r.add_counter("webex_cache_proxy_grants_total",
                           "Authorisation grants learned and dropped.", {"event"})),
      invalidations(r.add_counter("webex_cache_proxy_invalidations_total",
                                  "Cache invalidations by reason.", {"reason"})),
      renames(r.add_counter("webex_cache_proxy_renames_total",
                            "Renames seen through the proxy (a new ID for the item), by kind.",
                            {"kind"})),
      client_connections(r.add_gauge("webex_cache_proxy_client_connections",
                                     "Open client connections.")),
      rejected_connections(r.add_counter("webex_cache_proxy_rejected_connections_total",
                                         "Client connections refused at the connection limit.")),
      backoffs(r.add_counter("webex_cache_proxy_backoffs_total",
                             "Rate-limit blocks started by upstream answers, by reason.",
                             {"reason"})),
      rate_limited(r.add_counter("webex_cache_proxy_rate_limited_total",
                                 "Requests answered 429/423 by the proxy during a block, by reason.",
                                 {"reason"})),
      retries(r.add_counter("webex_cache_proxy_retries_total",
                            "Requests that waited out a block and were sent again.")),
      retry_wait(r.add_histogram("webex_cache_proxy_retry_wait_seconds",
                                 "Time a request spent waiting out a rate-limit block.",
                                 latency_buckets())),
      coalesced(r.add_counter("webex_cache_proxy_coalesced_requests_total",
                              "Misses answered by another request's upstream fetch.")),
      internal_errors(r.add_counter("webex_cache_proxy_internal_errors_total",
                                    "Requests and sessions ended by a fault of the proxy itself "
                                    "(answered 500 or closed).")),
      redis_waits_cut(r.add_counter("webex_cache_proxy_redis_waits_cut_total",
                                    "Waits on Redis a request gave up because it had spent "
                                    "--redis-timeout on Redis in all (the operation went on "
                                    "without it).")),
      admin_refused(r.add_counter("webex_cache_proxy_admin_refused_total",
                                  "Admin purges refused: no valid admin token (unauthorized) or "
                                  "not from loopback without one (forbidden).",
                                  {"reason"})),
      refreshes_started(r.add_counter("webex_cache_proxy_refreshes_started_total",
                                      "Background refreshes started: a fresh entry read in the "
                                      "last --refresh-ahead part of its TTL.")),
      refreshes_stored(r.add_counter("webex_cache_proxy_refreshes_stored_total",
                                     "Background refreshes whose answer was stored.")),
      refreshes_dropped(r.add_counter("webex_cache_proxy_refreshes_dropped_total",
                                      "Background refreshes that stored nothing, by reason: "
                                      "fenced (an invalidation overtook it), failed (no "
                                      "cacheable answer), blocked (a rate-limit block), "
                                      "coalesced (a fetch of the variant was under way).",
                                      {"reason"})) {
  // Every series whose labels are known in advance is exported from the start, at zero, so a
  // rate() or a dashboard panel has a series before the first event rather than none.
  constexpr std::array results = {cache_result::hit, cache_result::miss, cache_result::stale,
                                  cache_result::bypass};
  for (std::size_t kind = 0; kind < cache::resource_kind_count; ++kind)
    for (const auto c : results) request_cell(cache::label_of(static_cast<cache::resource_kind>(kind)), c);
  request_cell("passthrough", cache_result::bypass);
  for (const auto c : results) duration_cell(c);
  for (const unsigned status : {200u, 400u, 500u}) response_cell(status);
  for (const char* e : {"learned", "dropped"}) grants.with({e});
  for (const char* reason : {"write", "rename", "purge", "remote", "unknown_outcome"})
    invalidations.with({reason});
  for (const char* reason : {"429", "423"}) {
    backoffs.with({reason});
    rate_limited.with({reason});
  }
  for (const auto& row : route_table())
    if (row.renames) renames.with({std::string(cache::to_string(row.kind))});
  rejected_connections();
  retries();
  retry_wait();
  coalesced();
  internal_errors();
  redis_waits_cut();
  for (const char* reason : {"unauthorized", "forbidden"}) admin_refused.with({reason});
  refreshes_started();
  refreshes_stored();
  for (const char* reason : {"fenced", "failed", "blocked", "coalesced"})
    refreshes_dropped.with({reason});
  for (std::size_t kind = 0; kind < cache::resource_kind_count; ++kind)
    upstream_duration_cell(cache::label_of(static_cast<cache::resource_kind>(kind)));
  upstream_duration_cell("passthrough");
}

template <class Cell, class Labels>
Cell& proxy_metrics::resolve(std::atomic<Cell*>& slot, family<Cell>& f, Labels labels) {
  Cell* cell = slot.load(std::memory_order_acquire);
  if (!cell) {
    // Two threads may both get here: family::with() hands both the same cell.
    cell = &f.with(labels());
    slot.store(cell, std::memory_order_release);
  }
  return *cell;
}

namespace {

// The slot of a route label: a kind's (by cache::resource_kind), then passthrough, then
// invalid; past those (no slot) for a label that is none of these.
std::size_t route_slot(std::string_view route) {
  constexpr std::size_t kinds = cache::resource_kind_count;
  if (route == "passthrough") return kinds;
  if (route == "invalid") return kinds + 1;
  for (std::size_t i = 0; i < kinds; ++i)
    if (cache::label_of(static_cast<cache::resource_kind>(i)) == route) return i;
  return kinds + 2;
}

}  // namespace

counter& proxy_metrics::request_cell(std::string_view route, cache_result cache) {
  const std::size_t r = route_slot(route);
  if (r >= route_slots) return requests.with({std::string(route), std::string(to_string(cache))});
  return resolve(request_cells_[r][static_cast<std::size_t>(cache)], requests,
                 [&] {
                   return std::vector<std::string>{std::string(route),
                                                   std::string(to_string(cache))};
                 });
}

counter& proxy_metrics::response_cell(unsigned status) {
  if (status < 100 || status > 599) return responses.with({std::to_string(status)});
  return resolve(response_cells_[status - 100], responses,
                 [&] { return std::vector<std::string>{std::to_string(status)}; });
}

histogram& proxy_metrics::duration_cell(cache_result cache) {
  return resolve(duration_cells_[static_cast<std::size_t>(cache)], request_duration,
                 [&] { return std::vector<std::string>{std::string(to_string(cache))}; });
}

counter& proxy_metrics::upstream_status_cell(std::string_view route, unsigned status) {
  const std::size_t r = route_slot(route);
  if (r >= route_slots || status < 100 || status > 599)
    return upstream_requests.with({std::string(route), std::to_string(status)});
  return resolve(upstream_status_cells_[r][status - 100], upstream_requests,
                 [&] {
                   return std::vector<std::string>{std::string(route), std::to_string(status)};
                 });
}

histogram& proxy_metrics::upstream_duration_cell(std::string_view route) {
  const std::size_t r = route_slot(route);
  if (r >= route_slots) return upstream_duration.with({std::string(route)});
  return resolve(upstream_duration_cells_[r], upstream_duration,
                 [&] { return std::vector<std::string>{std::string(route)}; });
}

proxy_service::proxy_service(cache::store& store, cache::grant_store& grants,
                             cache::backoff_store& backoff, live_settings& live,
                             proxy_metrics& metrics, std::string upstream_base_path,
                             std::chrono::milliseconds redis_timeout)
    : store_(store),
      grants_(grants),
      backoff_(backoff),
      live_(live),
      metrics_(metrics),
      base_path_(std::move(upstream_base_path)),
      redis_timeout_(redis_timeout) {}

bool is_hop_by_hop(std::string_view name, std::string_view connection_header) {
  static constexpr std::array<std::string_view, 9> fixed = {
      "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
      "trailer",    "upgrade",    "proxy-authenticate", "proxy-authorization"};
  for (auto f : fixed)
    if (iequals(name, f)) return true;
  return !connection_header.empty() && lists_token(connection_header, name);
}

http::request<http::string_body> make_upstream_request(const http::request<http::string_body>& req,
                                                       std::string_view base_path) {
  http::request<http::string_body> out;
  out.method_string(req.method_string());
  std::string target;
  target.reserve(base_path.size() + req.target().size());
  target.append(base_path).append(req.target());
  out.target(target);
  out.version(11);
  const auto connection = req[http::field::connection];
  for (const auto& f : req) {
    const auto name = f.name_string();
    if (is_hop_by_hop(name, connection) || f.name() == http::field::host ||
        f.name() == http::field::expect || f.name() == http::field::content_length)
      continue;
    out.insert(name, f.value());
  }
  out.body() = req.body();
  out.prepare_payload();
  out.keep_alive(true);
  return out;
}

std::string entry_header_lines(const http::fields& from) {
  std::string out;
  const auto connection = from[http::field::connection];
  for (const auto& f : from) {
    const auto name = f.name_string();
    switch (f.name()) {
      // Written from the entry, or for this answer.
      case http::field::content_length:
      case http::field::content_type:
      case http::field::link:
      case http::field::age:
        continue;
      default: break;
    }
    if (iequals(name, "trackingid") || iequals(name, "X-Cache") || is_hop_by_hop(name, connection))
      continue;
    out.append(name).append(": ").append(f.value()).append("\r\n");
  }
  return out;
}

void copy_end_to_end_headers(const http::fields& from, http::fields& out) {
  const auto connection = from[http::field::connection];
  for (const auto& f : from) {
    const auto name = f.name_string();
    if (is_hop_by_hop(name, connection) || f.name() == http::field::content_length) continue;
    out.insert(name, f.value());
  }
}

http::response<http::string_body> proxy_service::error_response(unsigned status, unsigned version,
                                                                 std::string_view message,
                                                                 std::string_view tracking_id) {
  http::response<http::string_body> res{static_cast<http::status>(status), version};
  res.set(http::field::content_type, "application/json;charset=UTF-8");
  res.set("trackingid", tracking_id);
  res.body() = webex_error_body(message, tracking_id);
  res.prepare_payload();
  return res;
}

const cache::token_fingerprint& token_memo::of(std::string_view authorization) {
  if (!valid_ || authorization != authorization_) {
    fingerprint_ = cache::fingerprint(authorization);
    authorization_.assign(authorization);
    valid_ = true;
  }
  return fingerprint_;
}

std::optional<answer> proxy_service::answer_at_once(http::request<http::string_body>& req,
                                                    route& r, upstream_pool& pool,
                                                    token_memo& memo,
                                                    const net::any_io_executor& ex) {
  if (r.kind != route_kind::cached_read || !r.cacheable) return std::nullopt;
  const auto authorization = req[http::field::authorization];
  if (authorization.empty()) return std::nullopt;
  const auto& token = memo.of(authorization);
  const cache::grant_scope scope{r.org_variant(), r.key().location, std::string(r.grant())};
  const auto granted = grants_.holds_at_once(token, scope);
  if (!granted || !*granted || wants_refresh(req)) return std::nullopt;
  cache::variant_key key{std::move(r.resource_key), scope.org};
  auto found = store_.lookup_at_once(key);
  if (!found || !*found ||
      cache::freshness_at(**found, cache::wall_clock::now(), live_.cache_ttl(key.resource.kind),
                          live_.stale_ttl()) != cache::freshness::fresh) {
    r.resource_key = std::move(key.resource);  // as it was, for handle()
    return std::nullopt;
  }
  if (refresh_due(key.resource.kind, **found)) {
    const caller who{authorization, &token, nullptr};
    maybe_refresh_ahead(req, r, key, scope, who, pool, **found, ex);
  }
  answer a;
  a.cache = cache_result::hit;
  a.entry = std::move(*found);
  a.route = route_label(r);
  a.token_id = token.short_hex();
  return a;
}

bool proxy_service::refresh_due(cache::resource_kind kind, const cache::entry& e) const {
  const auto window = live_.refresh_window(kind);
  return window.count() > 0 && e.stored_at + live_.cache_ttl(kind) - cache::wall_clock::now() <= window;
}

net::awaitable<answer> proxy_service::handle(http::request<http::string_body>& req, route& r,
                                             upstream_pool& pool, token_memo& memo) {
  caller who{req[http::field::authorization]};
  if (!who.authorization.empty()) who.token = &memo.of(who.authorization);
  redis_budget budget = redis_timeout_.count() > 0
                            ? redis_budget(redis_timeout_, &metrics_.redis_waits_cut())
                            : redis_budget();
  who.redis = &budget;
  if (r.kind == route_kind::cached_read) {
    // Every hit comes this way: the answer is made in place, not moved into another first.
    const auto label = route_label(r);
    answer read = co_await read_through(req, r, who, pool);
    read.route = label;
    if (who.token) read.token_id = who.token->short_hex();
    co_return read;
  }
  answer a;
  switch (r.kind) {
    case route_kind::invalid: {
      metrics_.bad_requests.with({"invalid_target"}).inc();
      log::info("refused a request", {{"method", std::string_view(req.method_string())},
                                      {"reason", "invalid_target"},
                                      {"error", r.error}});
      a.response = error_response(r.error_status, req.version(), r.error, tracking_or_new(req));
      a.response.set("X-Cache", "BYPASS");
      break;
    }
    case route_kind::cached_read: break;  // above
    case route_kind::invalidating_write: a = co_await write_through(req, r, who, pool); break;
    case route_kind::passthrough: a = co_await pass_through(req, r, who, pool); break;
  }
  a.route = route_label(r);
  if (who.token) a.token_id = who.token->short_hex();
  co_return a;
}

exchange_scope proxy_service::scope_of(const http::request<http::string_body>& req,
                                       const route& r, const caller& who,
                                       std::string_view resource, bool stale_available) const {
  exchange_scope s;
  s.route = route_label(r);
  if (who.token) s.token = who.token->hex();
  s.resource = cache::fingerprint(resource).hex();
  s.idempotent = is_idempotent(req.method());
  s.stale_available = stale_available;
  s.redis = who.redis;
  return s;
}

net::awaitable<upstream_result> proxy_service::forward(const http::request<http::string_body>& req,
                                                       upstream_pool& pool, ask how,
                                                       const exchange_scope& scope) {
  auto up = make_upstream_request(req, base_path_);
  if (how == ask::fill) {
    // A cache fill: always a GET (a HEAD is answered from what the GET brings) for the full
    // representation: no conditional or range header of the caller's, whose 304 or 206 would
    // reach every waiter; and identity encoding so that the stored body is the JSON itself.
    up.method(http::verb::get);
    for (const auto f : {http::field::if_none_match, http::field::if_modified_since,
                         http::field::if_match, http::field::if_unmodified_since,
                         http::field::if_range, http::field::range})
      up.erase(f);
  }
  if (how != ask::as_sent) up.erase(http::field::accept_encoding);
  co_return co_await exchange(up, pool, scope);
}

net::awaitable<void> proxy_service::wait_for(std::chrono::milliseconds d) {
  net::steady_timer timer(co_await net::this_coro::executor, d);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  metrics_.retries().inc();
  metrics_.retry_wait().observe(std::chrono::duration<double>(d).count());
}

net::awaitable<std::chrono::milliseconds> proxy_service::note_rate_limit(
    unsigned status, std::string_view retry_after, const exchange_scope& scope) {
  // Never a retry without a wait, whatever the settings say.
  const auto wait = std::max(retry_after_wait(retry_after, cache::wall_clock::now(),
                                              live_.default_backoff(), live_.max_backoff()),
                             milliseconds(100));
  const bool token_limit = status == 429;
  const auto& id = token_limit ? scope.token : scope.resource;
  metrics_.backoffs.with({token_limit ? "429" : "423"}).inc();
  if (!id.empty()) {
    const auto kind = token_limit ? cache::backoff_kind::token : cache::backoff_kind::resource;
    co_await scope.redis->run(backoff_, &cache::backoff_store::block, kind, id,
                              cache::wall_clock::now() + wait);
  }
  // The token by its fingerprint prefix only, as on the access line.
  if (token_limit)
    log::warn("upstream asked to wait", {{"upstream_status", status},
                                         {"blocked", "token"},
                                         {"token", std::string_view(scope.token).substr(0, 8)},
                                         {"wait_ms", wait.count()}});
  else
    log::warn("upstream asked to wait",
              {{"upstream_status", status}, {"blocked", "resource"}, {"wait_ms", wait.count()}});
  co_return wait;
}

net::awaitable<upstream_result> proxy_service::exchange(const http::request<http::string_body>& up,
                                                        upstream_pool& pool,
                                                        const exchange_scope& scope) {
  auto budget = live_.max_retry_wait();
  constexpr int max_rounds = 8;
  for (int round = 0;; ++round) {
    if (auto block = co_await scope.redis->run(std::nullopt, backoff_,
                                               &cache::backoff_store::blocked_until, scope.token,
                                               scope.resource)) {
      auto left = std::chrono::ceil<milliseconds>(block->until - cache::wall_clock::now());
      if (left > milliseconds(0)) {
        if (scope.stale_available || !scope.idempotent || left > budget || round >= max_rounds) {
          upstream_result r;
          r.failure = upstream_failure::rate_limited;
          r.wait = left;
          r.limit_status = block->kind == cache::backoff_kind::token ? 429 : 423;
          r.detail = "blocked by an earlier " + std::to_string(r.limit_status);
          co_return r;
        }
        if (scope.flight && block->kind == cache::backoff_kind::token) {
          // Another token's caller does not wait behind this token's block.
          if (const auto let_go = coalescer_.leader_blocked(scope.flight))
            log::debug("a fetch waits out its token's block: callers with other tokens fetch for themselves",
                       {{"route", scope.route}, {"callers", let_go}});
        }
        co_await wait_for(left);
        budget -= left;
        continue;
      }
    }

    auto res = co_await pool.fetch(up);
    if (res.failure != upstream_failure::none) {
      metrics_.upstream_errors.with({std::string(scope.route), std::string(to_string(res.failure))}).inc();
      co_return res;
    }
    const unsigned status = res.response.result_int();
    metrics_.upstream_status_cell(scope.route, status).inc();
    metrics_.upstream_duration_cell(scope.route).observe(res.seconds);
    upstream_time_.observe(std::chrono::duration<double>(res.seconds));
    if (status != 429 && status != 423) co_return res;

    const auto wait = co_await note_rate_limit(status, res.response[http::field::retry_after], scope);
    if (!scope.stale_available && scope.idempotent && wait <= budget && round < max_rounds)
      continue;  // the block just set is waited out at the top
    upstream_result r;
    r.failure = upstream_failure::rate_limited;
    r.wait = wait;
    r.limit_status = status;
    r.detail = "upstream answered " + std::to_string(status);
    r.response = std::move(res.response);
    co_return r;
  }
}

net::awaitable<void> proxy_service::learn_from(unsigned status, const caller& who,
                                               const cache::grant_scope* scope) {
  if (!who.token) co_return;
  const auto& token = *who.token;
  if (status >= 200 && status < 300 && scope) {
    co_await who.redis->run(grants_, &cache::grant_store::learn, token, *scope, live_.grant_ttl());
    metrics_.grants.with({"learned"}).inc();
  } else if (status == 401) {
    co_await who.redis->run(grants_, &cache::grant_store::drop_token, token);
    metrics_.grants.with({"dropped"}).inc();
  } else if (status == 403 && scope) {
    co_await who.redis->run(grants_, &cache::grant_store::drop_scope, token, *scope);
    metrics_.grants.with({"dropped"}).inc();
  }
}

answer proxy_service::upstream_failed(const http::request<http::string_body>& req,
                                      const upstream_result& res, cache_result cache) {
  answer a;
  a.cache = cache;
  const auto tracking = tracking_or_new(req);
  unsigned status = 502;
  std::string_view message = "The Webex API could not be reached.";
  if (res.failure == upstream_failure::timeout) {
    status = 504;
    message = "The Webex API did not answer in time.";
  } else if (res.failure == upstream_failure::too_large) {
    message = "The Webex API answer was larger than the proxy accepts.";
  } else if (res.failure == upstream_failure::protocol) {
    message = "The Webex API sent an answer the proxy could not read.";
  } else if (res.failure == upstream_failure::rate_limited) {
    status = res.limit_status;
    const auto seconds = std::max<std::int64_t>(1, (res.wait.count() + 999) / 1000);
    if (res.response.result_int() == status) {
      // Webex's own refusal, relayed: its status and words, its trackingid beside this
      // request's, and Retry-After as the time left of the block it set.
      a.upstream_status = status;
      a.upstream_seconds = res.seconds;
      a.response = http::response<http::string_body>{static_cast<http::status>(status), req.version()};
      if (const auto type = res.response[http::field::content_type]; !type.empty())
        a.response.set(http::field::content_type, type);
      a.response.set("trackingid", tracking);
      if (const auto theirs = res.response["trackingid"]; !theirs.empty())
        a.response.set("X-Upstream-TrackingID", theirs);
      a.response.body() = res.response.body();
      a.response.prepare_payload();
    } else {
      // The proxy's own, during a block it knows of: no request went to Webex.
      message = status == 429
                    ? "Too many requests: the Webex API asked this token to wait; answered by "
                      "webex-cache-proxy without asking Webex again."
                    : "The resource is locked: the Webex API asked to wait; answered by "
                      "webex-cache-proxy without asking Webex again.";
      metrics_.rate_limited.with({status == 429 ? "429" : "423"}).inc();
      a.response = error_response(status, req.version(), message, tracking);
    }
    a.response.set(http::field::retry_after, std::to_string(seconds));
    a.response.set("X-Cache", x_cache_value(cache));
    return a;
  }
  log::warn("upstream request failed", {{"method", std::string_view(req.method_string())},
                                        {"failure", to_string(res.failure)},
                                        {"error", res.detail},
                                        {"trackingid", tracking}});
  a.response = error_response(status, req.version(), message, tracking);
  a.response.set("X-Cache", x_cache_value(cache));
  return a;
}

namespace {

http::response<http::string_body> from_upstream(http::response<http::string_body>&& up,
                                                cache_result result,
                                                const http::request<http::string_body>& req) {
  http::response<http::string_body> res{up.result(), req.version()};
  copy_end_to_end_headers(up.base(), res.base());
  res.set("X-Cache", x_cache_value(result));
  if (req.method() == http::verb::head) {
    // The length the body would have: upstream's own Content-Length when it answered a HEAD
    // (it sent no body), the body's when a GET was sent for it; never an invented one.
    if (const auto length = up[http::field::content_length]; !length.empty())
      res.set(http::field::content_length, length);
    else if (!up.body().empty())
      res.content_length(up.body().size());
  } else {
    res.body() = std::move(up.body());
    res.prepare_payload();
  }
  return res;
}

}  // namespace

net::awaitable<answer> proxy_service::read_through(http::request<http::string_body>& req,
                                                   route& r, const caller& who,
                                                   upstream_pool& pool) {
  const cache::grant_scope scope{r.org_variant(), r.key().location, std::string(r.grant())};
  // The route's key is not used again: moved, not copied (this is every hit's path).
  auto resource = std::move(r.resource_key);
  answer a;

  // Uncacheable forms and callers without a token go upstream and are never stored.
  if (!r.cacheable || !who.token) {
    auto res = co_await forward(req, pool, ask::as_sent, scope_of(req, r, who, resource.str(), false));
    if (res.failure != upstream_failure::none) co_return upstream_failed(req, res, cache_result::bypass);
    co_await learn_from(res.response.result_int(), who, &scope);
    a.upstream_status = res.response.result_int();
    a.upstream_seconds = res.seconds;
    a.cache = cache_result::bypass;
    a.response = from_upstream(std::move(res.response), a.cache, req);
    co_return a;
  }

  const auto& token = *who.token;
  const cache::variant_key key{std::move(resource), scope.org};
  auto& redis = *who.redis;
  // In-process grants and store answer at once; Redis is waited for within the budget.
  bool granted = false;
  if (const auto known = grants_.holds_at_once(token, scope)) {
    granted = *known;
  } else {
    granted = co_await redis.run(false, grants_, &cache::grant_store::holds, token, scope);
  }
  cache::entry_ptr cached;
  if (auto known = store_.lookup_at_once(key)) {
    cached = std::move(*known);
  } else {
    cached = co_await redis.run(nullptr, store_, &cache::store::lookup, key);
  }
  auto cached_is = [&](cache::freshness f) {
    return cached && cache::freshness_at(*cached, cache::wall_clock::now(),
                                         live_.cache_ttl(key.resource.kind),
                                         live_.stale_ttl()) == f;
  };
  const bool refresh_asked = wants_refresh(req);
  if (granted && !refresh_asked && cached && !cached_is(cache::freshness::fresh)) {
    // L1's copy is past its freshness: another instance may have refreshed it in Redis since.
    cache::entry_ptr newer = co_await redis.run(nullptr, store_, &cache::store::lookup_newer,
                                                key, cached->stored_at);
    if (newer) cached = std::move(newer);
  }
  if (granted && !refresh_asked && cached_is(cache::freshness::fresh)) {
    if (refresh_due(key.resource.kind, *cached)) {
      const net::any_io_executor ex = co_await net::this_coro::executor;
      maybe_refresh_ahead(req, r, key, scope, who, pool, *cached, ex);
    }
    a.cache = cache_result::hit;
    a.entry = cached;
    co_return a;
  }
  const bool may_use_stale = granted && cached && !cached_is(cache::freshness::expired);

  // One upstream request for concurrent misses that may share its answer. The fill ticket
  // comes first: a flight can be joined only with the ticket that says when it began.
  const std::string flight_key = key.str();
  // Cut short, the ticket is one no store accepts: the answer is then not stored.
  cache::fill_ticket ticket =
      co_await redis.run(cache::fill_ticket{}, store_, &cache::store::begin_fill, key.resource);
  auto joined = co_await join_current(flight_key, key.resource, token, granted, ticket, redis);
  shared_result res;
  bool leader = joined.leader;
  if (!leader) {
    res = co_await coalescer_.wait(joined.f, token);
    // Another token's answer is shared only when it is a success; anything else may say more
    // about that token than about the resource.
    const bool shareable =
        res && (joined.f->leader() == token ||
                (res->failure == upstream_failure::none && res->response.result_int() / 100 == 2));
    if (shareable) {
      metrics_.coalesced().inc();
    } else {
      res.reset();
      const bool same_token_only = false;
      joined =
          co_await join_current(flight_key, key.resource, token, same_token_only, ticket, redis);
      leader = joined.leader;
      if (!leader) res = co_await coalescer_.wait(joined.f, token);
      if (!leader && !res) leader = true;  // that leader gave up too: fetch alone
    }
  }

  if (leader) {
    std::optional<flight_guard> guard;
    if (joined.leader) guard.emplace(coalescer_, flight_key, joined.f);
    auto scope_up = scope_of(req, r, who, key.resource.str(), may_use_stale);
    if (joined.leader) scope_up.flight = joined.f;
    auto fetched = std::make_shared<upstream_result>(co_await forward(req, pool, ask::fill, scope_up));
    res = fetched;
    if (guard) guard->set(res);
  }

  if (res->failure != upstream_failure::none) {
    if (may_use_stale) {
      log::warn("upstream unavailable: answering with a stale entry",
                {{"failure", to_string(res->failure)}, {"error", res->detail}});
      a.cache = cache_result::stale;
      a.entry = cached;
      co_return a;
    }
    co_return upstream_failed(req, *res, cache_result::miss);
  }

  const unsigned status = res->response.result_int();
  a.upstream_status = status;
  a.upstream_seconds = res->seconds;
  if (status >= 500 && may_use_stale) {
    a.cache = cache_result::stale;
    a.entry = cached;
    co_return a;
  }
  // Only an answer upstream gave to this token teaches or renews its grant: a waiter that shares
  // another token's success may use it (it holds a grant) but learns nothing from it.
  if (leader || joined.f->leader() == token) co_await learn_from(status, who, &scope);

  kept filled;
  if (leader) filled = co_await keep_answer(res->response, key, ticket, granted, redis);
  a.cache = cache_result::miss;
  if (filled.entry) {
    // The answer is what was just stored: written as a hit is (no second copy of the body, no
    // header container), with upstream's trackingid and its other end-to-end headers.
    const auto& up = res->response;
    a.entry = std::move(filled.entry);
    a.entry_tracking_id = std::string(up["trackingid"]);
    a.entry_headers = entry_header_lines(up.base());
    co_return a;
  }
  http::response<http::string_body> copy = res->response;
  if (!leader) {
    // Another request's answer: its trackingid names that request, and its cookies are that
    // caller's.
    copy.set("trackingid", tracking_or_new(req));
    copy.erase(http::field::set_cookie);
  }
  a.response = from_upstream(std::move(copy), a.cache, req);
  co_return a;
}

cache::entry_ptr proxy_service::entry_from(const http::response<http::string_body>& up,
                                           cache::resource_kind kind) const {
  const unsigned status = up.result_int();
  const auto encoding = up[http::field::content_encoding];
  if (!cache::is_cacheable_response(status, up.body()) ||
      !(encoding.empty() || iequals(encoding, "identity")))
    return nullptr;
  auto e = std::make_shared<cache::entry>();
  e->status = status;
  e->content_type = std::string(up[http::field::content_type]);
  for (auto [it, last] = up.equal_range(http::field::link); it != last; ++it)
    e->link.append(e->link.empty() ? "" : ", ").append(it->value());
  e->body = up.body();
  e->gzip_body = cache::gzip_if_smaller(e->body);  // once, for every client that accepts gzip
  e->stored_at = cache::wall_clock::now();
  e->expires_at = e->stored_at + live_.cache_ttl(kind) + live_.stale_ttl();
  return e;
}

net::awaitable<proxy_service::kept> proxy_service::keep_answer(
    const http::response<http::string_body>& up, const cache::variant_key& key,
    const cache::fill_ticket& ticket, bool granted, redis_budget& redis) {
  kept k;
  k.entry = entry_from(up, key.resource.kind);
  if (k.entry) {
    const auto keep_for = std::chrono::duration_cast<milliseconds>(k.entry->expires_at - k.entry->stored_at);
    k.stored = co_await redis.run(false, store_, &cache::store::insert, key, k.entry, ticket, keep_for);
  } else if (up.result_int() == 404 && granted) {
    // A token that may see this location was told the resource is gone.
    co_await redis.run(store_, &cache::store::invalidate, key.resource);
  }
  co_return k;
}

// What a background refresh needs after the request that started it is gone: its own copy of
// the request (the caller's token among its headers, held in memory for the refresh only).
struct proxy_service::refresh_job {
  http::request<http::string_body> req;
  route r;
  cache::variant_key key;
  cache::grant_scope scope;
  cache::token_fingerprint token;
  cache::wall_clock::time_point fresh_until;  // the served entry's
  cache::wall_clock::time_point send_at;      // not sent before
};

void proxy_service::maybe_refresh_ahead(const http::request<http::string_body>& req,
                                        const route& r, const cache::variant_key& key,
                                        const cache::grant_scope& scope, const caller& who,
                                        upstream_pool& pool, const cache::entry& e,
                                        const net::any_io_executor& ex) {
  if (stopping_.load(std::memory_order_relaxed)) return;
  const auto fresh_until = e.stored_at + live_.cache_ttl(key.resource.kind);
  const auto left = std::chrono::ceil<milliseconds>(fresh_until - cache::wall_clock::now());
  // One refresh per variant until the entry's freshness ends: a refresh that failed is not
  // tried again by every read after it.
  const auto hold = std::max(left, milliseconds(100));
  // It is sent as late as upstream's answer time allows (its smoothed time and four times its
  // deviation, as TCP times a retransmission; within the window): every millisecond it is sent
  // before the entry expires is taken off the next entry's life, and so adds upstream requests.
  const auto lead = std::clamp(upstream_time_.ample(milliseconds(25)), milliseconds(50),
                               std::max(live_.refresh_window(key.resource.kind), milliseconds(50)));
  std::string flight_key = key.str();
  {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(refresh_mu_);
    // Claims that ended are swept at most once a second (a sweep walks them all).
    if (refresh_claims_.size() >= 4096 && now >= next_claims_sweep_) {
      std::erase_if(refresh_claims_, [now](const auto& c) { return c.second <= now; });
      next_claims_sweep_ = now + std::chrono::seconds(1);
    }
    auto [it, inserted] = refresh_claims_.try_emplace(std::move(flight_key), now + hold);
    if (!inserted) {
      if (it->second > now) return;
      it->second = now + hold;
    }
  }
  auto job = std::make_shared<refresh_job>(
      refresh_job{req, r, key, scope, *who.token, fresh_until,
                  std::chrono::time_point_cast<cache::wall_clock::duration>(fresh_until - lead)});
  job->req.body().clear();
  refreshes_in_flight_.fetch_add(1);
  net::co_spawn(ex, refresh(std::move(job), pool), net::detached);
}

net::awaitable<void> proxy_service::refresh(std::shared_ptr<refresh_job> job, upstream_pool& pool) {
  struct in_flight {
    std::atomic<std::size_t>& n;
    ~in_flight() { n.fetch_sub(1); }
  } counted{refreshes_in_flight_};
  const std::string flight_key = job->key.str();
  bool stored = false;
  try {
    // Until it is time to send it; a drain meanwhile ends it unsent.
    net::steady_timer timer(co_await net::this_coro::executor);
    for (;;) {
      if (stopping_.load(std::memory_order_relaxed)) co_return;
      const auto left = std::chrono::ceil<milliseconds>(job->send_at - cache::wall_clock::now());
      if (left <= milliseconds(0)) break;
      timer.expires_after(std::min(left, milliseconds(100)));
      co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    }
    redis_budget budget = redis_timeout_.count() > 0
                              ? redis_budget(redis_timeout_, &metrics_.redis_waits_cut())
                              : redis_budget();
    caller who{job->req[http::field::authorization], &job->token, &budget};
    // Another instance refreshes it (or Redis cannot say): nothing to do here.
    // Held until the entry's freshness ends (the send waited for `lead` before it).
    const auto hold = std::max(std::chrono::ceil<milliseconds>(job->fresh_until - cache::wall_clock::now()),
                               milliseconds(100));
    const bool claimed = co_await budget.run(false, store_, &cache::store::claim_refresh,
                                             job->key, hold);
    if (!claimed) co_return;
    // The grant may have been dropped (a 401 or 403 to the token) since the read.
    const bool granted = co_await budget.run(false, grants_, &cache::grant_store::holds, job->token,
                                             job->scope);
    if (!granted) co_return;
    metrics_.refreshes_started().inc();
    const cache::fill_ticket ticket =
        co_await budget.run(cache::fill_ticket{}, store_, &cache::store::begin_fill, job->key.resource);
    auto joined = coalescer_.join(flight_key, job->token, true, ticket);
    if (!joined.leader) {
      metrics_.refreshes_dropped.with({"coalesced"}).inc();
      co_return;
    }
    flight_guard guard(coalescer_, flight_key, joined.f);
    // As when a stale answer exists: a block (or a 429 now) ends it unsent or unstored, never
    // waited out.
    const auto scope = scope_of(job->req, job->r, who, job->key.resource.str(), true);
    auto fetched = std::make_shared<upstream_result>(co_await forward(job->req, pool, ask::fill, scope));
    if (fetched->failure != upstream_failure::none) {
      // Waiters fetch for themselves, by their own rules (a 429 waited out within theirs).
      const bool blocked = fetched->failure == upstream_failure::rate_limited;
      metrics_.refreshes_dropped.with({blocked ? "blocked" : "failed"}).inc();
      co_return;
    }
    guard.set(fetched);
    const unsigned status = fetched->response.result_int();
    co_await learn_from(status, who, &job->scope);
    const kept k = co_await keep_answer(fetched->response, job->key, ticket, true, budget);
    stored = k.stored;
    if (stored) metrics_.refreshes_stored().inc();
    else metrics_.refreshes_dropped.with({k.entry ? "fenced" : "failed"}).inc();
    log::debug("refreshed ahead of expiry", {{"route", route_label(job->r)},
                                             {"upstream_status", status},
                                             {"stored", stored ? "yes" : "no"}});
  } catch (const std::exception& ex) {
    metrics_.internal_errors().inc();
    log::error("background refresh failed", {{"error", std::string_view(ex.what())}});
  }
  // Stored: the next window belongs to the new entry.
  if (stored) {
    std::lock_guard lock(refresh_mu_);
    refresh_claims_.erase(flight_key);
  }
}

net::awaitable<coalescer::ticket> proxy_service::join_current(
    const std::string& flight_key, const cache::resource_key& resource,
    const cache::token_fingerprint& token, const bool& granted, const cache::fill_ticket& fill,
    redis_budget& redis) {
  auto joined = coalescer_.join(flight_key, token, granted, fill);
  // A flight that began before an invalidation of what it fetches is not for a caller that
  // arrives after it: take it out of the map (its waiters keep it) and look again.
  while (!joined.leader) {
    // Cut short, the flight counts as overtaken: this caller fetches for itself.
    const bool overtaken = co_await redis.run(true, store_, &cache::store::invalidated_since,
                                              resource, joined.f->ticket());
    if (!overtaken) break;
    coalescer_.detach(flight_key, joined.f);
    joined = coalescer_.join(flight_key, token, granted, fill);
  }
  co_return joined;
}

net::awaitable<void> proxy_service::drop_written_location(const route& r, const caller& who) {
  if (!r.write_location) co_return;
  const std::string location(cache::normalise_id(*r.write_location));
  co_await who.redis->run(store_, &cache::store::invalidate_location, std::string_view(location));
}

namespace {

// Sent, but no answer read (a timeout, a connection lost, an answer too large or garbled):
// Webex may have applied it.
bool outcome_unknown(upstream_failure f) {
  return f == upstream_failure::timeout || f == upstream_failure::protocol ||
         f == upstream_failure::too_large;
}

}  // namespace

net::awaitable<void> proxy_service::drop_after_unknown_outcome(
    const http::request<http::string_body>& req, const route& r, const caller& who,
    upstream_failure failure) {
  co_await drop_written_location(r, who);
  metrics_.invalidations.with({"unknown_outcome"}).inc();
  log::warn("write outcome unknown: invalidated as if applied",
            {{"method", std::string_view(req.method_string())},
             {"resource", r.is_resource() ? to_string(r.resource) : std::string_view()},
             {"resource_id", r.resource_id},
             {"location_id", r.write_location.value_or(std::string())},
             {"failure", to_string(failure)}});
}

net::awaitable<answer> proxy_service::write_through(http::request<http::string_body>& req,
                                                    const route& r, const caller& who,
                                                    upstream_pool& pool) {
  answer a;
  // Identity-encoded: a renamed item's answer carries its new ID, and the proxy must be able to
  // read it whatever the caller accepts.
  auto res = co_await forward(req, pool, ask::identity, scope_of(req, r, who, r.key().str(), false));
  if (res.failure != upstream_failure::none) {
    // Drop what a 2xx would have dropped.
    if (outcome_unknown(res.failure)) co_await drop_after_unknown_outcome(req, r, who, res.failure);
    co_return upstream_failed(req, res, cache_result::bypass);
  }
  const unsigned status = res.response.result_int();
  a.upstream_status = status;
  a.upstream_seconds = res.seconds;
  // A write's 403 says nothing of what the token may read (a location admin writes call queues
  // it may not read): only a 401 drops grants here.
  if (status == 401) co_await learn_from(status, who, nullptr);

  if (status >= 200 && status < 300) {
    // The whole location: the item, and under a rename its new ID too (same location).
    co_await drop_written_location(r, who);
    metrics_.invalidations.with({"write"}).inc();
    if (r.row->renames && req.method() == http::verb::put) {
      auto new_id = json_id(res.response.body());
      if (new_id && cache::is_valid_id(*new_id) &&
          cache::normalise_id(*new_id) != cache::normalise_id(r.resource_id)) {
        const auto kind = cache::to_string(r.resource);
        metrics_.invalidations.with({"rename"}).inc();
        metrics_.renames.with({std::string(kind)}).inc();
        log::info("renamed", {{"kind", kind},
                              {"resource_id", r.resource_id},
                              {"new_id", *new_id},
                              {"location_id", r.location_id}});
      }
    }
  }
  a.cache = cache_result::bypass;
  a.response = from_upstream(std::move(res.response), a.cache, req);
  co_return a;
}

net::awaitable<answer> proxy_service::pass_through(http::request<http::string_body>& req,
                                                   const route& r, const caller& who,
                                                   upstream_pool& pool) {
  answer a;
  a.cache = cache_result::bypass;
  const std::string_view target = req.target();
  const auto scope = scope_of(req, r, who, target.substr(0, target.find('?')), false);
  const auto up = make_upstream_request(req, base_path_);
  auto budget = live_.max_retry_wait();
  constexpr int max_rounds = 8;

  for (int round = 0;; ++round) {
    upstream_result blocked;
    if (auto block = co_await scope.redis->run(std::nullopt, backoff_,
                                               &cache::backoff_store::blocked_until, scope.token,
                                               scope.resource)) {
      auto left = std::chrono::ceil<milliseconds>(block->until - cache::wall_clock::now());
      if (left > milliseconds(0)) {
        if (!scope.idempotent || left > budget || round >= max_rounds) {
          blocked.failure = upstream_failure::rate_limited;
          blocked.wait = left;
          blocked.limit_status = block->kind == cache::backoff_kind::token ? 429 : 423;
          co_return upstream_failed(req, blocked, cache_result::bypass);
        }
        co_await wait_for(left);
        budget -= left;
        continue;
      }
    }

    auto stream = co_await pool.open(up);
    if (stream.failure != upstream_failure::none) {
      metrics_.upstream_errors.with({std::string(scope.route), std::string(to_string(stream.failure))}).inc();
      // A write under a location: drop what a 2xx would have dropped.
      if (r.write_location && outcome_unknown(stream.failure))
        co_await drop_after_unknown_outcome(req, r, who, stream.failure);
      upstream_result failed;
      failed.failure = stream.failure;
      failed.detail = stream.detail;
      co_return upstream_failed(req, failed, cache_result::bypass);
    }
    const unsigned status = stream.parser->get().result_int();
    metrics_.upstream_status_cell(scope.route, status).inc();
    metrics_.upstream_duration_cell(scope.route).observe(stream.header_seconds);

    if (status == 429 || status == 423) {
      const auto wait = co_await note_rate_limit(
          status, stream.parser->get()[http::field::retry_after], scope);
      // The refusal's body is small; read it (to relay it, and so that the connection can be
      // reused).
      auto& head = stream.parser->get();
      blocked.response.result(status);
      for (const auto field : {"Content-Type", "trackingid"})
        if (const auto v = head[field]; !v.empty()) blocked.response.set(field, v);
      char chunk[4096];
      beast::error_code ec;
      while (!ec && !stream.parser->is_done() && blocked.response.body().size() < (64u << 10)) {
        const auto n = co_await stream.read_body(chunk, sizeof chunk, ec);
        blocked.response.body().append(chunk, n);
      }
      const bool complete = !ec && stream.parser->is_done();
      if (complete) pool.release(stream);
      if (scope.idempotent && wait <= budget && round < max_rounds) continue;
      blocked.failure = upstream_failure::rate_limited;
      blocked.wait = wait;
      blocked.limit_status = status;
      blocked.seconds = stream.header_seconds;
      if (!complete) blocked.response.body().clear();  // not all of it: none
      co_return upstream_failed(req, blocked, cache_result::bypass);
    }

    if (status == 401) co_await learn_from(status, who, nullptr);
    if (r.write_location && status >= 200 && status < 300) {
      // Before the answer goes out: a read sent after it must not find what the write changed.
      co_await drop_written_location(r, who);
      metrics_.invalidations.with({"write"}).inc();
    }
    a.upstream_status = status;
    a.upstream_seconds = stream.header_seconds;
    a.stream.emplace(std::move(stream));
    co_return a;
  }
}

}  // namespace wcp::proxy
