// The soak: two proxy instances (--threads 2) sharing one real redis-server in front of the fake
// Webex API, 8 clients with 12 tokens over 2 orgs reading and writing the same hot resources,
// while faults are scripted: Redis SIGKILLed every 30 s and restarted 2 s later, a 429 storm on one token
// every 40 s (8 s long), one token revoked at 40 % of the run. Run by bench/soak.
//
// Every write is a PUT {"rev":N} through a random instance (writes to one resource never
// overlap, so N grows with each acknowledged write); every GET's answer is checked afterwards
// against that history:
//  - leak: a 200 to a token that may not read the resource (another org, another location), or
//    the body of another resource;
//  - stale after write: a 200 not marked STALE whose rev a write acknowledged before the read was
//    sent had already replaced; by instance (the write's or the other one) and by how long after
//    that acknowledgement the read was sent;
//  - revoked: a 200 to the revoked token, and those sent later than --grant-ttl after revoking;
//  - 5xx and requests that got no answer; requests over 2 s, by cause; 429s to other tokens;
//  - crashes (an instance not running at the end) and each instance's RSS after warm-up and at
//    the end.
// Prints the counts, then PASS or FAIL against the issue's bar; exits 1 on FAIL.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fake_webex/fake_webex.hpp"
#include "support/e2e.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

using namespace wcp;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr int clients = 8;
constexpr milliseconds client_pace{40};  // each client sends one request per 40 ms at most
constexpr double write_share = 0.05;
constexpr seconds cache_ttl{3};
constexpr seconds grant_ttl{10};
constexpr seconds kill_first{15}, kill_every{30};
constexpr milliseconds redis_down{2000};  // from SIGKILL to the restart
constexpr seconds storm_first{20}, storm_every{40}, storm_length{8};
constexpr int storm_retry_after_s = 3;
constexpr milliseconds upstream_delay{10};
constexpr milliseconds slow{2000};

struct token_info {
  std::string token;
  int org = 0;
  int location = -1;  // -1: full admin of its org
};

struct resource_info {
  std::string path;
  std::string id;
  int org = 0;
  int location = 0;  // 0..3, two per org
  std::unique_ptr<std::mutex> writing = std::make_unique<std::mutex>();
};

struct write_record {
  long rev = 0;
  steady::time_point acked;
  int instance = 0;
};

struct read_record {
  int resource = 0, token = 0, instance = 0;
  steady::time_point sent, done;
  unsigned status = 0;  // 0: no answer
  long rev = -1;        // -1: none in the body
  bool stale_marked = false;
  bool right_body = true;
};

double seconds_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

long rev_of(const std::string& body) {
  const auto at = body.find("\"rev\":");
  if (at == std::string::npos) return 0;  // never written: the first version
  return std::strtol(body.c_str() + at + 6, nullptr, 10);
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

bool may_read(const token_info& t, const resource_info& r) {
  return t.org == r.org && (t.location < 0 || t.location == r.location);
}

}  // namespace

