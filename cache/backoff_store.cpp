#include "cache/backoff_store.hpp"

#include <algorithm>
#include <charconv>

namespace wcp::cache {

namespace {

std::string scoped(backoff_kind kind, const std::string& id) {
  return (kind == backoff_kind::token ? "t:" : "r:") + id;
}

std::int64_t to_ms(wall_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

template <class... A>
std::vector<std::string> argv(A&&... a) {
  return {std::string(std::forward<A>(a))...};
}

}  // namespace

std::optional<backoff_block> memory_backoff::until_now(const std::string& token,
                                                      const std::string& resource,
                                                      time_point now) {
  std::lock_guard lock(mu_);
  std::optional<backoff_block> out;
  auto consider = [&](backoff_kind kind, const std::string& id) {
    if (id.empty()) return;
    auto it = blocks_.find(scoped(kind, id));
    if (it == blocks_.end()) return;
    if (it->second <= now) {
      blocks_.erase(it);
      return;
    }
    if (!out || it->second > out->until) out = backoff_block{it->second, kind};
  };
  consider(backoff_kind::token, token);
  consider(backoff_kind::resource, resource);
  return out;
}

void memory_backoff::block_now(backoff_kind kind, const std::string& id, time_point until) {
  std::lock_guard lock(mu_);
  auto& slot = blocks_[scoped(kind, id)];
  slot = std::max(slot, until);
  if (blocks_.size() > 100000) {  // expired blocks of tokens never seen again
    const auto now = wall_clock::now();
    std::erase_if(blocks_, [&](const auto& b) { return b.second <= now; });
  }
}

memory_backoff::counts memory_backoff::in_force(time_point now) {
  std::lock_guard lock(mu_);
  std::erase_if(blocks_, [&](const auto& b) { return b.second <= now; });
  counts c;
  for (const auto& [key, until] : blocks_) (key[0] == 't' ? c.token : c.resource) += 1;
  return c;
}

std::size_t memory_backoff::size() const {
  std::lock_guard lock(mu_);
  return blocks_.size();
}

net::awaitable<std::optional<backoff_block>> memory_backoff::blocked_until(
    const std::string& token, const std::string& resource) {
  co_return until_now(token, resource);
}

net::awaitable<void> memory_backoff::block(backoff_kind kind, const std::string& id,
                                           time_point until) {
  block_now(kind, id, until);
  co_return;
}

redis_backoff::redis_backoff(std::shared_ptr<redis_connection> conn, std::string prefix)
    : conn_(std::move(conn)), prefix_(std::move(prefix) + ":v1:") {}

std::string redis_backoff::key(backoff_kind kind, const std::string& id) const {
  return prefix_ + (kind == backoff_kind::token ? "backoff:token:" : "backoff:resource:") + id;
}

net::awaitable<std::optional<backoff_block>> redis_backoff::blocked_until(
    const std::string& token, const std::string& resource) {
  auto r = co_await conn_->command(argv("MGET", key(backoff_kind::token, token),
                                        key(backoff_kind::resource, resource)));
  if (r.ec || r.reply.type != redis_reply::kind::array || r.reply.elements.size() != 2)
    co_return std::nullopt;
  std::optional<backoff_block> out;
  const auto now = to_ms(wall_clock::now());
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& e = r.reply.elements[i];
    if (e.type != redis_reply::kind::string || (i == 0 ? token : resource).empty()) continue;
    std::int64_t ms = 0;
    auto [p, ec] = std::from_chars(e.str.data(), e.str.data() + e.str.size(), ms);
    if (ec != std::errc() || ms <= now) continue;
    const wall_clock::time_point t{std::chrono::milliseconds(ms)};
    if (!out || t > out->until)
      out = backoff_block{t, i == 0 ? backoff_kind::token : backoff_kind::resource};
  }
  co_return out;
}

net::awaitable<bool> redis_backoff::block(backoff_kind kind, const std::string& id,
                                          wall_clock::time_point until) {
  const auto left = to_ms(until) - to_ms(wall_clock::now());
  if (left <= 0) co_return true;
  // Keep the later end if another instance set one already.
  static constexpr std::string_view script = R"lua(
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
)lua";
  auto r = co_await conn_->command(argv("EVAL", script, "1", key(kind, id),
                                        std::to_string(to_ms(until)), std::to_string(left)));
  co_return !r.ec && r.reply.type == redis_reply::kind::integer;
}

}  // namespace wcp::cache
