// The latency figure's two programs in one: a slow upstream and a fixed-rate load generator. Run
// by bench/run's latency part.
//
//   wcp-bench-latency upstream --port P --delay-ms 120 --body FILE
//   wcp-bench-latency load --url http://127.0.0.1:P --rate R --duration S --warmup W
//                          --connections C [--workload parks|mixed] [--upstream-delay-ms D]
//                          [--upstream-count-url http://127.0.0.1:U/__count]
//   wcp-bench-latency requests [--count N] [--workload parks|mixed]
//
// upstream: an HTTP/1.1 keep-alive server on 127.0.0.1 that answers every GET under
// /v1/telephony/config/ with FILE (200, application/json, a trackingid) after the delay, each
// request on its own timer so that no connection waits for another's; GET /__count answers, at
// once, how many of those delayed reads it has taken so far.
//
// load: an open-loop generator in the manner of wrk2. Each connection sends at RATE/CONNECTIONS
// per second on a fixed schedule (the connections staggered by 1/RATE); a request that cannot go
// at its time (its connection still waits on the previous answer) goes as soon as it can, and its
// latency counts from the time it was scheduled, so a server that stalls is charged for every
// request it held back (coordinated omission). Service time (send to answer) is kept as well.
// The requests are bench/lua/economy.lua's, drawn in the same order: the same seed and the same
// generator as LuaJIT's math.random, the same 20 tokens and 500 resources, the same Zipf draw.
// Requests scheduled before the warm-up ends are sent but not counted. Of the others it reports
// the percentiles of both latencies; the share of answers that waited on upstream (service time
// of a tenth of --upstream-delay-ms or more: a hit takes about a millisecond, and a request that
// joined another's upstream request waited for part of it), also in steady state: without each URL's first request
// and each token's first request of a grant (a kind, or a settings path) in a location, which no
// cache can have answered; the latency of the answers marked X-Cache: HIT (from the scheduled
// send, as the client latencies); with --ttl, how many steady-state requests come more than one
// and more than two TTLs after the previous request of their URL; and the upstream's reads per
// 1,000 of them (its /__count when the warm-up ends and at the end). It ends with key=value
// lines for bench/run.
//
// requests: prints the first N requests of the workload, to compare with economy.lua's.
//
// It is longer than one file should be because each half is small and they share the histogram
// and the HTTP plumbing; keeping them in one program keeps bench/run's build to one target.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/program_options.hpp>

#include "net/net.hpp"

namespace po = boost::program_options;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;
using std::chrono::duration;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// --- LuaJIT's math.random --------------------------------------------------------------------

// The generator of LuaJIT 2.1's math.random (Tausworthe, period 2^223) and its randomseed, so
// that a seed draws here exactly what it draws in economy.lua under wrk.
class luajit_random {
 public:
  explicit luajit_random(double seed) {
    std::uint32_t r = 0x11090601;  // 64 - k of each of the four generators, 8 bits each
    double d = seed;
    for (auto& g : gen_) {
      const std::uint64_t m = std::uint64_t{1} << (r & 255);
      r >>= 8;
      d = d * 3.14159265358979323846 + 2.7182818284590452354;
      std::uint64_t u = std::bit_cast<std::uint64_t>(d);
      if (u < m) u += m;
      g = u;
    }
    for (int i = 0; i < 10; ++i) step();
  }

  // math.random(): in [0, 1).
  double uniform() { return std::bit_cast<double>(step()) - 1.0; }
  // math.random(n): in [1, n].
  std::size_t between_1_and(std::size_t n) {
    return static_cast<std::size_t>(std::floor(uniform() * static_cast<double>(n))) + 1;
  }

