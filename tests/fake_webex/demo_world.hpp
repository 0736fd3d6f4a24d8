// A ready-made Webex world for tests and for the standalone fake-webex: two customer orgs, a
// partner org, named locations, call parks, paging groups, a call pickup, a holiday schedule with
// an event, a hunt group and a call queue, and five tokens with different reach.
//
// Every value is deterministic (the same on every run), so the standalone server's tokens and IDs
// can be written down. Some IDs carry '=' padding and some do not (loc_a1 and park_a1 do;
// loc_a2 and park_a2 do not).
#pragma once

#include "fake_webex/fake_webex.hpp"

#include <string>

namespace wcp::fake {

struct demo_world {
  std::string org_a, org_b;
  std::string loc_a1, loc_a2, loc_b1;  // loc_a1 and loc_a2 are in org A, loc_b1 in org B
  std::string token_admin_a;           // full admin of org A
  std::string token_loc_admin_a1;      // home org A, location admin of loc_a1 only; as Webex's, it
                                       // may write call queues but not read them
  std::string token_admin_b;           // full admin of org B
  std::string token_partner;           // home org is org_partner; may act on org A through orgId
  std::string park_a1, park_a2, park_b1;  // call parks in loc_a1, loc_a2, loc_b1
  std::string paging_a1, paging_b1;       // paging groups in loc_a1, loc_b1
  std::string org_partner;                // the partner's own org (no locations)
  std::string pickup_a1;                  // a call pickup in loc_a1
  std::string schedule_a1;                // a holidays schedule in loc_a1 ...
  std::string schedule_event_a1;          // ... and an event of it
  std::string hunt_group_a1, queue_a1;    // a hunt group and a call queue in loc_a1
  std::string token_park_reader_a1;       // home org A, location admin of loc_a1 for call parks only
};

// The names the demo world gives its call parks and paging groups.
inline constexpr const char* demo_park_a1_name = "Sales Park";
inline constexpr const char* demo_park_a2_name = "Support Park";
inline constexpr const char* demo_park_b1_name = "Main Lobby Park";
inline constexpr const char* demo_paging_a1_name = "All Staff Paging";
inline constexpr const char* demo_paging_b1_name = "Warehouse Paging";
inline constexpr const char* demo_pickup_a1_name = "Front Desk Pickup";
inline constexpr const char* demo_schedule_a1_name = "Public Holidays";
inline constexpr const char* demo_schedule_event_a1_name = "New Year";
inline constexpr const char* demo_hunt_group_a1_name = "Sales Hunt Group";
inline constexpr const char* demo_queue_a1_name = "Support Queue";
inline constexpr const char* demo_loc_a1_name = "Headquarters";
inline constexpr const char* demo_loc_a2_name = "Branch Office";
inline constexpr const char* demo_loc_b1_name = "Warehouse";

// Adds the demo world to `fake` and returns its names. REQUIRES: called once per fake.
demo_world populate_demo_world(fake_webex& fake);

}  // namespace wcp::fake