int main(int argc, char** argv) {
  const seconds duration{argc > 1 ? std::max(10, std::atoi(argv[1])) : 180};
  signal(SIGPIPE, SIG_IGN);

  test::redis_server redis;
  fake::fake_webex fake;
  fake.set_response_delay(upstream_delay);

  // Two orgs, two locations each, four resources per location (paging groups and hunt groups,
  // whose IDs stay when they are written).
  std::vector<std::string> orgs, locations;
  std::vector<resource_info> resources;
  for (int o = 0; o < 2; ++o) {
    orgs.push_back(fake::webex_id("ORGANIZATION", "soak-org-" + std::to_string(o)));
    fake.add_org(orgs.back());
    for (int l = 0; l < 2; ++l) {
      const int loc = o * 2 + l;
      locations.push_back(fake::webex_id("LOCATION", "soak-location-" + std::to_string(loc)));
      fake.add_location(orgs[o], locations.back(), "Soak Location " + std::to_string(loc));
      for (int i = 0; i < 4; ++i) {
        resource_info r;
        r.org = o;
        r.location = loc;
        const std::string name = "Soak " + std::to_string(loc) + "-" + std::to_string(i);
        if (i % 2 == 0) {
          r.id = fake.add_paging_group(locations.back(), name);
          r.path = fake::paging_path(locations.back(), r.id);
        } else {
          r.id = fake.add_item(locations.back(), "huntGroups", name);
          r.path = fake::item_path(locations.back(), "huntGroups", r.id);
        }
        resources.push_back(std::move(r));
      }
    }
  }
  // Twelve tokens: per org two full admins and two location admins of each location.
  std::vector<token_info> tokens;
  for (int o = 0; o < 2; ++o)
    for (int k = 0; k < 6; ++k) {
      token_info t;
      t.org = o;
      t.location = k < 2 ? -1 : o * 2 + (k - 2) / 2;
      t.token = "soak-token-" + std::to_string(o) + "-" + std::to_string(k) + "-c2VjcmV0";
      fake::token_spec spec{t.token, orgs[o], {}, {}};
      if (t.location >= 0) spec.locations = {locations[t.location]};
      fake.add_token(std::move(spec));
      tokens.push_back(std::move(t));
    }
  const int revoked_token = 1;  // org 0's second full admin
  const int storm_token = 7;    // org 1's second full admin

  // Faults upstream: the storm token's 429s, the revoked token's 401s.
  const auto start = steady::now();
  const auto revoke_at = start + duration * 2 / 5;
  std::atomic<bool> revoked{false};
  const auto in_storm = [&](steady::time_point t) {
    const auto since = t - start;
    if (since < storm_first) return false;
    return (since - storm_first) % storm_every < storm_length;
  };
  const std::string storm_auth = "Bearer " + tokens[storm_token].token;
  const std::string revoked_auth = "Bearer " + tokens[revoked_token].token;
  // Upstream requests per second of the run: what an outage costs.
  std::vector<std::atomic<long>> upstream_per_second(static_cast<std::size_t>(duration.count()) + 60);
  fake.set_interceptor([&](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    const auto second = static_cast<std::size_t>(
        std::chrono::duration_cast<seconds>(steady::now() - start).count());
    if (second < upstream_per_second.size()) ++upstream_per_second[second];
    fake::scripted_response out;
    if (revoked && r.authorization == revoked_auth) {
      out.status = 401;
      out.body = R"({"message":"The request requires a valid access token set in the Authorization request header.","errors":[{"description":"The request requires a valid access token set in the Authorization request header."}]})";
      return out;
    }
    if (r.authorization == storm_auth && in_storm(steady::now())) {
      out.status = 429;
      out.headers = {{"Retry-After", std::to_string(storm_retry_after_s)}};
      out.body = R"({"message":"Too many requests","errors":[{"description":"Too many requests"}]})";
      return out;
    }
    return std::nullopt;
  });

  const std::vector<std::string> args{"--upstream", fake.base_url(), "--redis", redis.url(),
                                      "--threads", "2", "--cache-ttl", std::to_string(cache_ttl.count()) + "s",
                                      "--grant-ttl", std::to_string(grant_ttl.count()) + "s",
                                      "--access-log", "off"};
  test::proxy_process instances[2] = {test::start_proxy(args), test::start_proxy(args)};
  for (auto& p : instances)
    if (!test::eventually([&] {
          return test::metric(p.admin_port, "webex_cache_proxy_redis_subscribed") == 1 &&
                 test::metric(p.admin_port, "webex_cache_proxy_redis_up") == 1;
        }))
      throw std::runtime_error("an instance did not connect to Redis");

  std::vector<std::vector<write_record>> history(resources.size());
  std::mutex history_mu;
  std::vector<std::vector<read_record>> reads(clients);
  std::atomic<std::size_t> write_failures{0}, writes_done{0};
  std::atomic<bool> stop{false};
  std::vector<long> rss_warm(2, -1);

  auto client = [&](int c) {
    std::mt19937 rng(1234 + c);
    std::uniform_real_distribution<double> unit(0, 1);
    auto next = steady::now();
    std::vector<int> writable;  // tokens that write: not revoked, not stormed
    for (int t = 0; t < static_cast<int>(tokens.size()); ++t)
      if (t != revoked_token && t != storm_token) writable.push_back(t);
    while (!stop) {
      std::this_thread::sleep_until(next);
      next = std::max(next + client_pace, steady::now());
      const int instance = static_cast<int>(rng() % 2);
      const auto port = instances[instance].port;
      if (unit(rng) < write_share) {
        const int res = static_cast<int>(rng() % resources.size());
        auto& r = resources[res];
        std::unique_lock lock(*r.writing, std::try_to_lock);
        if (lock.owns_lock()) {
          std::vector<int> who;
          for (int t : writable)
            if (may_read(tokens[t], r)) who.push_back(t);
          const int t = who[rng() % who.size()];
          long rev;
          {
            std::lock_guard h(history_mu);
            rev = history[res].empty() ? 1 : history[res].back().rev + 1;
          }
          try {
            auto res_put = test::http_request(
                port, "PUT", r.path,
                {{"Authorization", "Bearer " + tokens[t].token}, {"Content-Type", "application/json"}},
                R"({"rev":)" + std::to_string(rev) + "}", seconds(30));
            if (res_put.status / 100 == 2) {
              std::lock_guard h(history_mu);
              history[res].push_back({rev, steady::now(), instance});
              ++writes_done;
            } else {
              ++write_failures;
            }
          } catch (const std::exception&) {
            ++write_failures;
          }
          // A write that failed may still have been applied: the next one takes a higher rev.
          std::lock_guard h(history_mu);
          if (history[res].empty() || history[res].back().rev < rev)
            history[res].push_back({rev, steady::time_point::max(), instance});
          continue;
        }
      }
      read_record rr;
      rr.token = static_cast<int>(rng() % tokens.size());
      // Mostly what the token may read; a fifth of the time anything.
      std::vector<int> mine;
      for (int i = 0; i < static_cast<int>(resources.size()); ++i)
        if (may_read(tokens[rr.token], resources[i])) mine.push_back(i);
      rr.resource = unit(rng) < 0.8 ? mine[rng() % mine.size()]
                                    : static_cast<int>(rng() % resources.size());
      rr.instance = instance;
      rr.sent = steady::now();
      try {
        auto res = test::http_request(port, "GET", resources[rr.resource].path,
                                      {{"Authorization", "Bearer " + tokens[rr.token].token}}, {},
                                      seconds(30));
        rr.status = res.status;
        rr.stale_marked = res.header("X-Cache") == "STALE";
        if (res.status == 200) {
          rr.rev = rev_of(res.body);
          rr.right_body = res.body.find(resources[rr.resource].id) != std::string::npos;
        }
      } catch (const std::exception&) {
        rr.status = 0;
      }
      rr.done = steady::now();
      reads[c].push_back(rr);
    }
  };

  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) threads.emplace_back(client, c);

  // The faults' script.
  std::vector<steady::time_point> kills;
  const auto end = start + duration;
  auto next_kill = start + kill_first;
  std::optional<steady::time_point> restart_at;
  bool warm_taken = false;
  while (steady::now() < end) {
    const auto now = steady::now();
    if (restart_at && now >= *restart_at) {
      redis.restart();
      restart_at.reset();
    }
    if (!warm_taken && now - start >= seconds(5)) {
      for (int i = 0; i < 2; ++i) rss_warm[i] = rss_kib(instances[i].proc->pid());
      warm_taken = true;
    }
    if (!revoked && now >= revoke_at) revoked = true;
    if (now >= next_kill) {
      kills.push_back(now);
      redis.kill();
      restart_at = now + redis_down;
      next_kill += kill_every;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  stop = true;
  for (auto& t : threads) t.join();
  fake.set_interceptor({});  // it uses this scope's state

  // --- the oracle ---
  std::size_t total = 0, ok200 = 0, stale_marked = 0, leaks = 0, wrong_body = 0,
              same_stale = 0, errors_5xx = 0, no_answer = 0, revoked_200 = 0,
              revoked_past_ttl = 0, other_429 = 0, storm_429 = 0;
  std::map<std::string, std::size_t> other_stale;  // by delay bucket
  std::map<std::string, std::size_t> slow_by_cause;
  double worst_other_delay = 0;
  const auto bucket = [](double s) {
    return s < 0.5 ? "< 0.5 s" : s < 1 ? "0.5-1 s" : s < 2 ? "1-2 s" : "> 2 s";
  };
  // From a kill to 2 s after the restart: isolated, then settling.
  const auto in_outage = [&](steady::time_point t) {
    for (auto k : kills)
      if (t >= k && t - k < redis_down + seconds(2)) return true;
    return false;
  };
  std::size_t other_stale_redis_up = 0;
  const auto near_kill = [&](steady::time_point t) {
    for (auto k : kills)
      if (t >= k && t - k < seconds(5)) return true;
    return false;
  };
  for (const auto& per_client : reads)
    for (const auto& r : per_client) {
      ++total;
      const auto& res = resources[r.resource];
      if (r.status == 0) ++no_answer;
      if (r.status >= 500) ++errors_5xx;
      if (r.status == 429) (r.token == storm_token ? storm_429 : other_429)++;
      if (r.done - r.sent > slow) {
        const char* cause = r.token == storm_token ? "the 429-storm token"
                            : r.token == revoked_token && revoked ? "the revoked token"
                            : near_kill(r.sent) ? "others, within 5 s of a Redis kill"
                                                : "others";
        ++slow_by_cause[cause];
      }
      if (r.status != 200) continue;
      ++ok200;
      if (!may_read(tokens[r.token], res)) ++leaks;
      if (!r.right_body) ++wrong_body;
      if (r.token == revoked_token && r.sent > revoke_at) {
        ++revoked_200;
        if (r.sent > revoke_at + grant_ttl) ++revoked_past_ttl;
      }
      if (r.stale_marked) {
        ++stale_marked;
        continue;
      }
      // The earliest acknowledged write that replaced this rev before the read was sent.
      const write_record* replaced = nullptr;
      for (const auto& w : history[r.resource])
        if (w.rev > r.rev && w.acked < r.sent && (!replaced || w.acked < replaced->acked)) replaced = &w;
      if (!replaced) continue;
      if (replaced->instance == r.instance) {
        ++same_stale;
      } else {
        const double delay = seconds_between(replaced->acked, r.sent);
        ++other_stale[bucket(delay)];
        if (!in_outage(replaced->acked)) ++other_stale_redis_up;
        worst_other_delay = std::max(worst_other_delay, delay);
      }
    }

  bool crashed = false;
  std::vector<long> rss_end(2);
  std::vector<double> isolated_periods(2), refetches(2);
  for (int i = 0; i < 2; ++i) {
    crashed = crashed || !instances[i].proc->running();
    rss_end[i] = rss_kib(instances[i].proc->pid());
    isolated_periods[i] = test::metric(instances[i].admin_port, "webex_cache_proxy_isolated_periods_total");
    refetches[i] = test::metric(instances[i].admin_port, "webex_cache_proxy_isolated_refetches_total");
  }
  const auto upstream = fake.requests().size();

  // Upstream requests per second: the seconds from each kill to 1 s after the restart (isolated,
  // then settling) against the others after warm-up.
  double outage_requests = 0, outage_seconds = 0, normal_requests = 0, normal_seconds = 0;
  const auto down_s = std::chrono::duration_cast<seconds>(redis_down).count();
  for (long sec = 5; sec < duration.count(); ++sec) {
    bool outage = false;
    for (auto k : kills) {
      const auto ks = std::chrono::duration_cast<seconds>(k - start).count();
      outage = outage || (sec >= ks && sec < ks + down_s + 2);
    }
    (outage ? outage_requests : normal_requests) += upstream_per_second[sec];
    (outage ? outage_seconds : normal_seconds) += 1;
  }

  std::size_t other_stale_total = 0;
  for (const auto& [k, v] : other_stale) other_stale_total += v;
  std::size_t slow_others = 0;
  for (const auto& [cause, n] : slow_by_cause)
    if (std::string(cause) != "the 429-storm token") slow_others += n;

  std::printf("soak: %lld s, 2 instances (--threads 2, --cache-ttl %llds, --grant-ttl %llds), %d clients, "
              "%zu tokens over 2 orgs, %zu resources\n",
              static_cast<long long>(duration.count()), static_cast<long long>(cache_ttl.count()),
              static_cast<long long>(grant_ttl.count()), clients, tokens.size(), resources.size());
  std::printf("faults: Redis SIGKILLed (and restarted 2 s later) %zu times; 429 storms on one token from %llds every %llds "
              "for %llds; one token revoked at %llds\n",
              kills.size(), static_cast<long long>(storm_first.count()),
              static_cast<long long>(storm_every.count()), static_cast<long long>(storm_length.count()),
              static_cast<long long>(std::chrono::duration_cast<seconds>(revoke_at - start).count()));
  std::printf("requests: %zu reads (%zu answered 200, %zu of them STALE-marked), %zu writes acknowledged, "
              "%zu writes not; upstream requests %zu\n",
              total, ok200, stale_marked, writes_done.load(), write_failures.load(), upstream);
  std::printf("upstream requests per second: %.1f while Redis is down and the second after, %.1f otherwise\n",
              outage_seconds ? outage_requests / outage_seconds : 0.0,
              normal_seconds ? normal_requests / normal_seconds : 0.0);
  std::printf("leaks (200 to a token that may not read it, or another resource's body): %zu\n",
              leaks + wrong_body);
  std::printf("stale after write, same instance: %zu\n", same_stale);
  std::printf("stale after write, other instance: %zu", other_stale_total);
  for (const char* k : {"< 0.5 s", "0.5-1 s", "1-2 s", "> 2 s"})
    if (other_stale.count(k)) std::printf("  [%s after the write: %zu]", k, other_stale[k]);
  std::printf("  (latest %.3f s after the write; %zu of them for writes made while Redis was up)\n",
              worst_other_delay, other_stale_redis_up);
  std::printf("revoked token: %zu answered 200 after revoking, %zu of them later than --grant-ttl\n",
              revoked_200, revoked_past_ttl);
  std::printf("5xx: %zu; no answer: %zu; 429 to the storm token: %zu, to others: %zu\n", errors_5xx,
              no_answer, storm_429, other_429);
  std::printf("requests over 2 s:");
  if (slow_by_cause.empty()) std::printf(" none");
  for (const auto& [cause, n] : slow_by_cause) std::printf("  [%s: %zu]", cause.c_str(), n);
  std::printf("\n");
  for (int i = 0; i < 2; ++i) {
    // The longest isolated period, from the instance's log ("... isolated_ms=N").
    long longest_ms = 0;
    const std::string out = instances[i].proc->output();
    for (auto at = out.find("isolated_ms="); at != std::string::npos; at = out.find("isolated_ms=", at + 1))
      longest_ms = std::max(longest_ms, std::strtol(out.c_str() + at + 12, nullptr, 10));
    std::printf("instance %d: %s; RSS %.1f MiB after 5 s, %.1f MiB at the end; isolated periods %.0f "
                "(longest %ld ms), entries fetched again meanwhile %.0f\n",
                i + 1, instances[i].proc->running() ? "running" : "NOT RUNNING", rss_warm[i] / 1024.0,
                rss_end[i] / 1024.0, isolated_periods[i], longest_ms, refetches[i]);
  }

  std::vector<std::string> failed;
  if (leaks + wrong_body) failed.push_back("leaks");
  if (same_stale) failed.push_back("same-instance stale after write");
  if (other_stale.count("> 2 s")) failed.push_back("other-instance stale later than 2 s");
  if (revoked_past_ttl) failed.push_back("revoked-token serves past the grant TTL");
  if (errors_5xx || no_answer) failed.push_back("5xx or no answer");
  if (crashed) failed.push_back("crash");
  if (slow_others) failed.push_back("requests over 2 s not of the storm token");
  if (other_429) failed.push_back("429 to tokens not under the storm");
  for (int i = 0; i < 2; ++i)
    if (rss_warm[i] > 0 && rss_end[i] - rss_warm[i] > 16 * 1024) failed.push_back("RSS grew over 16 MiB");
  if (failed.empty()) {
    std::printf("soak: PASS\n");
    return 0;
  }
  std::printf("soak: FAIL:");
  for (const auto& f : failed) std::printf(" %s;", f.c_str());
  std::printf("\n");
  return 1;
}