 private:
  // One step of the four generators; the bits of a double in [1, 2).
  std::uint64_t step() {
    std::uint64_t r = 0;
    r ^= next(gen_[0], 63, 31, 18);
    r ^= next(gen_[1], 58, 19, 28);
    r ^= next(gen_[2], 55, 24, 7);
    r ^= next(gen_[3], 47, 21, 8);
    return (r & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
  }
  static std::uint64_t next(std::uint64_t& z, int k, int q, int s) {
    z = (((z << q) ^ z) >> (k - s)) ^ ((z & (~std::uint64_t{0} << (64 - k))) << s);
    return z;
  }

  std::uint64_t gen_[4];
};

// --- the workload ----------------------------------------------------------------------------

struct resource {
  std::string path;
  std::size_t location = 0;  // 0..4
  // What one grant of the proxy covers in a location: the kind, or the settings path.
  std::string grant;
};

// economy.lua's workload: 20 service tokens of one org, 500 resources over 5 locations (400 call
// parks and 100 paging groups; with `mixed`, every tenth of another shape), Zipf-distributed
// (s = 1) over a shuffled ranking, tokens uniform. Draws come in economy.lua's order.
class workload {
 public:
  struct draw {
    const resource* res;
    const std::string* token;
    std::size_t resource_index;
    std::size_t token_index;
  };

  explicit workload(const std::string& name) : random_(20261125) {
    if (name != "parks" && name != "mixed")
      throw std::invalid_argument("--workload is parks or mixed, not " + name);
    char buf[64];
    for (int t = 1; t <= 20; ++t) {
      std::snprintf(buf, sizeof buf, "Bearer bench-service-%02d-Zjk3YjE4ZTUtYTJhNC00", t);
      tokens_.emplace_back(buf);
    }
    for (int r = 1; r <= 500; ++r) {
      const std::size_t loc = static_cast<std::size_t>((r - 1) % 5);
      const std::string location_id = id("0xPQ0FUSU9OL2xvYy0", static_cast<int>(loc) + 1);
      const std::string location = "/v1/telephony/config/locations/" + location_id;
      if (name == "mixed")
        resources_.push_back(mixed(r, location_id, location, loc));
      else if (r % 5 == 0)
        resources_.push_back({location + "/paging/" + id("1BBR0lORy9wZy0", r), loc, "paging"});
      else
        resources_.push_back(
            {location + "/callParks/" + id("0NBTExfUEFSSy9wYXJrLT", r), loc, "callParks"});
    }
    // Shuffle which resources are popular (Lua's 1-based loop), then the Zipf CDF over ranks.
    for (std::size_t i = resources_.size(); i >= 2; --i) {
      const std::size_t j = random_.between_1_and(i);
      std::swap(resources_[i - 1], resources_[j - 1]);
    }
    double sum = 0;
    for (std::size_t k = 1; k <= resources_.size(); ++k) sum += 1.0 / static_cast<double>(k);
    double acc = 0;
    for (std::size_t k = 1; k <= resources_.size(); ++k) {
      acc += 1.0 / static_cast<double>(k) / sum;
      cdf_.push_back(acc);
    }
    cdf_.back() = 1;
  }

  draw next() {
    const double u = random_.uniform();
    std::size_t lo = 1, hi = cdf_.size();
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (cdf_[mid - 1] < u)
        lo = mid + 1;
      else
        hi = mid;
    }
    const std::size_t t = random_.between_1_and(tokens_.size()) - 1;
    return {&resources_[lo - 1], &tokens_[t], lo - 1, t};
  }

