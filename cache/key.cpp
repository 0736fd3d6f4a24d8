#include "cache/key.hpp"

#include <array>

#include "config/cache_kinds.hpp"

namespace wcp::cache {

static_assert(config::cache_kinds.size() == resource_kind_count);
static_assert(config::cache_kinds[static_cast<std::size_t>(resource_kind::call_park)] == "callParks");
static_assert(config::cache_kinds[static_cast<std::size_t>(resource_kind::paging_group)] == "paging");
static_assert(config::cache_kinds[static_cast<std::size_t>(resource_kind::intent)] == "intents");

std::string_view to_string(resource_kind kind) {
  const auto i = static_cast<std::size_t>(kind);
  return i < config::cache_kinds.size() ? config::cache_kinds[i] : "unknown";
}

std::optional<resource_kind> kind_named(std::string_view name) {
  for (std::size_t i = 0; i < config::cache_kinds.size(); ++i)
    if (config::cache_kinds[i] == name) return static_cast<resource_kind>(i);
  return std::nullopt;
}

std::string_view label_of(resource_kind kind) {
  static constexpr std::array<std::string_view, resource_kind_count> labels = {
      "location",        "settings",        "call_park",          "call_pickup",
      "schedule",        "schedule_event",  "selective_rule",     "hunt_group",
      "queue",           "auto_attendant",  "paging_group",       "voicemail_group",
      "call_park_extension", "announcement", "dnis",              "translation_pattern",
      "digit_pattern",   "dect_network",    "base_station",       "handset",
      "directory",       "ai_receptionist", "intent"};
  const auto i = static_cast<std::size_t>(kind);
  return i < labels.size() ? labels[i] : "unknown";
}

namespace {
// [A-Za-z0-9=_-]
constexpr std::array<bool, 256> id_chars = [] {
  std::array<bool, 256> t{};
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  t['='] = t['_'] = t['-'] = true;
  return t;
}();
}  // namespace

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > max_id_length) return false;
  // Eight characters per test: an ID is checked on every cached read.
  std::size_t i = 0;
  for (; i + 8 <= id.size(); i += 8) {
    const auto* p = reinterpret_cast<const unsigned char*>(id.data() + i);
    if (!(id_chars[p[0]] & id_chars[p[1]] & id_chars[p[2]] & id_chars[p[3]] & id_chars[p[4]] &
          id_chars[p[5]] & id_chars[p[6]] & id_chars[p[7]]))
      return false;
  }
  for (; i < id.size(); ++i)
    if (!id_chars[static_cast<unsigned char>(id[i])]) return false;
  // Padding alone would normalise to nothing.
  return id.front() != '=' || id.find_first_not_of('=') != std::string_view::npos;
}

bool is_resource_name(std::string_view what) {
  if (what.size() > 2048) return false;
  for (unsigned char c : what)
    if (!id_chars[c] && c != '/' && c != '?' && c != '&' && c != '%' && c != '.' && c != '~')
      return false;
  return true;
}

bool is_grant_kind(std::string_view kind) {
  if (kind.empty() || kind.size() > 128) return false;
  for (char c : kind)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
          c == '{' || c == '}'))
      return false;
  return true;
}

std::string_view normalise_id(std::string_view id) {
  while (!id.empty() && id.back() == '=') id.remove_suffix(1);
  return id;
}

resource_key::resource_key(resource_kind k, std::string_view location_id,
                           std::string_view resource_id)
    : kind(k), location(normalise_id(location_id)), id(normalise_id(resource_id)) {}

resource_key resource_key::of(resource_kind k, std::string_view location_id, std::string what) {
  resource_key key;
  key.kind = k;
  key.location = std::string(normalise_id(location_id));
  key.id = std::move(what);
  return key;
}

std::string resource_key::str() const {
  std::string s;
  s.reserve(12 + location.size() + id.size());
  append_to(s);
  return s;
}

void resource_key::append_to(std::string& out) const {
  out.append(to_string(kind)).append("/").append(location).append("/").append(id);
}

std::string variant_key::str() const {
  std::string s;
  s.reserve(13 + resource.location.size() + resource.id.size() + org.size());
  append_to(s);
  return s;
}

void variant_key::append_to(std::string& out) const {
  resource.append_to(out);
  out.append("@").append(org);
}

std::size_t resource_key_hash::operator()(const resource_key& k) const noexcept {
  std::size_t h = std::hash<std::string_view>{}(k.id);
  h ^= std::hash<std::string_view>{}(k.location) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h ^ static_cast<std::size_t>(k.kind);
}

}  // namespace wcp::cache
