#include <doctest/doctest.h>

#include "proxy/router.hpp"

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

TEST_CASE("reserved sub-paths pass through") {
  for (auto sub : {"/callParks/settings", "/callParks/availableUsers",
                   "/callParks/availableRecallHuntGroups", "/paging/availableNumbers"}) {
    CAPTURE(sub);
    CHECK(route_request("GET", base + sub).kind == route_kind::passthrough);
    CHECK(route_request("PUT", base + sub).kind == route_kind::passthrough);
  }
}

TEST_CASE("collections - other telephony routes and non-telephony routes pass through") {
  CHECK(route_request("GET", base + "/callParks").kind == route_kind::passthrough);
  CHECK(route_request("POST", base + "/callParks").kind == route_kind::passthrough);
  CHECK(route_request("GET", base + "/huntGroups/X").kind == route_kind::passthrough);
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
  for (const std::string target :
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

TEST_CASE("route literals match in any case - so a write cannot dodge invalidation") {
  auto r = route_request("PUT", "/V1/Telephony/Config/Locations/" + loc + "/CALLPARKS/" + park);
  CHECK(r.kind == route_kind::invalidating_write);
  CHECK(r.resource == resource_kind::call_park);
}

TEST_CASE("a bad orgId is refused - a malformed target is refused") {
  CHECK(route_request("GET", base + "/callParks/X?orgId=").kind == route_kind::invalid);
  CHECK(route_request("GET", base + "/callParks/X?orgId=a%20b").kind == route_kind::invalid);
  CHECK(route_request("GET", "http://evil.example/v1/people").kind == route_kind::invalid);
  CHECK(route_request("GET", "no-slash").kind == route_kind::invalid);
  CHECK(route_request("GET", "/v1/%zz").kind == route_kind::invalid);
}
