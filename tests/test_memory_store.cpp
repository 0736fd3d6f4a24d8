#include <doctest/doctest.h>

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

#include "cache/memory_store.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// A sanitizer's allocator keeps no glibc statistics (mallinfo2 reports nothing) and lays chunks
// out its own way. This binary then counts its allocations itself: every operator new is charged
// what glibc would take for it (an 8-byte header, 16-byte granules, 32 bytes at least).
namespace {
std::atomic<std::size_t> heap_in_use{0};
constexpr std::size_t header = 16;  // keeps max_align_t alignment
std::size_t glibc_chunk(std::size_t n) { return std::max<std::size_t>(32, (n + 8 + 15) / 16 * 16); }
}  // namespace

void* operator new(std::size_t n) {
  auto* p = static_cast<unsigned char*>(std::malloc(n + header));
  if (!p) throw std::bad_alloc();
  *reinterpret_cast<std::size_t*>(p) = n;
  heap_in_use.fetch_add(glibc_chunk(n), std::memory_order_relaxed);
  return p + header;
}
void operator delete(void* q) noexcept {
  if (!q) return;
  auto* p = static_cast<unsigned char*>(q) - header;
  heap_in_use.fetch_sub(glibc_chunk(*reinterpret_cast<std::size_t*>(p)), std::memory_order_relaxed);
  std::free(p);
}
void operator delete(void* q, std::size_t) noexcept { operator delete(q); }
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete[](void* q) noexcept { operator delete(q); }
void operator delete[](void* q, std::size_t) noexcept { operator delete(q); }

static std::size_t heap_bytes() { return heap_in_use.load(); }
#else
static std::size_t heap_bytes() { return mallinfo2().uordblks; }
#endif

using namespace wcp::cache;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

entry_ptr make_entry(std::string body, wall_clock::time_point at = wall_clock::now()) {
  auto e = std::make_shared<entry>();
  e->content_type = "application/json";
  e->tracking_id = "ROUTER_1";
  e->body = std::move(body);
  e->stored_at = at;
  return e;
}

const resource_key park(resource_kind::call_park, "TE9D", "UEFSSw==");
const variant_key own{park, ""};
const variant_key via_org{park, "T1JH"};

}  // namespace

TEST_CASE("a miss is nullptr - an insert is found - padding spellings share it") {
  memory_store s(1 << 20);
  CHECK(s.find(own) == nullptr);
  CHECK(s.put(own, make_entry(R"({"id":1})"), s.ticket(park), seconds(60)));
  auto found = s.find(variant_key{resource_key(resource_kind::call_park, "TE9D==", "UEFSSw"), ""});
  REQUIRE(found);
  CHECK(found->body == R"({"id":1})");
  CHECK(s.entries() == 1);
  CHECK(s.bytes() > 0);
}

TEST_CASE("variants are separate entries - invalidating the resource drops them all") {
  memory_store s(1 << 20);
  s.put(own, make_entry("{}"), s.ticket(park), seconds(60));
  s.put(via_org, make_entry("[]"), s.ticket(park), seconds(60));
  CHECK(s.find(own)->body == "{}");
  CHECK(s.find(via_org)->body == "[]");
  s.erase(park);
  CHECK(s.find(own) == nullptr);
  CHECK(s.find(via_org) == nullptr);
  CHECK(s.entries() == 0);
  CHECK(s.bytes() == 0);
}

TEST_CASE("a fill that began before an invalidation does not store") {
  memory_store s(1 << 20);
  auto early = s.ticket(park);
  s.erase(park);
  CHECK_FALSE(s.put(own, make_entry("{}"), early, seconds(60)));
  CHECK(s.find(own) == nullptr);
  auto late = s.ticket(park);
  CHECK(s.put(own, make_entry("{}"), late, seconds(60)));
  CHECK(s.find(own) != nullptr);
}

TEST_CASE("an invalidation of another resource does not fence this one") {
  memory_store s(1 << 20);
  auto t = s.ticket(park);
  s.erase(resource_key(resource_kind::paging_group, "TE9D", "UEFSSw"));
  CHECK(s.put(own, make_entry("{}"), t, seconds(60)));
}

TEST_CASE("a fill older than the fence lifetime never stores - fences can be forgotten safely") {
  const auto lifetime = milliseconds(20);
  memory_store s(1 << 20, 1, lifetime);
  auto early = s.ticket(park);
  s.erase(park);
  // Past the fence lifetime the fence may be forgotten (the next put sweeps it): the old
  // ticket must still not store what the invalidation replaced.
  const auto past = std::chrono::steady_clock::now() + lifetime + milliseconds(5);
  while (std::chrono::steady_clock::now() < past) std::this_thread::sleep_for(milliseconds(1));
  CHECK(s.fenced(park, early));
  CHECK_FALSE(s.put(own, make_entry("{}"), early, seconds(60)));
  CHECK(s.find(own) == nullptr);
  // A fill that began after the invalidation stores.
  CHECK(s.put(own, make_entry("{}"), s.ticket(park), seconds(60)));
  CHECK(s.find(own) != nullptr);
}

