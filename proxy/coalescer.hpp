// Request coalescing: concurrent misses for one resource variant become one upstream request
// (the leader's); the others (waiters) get its answer. A caller joins a flight only if it may
// share the answer: it sent the same token (fingerprint), or it holds a grant for the
// resource's org form and location. The leader's outcome — answer or failure — is delivered to
// every waiter exactly once; a waiter that goes away cancels nobody. A leader that waits out a
// rate-limit block of its own token (its 429) keeps nobody else waiting: the waiters with other
// tokens are let go to fetch for themselves, and callers with other tokens no longer join it.
//
// Thread-safety: join/finish may be called from any thread; a waiter resumes on its own
// executor.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "cache/fingerprint.hpp"
#include "cache/store.hpp"
#include "net/net.hpp"
#include "proxy/upstream_pool.hpp"

namespace wcp::proxy {

using shared_result = std::shared_ptr<const upstream_result>;

class coalescer {
 public:
  class flight {
   public:
    const cache::token_fingerprint& leader() const noexcept { return leader_; }
    // The leader's fill ticket, taken before its flight could be joined.
    const cache::fill_ticket& ticket() const noexcept { return ticket_; }

   private:
    friend class coalescer;
    struct waiter {
      cache::token_fingerprint token;
      std::function<void(shared_result)> deliver;
    };
    cache::token_fingerprint leader_;
    cache::fill_ticket ticket_;
    std::atomic<bool> leader_blocked_{false};  // waiting out its own token's block
    std::mutex mu_;
    bool done_ = false;
    shared_result result_;
    std::vector<waiter> waiters_;
  };

  struct ticket {
    std::shared_ptr<flight> f;
    bool leader = false;
  };

  // Joins a running flight for `key` this caller may share, or starts one (then it leads, with
  // `fill` as its flight's ticket).
  ticket join(const std::string& key, const cache::token_fingerprint& token, bool granted,
              const cache::fill_ticket& fill);

  // Takes a flight out of the map: callers that come later start their own (an invalidation
  // happened since it began). Its waiters still get its outcome.
  void detach(const std::string& key, const std::shared_ptr<flight>& f);

  // The leader's outcome (nullptr: the leader gave up; waiters then fetch for themselves).
  // REQUIRES: called once, by the leader.
  void finish(const std::string& key, const std::shared_ptr<flight>& f, shared_result r);

  // The leader is about to wait out a block of its own token: the waiters with other tokens get
  // nullptr now (they fetch for themselves), and from now on only its token joins the flight.
  // Returns how many waiters were let go.
  std::size_t leader_blocked(const std::shared_ptr<flight>& f);

  // Waits for the leader's outcome; `token` is the waiter's. nullptr at once if the leader waits
  // out its own token's block and `token` is another.
  net::awaitable<shared_result> wait(std::shared_ptr<flight> f, const cache::token_fingerprint& token);

  std::size_t in_flight() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<flight>>> flights_;
};

// Finishes a leader's flight when it goes out of scope, with whatever was set (or nullptr).
class flight_guard {
 public:
  flight_guard(coalescer& c, std::string key, std::shared_ptr<coalescer::flight> f)
      : c_(c), key_(std::move(key)), f_(std::move(f)) {}
  ~flight_guard() { c_.finish(key_, f_, std::move(result_)); }
  flight_guard(const flight_guard&) = delete;
  flight_guard& operator=(const flight_guard&) = delete;
  void set(shared_result r) { result_ = std::move(r); }

 private:
  coalescer& c_;
  std::string key_;
  std::shared_ptr<coalescer::flight> f_;
  shared_result result_;
};

}  // namespace wcp::proxy
