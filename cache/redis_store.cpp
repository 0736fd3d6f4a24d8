#include "cache/redis_store.hpp"

#include <array>
#include <charconv>

#include <openssl/sha.h>

namespace wcp::cache {

namespace {

// A command's arguments as strings (braced lists of mixed literals trip up g++ 12 inside
// co_await expressions).
template <class... A>
std::vector<std::string> argv(A&&... a) {
  return {std::string(std::forward<A>(a))...};
}

using std::chrono::milliseconds;

// Generations outlive any fill (bounded by the upstream timeout) by far.
constexpr milliseconds generation_ttl = std::chrono::hours(24);

// An entry is stored as "<location generation> <epoch>\n<serialised entry>": the generations
// it was filled under. A lookup serves it only while both are still current, so that dropping a
// location (or everything) is one INCR, not a scan.
//
// KEYS: entry, gen, locgen, epoch. ARGV: expected gen, locgen, epoch, field, value, keep ms.
constexpr std::string_view insert_script = R"lua(
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
if (redis.call('GET', KEYS[3]) or '0') ~= ARGV[2] then return 0 end
if (redis.call('GET', KEYS[4]) or '0') ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[4], ARGV[2] .. ' ' .. ARGV[3] .. '\n' .. ARGV[5])
-- The generations the entry is stamped with outlive it: one that expired could count up to the
-- same value again and make the entry current.
for i = 3, 4 do
  local t = redis.call('PTTL', KEYS[i])
  if t >= 0 and t < tonumber(ARGV[6]) then redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[6]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
end
return 1
)lua";

// KEYS: entry, locgen, epoch. ARGV: field. The entry, if stored under the current generations;
// one stored under older ones is deleted.
constexpr std::string_view lookup_script = R"lua(
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return false end
local nl = string.find(v, '\n', 1, true)
local current = (redis.call('GET', KEYS[2]) or '0') .. ' ' .. (redis.call('GET', KEYS[3]) or '0')
if not nl or string.sub(v, 1, nl - 1) ~= current then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return false
end
return string.sub(v, nl + 1)
)lua";

// KEYS: entry, gen. ARGV: gen ttl ms.
constexpr std::string_view invalidate_script = R"lua(
redis.call('DEL', KEYS[1])
local g = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return g
)lua";

// KEYS: a generation. ARGV: its ttl ms.
constexpr std::string_view bump_script = R"lua(
local g = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return g
)lua";

// KEYS: grant hash. ARGV: field, expiry ms (epoch), ttl ms.
constexpr std::string_view learn_script = R"lua(
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
)lua";

// A script sent by its SHA-1 (EVALSHA: the hit path sends a digest, not the script), and whole
// only when this Redis does not know it yet (NOSCRIPT: a new or restarted server, a failover).
struct script {
  std::string_view text;
  std::string sha1;  // hex

  explicit script(std::string_view t) : text(t) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(t.data()), t.size(), digest);
    static constexpr char hex[] = "0123456789abcdef";
    for (unsigned char b : digest) {
      sha1 += hex[b >> 4];
      sha1 += hex[b & 0xf];
    }
  }
};

// `args`: the key count, the keys, then the arguments.
net::awaitable<redis_result> run_script(redis_connection& conn, const script& s,
                                        std::vector<std::string> args, std::uint64_t in_session) {
  args.insert(args.begin(), {"EVALSHA", s.sha1});
  auto r = co_await conn.command(args, in_session);
  const bool unknown = !r.ec && r.reply.type == redis_reply::kind::error &&
                       r.reply.str.starts_with("NOSCRIPT");
  if (unknown) {
    args[0] = "EVAL";
    args[1] = std::string(s.text);
    r = co_await conn.command(std::move(args), in_session);
  }
  co_return r;
}

std::uint64_t parse_u64(const redis_reply& r) {
  if (r.type == redis_reply::kind::integer) return r.integer < 0 ? 0 : static_cast<std::uint64_t>(r.integer);
  if (r.type != redis_reply::kind::string) return 0;
  std::uint64_t v = 0;
  std::from_chars(r.str.data(), r.str.data() + r.str.size(), v);
  return v;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<milliseconds>(wall_clock::now().time_since_epoch()).count();
}

std::string variant_field(const variant_key& key) { return "@" + key.org; }

std::string scope_field(const grant_scope& s) { return s.org + "|" + s.location + "|" + s.kind; }

}  // namespace