 private:
  static std::string id(const char* kind, int n) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%06d", n);
    return std::string("Y2lzY29zcGFyazovL3VzL") + kind + buf;
  }

  static resource mixed(int r, const std::string& location_id, const std::string& location,
                        std::size_t loc) {
    const std::string max = std::to_string(r % 50 + 1);
    switch (r % 10) {
      case 0: return {location + "/paging/" + id("1BBR0lORy9wZy0", r), loc, "paging"};
      case 1: return {location + "/callParks/" + id("0NBTExfUEFSSy9wYXJrLT", r), loc, "callParks"};
      case 2:
        return {location + "/callPickups/" + id("0NBTExfUElDS1VQL3B1LT", r), loc, "callPickups"};
      case 3: return {location + "/huntGroups/" + id("0hVTlRfR1JPVVAvaGct", r), loc, "huntGroups"};
      case 4: return {location + "/queues/" + id("0NBTExfUVVFVUUvcS0", r), loc, "queues"};
      case 5:
        return {location + "/schedules/businessHours/" + id("1NDSEVEVUxFL3MtT", r), loc,
                "schedules"};
      case 6:
        return {location + "/autoAttendants/" + id("0FVVE9fQVRURU5EQU5UL2Et", r), loc,
                "autoAttendants"};
      case 7:
        if (r % 20 == 7)
          return {location + "/queues/" + id("0NBTExfUVVFVUUvcS0", r) + "/nightService", loc,
                  "queues/nightService"};
        return {location + "/intercept", loc, "intercept"};
      case 8: return {location + "/callParks?max=" + max, loc, "callParks"};
      default:
        return {"/v1/telephony/config/huntGroups?locationId=" + location_id + "&max=" + max, loc,
                "huntGroups"};
    }
  }

  luajit_random random_;
  std::vector<std::string> tokens_;
  std::vector<resource> resources_;
  std::vector<double> cdf_;
};

// --- latency histogram -----------------------------------------------------------------------

// Log-linear buckets over nanoseconds: 128 buckets per power of two, so a percentile (a
// bucket's midpoint) is within 0.4% of the value recorded.
class histogram {
 public:
  void record(nanoseconds d) {
    const auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(d.count(), 0));
    ++counts_[index(v)];
    ++total_;
    max_ = std::max(max_, v);
  }
  std::uint64_t count() const { return total_; }

  // The q-quantile (0 < q <= 1) in milliseconds; 0 when empty.
  double quantile_ms(double q) const {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= std::max<std::uint64_t>(rank, 1)) {
        const double mid = static_cast<double>(lower(i)) + static_cast<double>(width(i)) / 2;
        return std::min(mid, static_cast<double>(max_)) / 1e6;
      }
    }
    return static_cast<double>(max_) / 1e6;
  }
  double max_ms() const { return static_cast<double>(max_) / 1e6; }

 private:
  static constexpr int sub_bits = 7;
  static constexpr std::uint64_t sub = std::uint64_t{1} << sub_bits;

  static std::size_t index(std::uint64_t v) {
    if (v < sub) return static_cast<std::size_t>(v);
    const int shift = std::bit_width(v) - 1 - sub_bits;
    return static_cast<std::size_t>(sub * static_cast<std::uint64_t>(shift + 1) + (v >> shift) -
                                    sub);
  }
  static std::uint64_t lower(std::size_t i) {
    if (i < sub) return i;
    const auto shift = i / sub - 1;
    return (sub + i % sub) << shift;
  }
  static std::uint64_t width(std::size_t i) {
    return i < sub ? 1 : std::uint64_t{1} << (i / sub - 1);
  }

  std::vector<std::uint64_t> counts_ = std::vector<std::uint64_t>(sub * (64 - sub_bits + 1));
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

// --- plumbing --------------------------------------------------------------------------------

struct http_url {
  std::string host;
  std::string port;
  std::string target;  // "/" when none
};

// http://HOST:PORT[/TARGET]: the only form the bench needs (plain HTTP on loopback).
http_url parse_url(const std::string& url) {
  constexpr std::string_view scheme = "http://";
  if (url.rfind(scheme, 0) != 0) throw std::invalid_argument("not an http:// URL: " + url);
  const std::string rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  const auto colon = authority.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("URL without a port: " + url);
  return {authority.substr(0, colon), authority.substr(colon + 1),
          slash == std::string::npos ? "/" : rest.substr(slash)};
}

tcp::endpoint resolve(net::io_context& ioc, const http_url& u) {
  tcp::resolver resolver(ioc);
  return *resolver.resolve(u.host, u.port).begin();
}