TEST_CASE("a location purge racing a first fill of that location never lets the old fill store") {
  // One thread purges the location over and over while another stores fills whose tickets were
  // taken before a purge began: whatever the interleaving, none may be stored once that purge is
  // through. (Fences live a second, so that a purge's scan stays short and the race tight.)
  memory_store s(1 << 20, 1, seconds(1));
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> purges{0};  // completed
  std::thread purger([&] {
    while (!stop.load(std::memory_order_acquire)) {
      s.erase_location("TE9D");
      purges.fetch_add(1, std::memory_order_acq_rel);
    }
  });
  constexpr int rounds = 1500;
  constexpr int batch = 20;
  int stored_after_purge = 0;
  std::vector<variant_key> keys;
  std::vector<fill_ticket> tickets;
  for (int i = 0; i < rounds; ++i) {
    keys.clear();
    tickets.clear();
    for (int k = 0; k < batch; ++k) {
      keys.push_back(variant_key{
          resource_key(resource_kind::call_park, "TE9D", "P" + std::to_string(i * batch + k)), ""});
      tickets.push_back(s.ticket(keys.back().resource));
    }
    // The purge after the next one to complete began after these tickets were taken.
    const auto after = purges.load(std::memory_order_acquire) + 2;
    for (int k = 0; k < batch; ++k) s.put(keys[k], make_entry("{}"), tickets[k], seconds(60));
    while (purges.load(std::memory_order_acquire) < after) std::this_thread::yield();
    for (const auto& key : keys)
      if (s.find(key) != nullptr) ++stored_after_purge;
  }
  stop.store(true, std::memory_order_release);
  purger.join();
  CHECK(stored_after_purge == 0);
}

TEST_CASE("entries past their keep time are not returned") {
  memory_store s(1 << 20);
  s.put(own, make_entry("{}", wall_clock::now() - seconds(120)), s.ticket(park), seconds(60));
  CHECK(s.find(own) == nullptr);
}

TEST_CASE("the byte bound holds and the least recently used entry goes first") {
  memory_store s(64 * 1024, 1);
  const std::string body(1000, 'x');
  std::vector<resource_key> keys;
  for (int i = 0; i < 200; ++i) {
    keys.emplace_back(resource_kind::paging_group, "TE9D", "ID" + std::to_string(i));
    s.put(variant_key{keys.back(), ""}, make_entry(body), s.ticket(keys.back()), seconds(60));
    if (i >= 1) s.find(variant_key{keys[0], ""});  // keep the first one in use
    CHECK(s.bytes() <= s.max_bytes());
  }
  CHECK(s.evictions() > 0);
  CHECK(s.entries() < 200);
  CHECK(s.find(variant_key{keys[0], ""}) != nullptr);   // recently used: kept
  CHECK(s.find(variant_key{keys[1], ""}) == nullptr);   // oldest unused: evicted
  CHECK(s.find(variant_key{keys[199], ""}) != nullptr);
}

// Stores 2000 call-park-sized entries (with a gzip form of `gzip_size` bytes when not 0) and
// checks what the store counts against what the allocator says they cost: the bound is a bound
// on the process's memory only if the count is not smaller.
static void count_covers_heap(std::size_t gzip_size) {
  memory_store s(256 << 20, 1);
  const std::string location(52, 'L');
  const auto before = heap_bytes();
  for (int i = 0; i < 2000; ++i) {
    const resource_key key(resource_kind::call_park, location, "Y2lzY29zcGFyazovL3VzL0NBTExfUEFSSy" + std::to_string(i));
    auto e = std::make_shared<entry>(*make_entry(std::string(1300 + i % 300, 'x')));
    if (gzip_size) e->gzip_body = std::string(gzip_size + i % 200, 'z');
    s.put(variant_key{key, ""}, std::move(e), s.ticket(key), seconds(60));
  }
  const auto grown = heap_bytes() - before;
  REQUIRE(grown > 0);
  CHECK(s.entries() == 2000);
  CHECK(s.bytes() >= grown);
  CHECK(s.bytes() <= grown + grown / 5);  // and not much more
}

TEST_CASE("the byte count covers the heap the entries really take") { count_covers_heap(0); }

TEST_CASE("the byte count covers both forms of a body: the identity one and its gzip") {
  count_covers_heap(600);  // what a compressed call park weighs
}

TEST_CASE("an entry larger than a shard's bound is refused") {
  memory_store s(16 * 1024, 4);
  CHECK_FALSE(s.put(own, make_entry(std::string(8 * 1024, 'x')), s.ticket(park), seconds(60)));
  CHECK(s.entries() == 0);
}

TEST_CASE("replacing a variant keeps the byte count right") {
  memory_store s(1 << 20);
  s.put(own, make_entry(std::string(100, 'a')), s.ticket(park), seconds(60));
  const auto once = s.bytes();
  s.put(own, make_entry(std::string(100, 'b')), s.ticket(park), seconds(60));
  CHECK(s.bytes() == once);
  CHECK(s.entries() == 1);
  CHECK(s.find(own)->body == std::string(100, 'b'));
}

TEST_CASE("invalidating a location drops its resources only") {
  memory_store s(1 << 20);
  resource_key other(resource_kind::call_park, "T1RIRVI", "UEFSSw");
  s.put(own, make_entry("{}"), s.ticket(park), seconds(60));
  s.put(variant_key{other, ""}, make_entry("{}"), s.ticket(other), seconds(60));
  s.erase_location("TE9D=");
  CHECK(s.find(own) == nullptr);
  CHECK(s.find(variant_key{other, ""}) != nullptr);
}

TEST_CASE("concurrent use from several threads keeps the accounting consistent") {
  memory_store s(256 * 1024, 8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        resource_key k(resource_kind::call_park, "L" + std::to_string(i % 7),
                       "R" + std::to_string((i * 31 + t) % 300));
        if (i % 5 == 0) s.erase(k);
        else s.put(variant_key{k, ""}, make_entry(std::string(200, 'x')), s.ticket(k), seconds(60));
        s.find(variant_key{k, ""});
      }
    });
  for (auto& th : threads) th.join();
  CHECK(s.bytes() <= s.max_bytes());
  for (int l = 0; l < 7; ++l) s.erase_location("L" + std::to_string(l));
  CHECK(s.entries() == 0);
  CHECK(s.bytes() == 0);
}