redis_store::redis_store(std::shared_ptr<redis_connection> conn, std::string prefix)
    : conn_(std::move(conn)), prefix_(std::move(prefix) + ":v1:") {}

std::string redis_store::entry_key(const resource_key& key) const {
  return prefix_ + "entry:" + key.str();
}

std::string redis_store::generation_key(const resource_key& key) const {
  return prefix_ + "gen:" + key.str();
}

std::string redis_store::location_generation_key(std::string_view location) const {
  return prefix_ + "locgen:" + std::string(normalise_id(location));
}

std::string redis_store::epoch_key() const { return prefix_ + "epoch"; }

net::awaitable<entry_ptr> redis_store::lookup(const variant_key& key) {
  co_return co_await fetch(key, 0);
}

net::awaitable<entry_ptr> redis_store::fetch(const variant_key& key, std::uint64_t in_session) {
  static const script lookup(lookup_script);
  auto r = co_await run_script(*conn_, lookup,
                               argv("3", entry_key(key.resource),
                                    location_generation_key(key.resource.location), epoch_key(),
                                    variant_field(key)),
                               in_session);
  if (r.ec || r.reply.type != redis_reply::kind::string) co_return nullptr;
  auto e = deserialise(r.reply.str);
  if (!e) {
    corrupt_.fetch_add(1);
    co_return nullptr;
  }
  if (e->expires_at <= wall_clock::now()) co_return nullptr;
  co_return std::make_shared<const entry>(std::move(*e));
}

net::awaitable<bool> redis_store::claim_refresh(const variant_key& key, milliseconds hold) {
  const auto ms = std::max<std::int64_t>(hold.count(), 1);
  auto r = co_await conn_->command(argv("SET", prefix_ + "refresh:" + key.resource.str() + variant_field(key), "1",
                                        "NX", "PX", std::to_string(ms)));
  co_return !r.ec && r.reply.type == redis_reply::kind::status;
}

net::awaitable<fill_ticket> redis_store::begin_fill(const resource_key& key) {
  auto r = co_await conn_->command(
      argv("MGET", generation_key(key), location_generation_key(key.location), epoch_key()));
  fill_ticket t;
  if (!r.ec && r.reply.type == redis_reply::kind::array && r.reply.elements.size() == 3) {
    t.shared.resource = parse_u64(r.reply.elements[0]);
    t.shared.location = parse_u64(r.reply.elements[1]);
    t.shared.everything = parse_u64(r.reply.elements[2]);
    t.shared.session = r.session;
    t.shared.known = true;
  }
  co_return t;
}

net::awaitable<bool> redis_store::invalidated_since(const resource_key& key, fill_ticket ticket) {
  // The generations move with every invalidation; unknown (Redis unreachable) counts as moved.
  if (!ticket.shared.known) co_return true;
  co_return (co_await begin_fill(key)).shared != ticket.shared;
}

net::awaitable<shared_write> redis_store::store_entry(const variant_key& key, const entry& e,
                                                      fill_ticket ticket,
                                                      milliseconds keep_for) {
  if (!ticket.shared.known) co_return shared_write::failed;
  static const script insert(insert_script);
  auto r = co_await run_script(*conn_, insert,
                               argv("4", entry_key(key.resource), generation_key(key.resource),
                                    location_generation_key(key.resource.location), epoch_key(),
                                    std::to_string(ticket.shared.resource),
                                    std::to_string(ticket.shared.location),
                                    std::to_string(ticket.shared.everything),
                                    variant_field(key), serialise(e),
                                    std::to_string(std::max<std::int64_t>(1, keep_for.count()))),
                               ticket.shared.session);
  if (r.ec || r.reply.type != redis_reply::kind::integer) co_return shared_write::failed;
  co_return r.reply.integer == 1 ? shared_write::done : shared_write::fenced;
}

net::awaitable<bool> redis_store::insert(const variant_key& key, entry_ptr e, fill_ticket ticket,
                                         milliseconds keep_for) {
  co_return co_await store_entry(key, *e, ticket, keep_for) == shared_write::done;
}

net::awaitable<bool> redis_store::drop_resource(const resource_key& key,
                                                std::uint64_t in_session) {
  auto r = co_await conn_->command(argv("EVAL", std::string(invalidate_script), "2", entry_key(key),
                                    generation_key(key),
                                    std::to_string(generation_ttl.count())),
                                   in_session);
  co_return !r.ec && r.reply.type == redis_reply::kind::integer;
}

