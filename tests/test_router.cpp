#include <doctest/doctest.h>

#include "proxy/router.hpp"

#include <set>
#include <string>
#include <vector>

using wcp::cache::resource_kind;
using wcp::proxy::route_kind;
using wcp::proxy::route_request;

namespace {
const std::string loc = "Y2lzY29zcGFyazovL3VzL0xPQ0FUSU9OLzEyMzQ1";
const std::string park = "Y2lzY29zcGFyazovL3VzL0NBTExfUEFSSy9hYmM=";
const std::string base = "/v1/telephony/config/locations/" + loc;
}  // namespace

TEST_CASE("GET and HEAD of a call park are cached reads") {
  for (auto method : {"GET", "HEAD"}) {
    auto r = route_request(method, base + "/callParks/" + park);
    CHECK(r.kind == route_kind::cached_read);
    CHECK(r.resource == resource_kind::call_park);
    CHECK(r.cacheable);
    CHECK(r.location_id == loc);
    CHECK(r.resource_id == park);  // as sent, padding kept
    CHECK_FALSE(r.org_id.has_value());
    CHECK(wcp::proxy::route_label(r) == "call_park");
  }
}

TEST_CASE("GET of a paging group is a cached read") {
  auto r = route_request("GET", base + "/paging/UEFHSU5H");
  CHECK(r.kind == route_kind::cached_read);
  CHECK(r.resource == resource_kind::paging_group);
  CHECK(wcp::proxy::route_label(r) == "paging_group");
}

TEST_CASE("PUT and DELETE are invalidating writes - other methods pass through") {
  CHECK(route_request("PUT", base + "/callParks/" + park).kind == route_kind::invalidating_write);
  CHECK(route_request("DELETE", base + "/paging/X").kind == route_kind::invalidating_write);
  CHECK(route_request("POST", base + "/callParks/" + park).kind == route_kind::passthrough);
  CHECK(route_request("PATCH", base + "/paging/X").kind == route_kind::passthrough);
}

TEST_CASE("what depends on state outside the location, and secrets, pass through") {
  for (auto sub : {"/callParks/availableUsers", "/callParks/availableRecallHuntGroups",
                   "/callPickups/availableUsers", "/paging/availableNumbers",
                   "/availableNumbers", "/huntGroups/availableNumbers", "/queues/availableNumbers",
                   "/announcements/usage", "/redSky/status", "/callRecording/vendorUsers",
                   "/operatingModes/availableOperatingModes", "/aiReceptionists/voices",
                   "/aiReceptionists/availableNumbers", "/cxEssentials/agents/availableAgents",
                   "/dectNetworks/REVDVA/serviceabilityPassword", "/devices/settings",
                   "/redSky", "/callRecording/vendors"}) {
    CAPTURE(sub);
    CHECK(route_request("GET", base + sub).kind == route_kind::passthrough);
    CHECK(route_request("PUT", base + sub).kind == route_kind::passthrough);
    // A write there still drops the location.
    CHECK(route_request("PUT", base + sub).write_location == loc);
  }
}

TEST_CASE("collections are passed through except for the location-scoped lists") {
  CHECK(route_request("GET", base + "/callParks").kind == route_kind::cached_read);
  CHECK(route_request("POST", base + "/callParks").kind == route_kind::passthrough);
  CHECK(route_request("GET", base + "/huntGroups").kind == route_kind::passthrough);
  CHECK(route_request("GET", base + "/callParks/X/extra").kind == route_kind::passthrough);
  CHECK(route_request("GET", "/v1/people/me").kind == route_kind::passthrough);
  CHECK(route_request("GET", "/v1/telephony/config/callParks/X").kind == route_kind::passthrough);
  CHECK(route_request("GET", "/").kind == route_kind::passthrough);
}

TEST_CASE("orgId is kept - other parameters make a read uncacheable") {
  auto r = route_request("GET", base + "/callParks/" + park + "?orgId=T1JHPQ==");
  CHECK(r.kind == route_kind::cached_read);
  CHECK(r.cacheable);
  REQUIRE(r.org_id.has_value());
  CHECK(*r.org_id == "T1JHPQ==");
  CHECK(r.org_variant() == "T1JHPQ");

  auto extra = route_request("GET", base + "/callParks/" + park + "?orgId=T1JH&max=5");
  CHECK(extra.kind == route_kind::cached_read);
  CHECK_FALSE(extra.cacheable);
}

