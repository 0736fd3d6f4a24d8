#include "cache/memory_store.hpp"

#include <deque>

namespace wcp::cache {

namespace {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

using steady = std::chrono::steady_clock;

}  // namespace

struct memory_store::shard {
  struct lru_node {
    std::string variant;
    std::string resource;
  };
  struct slot {
    entry_ptr e;
    wall_clock::time_point expires;
    std::size_t charge = 0;
    std::list<lru_node>::iterator lru;
  };
  struct resource_info {
    resource_key key;
    std::vector<std::string> variants;
    std::uint64_t fenced_at = 0;  // clock value of the last invalidation; 0 = none kept
    steady::time_point fence_until{};
  };

  std::mutex mu;
  std::unordered_map<std::string, slot, string_hash, std::equal_to<>> slots;
  std::unordered_map<std::string, resource_info, string_hash, std::equal_to<>> resources;
  std::list<lru_node> lru;  // front: most recently used
  std::deque<std::pair<steady::time_point, std::string>> fences;  // in expiry order
  std::size_t bytes = 0;
  std::size_t max_bytes = 0;
};

memory_store::memory_store(std::size_t max_bytes, std::size_t shard_count,
                           std::chrono::milliseconds tombstone_for)
    : max_bytes_(max_bytes), tombstone_for_(tombstone_for) {
  if (shard_count == 0) shard_count = 1;
  shards_.reserve(shard_count);
  for (std::size_t i = 0; i < shard_count; ++i) {
    shards_.push_back(std::make_unique<shard>());
    shards_.back()->max_bytes = max_bytes / shard_count;
  }
}

memory_store::~memory_store() = default;

memory_store::shard& memory_store::shard_for(const resource_key& key) {
  return *shards_[resource_key_hash{}(key) % shards_.size()];
}

// REQUIRES: s.mu held. Removes every variant of `resource`; keeps its record only while fenced.
void memory_store::drop_resource(shard& s, const std::string& resource) {
  auto rit = s.resources.find(resource);
  if (rit == s.resources.end()) return;
  for (const auto& v : rit->second.variants) {
    auto it = s.slots.find(v);
    if (it == s.slots.end()) continue;
    s.bytes -= it->second.charge;
    bytes_.fetch_sub(it->second.charge, std::memory_order_relaxed);
    entries_.fetch_sub(1, std::memory_order_relaxed);
    s.lru.erase(it->second.lru);
    s.slots.erase(it);
  }
  rit->second.variants.clear();
  if (rit->second.fenced_at == 0) s.resources.erase(rit);
}

entry_ptr memory_store::find(const variant_key& key) {
  auto& s = shard_for(key.resource);
  // The key text in a per-thread buffer: a hit allocates nothing.
  thread_local std::string v;
  v.clear();
  key.append_to(v);
  std::lock_guard lock(s.mu);
  auto it = s.slots.find(v);
  if (it == s.slots.end()) return nullptr;
  if (it->second.expires <= wall_clock::now()) return nullptr;  // reclaimed by LRU or invalidation
  s.lru.splice(s.lru.begin(), s.lru, it->second.lru);
  return it->second.e;
}

fill_ticket memory_store::ticket(const resource_key&) {
  return fill_ticket{clock_.fetch_add(1, std::memory_order_acq_rel) + 1};
}

bool memory_store::put(const variant_key& key, entry_ptr e, fill_ticket t,
                       std::chrono::milliseconds keep_for) {
  if (any_location_fence_.load(std::memory_order_acquire)) {
    std::lock_guard lock(location_mu_);
    auto it = location_fences_.find(key.resource.location);
    if (it != location_fences_.end() && it->second.first > t.generation) return false;
  }
  auto& s = shard_for(key.resource);
  const std::size_t charge = e->charge() + 2 * key.str().size() + 64;
  if (charge > s.max_bytes) return false;
  const std::string v = key.str();
  const std::string r = key.resource.str();
  const auto now = steady::now();
  std::lock_guard lock(s.mu);

  // Forget fences that no fill can still be waiting behind.
  while (!s.fences.empty() && s.fences.front().first <= now) {
    auto rit = s.resources.find(s.fences.front().second);
    if (rit != s.resources.end() && rit->second.fence_until <= now) {
      rit->second.fenced_at = 0;
      if (rit->second.variants.empty()) s.resources.erase(rit);
    }
    s.fences.pop_front();
  }

  auto [rit, fresh_resource] = s.resources.try_emplace(r);
  if (fresh_resource) rit->second.key = key.resource;
  if (rit->second.fenced_at > t.generation || cleared_at_.load() > t.generation) {
    if (fresh_resource) s.resources.erase(rit);
    return false;
  }

  if (auto old = s.slots.find(v); old != s.slots.end()) {
    s.bytes -= old->second.charge;
    bytes_.fetch_sub(old->second.charge, std::memory_order_relaxed);
    entries_.fetch_sub(1, std::memory_order_relaxed);
    s.lru.erase(old->second.lru);
    s.slots.erase(old);
  } else {
    rit->second.variants.push_back(v);
  }

  while (s.bytes + charge > s.max_bytes && !s.lru.empty()) {
    const auto victim = s.lru.back();  // copy: the node goes away below
    auto vit = s.slots.find(victim.variant);
    s.bytes -= vit->second.charge;
    bytes_.fetch_sub(vit->second.charge, std::memory_order_relaxed);
    entries_.fetch_sub(1, std::memory_order_relaxed);
    evictions_.fetch_add(1, std::memory_order_relaxed);
    s.lru.pop_back();
    s.slots.erase(vit);
    auto owner = s.resources.find(victim.resource);
    if (owner != s.resources.end()) {
      auto& vs = owner->second.variants;
      std::erase(vs, victim.variant);
      if (vs.empty() && owner->second.fenced_at == 0 && owner != rit) s.resources.erase(owner);
    }
  }

  s.lru.push_front({v, r});
  s.slots.emplace(v, shard::slot{std::move(e), {}, charge, s.lru.begin()});
  auto& slot = s.slots.find(v)->second;
  slot.expires = slot.e->stored_at + keep_for;
  s.bytes += charge;
  bytes_.fetch_add(charge, std::memory_order_relaxed);
  entries_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void memory_store::erase(const resource_key& key) {
  auto& s = shard_for(key);
  const std::string r = key.str();
  const auto until = steady::now() + tombstone_for_;
  std::lock_guard lock(s.mu);
  auto [rit, created] = s.resources.try_emplace(r);
  if (created) rit->second.key = key;
  rit->second.fenced_at = clock_.fetch_add(1, std::memory_order_acq_rel) + 1;
  rit->second.fence_until = until;
  s.fences.emplace_back(until, r);
  drop_resource(s, r);
}

void memory_store::erase_location(std::string_view location) {
  const std::string loc(normalise_id(location));
  {
    const auto now = steady::now();
    std::lock_guard lock(location_mu_);
    std::erase_if(location_fences_, [&](const auto& f) { return f.second.second <= now; });
    location_fences_[loc] = {clock_.fetch_add(1, std::memory_order_acq_rel) + 1, now + tombstone_for_};
    any_location_fence_.store(true, std::memory_order_release);
  }
  std::vector<resource_key> matching;
  for (auto& s : shards_) {
    std::lock_guard lock(s->mu);
    for (const auto& [name, info] : s->resources)
      if (info.key.location == loc) matching.push_back(info.key);
  }
  for (const auto& key : matching) erase(key);
}

void memory_store::clear() {
  cleared_at_.store(clock_.fetch_add(1, std::memory_order_acq_rel) + 1);
  for (auto& s : shards_) {
    std::lock_guard lock(s->mu);
    bytes_.fetch_sub(s->bytes, std::memory_order_relaxed);
    entries_.fetch_sub(s->slots.size(), std::memory_order_relaxed);
    s->slots.clear();
    s->lru.clear();
    s->resources.clear();
    s->fences.clear();
    s->bytes = 0;
  }
}

net::awaitable<entry_ptr> memory_store::lookup(const variant_key& key) { co_return find(key); }

net::awaitable<fill_ticket> memory_store::begin_fill(const resource_key& key) {
  co_return ticket(key);
}

net::awaitable<bool> memory_store::insert(const variant_key& key, entry_ptr e, fill_ticket t,
                                          std::chrono::milliseconds keep_for) {
  co_return put(key, std::move(e), t, keep_for);
}

net::awaitable<void> memory_store::invalidate(const resource_key& key) {
  erase(key);
  co_return;
}

net::awaitable<void> memory_store::invalidate_location(std::string_view location) {
  erase_location(location);
  co_return;
}

}  // namespace wcp::cache