tcp::acceptor listen_on(net::io_context& ioc, unsigned short port) {
  tcp::acceptor acceptor(ioc);
  const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
  acceptor.open(ep.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen(net::socket_base::max_listen_connections);
  return acceptor;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// --- upstream --------------------------------------------------------------------------------

struct upstream_state {
  milliseconds delay;
  std::string body;
  // Reads taken (each answered after the delay). Counted when a read arrives rather than when
  // it is answered, so that a count taken at a point in time covers the reads sent before it.
  std::uint64_t received = 0;
};

net::awaitable<void> serve_upstream(tcp::socket socket, upstream_state& state) {
  beast::flat_buffer buffer;
  net::steady_timer timer(socket.get_executor());
  for (;;) {
    http::request_parser<http::string_body> parser;
    auto [ec, n] = co_await http::async_read(socket, buffer, parser, use_tuple);
    if (ec) break;
    const auto& req = parser.get();
    const std::string_view target = req.target();
    http::response<http::string_body> res;
    res.version(11);
    res.keep_alive(req.keep_alive());
    if (req.method() == http::verb::get && target == "/__count") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain");
      res.body() = std::to_string(state.received) + "\n";
    } else if (req.method() == http::verb::get && target.starts_with("/v1/telephony/config/")) {
      const std::uint64_t n = ++state.received;
      timer.expires_after(state.delay);
      auto [tec] = co_await timer.async_wait(use_tuple);
      if (tec) break;
      res.result(http::status::ok);
      res.set(http::field::content_type, "application/json");
      res.set("trackingid", "ROUTERGW_bench-upstream_" + std::to_string(n));
      res.body() = state.body;
    } else {
      res.result(http::status::not_found);
      res.set(http::field::content_type, "application/json");
      res.body() = R"({"message":"not found","errors":[{"description":"not found"}]})";
    }
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(socket, res, use_tuple);
    if (wec || !res.keep_alive()) break;
  }
  beast::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> accept_upstream(tcp::acceptor& acceptor, upstream_state& state) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec) continue;
    socket.set_option(tcp::no_delay(true), ec);
    net::co_spawn(acceptor.get_executor(), serve_upstream(std::move(socket), state), net::detached);
  }
}

int run_upstream(const po::variables_map& vm) {
  net::io_context ioc{1};
  upstream_state state{milliseconds(vm["delay-ms"].as<unsigned>()),
                       read_file(vm["body"].as<std::string>())};
  auto acceptor = listen_on(ioc, vm["port"].as<unsigned short>());
  net::co_spawn(ioc, accept_upstream(acceptor, state), net::detached);
  ioc.run();
  return 0;
}

// --- load ------------------------------------------------------------------------------------

struct load_run {
  workload work;
  http_url url;
  tcp::endpoint endpoint;
  std::optional<http_url> count_url;
  std::optional<tcp::endpoint> count_endpoint;
  nanoseconds interval;  // between two sends of one connection: CONNECTIONS / RATE
  nanoseconds stagger;   // between the first sends of two connections: 1 / RATE
  nanoseconds timeout;
  nanoseconds waited_threshold;  // a tenth of the upstream's delay
  steady::time_point start, warm_end, end, give_up;
  std::size_t live = 0;
  net::steady_timer* all_done = nullptr;

  // Whether a draw is the first of its URL, or its token's first of its grant in its location:
  // what a cache cannot have answered yet, left out of the steady-state share.
  std::vector<bool> url_seen = std::vector<bool>(500);
  std::unordered_set<std::string> grant_seen;
  // When each URL was last scheduled, and the TTL: how long a steady-state request comes after
  // the previous one of its URL, a property of the request sequence (the same for every server).
  std::vector<steady::time_point> url_last = std::vector<steady::time_point>(500);
  nanoseconds ttl{0};
  std::uint64_t steady_gap_ttl = 0, steady_gap_2ttl = 0;

  // Of the requests scheduled after the warm-up:
  histogram corrected;  // scheduled send → answer
  histogram service;    // actual send → answer
  histogram hit;        // service time of answers with X-Cache: HIT
  histogram send_lag;   // scheduled send → actual send
  std::uint64_t answered = 0, non_2xx = 0, errors = 0, unsent = 0, sent_in_window = 0;
  std::uint64_t waited = 0, steady_answered = 0, steady_waited = 0;
  std::map<std::string, std::uint64_t> x_cache;
  std::map<std::string, std::uint64_t> waited_by_x_cache;
  std::uint64_t answered_all = 0;  // over the whole run, warm-up included
  std::optional<std::uint64_t> count_before, count_at_warm_end, count_after;