TEST_CASE("a repeated orgId is refused on every route and method") {
  for (const std::string& target :
       {base + "/callParks/" + park + "?orgId=A&orgId=B", base + "/callParks/" + park + "?orgId=A&orgId=A",
        base + "/paging/UEFHSU5H?orgId=A&max=1&orgId=B", base + "/callParks/settings?orgId=A&orgId=B",
        std::string("/v1/people?orgId=A&%6FrgId=B"), std::string("/v1/locations?orgId=&orgId=B")}) {
    for (auto method : {"GET", "HEAD", "PUT", "DELETE", "POST"}) {
      CAPTURE(target);
      CAPTURE(method);
      auto r = route_request(method, target);
      CHECK(r.kind == route_kind::invalid);
      CHECK(r.error_status == 400);
      CHECK(r.error.find("orgId") != std::string::npos);
    }
  }
  // Once is fine, and other repeated parameters are not the router's concern.
  CHECK(route_request("GET", "/v1/people?orgId=A&max=1&max=2").kind == route_kind::passthrough);
}

TEST_CASE("padded and unpadded IDs give one key") {
  auto a = route_request("GET", base + "/callParks/QUJDRA==");
  auto b = route_request("GET", base + "/callParks/QUJDRA");
  CHECK(a.key() == b.key());
  CHECK(a.key().str() == b.key().str());
  CHECK(a.resource_id != b.resource_id);
}

TEST_CASE("percent-encoded padding decodes to the same key") {
  auto a = route_request("GET", base + "/callParks/QUJDRA%3D%3D");
  REQUIRE(a.kind == route_kind::cached_read);
  CHECK(a.resource_id == "QUJDRA==");
  CHECK(a.key() == route_request("GET", base + "/callParks/QUJDRA").key());
}

TEST_CASE("call parks and paging groups with one ID are different keys") {
  CHECK_FALSE(route_request("GET", base + "/callParks/X").key() ==
              route_request("GET", base + "/paging/X").key());
}

TEST_CASE("IDs that cannot be IDs are refused with 400") {
  const std::string long_id(513, 'A');
  for (const std::string& bad :
       {std::string("bad.id"), std::string("a%2Fb"), std::string("a+b"), std::string("%20"),
        long_id}) {
    CAPTURE(bad);
    auto r = route_request("GET", base + "/callParks/" + bad);
    CHECK(r.kind == route_kind::invalid);
    CHECK(r.error_status == 400);
    CHECK_FALSE(r.error.empty());
  }
  CHECK(route_request("GET", base + "/callParks/" + std::string(512, 'A')).kind ==
        route_kind::cached_read);
  CHECK(route_request("GET", "/v1/telephony/config/locations/l%21/callParks/X").kind ==
        route_kind::invalid);
  CHECK(route_request("PUT", base + "/callParks/a$b").kind == route_kind::invalid);
  CHECK(route_request("GET", "/v1/telephony/config/locations/==/callParks/=").kind ==
        route_kind::invalid);  // padding alone is no ID
}

TEST_CASE("IDs that do not decode as base64 are still accepted") {
  auto r = route_request("GET", base + "/callParks/Y3lzY29zcGFyazovL3VzL1BFT1BMRS83MG-_");
  CHECK(r.kind == route_kind::cached_read);
}

TEST_CASE("empty IDs - trailing slashes - empty segments and dot segments are refused") {
  CHECK(route_request("GET", "/v1/telephony/config/locations//callParks/X").kind ==
        route_kind::invalid);
  CHECK(route_request("GET", base + "/callParks/" + park + "/").kind == route_kind::invalid);
  CHECK(route_request("GET", base + "/x/../callParks/" + park).kind == route_kind::invalid);
  CHECK(route_request("GET", base + "/callParks/%2e%2e").kind == route_kind::invalid);
  // However deep in a long path.
  CHECK(route_request("GET", base + "/callParks/" + park + "/a/b/../c").kind == route_kind::invalid);
  CHECK(route_request("GET", base + "/callParks/" + park + "/a/b/%2E/c").kind == route_kind::invalid);
  CHECK(route_request("GET", base + "/callParks/" + park + "/a/b/c").kind == route_kind::passthrough);
}

TEST_CASE("a write drops its location however the path is spelled") {
  auto r = route_request("PUT", "/V1/Telephony/Config/Locations/" + loc + "/CALLPARKS/" + park);
  CHECK(r.write_location == loc);
  CHECK(route_request("POST", "/v1/telephony/config/LOCATIONS/" + loc + "/anything/new").write_location == loc);
  CHECK(route_request("PATCH", "/V1/LOCATIONS/" + loc).write_location == loc);
  CHECK_FALSE(route_request("GET", base + "/callParks/" + park).write_location.has_value());
}

