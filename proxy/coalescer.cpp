#include "proxy/coalescer.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace wcp::proxy {

coalescer::ticket coalescer::join(const std::string& key, const cache::token_fingerprint& token,
                                  bool granted, const cache::fill_ticket& fill) {
  std::lock_guard lock(mu_);
  auto& list = flights_[key];
  for (auto& f : list) {
    const bool same_token = f->leader_ == token;
    if (f->leader_blocked_.load() && !same_token) continue;
    if (granted || same_token) return {f, false};
  }
  auto f = std::make_shared<flight>();
  f->leader_ = token;
  f->ticket_ = fill;
  list.push_back(f);
  return {f, true};
}

void coalescer::detach(const std::string& key, const std::shared_ptr<flight>& f) {
  std::lock_guard lock(mu_);
  auto it = flights_.find(key);
  if (it == flights_.end()) return;
  std::erase(it->second, f);
  if (it->second.empty()) flights_.erase(it);
}

void coalescer::finish(const std::string& key, const std::shared_ptr<flight>& f, shared_result r) {
  detach(key, f);
  std::vector<flight::waiter> waiters;
  {
    std::lock_guard lock(f->mu_);
    f->done_ = true;
    f->result_ = r;
    waiters.swap(f->waiters_);
  }
  for (auto& w : waiters) w.deliver(r);
}

std::size_t coalescer::leader_blocked(const std::shared_ptr<flight>& f) {
  std::vector<flight::waiter> others;
  {
    std::lock_guard lock(f->mu_);
    f->leader_blocked_ = true;
    std::erase_if(f->waiters_, [&](flight::waiter& w) {
      if (w.token == f->leader_) return false;
      others.push_back(std::move(w));
      return true;
    });
  }
  for (auto& w : others) w.deliver(nullptr);
  return others.size();
}

// Not a coroutine itself: the awaitable comes straight from async_initiate. Wrapped in a
// coroutine of its own (co_return co_await ...), g++ 12 builds freed the flight twice under
// concurrent waiters (AddressSanitizer: heap-use-after-free).
net::awaitable<shared_result> coalescer::wait(std::shared_ptr<flight> f,
                                              const cache::token_fingerprint& token) {
  return net::async_initiate<decltype(net::use_awaitable), void(shared_result)>(
      [f, token](auto handler) {
        using handler_t = decltype(handler);
        auto h = std::make_shared<handler_t>(std::move(handler));
        // Keep the waiter's io_context running while it waits on another thread's leader.
        auto ex = net::prefer(net::get_associated_executor(*h),
                              net::execution::outstanding_work.tracked);
        auto deliver = [h, ex](shared_result r) {
          net::post(ex, [h, r = std::move(r)]() mutable { std::move (*h)(std::move(r)); });
        };
        std::unique_lock lock(f->mu_);
        if (f->done_ || (f->leader_blocked_ && !(token == f->leader_))) {
          auto r = f->done_ ? f->result_ : nullptr;
          lock.unlock();
          deliver(std::move(r));
          return;
        }
        f->waiters_.push_back({token, std::move(deliver)});
      },
      net::use_awaitable);
}

std::size_t coalescer::in_flight() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [k, v] : flights_) n += v.size();
  return n;
}

}  // namespace wcp::proxy