  explicit load_run(const std::string& workload_name) : work(workload_name) {}

  bool first_of_its_kind(const workload::draw& d) {
    bool first = !url_seen[d.resource_index];
    url_seen[d.resource_index] = true;
    const std::string g = std::to_string(d.token_index) + "|" + std::to_string(d.res->location) +
                          "|" + d.res->grant;
    if (grant_seen.insert(g).second) first = true;
    return first;
  }
};

net::awaitable<std::optional<std::uint64_t>> fetch_count(load_run& run) {
  if (!run.count_url) co_return std::nullopt;
  beast::tcp_stream stream(co_await net::this_coro::executor);
  stream.expires_after(std::chrono::seconds(5));
  auto [cec] = co_await stream.async_connect(*run.count_endpoint, use_tuple);
  if (cec) co_return std::nullopt;
  http::request<http::empty_body> req{http::verb::get, run.count_url->target, 11};
  req.set(http::field::host, run.count_url->host + ":" + run.count_url->port);
  req.keep_alive(false);
  auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
  if (wec) co_return std::nullopt;
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  auto [rec, rn] = co_await http::async_read(stream, buffer, res, use_tuple);
  if (rec || res.result() != http::status::ok) co_return std::nullopt;
  try {
    co_return std::stoull(res.body());
  } catch (const std::exception&) {
    co_return std::nullopt;
  }
}

net::awaitable<void> fetch_count_at_warm_end(load_run& run) {
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_at(run.warm_end);
  co_await timer.async_wait(use_tuple);
  run.count_at_warm_end = co_await fetch_count(run);
}

// One connection's share of the schedule.
net::awaitable<void> run_connection(load_run& run, std::size_t index) {
  const auto ex = co_await net::this_coro::executor;
  beast::tcp_stream stream(ex);
  net::steady_timer timer(ex);
  beast::flat_buffer buffer;
  std::string request;
  // Connected before the schedule starts; a reconnect later is part of the request it serves.
  const auto connect = [&]() -> net::awaitable<bool> {
    stream.expires_after(std::chrono::seconds(5));
    auto [cec] = co_await stream.async_connect(run.endpoint, use_tuple);
    if (cec) {
      stream.close();
      co_return false;
    }
    beast::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    buffer.clear();
    co_return true;
  };
  bool connected = co_await connect();
  auto scheduled = run.start + run.stagger * static_cast<std::int64_t>(index);
  for (; scheduled < run.end; scheduled += run.interval) {
    const bool measured = scheduled >= run.warm_end;
    if (steady::now() > run.give_up) {
      // Still behind long after the end: what was never sent is reported, not waited for.
      for (; scheduled < run.end; scheduled += run.interval)
        if (scheduled >= run.warm_end) ++run.unsent;
      break;
    }
    if (steady::now() < scheduled) {
      timer.expires_at(scheduled);
      co_await timer.async_wait(use_tuple);
    }
    if (!connected && !(connected = co_await connect())) {
      if (measured) ++run.errors;
      continue;
    }
    const auto d = run.work.next();
    const bool first = run.first_of_its_kind(d);
    const auto gap = scheduled - run.url_last[d.resource_index];
    run.url_last[d.resource_index] = scheduled;
    request.clear();
    request.append("GET ").append(d.res->path).append(" HTTP/1.1\r\nHost: ");
    request.append(run.url.host).append(":").append(run.url.port);
    request.append("\r\nAuthorization: ").append(*d.token).append("\r\n\r\n");

    stream.expires_after(run.timeout);
    const auto sent = steady::now();
    auto [wec, wn] = co_await net::async_write(stream, net::buffer(request), use_tuple);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    beast::error_code rec = wec;
    if (!wec) {
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
      rec = ec;
    }
    const auto done = steady::now();
    if (measured && sent < run.end) ++run.sent_in_window;
    if (rec) {
      if (measured) ++run.errors;
      stream.close();
      connected = false;
      continue;
    }
    ++run.answered_all;
    const auto& res = parser.get();
    if (measured) {
      ++run.answered;
      run.corrected.record(done - scheduled);
      run.service.record(done - sent);
      run.send_lag.record(sent - scheduled);
      if (res.result_int() < 200 || res.result_int() > 299) ++run.non_2xx;
      const auto xc = res.find("X-Cache");
      const std::string x = xc == res.end() ? "-" : std::string(xc->value());
      ++run.x_cache[x];
      // On the same clock as the client latencies (from the scheduled send): comparable with them.
      if (x == "HIT") run.hit.record(done - scheduled);
      const bool waited = done - sent >= run.waited_threshold;
      run.waited += waited;
      if (waited) ++run.waited_by_x_cache[x];
      if (!first) {
        ++run.steady_answered;
        run.steady_waited += waited;
        run.steady_gap_ttl += run.ttl.count() > 0 && gap > run.ttl;
        run.steady_gap_2ttl += run.ttl.count() > 0 && gap > 2 * run.ttl;
      }
    }
    if (!res.keep_alive()) {
      stream.close();
      connected = false;
    }
  }
  if (--run.live == 0) run.all_done->cancel();
}