TEST_CASE("a bad orgId is refused - a malformed target is refused") {
  CHECK(route_request("GET", base + "/callParks/X?orgId=").kind == route_kind::invalid);
  CHECK(route_request("GET", base + "/callParks/X?orgId=a%20b").kind == route_kind::invalid);
  CHECK(route_request("GET", "http://evil.example/v1/people").kind == route_kind::invalid);
  CHECK(route_request("GET", "no-slash").kind == route_kind::invalid);
  CHECK(route_request("GET", "/v1/%zz").kind == route_kind::invalid);
}

// ---- the route table ------------------------------------------------------------------------

TEST_CASE("every kind of WEBEX_ROUTES.md table 1 with an item GET is a cached read of its kind") {
  const std::string id = "SVRFTQ";
  const struct {
    std::string path;
    resource_kind kind;
    bool renames;
  } items[] = {
      {"/callParks/" + id, resource_kind::call_park, true},
      {"/callPickups/" + id, resource_kind::call_pickup, true},
      {"/schedules/businessHours/" + id, resource_kind::schedule, true},
      {"/schedules/holidays/" + id, resource_kind::schedule, true},
      {"/schedules/holidays/U0NI/events/" + id, resource_kind::schedule_event, true},
      {"/autoAttendants/QUE/callForwarding/selectiveRules/" + id, resource_kind::selective_rule, true},
      {"/huntGroups/SEc/callForwarding/selectiveRules/" + id, resource_kind::selective_rule, true},
      {"/queues/UQ/callForwarding/selectiveRules/" + id, resource_kind::selective_rule, true},
      {"/huntGroups/" + id, resource_kind::hunt_group, false},
      {"/queues/" + id, resource_kind::queue, false},
      {"/autoAttendants/" + id, resource_kind::auto_attendant, false},
      {"/paging/" + id, resource_kind::paging_group, false},
      {"/voicemailGroups/" + id, resource_kind::voicemail_group, false},
      {"/callParkExtensions/" + id, resource_kind::call_park_extension, false},
      {"/announcements/" + id, resource_kind::announcement, false},
      {"/queues/UQ/dnis/" + id, resource_kind::dnis, false},
      {"/callRouting/translationPatterns/" + id, resource_kind::translation_pattern, false},
      {"/outgoingPermission/digitPatterns/" + id, resource_kind::digit_pattern, false},
      {"/dectNetworks/" + id, resource_kind::dect_network, false},
      {"/dectNetworks/RE4/baseStations/" + id, resource_kind::base_station, false},
      {"/dectNetworks/RE4/handsets/" + id, resource_kind::handset, false},
      {"/receptionistContacts/directories/" + id, resource_kind::directory, false},
      {"/aiReceptionists/" + id, resource_kind::ai_receptionist, false},
      {"/aiReceptionists/QUk/intents/" + id, resource_kind::intent, false},
  };
  for (const auto& item : items) {
    CAPTURE(item.path);
    const auto r = route_request("GET", base + item.path + "=");
    REQUIRE(r.kind == route_kind::cached_read);
    CHECK(r.cacheable);
    CHECK(r.resource == item.kind);
    CHECK(r.row->shape == wcp::proxy::route_shape::item);
    CHECK(r.row->renames == item.renames);
    CHECK(r.resource_id == id + "=");
    CHECK(r.key().kind == item.kind);
    CHECK(r.key().location == loc);
    CHECK(r.key().id == item.path.substr(1));  // padding of every ID removed
    // Items and lists of a kind share its grant.
    CHECK(r.grant() == wcp::cache::to_string(item.kind));
    CHECK(wcp::proxy::route_label(r) == wcp::cache::label_of(item.kind));
    CHECK(route_request("PUT", base + item.path).kind == route_kind::invalidating_write);
    CHECK(route_request("DELETE", base + item.path).kind == route_kind::invalidating_write);
    CHECK(route_request("POST", base + item.path).kind == route_kind::passthrough);
  }
}

