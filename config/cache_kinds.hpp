// The kinds of location-scoped telephony configuration, by the collection segment Webex spells
// them with (WEBEX_ROUTES.md, table 1), plus `settings` (a location's settings paths) and
// `locations` (a location's own calling details). Per-kind settings (`cache-ttl.KIND`) name one
// of these; what the proxy caches of each is the router's business.
#pragma once

#include <algorithm>
#include <array>
#include <string_view>

namespace wcp::config {

inline constexpr std::array<std::string_view, 23> cache_kinds = {
    "locations",     "settings",         "callParks",         "callPickups",
    "schedules",     "events",           "selectiveRules",    "huntGroups",
    "queues",        "autoAttendants",   "paging",            "voicemailGroups",
    "callParkExtensions", "announcements", "dnis",            "translationPatterns",
    "digitPatterns", "dectNetworks",     "baseStations",      "handsets",
    "directories",   "aiReceptionists",  "intents",
};

inline bool is_cache_kind(std::string_view kind) {
  return std::find(cache_kinds.begin(), cache_kinds.end(), kind) != cache_kinds.end();
}

}  // namespace wcp::config