net::awaitable<void> redis_store::invalidate(const resource_key& key) {
  co_await drop_resource(key);
}

net::awaitable<bool> redis_store::drop_location(std::string_view location,
                                                std::uint64_t in_session) {
  const std::string loc(normalise_id(location));
  auto fence = co_await conn_->command(argv("EVAL", std::string(bump_script), "1",
                                        location_generation_key(loc),
                                        std::to_string(generation_ttl.count())),
                                       in_session);
  // Entries stored under the old generation are no longer served (and deleted when next read);
  // their Redis TTL removes the rest.
  co_return !fence.ec && fence.reply.type == redis_reply::kind::integer;
}

net::awaitable<void> redis_store::invalidate_location(std::string_view location) {
  co_await drop_location(location);
}

net::awaitable<bool> redis_store::drop_all(std::uint64_t in_session) {
  // Fence every fill in flight first (on every instance), then drop what is there.
  auto fence = co_await conn_->command(argv("EVAL", std::string(bump_script), "1", epoch_key(),
                                        std::to_string(generation_ttl.count())),
                                       in_session);
  if (fence.ec || fence.reply.type != redis_reply::kind::integer) co_return false;
  static constexpr std::array<std::string_view, 2> patterns = {"entry:*", "grant:*"};
  for (std::string_view what : patterns) {
    std::string cursor = "0";
    do {
      auto r = co_await conn_->command(
          argv("SCAN", cursor, "MATCH", prefix_ + std::string(what), "COUNT", "1000"), in_session);
      if (r.ec || r.reply.type != redis_reply::kind::array || r.reply.elements.size() != 2)
        co_return false;
      cursor = r.reply.elements[0].str;
      auto del = argv("UNLINK");
      for (const auto& k : r.reply.elements[1].elements) del.push_back(k.str);
      if (del.size() > 1) {
        auto d = co_await conn_->command(std::move(del), in_session);
        if (d.ec) co_return false;
      }
    } while (cursor != "0");
  }
  co_return true;
}

redis_grants::redis_grants(std::shared_ptr<redis_connection> conn, std::string prefix)
    : conn_(std::move(conn)), prefix_(std::move(prefix) + ":v1:") {}

std::string redis_grants::grant_key(const token_fingerprint& token) const {
  return prefix_ + "grant:" + token.hex();
}

net::awaitable<std::optional<wall_clock::time_point>> redis_grants::expiry(
    const token_fingerprint& token, const grant_scope& scope, std::uint64_t in_session) {
  auto r = co_await conn_->command(argv("HGET", grant_key(token), scope_field(scope)), in_session);
  if (r.ec || r.reply.type != redis_reply::kind::string) co_return std::nullopt;
  const auto until = static_cast<std::int64_t>(parse_u64(r.reply));
  if (until <= now_ms()) co_return std::nullopt;
  co_return wall_clock::time_point(milliseconds(until));
}

net::awaitable<bool> redis_grants::holds(const token_fingerprint& token, const grant_scope& scope) {
  co_return (co_await expiry(token, scope)).has_value();
}

net::awaitable<void> redis_grants::learn(const token_fingerprint& token, const grant_scope& scope,
                                         milliseconds ttl) {
  if (ttl.count() <= 0) co_return;
  co_await conn_->command(argv("EVAL", std::string(learn_script), "1", grant_key(token),
                           scope_field(scope), std::to_string(now_ms() + ttl.count()),
                           std::to_string(ttl.count())));
}

net::awaitable<bool> redis_grants::remove_scope(const token_fingerprint& token,
                                                const grant_scope& scope,
                                                std::uint64_t in_session) {
  auto r = co_await conn_->command(argv("HDEL", grant_key(token), scope_field(scope)), in_session);
  co_return !r.ec;
}

net::awaitable<bool> redis_grants::remove_token(const token_fingerprint& token,
                                                std::uint64_t in_session) {
  auto r = co_await conn_->command(argv("DEL", grant_key(token)), in_session);
  co_return !r.ec;
}

net::awaitable<void> redis_grants::drop_scope(const token_fingerprint& token,
                                              const grant_scope& scope) {
  co_await remove_scope(token, scope);
}

net::awaitable<void> redis_grants::drop_token(const token_fingerprint& token) {
  co_await remove_token(token);
}

}  // namespace wcp::cache
