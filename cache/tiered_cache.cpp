#include "cache/tiered_cache.hpp"

#include "cache/compression.hpp"

#include <set>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace wcp::cache {

using std::chrono::milliseconds;

tiered_cache::tiered_cache(net::any_io_executor ex, std::unique_ptr<memory_store> l1,
                           redis_store& l2, redis_grants& l2_grants, redis_backoff& l2_backoff,
                           invalidation_bus& bus, std::size_t max_pending,
                           std::chrono::milliseconds journal_horizon)
    : ex_(std::move(ex)),
      l1_(std::move(l1)),
      l2_(l2),
      l2_grants_(l2_grants),
      l2_backoff_(l2_backoff),
      bus_(bus),
      max_pending_(max_pending),
      journal_horizon_(journal_horizon),
      max_journal_(max_pending) {}

void tiered_cache::attach() {
  bus_.on_remote([this](const invalidation& m) { apply_remote(m); });
  bus_.on_resubscribed([this] { resync(); });
  l2_.connection().on_up([this](std::uint64_t session) {
    net::co_spawn(ex_, replay_journal(session), net::detached);
  });
  net::co_spawn(ex_, retry_pending(), net::detached);
}

void tiered_cache::prune_journal(std::chrono::steady_clock::time_point now) {
  while (!journal_.empty() && now - journal_.front().first > journal_horizon_) journal_.pop_front();
}

void tiered_cache::journal(const invalidation& m) {
  if (m.what == invalidation::kind::block) return;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(journal_mu_);
  prune_journal(now);
  if (journal_.size() >= max_journal_) {
    journal_.clear();
    journal_overflowed_at_ = now;
  }
  journal_.emplace_back(now, m);
}

std::size_t tiered_cache::journal_size() const {
  std::lock_guard lock(journal_mu_);
  return journal_.size();
}

std::uint64_t tiered_cache::readable_session() const noexcept {
  const auto verified = verified_session_.load();
  return verified != 0 && verified == l2_.connection().session() ? verified : 0;
}

bool tiered_cache::reading_redis() const noexcept {
  return readable_session() != 0 && l2_.connection().up();
}

net::awaitable<bool> tiered_cache::apply_in_redis(const invalidation& m, std::uint64_t session) {
  switch (m.what) {
    case invalidation::kind::resource: co_return co_await l2_.drop_resource(m.resource, session);
    case invalidation::kind::location: co_return co_await l2_.drop_location(m.location, session);
    case invalidation::kind::token:
      if (auto fp = fingerprint_from_hex(m.token_hex))
        co_return co_await l2_grants_.remove_token(*fp, session);
      co_return true;
    case invalidation::kind::scope:
      if (auto fp = fingerprint_from_hex(m.token_hex))
        co_return co_await l2_grants_.remove_scope(*fp, m.scope, session);
      co_return true;
    case invalidation::kind::everything: co_return co_await l2_.drop_all(session);
    case invalidation::kind::block: co_return true;
  }
  co_return true;
}

net::awaitable<void> tiered_cache::replay_journal(std::uint64_t session) {
  if (journal_replaying_.exchange(true)) co_return;  // the retry loop comes back for it
  // Another link may come up while this one is being replayed on: then on that one.
  for (;;) {
    co_await replay_journal_once(session);
    const auto now_session = l2_.connection().session();
    if (now_session == session || !l2_.connection().up()) break;
    session = now_session;
  }
  journal_replaying_ = false;
}

