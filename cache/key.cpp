#include "cache/key.hpp"

namespace wcp::cache {

std::string_view to_string(resource_kind kind) {
  return kind == resource_kind::call_park ? "callParks" : "paging";
}

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > max_id_length) return false;
  // Padding alone would normalise to nothing.
  if (id.find_first_not_of('=') == std::string_view::npos) return false;
  for (unsigned char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '=' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string_view normalise_id(std::string_view id) {
  while (!id.empty() && id.back() == '=') id.remove_suffix(1);
  return id;
}

resource_key::resource_key(resource_kind k, std::string_view location_id,
                           std::string_view resource_id)
    : kind(k), location(normalise_id(location_id)), id(normalise_id(resource_id)) {}

std::string resource_key::str() const {
  std::string s;
  s.reserve(12 + location.size() + id.size());
  s.append(to_string(kind)).append("/").append(location).append("/").append(id);
  return s;
}

std::string variant_key::str() const { return resource.str() + "@" + org; }

std::size_t resource_key_hash::operator()(const resource_key& k) const noexcept {
  std::size_t h = std::hash<std::string_view>{}(k.id);
  h ^= std::hash<std::string_view>{}(k.location) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h ^ static_cast<std::size_t>(k.kind);
}

}  // namespace wcp::cache
