#include "proxy/route_table.hpp"

#include <array>

namespace wcp::proxy {

namespace {

using k = cache::resource_kind;
using s = route_shape;

constexpr std::string_view paged = "start max";
constexpr std::string_view org_paged = "start max name phoneNumber order";

// In match order: within one segment count, literal rows come before the `{id}` rows they
// would otherwise fall under (callParks/settings before callParks/{id}).
constexpr std::array rows = std::to_array<route_row>({
    // The location's own calling details.
    {"", k::location, s::location},

    // Under the location, but never cached: their answers depend on state outside it (numbers
    // and people of the whole org, external services), or they are secrets.
    {"callParks/availableUsers", k::call_park, s::never},
    {"callParks/availableRecallHuntGroups", k::call_park, s::never},
    {"callPickups/availableUsers", k::call_pickup, s::never},
    {"announcements/usage", k::announcement, s::never},
    {"aiReceptionists/voices", k::ai_receptionist, s::never},
    {"redSky/status", k::settings, s::never},
    {"callRecording/vendorUsers", k::settings, s::never},
    {"operatingModes/availableOperatingModes", k::settings, s::never},
    {"cxEssentials/agents/availableAgents", k::settings, s::never},
    {"dectNetworks/{id}/serviceabilityPassword", k::dect_network, s::never},

    // Location settings: changed only by writes under the same location.
    {"intercept", k::settings, s::settings},
    {"internalDialing", k::settings, s::settings},
    {"musicOnHold", k::settings, s::settings},
    {"voicemail", k::settings, s::settings},
    {"voicePortal", k::settings, s::settings},
    {"voicePortal/passcodeRules", k::settings, s::settings},
    {"callCaptions", k::settings, s::settings},
    {"privateNetworkConnect", k::settings, s::settings},
    {"outgoingPermission", k::settings, s::settings},
    {"outgoingPermission/accessCodes", k::settings, s::settings},
    {"outgoingPermission/autoTransferNumbers", k::settings, s::settings},
    {"emergencyCallNotification", k::settings, s::settings},
    {"features/emergencyCallbackNumber", k::settings, s::settings},
    {"features/hotDesking", k::settings, s::settings},
    {"callParks/settings", k::settings, s::settings},
    {"callRecording/announcements", k::settings, s::settings},
    {"callRecording/complianceAnnouncement", k::settings, s::settings},
    {"autoAttendants/{id}/callForwarding", k::settings, s::settings},
    {"huntGroups/{id}/callForwarding", k::settings, s::settings},
    {"queues/{id}/callForwarding", k::settings, s::settings},
    {"queues/{id}/forcedForward", k::settings, s::settings},
    {"queues/{id}/holidayService", k::settings, s::settings},
    {"queues/{id}/nightService", k::settings, s::settings},
    {"queues/{id}/strandedCalls", k::settings, s::settings},
    {"queues/{id}/cxEssentials/screenPop", k::settings, s::settings},
    {"queues/{id}/dnis/settings", k::settings, s::settings},
    {"queues/{id}/dnis/{id}/announcements", k::settings, s::settings},

    // Lists under the location.
    {"callParks", k::call_park, s::list, "start max order name"},
    {"callPickups", k::call_pickup, s::list, "start max order name"},
    {"schedules", k::schedule, s::list, "start max name type"},
    {"outgoingPermission/digitPatterns", k::digit_pattern, s::list},
    {"receptionistContacts/directories", k::directory, s::list},
    {"autoAttendants/{id}/announcements", k::announcement, s::list},
    {"queues/{id}/announcements", k::announcement, s::list},
    {"queues/{id}/dnis", k::dnis, s::list},
    {"dectNetworks/{id}/baseStations", k::base_station, s::list},
    {"dectNetworks/{id}/handsets", k::handset, s::list, "basestationId memberId"},
    {"aiReceptionists/{id}/intents", k::intent, s::list},

    // Items.
    {"callParks/{id}", k::call_park, s::item, {}, true},
    {"callPickups/{id}", k::call_pickup, s::item, {}, true},
    {"schedules/{type}/{id}", k::schedule, s::item, {}, true},
    {"schedules/{type}/{id}/events/{id}", k::schedule_event, s::item, {}, true},
    {"autoAttendants/{id}/callForwarding/selectiveRules/{id}", k::selective_rule, s::item, {}, true},
    {"huntGroups/{id}/callForwarding/selectiveRules/{id}", k::selective_rule, s::item, {}, true},
    {"queues/{id}/callForwarding/selectiveRules/{id}", k::selective_rule, s::item, {}, true},
    {"huntGroups/{id}", k::hunt_group, s::item},
    {"queues/{id}", k::queue, s::item},
    {"autoAttendants/{id}", k::auto_attendant, s::item},
    {"paging/{id}", k::paging_group, s::item},
    {"voicemailGroups/{id}", k::voicemail_group, s::item},
    {"callParkExtensions/{id}", k::call_park_extension, s::item},
    {"announcements/{id}", k::announcement, s::item},
    {"queues/{id}/dnis/{id}", k::dnis, s::item},
    {"callRouting/translationPatterns/{id}", k::translation_pattern, s::item},
    {"outgoingPermission/digitPatterns/{id}", k::digit_pattern, s::item},
    {"dectNetworks/{id}", k::dect_network, s::item},
    {"dectNetworks/{id}/baseStations/{id}", k::base_station, s::item},
    {"dectNetworks/{id}/handsets/{id}", k::handset, s::item},
    {"receptionistContacts/directories/{id}", k::directory, s::item},
    {"aiReceptionists/{id}", k::ai_receptionist, s::item},
    {"aiReceptionists/{id}/intents/{id}", k::intent, s::item},

    // Org-level lists of a feature, cached when filtered by one locationId (they then belong to
    // that location). Not the announcements list (its locationId also takes `all`) nor the
    // translation patterns list (it holds the org's own patterns too).
    {"huntGroups", k::hunt_group, s::org_list, org_paged},
    {"queues", k::queue, s::org_list, "start max name phoneNumber order departmentId departmentName hasCxEssentials"},
    {"autoAttendants", k::auto_attendant, s::org_list, org_paged},
    {"paging", k::paging_group, s::org_list, org_paged},
    {"voicemailGroups", k::voicemail_group, s::org_list, org_paged},
    {"callParkExtensions", k::call_park_extension, s::org_list, org_paged},
    {"dectNetworks", k::dect_network, s::org_list, "name"},
});

constexpr std::size_t max_segments = 6;

// What a pattern segment matches: itself, any ID, or a schedule type.
enum class segment_kind : unsigned char { literal, id, type };

// A row's pattern split into segments, once.
struct compiled_row {
  std::array<std::string_view, max_segments> segments{};
  std::array<segment_kind, max_segments> kinds{};
  std::size_t count = 0;
};

constexpr compiled_row compile(std::string_view pattern) {
  compiled_row c;
  if (pattern.empty()) return c;
  for (;;) {
    const auto slash = pattern.find('/');
    const auto seg = pattern.substr(0, slash);
    c.kinds[c.count] = seg == "{id}"     ? segment_kind::id
                       : seg == "{type}" ? segment_kind::type
                                         : segment_kind::literal;
    c.segments[c.count++] = seg;
    if (slash == std::string_view::npos) break;
    pattern.remove_prefix(slash + 1);
  }
  return c;
}

constexpr auto compiled = [] {
  std::array<compiled_row, rows.size()> out{};
  for (std::size_t i = 0; i < rows.size(); ++i) out[i] = compile(rows[i].pattern);
  return out;
}();

bool matches(const compiled_row& c, std::size_t j, std::string_view segment) {
  switch (c.kinds[j]) {
    // Any segment but a word of the API's own: an ID that is not valid is the router's to refuse.
    case segment_kind::id: return !segment.empty() && !segment.starts_with("available");
    case segment_kind::type: return segment == "businessHours" || segment == "holidays";
    case segment_kind::literal: break;
  }
  return c.segments[j] == segment;
}

}  // namespace

std::span<const route_row> route_table() { return rows; }

namespace {

// The rows in table order, grouped by (org level, segment count): a path is matched against its
// group only.
struct row_groups {
  std::array<unsigned char, rows.size()> order{};
  std::array<std::size_t, 2 * (max_segments + 1) + 1> begin{};  // group g: [begin[g], begin[g+1])
};

constexpr std::size_t group_of(bool org_level, std::size_t count) {
  return (org_level ? max_segments + 1 : 0) + count;
}

constexpr row_groups grouped = [] {
  static_assert(rows.size() < 256);
  row_groups g;
  std::size_t n = 0;
  for (std::size_t group = 0; group + 1 < g.begin.size(); ++group) {
    g.begin[group] = n;
    for (std::size_t i = 0; i < rows.size(); ++i)
      if (group_of(rows[i].shape == route_shape::org_list, compiled[i].count) == group)
        g.order[n++] = static_cast<unsigned char>(i);
  }
  g.begin.back() = n;
  return g;
}();

}  // namespace

const route_row* match_route(std::span<const std::string_view> segments, bool org_level) {
  if (segments.size() > max_segments) return nullptr;
  const std::size_t group = group_of(org_level, segments.size());
  for (std::size_t k = grouped.begin[group]; k < grouped.begin[group + 1]; ++k) {
    const std::size_t i = grouped.order[k];
    const auto& c = compiled[i];
    bool all = true;
    for (std::size_t j = 0; j < c.count && all; ++j) all = matches(c, j, segments[j]);
    if (all) return &rows[i];
  }
  return nullptr;
}

std::string_view grant_kind(const route_row& row) {
  return row.shape == route_shape::settings ? row.pattern : cache::to_string(row.kind);
}

bool is_key_param(const route_row& row, std::string_view name) {
  std::string_view params = row.key_params;
  while (!params.empty()) {
    const auto space = params.find(' ');
    if (params.substr(0, space) == name) return true;
    if (space == std::string_view::npos) break;
    params.remove_prefix(space + 1);
  }
  return false;
}

}  // namespace wcp::proxy