net::awaitable<void> tiered_cache::replay_journal_once(std::uint64_t session) {
  std::vector<invalidation> work;
  bool everything = false;
  std::chrono::steady_clock::time_point overflowed_at{};
  {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(journal_mu_);
    prune_journal(now);
    // Invalidations were dropped from the journal within the horizon: only dropping
    // everything covers them.
    overflowed_at = journal_overflowed_at_;
    everything = overflowed_at != std::chrono::steady_clock::time_point{} &&
                 now - overflowed_at <= journal_horizon_;
    // The same invalidation heard or made many times is applied once.
    std::set<std::string> seen;
    for (const auto& [at, m] : journal_) {
      invalidation bare = m;
      bare.origin.clear();
      if (seen.insert(encode(bare)).second) work.push_back(std::move(bare));
    }
  }
  if (everything) {
    work.clear();
    work.emplace_back().what = invalidation::kind::everything;
  }
  // Bound to the session: on another link (the one it was for went away) nothing is sent.
  std::size_t applied = 0;
  for (const auto& m : work) {
    const bool ok = co_await apply_in_redis(m, session);
    if (!ok) co_return;
    ++applied;
  }
  if (l2_.connection().session() != session) co_return;  // went away after the last command
  if (everything) {
    std::lock_guard lock(journal_mu_);
    if (journal_overflowed_at_ == overflowed_at) journal_overflowed_at_ = {};
  }
  stats_.journal_replays.fetch_add(1, std::memory_order_relaxed);
  stats_.journal_replayed.fetch_add(applied, std::memory_order_relaxed);
  verified_session_ = session;
}

net::awaitable<void> tiered_cache::retry_pending() {
  // Redis may come back without the subscription noticing (a pause, a slow spell): try the
  // remembered invalidations again now and then.
  net::steady_timer timer(ex_);
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(100));
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    if (pending() > 0 || overflowed()) co_await replay_pending();
    // A journal replay that failed half-way (the link went again) is tried on the next link.
    const auto session = l2_.connection().session();
    if (session != 0 && verified_session_.load() != session && l2_.connection().up())
      co_await replay_journal(session);
  }
}

bool tiered_cache::overflowed() const {
  std::lock_guard lock(pending_mu_);
  return overflowed_;
}

std::size_t tiered_cache::pending() const {
  std::lock_guard lock(pending_mu_);
  return pending_.size() + replaying_count_ + propagating_.load(std::memory_order_relaxed);
}

entry_ptr tiered_cache::with_gzip(entry_ptr e) {
  // Redis keeps the body only; L1 keeps the gzip form beside it, made once per copy.
  if (!e->gzip_body.empty()) return e;
  auto copy = std::make_shared<entry>(*e);
  copy->gzip_body = gzip_if_smaller(copy->body);
  if (copy->gzip_body.empty()) return e;
  return copy;
}

bool tiered_cache::careful() const noexcept {
  if (bus_.isolated()) return true;
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return now < settled_at_.load(std::memory_order_relaxed);
}

bool tiered_cache::young_enough(const entry& e, bool careful) const noexcept {
  return !careful || wall_clock::now() - e.stored_at < isolated_ttl_;
}

net::awaitable<entry_ptr> tiered_cache::lookup(const variant_key& key) {
  fill_ticket local;
  const bool careful_now = careful();
  bool passed_over = false;
  if (l1_) {
    if (auto e = l1_->find(key)) {
      if (young_enough(*e, careful_now)) {
        stats_.l1_hits.fetch_add(1, std::memory_order_relaxed);
        co_return e;
      }
      passed_over = true;
    }
    // Taken before asking Redis: an invalidation arriving meanwhile keeps the copy out of L1.
    local = l1_->ticket(key.resource);
  }
  // Not on a link where the journal has not been applied yet: a miss meanwhile.
  const auto session = readable_session();
  entry_ptr e;
  if (session != 0) e = co_await l2_.fetch(key, session);
  if (e && !young_enough(*e, careful_now)) {
    e = nullptr;
    passed_over = true;
  }
  if (passed_over) stats_.isolated_refetches.fetch_add(1, std::memory_order_relaxed);
  if (e) {
    stats_.l2_hits.fetch_add(1, std::memory_order_relaxed);
    if (l1_) {
      e = with_gzip(std::move(e));
      auto keep = std::chrono::duration_cast<milliseconds>(e->expires_at - e->stored_at);
      l1_->put(key, e, local, keep);
    }
  }
  co_return e;
}

net::awaitable<fill_ticket> tiered_cache::begin_fill(const resource_key& key) {
  fill_ticket t;
  if (l1_) t = l1_->ticket(key);
  t.shared = (co_await l2_.begin_fill(key)).shared;
  co_return t;
}

