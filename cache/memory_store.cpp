#include "cache/memory_store.hpp"

#include <algorithm>
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

// What an allocation of n bytes costs the heap, and what a string costs beyond its own object.
// The daemon allocates with jemalloc, whose nallocx() gives the size class an allocation really
// takes (size classes four to a doubling: up to a quarter more than asked). Where jemalloc is
// not linked (the tests, sanitizer builds) the weak reference is null, and glibc's rule applies:
// an 8-byte header, 16-byte granules, 32 bytes at least.
extern "C" std::size_t nallocx(std::size_t size, int flags) __attribute__((weak));

std::size_t heap_cost(std::size_t n) noexcept {
  if (n == 0) return 0;
  if (nallocx) return nallocx(n, 0);
  return std::max<std::size_t>(32, (n + 8 + 15) / 16 * 16);
}
std::size_t heap_cost(const std::string& s) noexcept {
  return s.capacity() > 15 ? heap_cost(s.capacity() + 1) : 0;
}

// The resource_key whose text (resource_key::str()) is `name`: "<kind>/<location>/<id>", where
// only the id may hold '/'.
resource_key resource_of_name(std::string_view name) {
  const auto a = name.find('/');
  const auto b = name.find('/', a + 1);
  const auto kind = kind_named(name.substr(0, a)).value_or(resource_kind::call_park);
  return resource_key::of(kind, name.substr(a + 1, b - a - 1), std::string(name.substr(b + 1)));
}

}  // namespace

struct memory_store::shard {
  struct lru_node;
  struct slot {
    entry_ptr e;
    wall_clock::time_point expires;
    std::size_t charge = 0;
    std::list<lru_node>::iterator lru;
  };
  struct resource_info {
    // The variant key texts (keys of `slots`, which never move while they exist).
    std::vector<const std::string*> variants;
    std::uint64_t fenced_at = 0;  // clock value of the last invalidation; 0 = none kept
    steady::time_point fence_until{};
  };
  using slot_map = std::unordered_map<std::string, slot, string_hash, std::equal_to<>>;
  using resource_map = std::unordered_map<std::string, resource_info, string_hash, std::equal_to<>>;
  // Each key text is held once, by its map; the LRU points at the map elements (pointers to
  // elements of an unordered_map stay valid until the element is erased, iterators do not).
  struct lru_node {
    slot_map::value_type* variant;
    resource_map::value_type* resource;
  };

  std::mutex mu;
  slot_map slots;
  resource_map resources;
  std::list<lru_node> lru;  // front: most recently used
  std::deque<std::pair<steady::time_point, std::string>> fences;  // in expiry order
  std::size_t bytes = 0;
  std::size_t max_bytes = 0;
};

// Everything one stored variant costs the heap: the entry (with its shared_ptr block and its
// strings, both forms of the body among them), its slot (map node, key text, bucket), its LRU
// node and — charged to each variant, as most resources have one — its resource's record. The
// bound is on the process's memory, not on bodies alone.
std::size_t memory_store::charge_of(const entry& e, std::size_t variant_chars,
                                    std::size_t resource_chars) {
  auto text = [](std::size_t n) { return n > 15 ? heap_cost(n + 1) : 0; };
  // A node of a map whose hash is not cached inline: next pointer, value, cached hash.
  static const std::size_t slot_node =
      heap_cost(sizeof(void*) + sizeof(shard::slot_map::value_type) + sizeof(std::size_t));
  static const std::size_t resource_node =
      heap_cost(sizeof(void*) + sizeof(shard::resource_map::value_type) + sizeof(std::size_t));
  static const std::size_t lru_node = heap_cost(2 * sizeof(void*) + sizeof(shard::lru_node));
  static const std::size_t entry_block = heap_cost(sizeof(entry) + 16);
  static const std::size_t variant_list = heap_cost(sizeof(void*));
  constexpr std::size_t buckets = 4 * sizeof(void*);  // two maps, half full after a rehash
  return entry_block + heap_cost(e.body) + heap_cost(e.gzip_body) + heap_cost(e.content_type) +
         heap_cost(e.tracking_id) + heap_cost(e.link) +
         slot_node + text(variant_chars) + lru_node + resource_node + text(resource_chars) +
         variant_list + buckets;
}

