// What the proxy does with one client request, top to bottom:
//   router → grant check → store lookup → upstream fetch → store fill → answer.
// Cached reads are answered from the store when the caller's token holds a grant for the
// resource's org form and location; writes are forwarded and invalidate what they change;
// everything else is forwarded and its answer streamed back.
//
// Thread-safety: one service is shared by every worker thread; each call brings the calling
// thread's upstream pool.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "cache/backoff_store.hpp"
#include "cache/grants.hpp"
#include "cache/store.hpp"
#include "config/config.hpp"
#include "net/net.hpp"
#include "proxy/coalescer.hpp"
#include "proxy/metrics.hpp"
#include "proxy/round_trip.hpp"
#include "proxy/router.hpp"
#include "proxy/upstream_pool.hpp"

namespace wcp::proxy {

// Settings that SIGHUP may change while requests are in flight.
struct live_settings {
  live_settings() {
    for (auto& ttl : kind_cache_ttl_ms) ttl = 300'000;
  }
  // The freshness of each cached kind (cache-ttl.KIND, else cache-ttl), by cache::resource_kind.
  std::array<std::atomic<std::int64_t>, cache::resource_kind_count> kind_cache_ttl_ms{};
  std::atomic<std::int64_t> stale_ttl_ms{3'600'000};
  std::atomic<double> refresh_ahead{0.2};  // fraction of a kind's TTL; 0 = off
  std::atomic<std::int64_t> grant_ttl_ms{300'000};
  std::atomic<std::int64_t> max_retry_wait_ms{10'000};
  std::atomic<std::int64_t> max_backoff_ms{300'000};
  std::atomic<std::int64_t> default_backoff_ms{5'000};

  void apply(const config::config& cfg);
  std::chrono::milliseconds cache_ttl(cache::resource_kind kind) const {
    return std::chrono::milliseconds(kind_cache_ttl_ms[static_cast<std::size_t>(kind)].load());
  }
  // The part at the end of a kind's TTL in which a read starts a background refresh (zero: off).
  std::chrono::milliseconds refresh_window(cache::resource_kind kind) const {
    const double f = refresh_ahead.load();
    if (!(f > 0)) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(static_cast<std::int64_t>(f * static_cast<double>(cache_ttl(kind).count())));
  }
  std::chrono::milliseconds stale_ttl() const { return std::chrono::milliseconds(stale_ttl_ms.load()); }
  std::chrono::milliseconds grant_ttl() const { return std::chrono::milliseconds(grant_ttl_ms.load()); }
  std::chrono::milliseconds max_retry_wait() const { return std::chrono::milliseconds(max_retry_wait_ms.load()); }
  std::chrono::milliseconds max_backoff() const { return std::chrono::milliseconds(max_backoff_ms.load()); }
  std::chrono::milliseconds default_backoff() const { return std::chrono::milliseconds(default_backoff_ms.load()); }
};

// X-Cache values, also the `cache` metric label.
enum class cache_result { hit, miss, stale, bypass };
std::string_view to_string(cache_result r) noexcept;

// Per-connection memory of the last token's fingerprint: a client sends the same Authorization
// on every request of a keep-alive connection, and SHA-256 would otherwise be the dearest part of
// a cache hit. Holds the header value only as long as the connection (which holds it anyway).
class token_memo {
 public:
  const cache::token_fingerprint& of(std::string_view authorization);

 private:
  std::string authorization_;
  cache::token_fingerprint fingerprint_;
  bool valid_ = false;
};

class redis_budget;

// Who is asking: the Authorization value and its fingerprint (when there is one), and what the
// request may still spend waiting on Redis.
struct caller {
  std::string_view authorization;
  const cache::token_fingerprint* token = nullptr;  // null without Authorization
  redis_budget* redis = nullptr;                    // set by handle()
};

// The proxy's answer to one request: a cached entry (the session writes its prebuilt form), a
// whole response, or (passthrough) an upstream stream whose header is read and whose body the
// session relays.
struct answer {
  // Set: answer with this entry (X-Cache HIT or STALE; MISS for the entry a fill just made,
  // with the fill's own trackingid and upstream's other end-to-end headers below).
  cache::entry_ptr entry;
  std::string entry_tracking_id;  // "" = this request's own (TrackingID, else a new one)
  std::string entry_headers;      // header lines ("Name: value\r\n") written after the entry's
  http::response<http::string_body> response;
  std::optional<upstream_stream> stream;
  cache_result cache = cache_result::bypass;
  std::string_view route = "invalid";
  unsigned upstream_status = 0;  // 0 = no upstream answer
  double upstream_seconds = 0;
  std::string token_id;          // short fingerprint for the access log, "" without a token
};

// The proxy's metrics, created once and shared.
struct proxy_metrics {
  explicit proxy_metrics(registry& r);
  family<counter>& requests;
  family<counter>& responses;
  family<histogram>& request_duration;
  family<counter>& upstream_requests;
  family<histogram>& upstream_duration;
  family<counter>& upstream_errors;
  family<counter>& bad_requests;
  family<counter>& grants;
  family<counter>& invalidations;
  family<counter>& renames;
  family<gauge>& client_connections;
  family<counter>& rejected_connections;
  family<counter>& backoffs;
  family<counter>& rate_limited;
  family<counter>& retries;
  family<histogram>& retry_wait;
  family<counter>& coalesced;
  family<counter>& internal_errors;
  family<counter>& redis_waits_cut;
  family<counter>& admin_refused;
  // Refresh-ahead: started = stored + dropped (by reason) + those still under way.
  family<counter>& refreshes_started;
  family<counter>& refreshes_stored;
  family<counter>& refreshes_dropped;

  // The cells every answered request touches, each resolved once (then no lock and no
  // allocation per request). `route` is a route_label().
  counter& request_cell(std::string_view route, cache_result cache);
  counter& response_cell(unsigned status);
  histogram& duration_cell(cache_result cache);
  // Labels: `route` a route_label() (a kind's label, or passthrough); `code`
  // a full HTTP status code, on every family that has one.
  counter& upstream_status_cell(std::string_view route, unsigned status);
  histogram& upstream_duration_cell(std::string_view route);

 private:
  // `labels` makes the cell's labels, called only the first time.
  template <class Cell, class Labels>
  static Cell& resolve(std::atomic<Cell*>& slot, family<Cell>& f, Labels labels);
  // Route slots: one per kind (by cache::resource_kind), then passthrough, then invalid.
  static constexpr std::size_t route_slots = cache::resource_kind_count + 2;
  std::array<std::array<std::atomic<counter*>, 4>, route_slots> request_cells_{};  // [route][cache]
  std::array<std::atomic<counter*>, 500> response_cells_{};               // [status - 100]
  std::array<std::atomic<histogram*>, 4> duration_cells_{};               // [cache]
  std::array<std::array<std::atomic<counter*>, 500>, route_slots> upstream_status_cells_{};  // [route][status - 100]
  std::array<std::atomic<histogram*>, route_slots> upstream_duration_cells_{};               // [route]
};

// What the rate limits must know about one upstream exchange.
struct exchange_scope {
  std::string token;           // SHA-256 of the Authorization value, hex; "" without one
  std::string resource;        // SHA-256 of the resource (or path), hex
  bool idempotent = true;      // may be sent again after a wait
  bool stale_available = false;  // a stale answer the caller may see exists: never wait
  redis_budget* redis = nullptr;   // the request's (set by scope_of)
  // The flight this exchange leads, if any: a wait on the token's own block lets its waiters
  // with other tokens go.
  std::shared_ptr<coalescer::flight> flight;
  std::string_view route = "passthrough";  // route_label() of the request, for metrics
};

class proxy_service {
 public:
  // `redis_timeout`: what one request may spend waiting on Redis in all; zero without Redis.
  proxy_service(cache::store& store, cache::grant_store& grants, cache::backoff_store& backoff,
                live_settings& live, proxy_metrics& metrics, std::string upstream_base_path,
                std::chrono::milliseconds redis_timeout = std::chrono::milliseconds(0));

  // A fresh hit answered at once, without a coroutine: the token holds the grant and the entry
  // is fresh, both known without waiting (the in-process grants and store). Anything else, or
  // anything that could only be known by waiting (Redis): nullopt, and `r` as it was for
  // handle(). `ex` runs a refresh ahead of expiry that the read starts.
  std::optional<answer> answer_at_once(http::request<http::string_body>& req, route& r,
                                       upstream_pool& pool, token_memo& memo,
                                       const net::any_io_executor& ex);
  // Every request: `r` is route_request() of it (a cached read takes r's resource key).
  net::awaitable<answer> handle(http::request<http::string_body>& req, route& r,
                                upstream_pool& pool, token_memo& memo);

  // Refreshes ahead of expiry running in the background now.
  std::size_t refreshes_in_flight() const noexcept { return refreshes_in_flight_.load(); }
  // Starts no more refreshes (the daemon is draining).
  void stop_refreshing() noexcept { stopping_ = true; }

  // An answer the proxy makes itself, in the Webex error shape.
  static http::response<http::string_body> error_response(unsigned status, unsigned version,
                                                          std::string_view message,
                                                          std::string_view tracking_id);

 private:
  // Whether a granted read of the fresh entry `e` is in the last part of its life, where it
  // starts a refresh (maybe_refresh_ahead).
  bool refresh_due(cache::resource_kind kind, const cache::entry& e) const;
  // A cached read. Takes r's resource key (r.key() is empty afterwards).
  net::awaitable<answer> read_through(http::request<http::string_body>& req, route& r,
                                      const caller& who, upstream_pool& pool);
  // Joins a flight for `flight_key` this caller may share and that no invalidation of
  // `resource` has overtaken, or starts one with `fill` as its ticket.
  net::awaitable<coalescer::ticket> join_current(const std::string& flight_key,
                                                 const cache::resource_key& resource,
                                                 const cache::token_fingerprint& token,
                                                 const bool& granted,
                                                 const cache::fill_ticket& fill,
                                                 redis_budget& redis);
  // A fresh hit in the last part of its TTL: claims the variant's one refresh (in this process,
  // then across instances) and starts it in the background, with the caller's token.
  void maybe_refresh_ahead(const http::request<http::string_body>& req, const route& r,
                           const cache::variant_key& key, const cache::grant_scope& scope,
                           const caller& who, upstream_pool& pool, const cache::entry& e,
                           const net::any_io_executor& ex);
  struct refresh_job;
  net::awaitable<void> refresh(std::shared_ptr<refresh_job> job, upstream_pool& pool);
  // The entry a cacheable upstream answer becomes (nullptr: not cacheable).
  cache::entry_ptr entry_from(const http::response<http::string_body>& up,
                              cache::resource_kind kind) const;
  // A fill leader's answer into the store: a cacheable one is stored under `ticket` (refused
  // when an invalidation came after it); a 404 to a token holding the grant drops the resource.
  struct kept {
    cache::entry_ptr entry;  // the answer as an entry; nullptr: not cacheable
    bool stored = false;
  };
  net::awaitable<kept> keep_answer(const http::response<http::string_body>& up,
                                   const cache::variant_key& key, const cache::fill_ticket& ticket,
                                   bool granted, redis_budget& redis);
  // Drops everything cached for the location a write went to (r.write_location), if any.
  net::awaitable<void> drop_written_location(const route& r, const caller& who);
  // A write sent without a readable answer: dropped as a 2xx would, counted and logged.
  net::awaitable<void> drop_after_unknown_outcome(const http::request<http::string_body>& req,
                                                  const route& r, const caller& who,
                                                  upstream_failure failure);
  net::awaitable<answer> write_through(http::request<http::string_body>& req, const route& r,
                                       const caller& who, upstream_pool& pool);
  net::awaitable<answer> pass_through(http::request<http::string_body>& req, const route& r,
                                      const caller& who, upstream_pool& pool);
  // How a buffered exchange asks upstream: as the caller asked; as a cache fill (a GET, identity
  // encoding); or as the caller asked but with an identity-encoded answer (a write whose answer
  // the proxy reads for a rename).
  enum class ask { as_sent, fill, identity };
  net::awaitable<upstream_result> forward(const http::request<http::string_body>& req,
                                          upstream_pool& pool, ask how,
                                          const exchange_scope& scope);
  // Waits out or refuses rate-limit blocks around one buffered exchange.
  net::awaitable<upstream_result> exchange(const http::request<http::string_body>& up,
                                           upstream_pool& pool, const exchange_scope& scope);
  // Records a 429/423 answer as a block; yields the wait.
  net::awaitable<std::chrono::milliseconds> note_rate_limit(unsigned status,
                                                            std::string_view retry_after,
                                                            const exchange_scope& scope);
  net::awaitable<void> wait_for(std::chrono::milliseconds d);
  net::awaitable<void> learn_from(unsigned status, const caller& who,
                                  const cache::grant_scope* scope);
  answer upstream_failed(const http::request<http::string_body>& req, const upstream_result& res,
                         cache_result cache);
  exchange_scope scope_of(const http::request<http::string_body>& req, const route& r,
                          const caller& who, std::string_view resource,
                          bool stale_available) const;

  cache::store& store_;
  cache::grant_store& grants_;
  cache::backoff_store& backoff_;
  coalescer coalescer_;
  live_settings& live_;
  proxy_metrics& metrics_;
  std::string base_path_;
  std::chrono::milliseconds redis_timeout_;
  // This process's refresh claims: variant → until when no other refresh of it starts.
  std::mutex refresh_mu_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> refresh_claims_;
  std::chrono::steady_clock::time_point next_claims_sweep_{};  // guarded by refresh_mu_
  std::atomic<std::size_t> refreshes_in_flight_{0};
  round_trip_estimate upstream_time_{std::chrono::milliseconds(200)};  // of buffered exchanges
  std::atomic<bool> stopping_{false};
};

// Builds the request sent upstream: same method, target under the upstream base path, body, and
// every header but hop-by-hop ones, Host and Expect.
http::request<http::string_body> make_upstream_request(const http::request<http::string_body>& req,
                                                       std::string_view base_path);

// Appends `t` as an HTTP date (IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT").
void append_http_date(std::string& out, cache::wall_clock::time_point t);

// Appends the head of an answer made from a cached entry to `out`: the status line, Content-Type
// as upstream sent it, `trackingid` (this request's: never the one of the request that filled the
// entry), `link` (the entry's Link, moved to this client's origin) when not empty, then
// `more_headers` (upstream's end-to-end headers, for the answer that filled the entry), Date
// unless those have one (when the entry was stored: a hit carries its stored answer's Date, RFC
// 9111 section 4; no Server, the proxy does not name itself), X-Cache, Age, Content-Length, a
// Connection header where the HTTP version's default is not what happens, and the blank line.
// Content-Encoding: gzip when `gzipped` (the body is then the entry's gzip_body, else its body),
// and Vary: Accept-Encoding always.
void format_entry_head(std::string& out, const cache::entry& e, cache_result result,
                       unsigned version, bool keep_alive, std::int64_t age,
                       std::string_view tracking_id, std::string_view link = {},
                       std::string_view more_headers = {}, bool gzipped = false);

// An upstream answer's end-to-end headers as header lines, but for those an answer made from an
// entry writes itself (Content-Type, Content-Length, Link, trackingid, X-Cache, Age).
std::string entry_header_lines(const http::fields& from);

// Copies an upstream answer's end-to-end headers (not hop-by-hop, not framing) onto `out`.
void copy_end_to_end_headers(const http::fields& from, http::fields& out);

bool is_hop_by_hop(std::string_view name, std::string_view connection_header);

}  // namespace wcp::proxy