net::awaitable<entry_ptr> tiered_cache::lookup_newer(const variant_key& key,
                                                     wall_clock::time_point stored_after) {
  // Without L1 every lookup read Redis already.
  if (!l1_) co_return nullptr;
  const fill_ticket local = l1_->ticket(key.resource);
  const auto session = readable_session();
  if (session == 0) co_return nullptr;
  auto e = co_await l2_.fetch(key, session);
  if (!e || e->stored_at <= stored_after || !young_enough(*e, careful())) co_return nullptr;
  stats_.l2_hits.fetch_add(1, std::memory_order_relaxed);
  e = with_gzip(std::move(e));
  l1_->put(key, e, local, std::chrono::duration_cast<milliseconds>(e->expires_at - e->stored_at));
  co_return e;
}

net::awaitable<bool> tiered_cache::claim_refresh(const variant_key& key, milliseconds hold) {
  // Not reading Redis (down, or its journal not applied yet): no claim, no refresh.
  if (readable_session() == 0) co_return false;
  co_return co_await l2_.claim_refresh(key, hold);
}

net::awaitable<bool> tiered_cache::insert(const variant_key& key, entry_ptr e, fill_ticket ticket,
                                          milliseconds keep_for) {
  const auto shared = co_await l2_.store_entry(key, *e, ticket, keep_for);
  // Fenced: another instance invalidated the resource since the fill began.
  if (shared == shared_write::fenced) co_return false;
  // Redis down: L1 still serves this instance.
  const bool local = l1_ && l1_->put(key, std::move(e), ticket, keep_for);
  co_return shared == shared_write::done || local;
}

net::awaitable<bool> tiered_cache::propagate(const invalidation& m) {
  const bool ok = co_await apply_in_redis(m, 0);
  const bool published = co_await bus_.publish(m);
  co_return ok && published;
}

net::awaitable<void> tiered_cache::send(const invalidation& m) {
  journal(m);
  // Counted as pending from the start: until Redis has taken it, it is not through.
  propagating_.fetch_add(1, std::memory_order_relaxed);
  const bool through = co_await propagate(m);
  if (!through) remember(m);
  propagating_.fetch_sub(1, std::memory_order_relaxed);
}

void tiered_cache::remember(invalidation m) {
  std::lock_guard lock(pending_mu_);
  if (pending_.size() >= max_pending_) {
    overflowed_ = true;
    pending_.clear();
    return;
  }
  pending_.push_back(std::move(m));
}

// L1 is fenced before Redis is told and again once Redis has dropped its copy: a lookup that
// began between the two may have copied Redis's old entry into L1 under a ticket newer than the
// first fence.
net::awaitable<void> tiered_cache::invalidate(const resource_key& key) {
  if (l1_) l1_->erase(key);
  invalidation m;
  m.what = invalidation::kind::resource;
  m.resource = key;
  co_await send(m);
  if (l1_) l1_->erase(key);
}

net::awaitable<void> tiered_cache::invalidate_location(std::string_view location) {
  if (l1_) l1_->erase_location(location);
  invalidation m;
  m.what = invalidation::kind::location;
  m.location = std::string(normalise_id(location));
  co_await send(m);
  if (l1_) l1_->erase_location(m.location);
}

net::awaitable<bool> tiered_cache::invalidated_since(const resource_key& key, fill_ticket ticket) {
  // Every invalidation, local or from another instance, fences L1 first.
  if (l1_) co_return l1_->fenced(key, ticket);
  // No L1: compare Redis's generations (unknown then or now counts as invalidated).
  co_return co_await l2_.invalidated_since(key, ticket);
}

net::awaitable<bool> tiered_cache::holds(const token_fingerprint& token, const grant_scope& scope) {
  if (l1_grants_.holds_now(token, scope)) co_return true;
  const auto session = readable_session();
  if (session == 0) co_return false;  // asked upstream instead
  auto until = co_await l2_grants_.expiry(token, scope, session);
  if (!until) co_return false;
  // Learned by another instance: keep a local copy for as long as it lasts.
  auto left = std::chrono::duration_cast<milliseconds>(*until - wall_clock::now());
  l1_grants_.learn_now(token, scope, left);
  co_return true;
}

net::awaitable<void> tiered_cache::learn(const token_fingerprint& token, const grant_scope& scope,
                                         milliseconds ttl) {
  l1_grants_.learn_now(token, scope, ttl);
  co_await l2_grants_.learn(token, scope, ttl);
}

