#include "cache/entry.hpp"

#include <simdjson.h>

namespace wcp::cache {

freshness freshness_at(const entry& e, wall_clock::time_point now, std::chrono::milliseconds ttl,
                       std::chrono::milliseconds stale) noexcept {
  auto age = now - e.stored_at;
  if (age < ttl) return freshness::fresh;
  if (age < ttl + stale) return freshness::stale;
  return freshness::expired;
}

std::int64_t age_seconds(const entry& e, wall_clock::time_point now) noexcept {
  auto age = std::chrono::duration_cast<std::chrono::seconds>(now - e.stored_at).count();
  return age < 0 ? 0 : age;
}

bool is_cacheable_response(unsigned status, std::string_view body) {
  if (status != 200 || body.empty()) return false;
  // One parser per thread: it keeps its buffers between calls.
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element doc;
  return parser.parse(padded).get(doc) == simdjson::SUCCESS;
}

}  // namespace wcp::cache

namespace wcp::cache {

namespace {

constexpr std::string_view magic = "WCPE2";
constexpr std::size_t max_field = 1u << 30;

void put_number(std::string& out, std::uint64_t v) {
  out += std::to_string(v);
  out += '\n';
}

void put_field(std::string& out, std::string_view v) {
  put_number(out, v.size());
  out.append(v);
}

bool take_number(std::string_view& in, std::uint64_t& v) {
  auto nl = in.find('\n');
  if (nl == std::string_view::npos || nl == 0 || nl > 20) return false;
  std::uint64_t x = 0;
  for (std::size_t i = 0; i < nl; ++i) {
    const char c = in[i];
    if (c < '0' || c > '9') return false;
    if (x > (UINT64_MAX - 9) / 10) return false;
    x = x * 10 + static_cast<std::uint64_t>(c - '0');
  }
  v = x;
  in.remove_prefix(nl + 1);
  return true;
}

bool take_field(std::string_view& in, std::string& v) {
  std::uint64_t n = 0;
  if (!take_number(in, n) || n > max_field || n > in.size()) return false;
  v.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

std::uint64_t to_ms(wall_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
}

}  // namespace

bool is_header_value(std::string_view v) noexcept {
  for (unsigned char c : v)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  return true;
}

// Layout: "WCPE2\n" status "\n" stored_at_ms "\n" expires_at_ms "\n", then content type,
// tracking ID, Link and body, each as length "\n" bytes.
std::string serialise(const entry& e) {
  std::string out;
  out.reserve(64 + e.content_type.size() + e.tracking_id.size() + e.link.size() + e.body.size());
  out.append(magic);
  out += '\n';
  put_number(out, e.status);
  put_number(out, to_ms(e.stored_at));
  put_number(out, to_ms(e.expires_at));
  put_field(out, e.content_type);
  put_field(out, e.tracking_id);
  put_field(out, e.link);
  put_field(out, e.body);
  return out;
}

std::optional<entry> deserialise(std::string_view in) {
  if (in.substr(0, magic.size()) != magic || in.size() < magic.size() + 1 ||
      in[magic.size()] != '\n')
    return std::nullopt;
  in.remove_prefix(magic.size() + 1);
  entry e;
  std::uint64_t status = 0, stored = 0, expires = 0;
  if (!take_number(in, status) || status < 100 || status > 599) return std::nullopt;
  if (!take_number(in, stored) || !take_number(in, expires) || expires < stored) return std::nullopt;
  // 2200-01-01: far past any real entry, well inside what the clock (ns since 1970) can hold.
  constexpr std::uint64_t max_ms = 7258118400000ull;
  if (stored > max_ms || expires > max_ms) return std::nullopt;
  if (!take_field(in, e.content_type) || !take_field(in, e.tracking_id) ||
      !take_field(in, e.link) || !take_field(in, e.body) || !in.empty())
    return std::nullopt;
  // They go out as headers of cached answers: nothing that could split an answer.
  if (!is_header_value(e.content_type) || !is_header_value(e.tracking_id) ||
      !is_header_value(e.link))
    return std::nullopt;
  e.status = static_cast<unsigned>(status);
  e.stored_at = wall_clock::time_point(std::chrono::milliseconds(stored));
  e.expires_at = wall_clock::time_point(std::chrono::milliseconds(expires));
  return e;
}

}  // namespace wcp::cache