net::awaitable<void> drive(load_run& run, std::size_t connections, nanoseconds warmup,
                           nanoseconds duration) {
  const auto ex = co_await net::this_coro::executor;
  run.count_before = co_await fetch_count(run);
  net::steady_timer all_done(ex, steady::time_point::max());
  run.all_done = &all_done;
  // Time for every connection to connect before the first send.
  run.start = steady::now() + milliseconds(500);
  run.warm_end = run.start + warmup;
  run.end = run.warm_end + duration;
  run.give_up = run.end + std::max<nanoseconds>(run.timeout, std::chrono::seconds(10));
  run.live = connections;
  for (std::size_t i = 0; i < connections; ++i)
    net::co_spawn(ex, run_connection(run, i), net::detached);
  if (warmup.count() > 0)
    net::co_spawn(ex, fetch_count_at_warm_end(run), net::detached);
  else
    run.count_at_warm_end = run.count_before;
  co_await all_done.async_wait(use_tuple);
  run.count_after = co_await fetch_count(run);
}

std::string pct(std::uint64_t part, std::uint64_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", whole ? 100.0 * static_cast<double>(part) /
                                                     static_cast<double>(whole)
                                               : 0.0);
  return buf;
}

std::string ms(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

void report(const load_run& run, double rate, double duration_s, double delay_ms) {
  const auto& c = run.corrected;
  const auto& s = run.service;
  char achieved[32];
  std::snprintf(achieved, sizeof achieved, "%.1f",
                static_cast<double>(run.sent_in_window) / duration_s);
  std::cout << "target " << rate << " requests/s, achieved " << achieved << " (sent in the "
            << duration_s << " s window: " << run.sent_in_window << ")\n"
            << "answered " << run.answered << ", non-2xx " << run.non_2xx << ", errors "
            << run.errors << ", never sent " << run.unsent << "\n"
            << "latency from the scheduled send: p50 " << ms(c.quantile_ms(0.5)) << " ms, p99 "
            << ms(c.quantile_ms(0.99)) << " ms, p99.9 " << ms(c.quantile_ms(0.999))
            << " ms, max " << ms(c.max_ms()) << " ms\n"
            << "service time: p50 " << ms(s.quantile_ms(0.5)) << " ms, p99 "
            << ms(s.quantile_ms(0.99)) << " ms, p99.9 " << ms(s.quantile_ms(0.999)) << " ms\n"
            << "sent late by: p50 " << ms(run.send_lag.quantile_ms(0.5)) << " ms, p99 "
            << ms(run.send_lag.quantile_ms(0.99)) << " ms\n"
            << "X-Cache: HIT answers " << run.hit.count() << ", latency p50 "
            << ms(run.hit.quantile_ms(0.5)) << " ms, p99 " << ms(run.hit.quantile_ms(0.99))
            << " ms;";
  for (const auto& [k, v] : run.x_cache) std::cout << " " << k << "=" << v;
  std::cout << "\n"
            << "waited on upstream (service time >= " << 0.1 * delay_ms << " ms): "
            << pct(run.waited, run.answered) << "% of " << run.answered << "; steady state "
            << pct(run.steady_waited, run.steady_answered) << "% of " << run.steady_answered
            << "; by X-Cache:";
  for (const auto& [k, v] : run.waited_by_x_cache) std::cout << " " << k << "=" << v;
  std::cout << "\n";
  if (run.ttl.count() > 0)
    std::cout << "of the steady-state requests, " << pct(run.steady_gap_ttl, run.steady_answered)
              << "% come more than one TTL after the previous request of their URL, "
              << pct(run.steady_gap_2ttl, run.steady_answered) << "% more than two\n";
  std::optional<std::uint64_t> up_window, up_run;
  if (run.count_at_warm_end && run.count_after)
    up_window = *run.count_after - *run.count_at_warm_end;
  if (run.count_before && run.count_after) up_run = *run.count_after - *run.count_before;
  const auto per_1000 = [](std::optional<std::uint64_t> up, std::uint64_t clients) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f",
                  up && clients ? 1000.0 * static_cast<double>(*up) / static_cast<double>(clients)
                                : -1.0);
    return std::string(buf);
  };
  if (up_window && up_run)
    std::cout << "upstream requests: " << *up_window << " after the warm-up ("
              << per_1000(up_window, run.answered) << " per 1,000), " << *up_run
              << " over the whole run (" << per_1000(up_run, run.answered_all) << " per 1,000)\n";

  std::cout << "rate=" << rate << "\n"
            << "achieved_rate=" << achieved << "\n"
            << "requests=" << run.answered << "\n"
            << "non_2xx=" << run.non_2xx << "\n"
            << "errors=" << run.errors << "\n"
            << "unsent=" << run.unsent << "\n"
            << "p50_ms=" << ms(c.quantile_ms(0.5)) << "\n"
            << "p99_ms=" << ms(c.quantile_ms(0.99)) << "\n"
            << "p999_ms=" << ms(c.quantile_ms(0.999)) << "\n"
            << "max_ms=" << ms(c.max_ms()) << "\n"
            << "service_p50_ms=" << ms(s.quantile_ms(0.5)) << "\n"
            << "service_p99_ms=" << ms(s.quantile_ms(0.99)) << "\n"
            << "service_p999_ms=" << ms(s.quantile_ms(0.999)) << "\n"
            << "send_lag_p99_ms=" << ms(run.send_lag.quantile_ms(0.99)) << "\n"
            << "hits=" << run.hit.count() << "\n"
            << "hit_p50_ms=" << ms(run.hit.quantile_ms(0.5)) << "\n"
            << "hit_p99_ms=" << ms(run.hit.quantile_ms(0.99)) << "\n"
            << "waited_pct=" << pct(run.waited, run.answered) << "\n"
            << "steady_requests=" << run.steady_answered << "\n"
            << "steady_waited_pct=" << pct(run.steady_waited, run.steady_answered) << "\n"
            << "steady_gap_ttl_pct=" << pct(run.steady_gap_ttl, run.steady_answered) << "\n"
            << "steady_gap_2ttl_pct=" << pct(run.steady_gap_2ttl, run.steady_answered) << "\n"
            << "upstream_window=" << (up_window ? std::to_string(*up_window) : "-") << "\n"
            << "upstream_window_per_1000=" << per_1000(up_window, run.answered) << "\n"
            << "upstream_run=" << (up_run ? std::to_string(*up_run) : "-") << "\n"
            << "upstream_run_per_1000=" << per_1000(up_run, run.answered_all) << "\n";
}