net::awaitable<void> tiered_cache::drop_scope(const token_fingerprint& token,
                                              const grant_scope& scope) {
  l1_grants_.drop_scope_now(token, scope);
  invalidation m;
  m.what = invalidation::kind::scope;
  m.token_hex = token.hex();
  m.scope = scope;
  co_await send(m);
}

net::awaitable<void> tiered_cache::drop_token(const token_fingerprint& token) {
  l1_grants_.drop_token_now(token);
  invalidation m;
  m.what = invalidation::kind::token;
  m.token_hex = token.hex();
  co_await send(m);
}

net::awaitable<std::optional<backoff_block>> tiered_cache::blocked_until(
    const std::string& token, const std::string& resource) {
  if (auto local = l1_backoff_.until_now(token, resource)) co_return local;
  // Another instance may have been told to wait before this one heard of it.
  auto shared = co_await l2_backoff_.blocked_until(token, resource);
  co_return shared;
}

net::awaitable<void> tiered_cache::block(backoff_kind kind, const std::string& id,
                                         time_point until) {
  l1_backoff_.block_now(kind, id, until);
  co_await l2_backoff_.block(kind, id, until);
  invalidation m;
  m.what = invalidation::kind::block;
  m.blocked = kind;
  m.token_hex = id;
  m.until_ms = std::chrono::duration_cast<milliseconds>(until.time_since_epoch()).count();
  co_await bus_.publish(std::move(m));
}

void tiered_cache::apply_remote(const invalidation& m) {
  // A rate-limit block travels on the same channel but invalidates nothing.
  if (m.what != invalidation::kind::block) {
    journal(m);
    stats_.remote_invalidations.fetch_add(1, std::memory_order_relaxed);
    if (on_remote_) on_remote_();
  }
  switch (m.what) {
    case invalidation::kind::resource:
      if (l1_) l1_->erase(m.resource);
      break;
    case invalidation::kind::location:
      if (l1_) l1_->erase_location(m.location);
      break;
    case invalidation::kind::token:
      if (auto fp = fingerprint_from_hex(m.token_hex)) l1_grants_.drop_token_now(*fp);
      break;
    case invalidation::kind::scope:
      if (auto fp = fingerprint_from_hex(m.token_hex)) l1_grants_.drop_scope_now(*fp, m.scope);
      break;
    case invalidation::kind::everything:
      if (l1_) l1_->clear();
      l1_grants_.clear();
      break;
    case invalidation::kind::block:
      l1_backoff_.block_now(m.blocked, m.token_hex,
                            wall_clock::time_point(std::chrono::milliseconds(m.until_ms)));
      break;
  }
}

void tiered_cache::resync() {
  // After the first subscription there is nothing to settle: nothing was kept before it.
  if (stats_.resyncs.fetch_add(1, std::memory_order_relaxed) > 0) {
    const auto settled = std::chrono::steady_clock::now() + settle_time;
    settled_at_.store(settled.time_since_epoch().count(), std::memory_order_relaxed);
  }
  if (l1_) l1_->clear();
  l1_grants_.clear();
  net::co_spawn(ex_, replay_pending(), net::detached);
}

net::awaitable<void> tiered_cache::replay_pending() {
  if (replaying_.exchange(true)) co_return;
  std::deque<invalidation> work;
  bool overflowed = false;
  {
    std::lock_guard lock(pending_mu_);
    work.swap(pending_);
    overflowed = overflowed_;
    overflowed_ = false;
  }
  if (overflowed) {
    invalidation all;
    all.what = invalidation::kind::everything;
    work.clear();
    work.push_back(std::move(all));
  }
  // Until each message is through, it still counts as pending.
  const auto set_replaying = [&] {
    std::lock_guard lock(pending_mu_);
    replaying_count_ = work.size();
  };
  set_replaying();
  while (!work.empty()) {
    const bool through = co_await propagate(work.front());
    if (!through) {
      // Redis went away again: keep the rest for the next try.
      std::deque<invalidation> rest;
      rest.swap(work);
      set_replaying();
      for (auto& m : rest) remember(std::move(m));
      break;
    }
    stats_.replayed.fetch_add(1, std::memory_order_relaxed);
    work.pop_front();
    set_replaying();
  }
  replaying_ = false;
}

}  // namespace wcp::cache