memory_store::memory_store(std::size_t max_bytes, std::size_t shard_count,
                           std::chrono::milliseconds tombstone_for)
    : max_bytes_(max_bytes), tombstone_for_(tombstone_for) {
  if (shard_count == 0) shard_count = 1;
  shards_.reserve(shard_count);
  // Buckets for as many entries of 1 KiB as the bound holds (at most 512k in all), allocated
  // now: the shards fill evenly, so a map growing by rehash would rehash in every shard at about
  // the same moment, a stall of milliseconds for the requests behind it.
  const std::size_t expected = std::min<std::size_t>(max_bytes / 1024, std::size_t{1} << 19) / shard_count;
  for (std::size_t i = 0; i < shard_count; ++i) {
    shards_.push_back(std::make_unique<shard>());
    shards_.back()->max_bytes = max_bytes / shard_count;
    shards_.back()->slots.reserve(expected);
    shards_.back()->resources.reserve(expected);
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
  for (const std::string* v : rit->second.variants) {
    auto it = s.slots.find(*v);
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
  fill_ticket t;
  t.generation = clock_.fetch_add(1, std::memory_order_acq_rel) + 1;
  t.taken = steady::now();
  return t;
}

bool memory_store::expired(fill_ticket t, steady::time_point now) const {
  return now - t.taken >= tombstone_for_;
}

bool memory_store::location_fenced(const std::string& location, fill_ticket t) {
  if (!any_location_fence_.load(std::memory_order_acquire)) return false;
  std::lock_guard lock(location_mu_);
  auto it = location_fences_.find(location);
  return it != location_fences_.end() && it->second.first > t.generation;
}

bool memory_store::put(const variant_key& key, entry_ptr e, fill_ticket t,
                       std::chrono::milliseconds keep_for) {
  const auto now = steady::now();
  if (expired(t, now)) return false;
  auto& s = shard_for(key.resource);
  const std::string v = key.str();
  const std::string r = key.resource.str();
  const std::size_t charge = charge_of(*e, v.size(), r.size());
  if (charge > s.max_bytes) return false;
  std::lock_guard lock(s.mu);
  // Under the shard lock: a location purge sets its fence before it visits the shards, so it
  // either fences this fill here or finds the stored entry there and drops it.
  if (location_fenced(key.resource.location, t)) return false;

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
  if (rit->second.fenced_at > t.generation || cleared_at_.load() > t.generation) {
    if (fresh_resource) s.resources.erase(rit);
    return false;
  }

  auto old = s.slots.find(v);
  if (old != s.slots.end()) {
    // Replaced in place: the key text (and the resource's pointer to it) stays.
    s.bytes -= old->second.charge;
    bytes_.fetch_sub(old->second.charge, std::memory_order_relaxed);
    entries_.fetch_sub(1, std::memory_order_relaxed);
    s.lru.erase(old->second.lru);
  }

  while (s.bytes + charge > s.max_bytes && !s.lru.empty()) {
    const auto victim = s.lru.back();  // the node goes away below
    s.bytes -= victim.variant->second.charge;
    bytes_.fetch_sub(victim.variant->second.charge, std::memory_order_relaxed);
    entries_.fetch_sub(1, std::memory_order_relaxed);
    evictions_.fetch_add(1, std::memory_order_relaxed);
    s.lru.pop_back();
    auto& vs = victim.resource->second.variants;
    std::erase(vs, &victim.variant->first);
    const bool drop_owner =
        vs.empty() && victim.resource->second.fenced_at == 0 && victim.resource != &*rit;
    s.slots.erase(s.slots.find(victim.variant->first));
    if (drop_owner) s.resources.erase(s.resources.find(victim.resource->first));
  }

  if (old == s.slots.end()) {
    old = s.slots.emplace(v, shard::slot{}).first;
    rit->second.variants.push_back(&old->first);
  }
  s.lru.push_front({&*old, &*rit});
  auto& slot = old->second;
  slot.expires = e->stored_at + keep_for;
  slot.e = std::move(e);
  slot.charge = charge;
  slot.lru = s.lru.begin();
  s.bytes += charge;
  bytes_.fetch_add(charge, std::memory_order_relaxed);
  entries_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool memory_store::fenced(const resource_key& key, fill_ticket t) {
  if (expired(t, steady::now())) return true;
  if (cleared_at_.load() > t.generation || location_fenced(key.location, t)) return true;
  auto& s = shard_for(key);
  const std::string r = key.str();
  std::lock_guard lock(s.mu);
  auto rit = s.resources.find(r);
  return rit != s.resources.end() && rit->second.fenced_at > t.generation;
}

void memory_store::erase(const resource_key& key) {
  auto& s = shard_for(key);
  const std::string r = key.str();
  const auto until = steady::now() + tombstone_for_;
  std::lock_guard lock(s.mu);
  auto rit = s.resources.try_emplace(r).first;
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
    for (const auto& [name, info] : s->resources) {
      // A record without variants is only a fence: the location's fence, newer, covers it.
      if (info.variants.empty()) continue;
      auto key = resource_of_name(name);
      if (key.location == loc) matching.push_back(std::move(key));
    }
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

net::awaitable<bool> memory_store::invalidated_since(const resource_key& key, fill_ticket t) {
  co_return fenced(key, t);
}

}  // namespace wcp::cache