// The first requests of the workload, one "PATH AUTHORIZATION" line each: to compare with what
// economy.lua sends.
int print_requests(const po::variables_map& vm) {
  workload work(vm["workload"].as<std::string>());
  for (std::size_t i = vm["count"].as<std::size_t>(); i > 0; --i) {
    const auto d = work.next();
    std::cout << d.res->path << " " << *d.token << "\n";
  }
  return 0;
}

int run_load(const po::variables_map& vm) {
  const double rate = vm["rate"].as<double>();
  const double duration_s = vm["duration"].as<double>();
  const double warmup_s = vm["warmup"].as<double>();
  const auto connections = vm["connections"].as<std::size_t>();
  const double delay_ms = vm["upstream-delay-ms"].as<double>();
  if (rate <= 0 || duration_s <= 0 || warmup_s < 0 || connections == 0)
    throw std::invalid_argument("--rate, --duration and --connections must be positive");
  const auto ns = [](double seconds) {
    return std::chrono::duration_cast<nanoseconds>(duration<double>(seconds));
  };

  net::io_context ioc{1};
  load_run run(vm["workload"].as<std::string>());
  run.url = parse_url(vm["url"].as<std::string>());
  run.endpoint = resolve(ioc, run.url);
  if (vm.count("upstream-count-url")) {
    run.count_url = parse_url(vm["upstream-count-url"].as<std::string>());
    run.count_endpoint = resolve(ioc, *run.count_url);
  }
  run.interval = ns(static_cast<double>(connections) / rate);
  run.stagger = ns(1.0 / rate);
  run.timeout = ns(vm["timeout"].as<double>());
  run.waited_threshold = ns(0.1 * delay_ms / 1000.0);
  run.ttl = ns(vm["ttl"].as<double>());
  net::co_spawn(ioc, drive(run, connections, ns(warmup_s), ns(duration_s)), net::detached);
  ioc.run();
  report(run, rate, duration_s, delay_ms);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  po::options_description upstream_opts("upstream");
  upstream_opts.add_options()
      ("port", po::value<unsigned short>()->required(), "listen on 127.0.0.1:PORT")
      ("delay-ms", po::value<unsigned>()->default_value(120), "answer each read after this delay")
      ("body", po::value<std::string>()->required(), "the JSON body of every answer");
  po::options_description load_opts("load");
  load_opts.add_options()
      ("url", po::value<std::string>()->required(), "http://HOST:PORT of the server under test")
      ("rate", po::value<double>()->required(), "requests per second, all connections together")
      ("duration", po::value<double>()->default_value(60), "seconds measured after the warm-up")
      ("warmup", po::value<double>()->default_value(10), "seconds sent but not measured")
      ("connections", po::value<std::size_t>()->default_value(64), "keep-alive connections")
      ("workload", po::value<std::string>()->default_value("parks"), "parks or mixed")
      ("upstream-delay-ms", po::value<double>()->default_value(120),
       "the upstream's delay: an answer that took 0.9 of it or more waited on upstream")
      ("upstream-count-url", po::value<std::string>(),
       "the upstream's /__count, read at the start, when the warm-up ends and at the end")
      ("timeout", po::value<double>()->default_value(30), "seconds before a request fails")
      ("ttl", po::value<double>()->default_value(0),
       "the servers' TTL in seconds: also report how many steady-state requests come more than "
       "one (and two) TTLs after the previous request of their URL");
  po::options_description requests_opts("requests");
  requests_opts.add_options()
      ("count", po::value<std::size_t>()->default_value(1000), "how many")
      ("workload", po::value<std::string>()->default_value("parks"), "parks or mixed");
  po::options_description* opts = mode == "upstream" ? &upstream_opts
                                  : mode == "load"     ? &load_opts
                                  : mode == "requests" ? &requests_opts
                                                       : nullptr;
  if (!opts) {
    std::cerr << "usage: " << argv[0] << " upstream|load|requests OPTIONS\n"
              << upstream_opts << load_opts << requests_opts;
    return 2;
  }
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc - 1, argv + 1, *opts), vm);
    po::notify(vm);
    if (mode == "upstream") return run_upstream(vm);
    if (mode == "requests") return print_requests(vm);
    return run_load(vm);
  } catch (const std::exception& e) {
    std::cerr << argv[0] << " " << mode << ": " << e.what() << "\n";
    return 2;
  }
}
