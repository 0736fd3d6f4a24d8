#include "cache/grants.hpp"

namespace wcp::cache {

namespace {
std::string scope_key(const grant_scope& s) { return s.org + "|" + s.location + "|" + s.kind; }

// The same, in a per-thread buffer: a lookup allocates nothing once the buffer has grown.
std::string_view scope_key_view(const grant_scope& s) {
  thread_local std::string buf;
  buf.clear();
  buf.append(s.org).append("|").append(s.location).append("|").append(s.kind);
  return buf;
}
}  // namespace


memory_grants::memory_grants(std::size_t shard_count) {
  if (shard_count == 0) shard_count = 1;
  for (std::size_t i = 0; i < shard_count; ++i) shards_.push_back(std::make_unique<shard>());
}

memory_grants::shard& memory_grants::shard_for(const token_fingerprint& token) {
  return *shards_[token.bytes[0] % shards_.size()];
}

bool memory_grants::holds_now(const token_fingerprint& token, const grant_scope& scope,
                              clock::time_point now) {
  auto& s = shard_for(token);
  std::lock_guard lock(s.mu);
  auto t = s.tokens.find(token.raw());
  if (t == s.tokens.end()) return false;
  auto g = t->second.find(scope_key_view(scope));
  return g != t->second.end() && g->second > now;
}

void memory_grants::learn_now(const token_fingerprint& token, const grant_scope& scope,
                              std::chrono::milliseconds ttl, clock::time_point now) {
  if (ttl.count() <= 0) return;
  auto& s = shard_for(token);
  std::lock_guard lock(s.mu);
  // Most learns renew a grant held already: find before building any key.
  auto t = s.tokens.find(token.raw());
  if (t == s.tokens.end()) t = s.tokens.try_emplace(std::string(token.raw())).first;
  if (auto g = t->second.find(scope_key_view(scope)); g != t->second.end())
    g->second = now + ttl;
  else
    t->second.emplace(scope_key(scope), now + ttl);
}

void memory_grants::drop_scope_now(const token_fingerprint& token, const grant_scope& scope) {
  auto& s = shard_for(token);
  std::lock_guard lock(s.mu);
  auto t = s.tokens.find(token.raw());
  if (t == s.tokens.end()) return;
  if (auto g = t->second.find(scope_key_view(scope)); g != t->second.end()) t->second.erase(g);
  if (t->second.empty()) s.tokens.erase(t);
}

void memory_grants::drop_token_now(const token_fingerprint& token) {
  auto& s = shard_for(token);
  std::lock_guard lock(s.mu);
  if (auto t = s.tokens.find(token.raw()); t != s.tokens.end()) s.tokens.erase(t);
}

void memory_grants::sweep(clock::time_point now) {
  for (auto& s : shards_) {
    std::lock_guard lock(s->mu);
    for (auto t = s->tokens.begin(); t != s->tokens.end();) {
      std::erase_if(t->second, [&](const auto& g) { return g.second <= now; });
      t = t->second.empty() ? s->tokens.erase(t) : std::next(t);
    }
  }
}

void memory_grants::clear() {
  for (auto& s : shards_) {
    std::lock_guard lock(s->mu);
    s->tokens.clear();
  }
}

std::size_t memory_grants::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    for (const auto& t : s->tokens) n += t.second.size();
  }
  return n;
}

net::awaitable<bool> memory_grants::holds(const token_fingerprint& token,
                                          const grant_scope& scope) {
  co_return holds_now(token, scope);
}

net::awaitable<void> memory_grants::learn(const token_fingerprint& token, const grant_scope& scope,
                                          std::chrono::milliseconds ttl) {
  learn_now(token, scope, ttl);
  co_return;
}

net::awaitable<void> memory_grants::drop_scope(const token_fingerprint& token,
                                               const grant_scope& scope) {
  drop_scope_now(token, scope);
  co_return;
}

net::awaitable<void> memory_grants::drop_token(const token_fingerprint& token) {
  drop_token_now(token);
  co_return;
}

}  // namespace wcp::cache