TEST_CASE("the location's details and its settings are cached - each settings path its own grant") {
  const auto details = route_request("GET", base);
  REQUIRE(details.kind == route_kind::cached_read);
  CHECK(details.resource == resource_kind::location);
  CHECK(details.key().id.empty());
  CHECK(details.grant() == "locations");

  std::set<std::string> grants;
  for (auto sub : {"intercept", "internalDialing", "musicOnHold", "voicemail", "voicePortal",
                   "voicePortal/passcodeRules", "callCaptions", "privateNetworkConnect",
                   "outgoingPermission", "outgoingPermission/accessCodes",
                   "outgoingPermission/autoTransferNumbers", "emergencyCallNotification",
                   "features/emergencyCallbackNumber", "features/hotDesking",
                   "callParks/settings", "callRecording/announcements",
                   "callRecording/complianceAnnouncement", "autoAttendants/QUE/callForwarding",
                   "huntGroups/SEc/callForwarding", "queues/UQ/callForwarding",
                   "queues/UQ/forcedForward", "queues/UQ/holidayService", "queues/UQ/nightService",
                   "queues/UQ/strandedCalls", "queues/UQ/cxEssentials/screenPop",
                   "queues/UQ/dnis/settings", "queues/UQ/dnis/RE4/announcements"}) {
    CAPTURE(sub);
    const auto r = route_request("GET", base + "/" + sub);
    REQUIRE(r.kind == route_kind::cached_read);
    CHECK(r.resource == resource_kind::settings);
    CHECK(r.key().id == sub);
    CHECK(wcp::cache::kind_named(r.grant()) == std::nullopt);  // never a kind's grant
    grants.insert(std::string(r.grant()));
    CHECK(route_request("PUT", base + "/" + sub).kind == route_kind::passthrough);
    CHECK(route_request("PUT", base + "/" + sub).write_location == loc);
  }
  CHECK(grants.size() == 27);
  // The same settings path of two queues: two resources, one grant.
  const auto q1 = route_request("GET", base + "/queues/UQ/forcedForward");
  const auto q2 = route_request("GET", base + "/queues/UTI/forcedForward");
  CHECK_FALSE(q1.key() == q2.key());
  CHECK(q1.grant() == q2.grant());
}

TEST_CASE("lists are cached by their key query - anything else is uncacheable") {
  const auto a = route_request("GET", base + "/callParks?max=2&start=4");
  const auto b = route_request("GET", base + "/callParks?start=4&max=2");
  REQUIRE(a.kind == route_kind::cached_read);
  CHECK(a.cacheable);
  CHECK(a.row->shape == wcp::proxy::route_shape::list);
  CHECK(a.key() == b.key());  // the order of the parameters does not matter
  CHECK(a.key().id == "callParks?max=2&start=4");
  CHECK(a.grant() == "callParks");
  CHECK_FALSE(a.key() == route_request("GET", base + "/callParks?max=2&start=6").key());
  CHECK_FALSE(a.key() == route_request("GET", base + "/callParks").key());
  // Values are compared decoded, and kept encoded (never a '@' or '|' in a key).
  const auto n1 = route_request("GET", base + "/callParks?name=a%40b%7Cc");
  const auto n2 = route_request("GET", base + "/callParks?name=a@b%7cc");
  CHECK(n1.key() == n2.key());
  CHECK(n1.key().id == "callParks?name=a%40b%7Cc");
  CHECK(route_request("GET", base + "/schedules?type=holidays&name=x").key().id ==
        "schedules?name=x&type=holidays");
  CHECK(route_request("GET", base + "/callPickups?orgId=T1JH&max=5").cacheable);
  // Unknown, or repeated, parameters: forwarded and never stored.
  CHECK_FALSE(route_request("GET", base + "/callParks?max=2&color=red").cacheable);
  CHECK_FALSE(route_request("GET", base + "/callParks?max=2&max=3").cacheable);
  CHECK_FALSE(route_request("GET", base + "/schedules?order=name").cacheable);  // not a schedules key
  CHECK(route_request("GET", base + "/dectNetworks/RE4/handsets?basestationId=Qg").cacheable);
}

TEST_CASE("an org-level list is cached only when filtered by one valid locationId") {
  const auto r = route_request("GET", "/v1/telephony/config/huntGroups?max=5&locationId=" + loc + "==");
  REQUIRE(r.kind == route_kind::cached_read);
  CHECK(r.cacheable);
  CHECK(r.resource == resource_kind::hunt_group);
  CHECK(r.row->shape == wcp::proxy::route_shape::org_list);
  CHECK(r.location_id == loc + "==");
  CHECK(r.key().location == loc);
  CHECK(r.key().id == "org/huntGroups?max=5");
  CHECK(r.grant() == "huntGroups");  // the kind's grant, as its items'
  for (auto kind : {"queues", "autoAttendants", "paging", "voicemailGroups", "callParkExtensions",
                    "dectNetworks"}) {
    CAPTURE(kind);
    CHECK(route_request("GET", std::string("/v1/telephony/config/") + kind + "?locationId=" + loc).kind ==
          route_kind::cached_read);
  }
  // Org-wide: no locationId, two of them, or one that is not an ID.
  CHECK(route_request("GET", "/v1/telephony/config/huntGroups").kind == route_kind::passthrough);
  CHECK(route_request("GET", "/v1/telephony/config/huntGroups?max=5").kind == route_kind::passthrough);
  CHECK(route_request("GET", "/v1/telephony/config/huntGroups?locationId=" + loc + "&locationId=TDI").kind ==
        route_kind::passthrough);
  CHECK(route_request("GET", "/v1/telephony/config/huntGroups?locationId=a.b").kind == route_kind::passthrough);
  // Not these org lists: announcements (locationId=all), translation patterns (org patterns too).
  CHECK(route_request("GET", "/v1/telephony/config/announcements?locationId=" + loc).kind ==
        route_kind::passthrough);
  CHECK(route_request("GET", "/v1/telephony/config/callRouting/translationPatterns?limitToLocationId=" + loc)
            .kind == route_kind::passthrough);
  CHECK(route_request("POST", "/v1/telephony/config/huntGroups?locationId=" + loc).kind ==
        route_kind::passthrough);
}

