// What one request may spend waiting on the shared store (Redis): `--redis-timeout` in all,
// however many commands the request needs (a grant, a block, a lookup, a fill ticket, an insert,
// an invalidation). Each Redis command has that timeout too, but a slow Redis that answers just
// in time would otherwise cost a request several of them. Only the waits on Redis count: the
// time a request spends on Webex in between spends none of it.
//
// run() starts the store operation at once. Whatever the operation settles without Redis (the
// in-process copy) is answered at once; a wait on Redis is cut off when the budget is spent, and
// the caller then gets the fallback (a miss, no grant, no block, a fill nothing will store). The
// cut operation goes on in the background and ends within its command timeout, so an
// invalidation, a grant drop or a block is never lost by a cut, only not waited for. Its
// arguments are copied for it, since the request may be gone by then.
//
// Without a shared store the budget is unbounded: run() is a plain co_await, with no copies.
//
// Thread-safety: one budget per request, used by that request's coroutine only. The store
// operations must complete on the executor of the caller (redis_connection's do).
#pragma once

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/net.hpp"
#include "proxy/metrics.hpp"

namespace wcp::proxy {

class redis_budget {
 public:
  using clock = std::chrono::steady_clock;

  // Unbounded (no shared store).
  redis_budget() = default;
  // `total` waiting on Redis; `cuts` (may be null) counts the waits cut short.
  redis_budget(std::chrono::milliseconds total, counter* cuts)
      : bounded_(true), left_(total), cuts_(cuts) {}

  // co_await (obj.*fn)(args...), or `fallback` when the budget runs out first.
  template <class T, class Obj, class... P, class... A>
  net::awaitable<T> run(std::type_identity_t<T> fallback, Obj& obj,
                        net::awaitable<T> (Obj::*fn)(P...), A&&... args) {
    if (!bounded_) co_return co_await (obj.*fn)(std::forward<A>(args)...);
    auto st = std::make_shared<state<T>>(co_await net::this_coro::executor);
    start(st, [&obj, fn, ... a = std::decay_t<A>(args)]() { return (obj.*fn)(a...); });
    // (The result in a variable first: GCC 12 miscompiles some co_await in an if condition.)
    const bool answered = co_await settled(*st);
    if (answered) co_return std::move(*st->value);
    co_return fallback;
  }

  // The same for an operation that yields nothing: it is waited for until the budget runs out.
  template <class Obj, class... P, class... A>
  net::awaitable<void> run(Obj& obj, net::awaitable<void> (Obj::*fn)(P...), A&&... args) {
    if (!bounded_) co_return co_await (obj.*fn)(std::forward<A>(args)...);
    auto st = std::make_shared<state<void>>(co_await net::this_coro::executor);
    start(st, [&obj, fn, ... a = std::decay_t<A>(args)]() { return (obj.*fn)(a...); });
    co_await settled(*st);
  }

 private:
  template <class T>
  struct state {
    explicit state(net::any_io_executor ex) : timer(std::move(ex)) {}
    net::steady_timer timer;
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
    bool done = false;  // completed, with a value or with an exception
  };

  // Runs `op()` as its own coroutine (inline up to its first wait), keeping `op` (and the copies
  // of the arguments it holds) alive until it completes.
  template <class T, class F>
  static void start(const std::shared_ptr<state<T>>& st, F op) {
    net::co_spawn(
        st->timer.get_executor(),
        [st, op = std::move(op)]() -> net::awaitable<void> {
          try {
            if constexpr (std::is_void_v<T>) {
              co_await op();
              st->value.emplace(true);
            } else {
              st->value.emplace(co_await op());
            }
          } catch (const std::exception&) {
            // A store operation that throws is a miss (or an undone write) to this request.
          }
          st->done = true;
          st->timer.cancel();
        },
        net::detached);
  }

  // Whether the operation completed with a value before the budget ran out.
  template <class T>
  net::awaitable<bool> settled(state<T>& st) {
    if (!st.done && left_ > clock::duration::zero()) {
      const auto began = clock::now();
      st.timer.expires_after(left_);
      co_await st.timer.async_wait(net::as_tuple(net::use_awaitable));
      left_ -= std::min<clock::duration>(left_, clock::now() - began);
    }
    if (st.done) co_return st.value.has_value();
    if (cuts_) cuts_->inc();
    co_return false;
  }

  bool bounded_ = false;
  clock::duration left_{};  // what is left of the budget
  counter* cuts_ = nullptr;
};

}  // namespace wcp::proxy