TEST_CASE("the table: literal rows before the IDs they look like, patterns of known kinds") {
  CHECK(route_request("GET", base + "/callParks/settings").resource == resource_kind::settings);
  CHECK(route_request("GET", base + "/queues/UQ/dnis/settings").resource == resource_kind::settings);
  CHECK(route_request("GET", base + "/announcements/usage").kind == route_kind::passthrough);
  CHECK(route_request("GET", base + "/schedules/weekly/" + park).kind == route_kind::passthrough);
  for (const auto& row : wcp::proxy::route_table()) {
    CAPTURE(row.pattern);
    CHECK(wcp::cache::label_of(row.kind) != "unknown");
    if (row.renames) CHECK(row.shape == wcp::proxy::route_shape::item);
    if (row.shape == wcp::proxy::route_shape::settings) CHECK(row.kind == resource_kind::settings);
  }
}

TEST_CASE("the router's own split of plain targets decides as the URL library does") {
  // Plain targets (the router splits them itself) beside targets only the URL library takes.
  const std::string park_path = base + "/callParks/" + park;
  const std::vector<std::string> targets = {
      park_path, park_path + "?orgId=T1JH", park_path + "?orgId=T1JH&orgId=T1JH",
      park_path + "?orgId", park_path + "?orgId=", park_path + "?", park_path + "?&",
      park_path + "?a=1&&b=2", park_path + "?x=1=2", park_path + "/", park_path + "//",
      base + "/./callParks/" + park, base + "/callParks/..", base + "/callParks/%2E%2E",
      base + "/callParks?max=2&start=0", base + "/callParks?start=0&max=2&max=3",
      base + "/callParks?name=a+b", base + "/callParks?name=a%20b", base + "/callParks?name=a%2Bb",
      "/v1/telephony/config/huntGroups?locationId=" + loc, "/v1/telephony/config/huntGroups?locationId=" + loc + "&locationId=" + loc,
      "/v1/telephony/config/huntGroups?max=5&locationId=" + loc, "/v1/telephony/config/huntGroups",
      base, base + "/", "/v1/locations/" + loc, "/v1/locations/" + loc + "/", "/", "/v1",
      "/v1/telephony/config/locations/bad!id/callParks/" + park, base + "/callParks/" + park + "%3D",
      base + "/callParks/Y2lz%59", base + "/callParks/" + park + "?orgId=T1%4AH", base + "/a/b/c/d/e/f/g/h/i/j/k",
      base + "/a/b/c/d/e/f/g/h/i/j/..", base + "/schedules/holidays/" + park + "/events/" + park,
      base + "/callParks/~x", base + "/callParks/_-.", base + "/intercept?orgId=T1JH", "/./Du",
      "/.//v1", "/./v1/telephony/config/locations/" + loc + "/callParks/" + park};
  for (const auto* method : {"GET", "HEAD", "PUT", "DELETE", "POST"}) {
    for (const auto& target : targets) {
      CAPTURE(method);
      CAPTURE(target);
      const auto r = route_request(method, target);
      const auto u = wcp::proxy::route_request_with_url_library(method, target);
      CHECK(r.kind == u.kind);
      CHECK(r.row == u.row);
      CHECK(r.error == u.error);
      CHECK(r.location_id == u.location_id);
      CHECK(r.resource_id == u.resource_id);
      CHECK(r.org_id == u.org_id);
      CHECK(r.write_location == u.write_location);
      CHECK(r.cacheable == u.cacheable);
      CHECK(r.resource_key.str() == u.resource_key.str());
    }
  }
}
