#include "fake_webex/demo_world.hpp"

namespace wcp::fake {

demo_world populate_demo_world(fake_webex& fake) {
  demo_world w;
  w.org_a = webex_id("ORGANIZATION", "5e2f9c52-7b4a-4d6f-9a34-2c8b1f0e7d41");
  w.org_b = webex_id("ORGANIZATION", "a9d3e6f1-0c2b-4e58-b7a6-93f4d2c1e805");
  w.org_partner = webex_id("ORGANIZATION", "c0ffee00-1d2e-4f3a-8b5c-6d7e8f9a0b1c");
  // Value lengths chosen so that loc_a1 and loc_b1 are padded and loc_a2 is not.
  w.loc_a1 = webex_id("LOCATION", "7f3c1a52-2d4e-4b6a-8c9d-0e1f2a3b4c5d");
  w.loc_a2 = webex_id("LOCATION", "7f3c1a52-2d4e-4b6a-8c9d-0e1f2a3b4c5d-2");
  w.loc_b1 = webex_id("LOCATION", "b2d4f6a8-1c3e-4a5b-9d7f-8e6c4a2b0d13");

  fake.add_org(w.org_a);
  fake.add_org(w.org_b);
  fake.add_org(w.org_partner);
  fake.add_location(w.org_a, w.loc_a1, demo_loc_a1_name);
  fake.add_location(w.org_a, w.loc_a2, demo_loc_a2_name);
  fake.add_location(w.org_b, w.loc_b1, demo_loc_b1_name);

  w.token_admin_a = "demo-admin-a-ZDI3MGEyYzQtNmFlNS00NDNh";
  w.token_loc_admin_a1 = "demo-locadmin-a1-YjQ0NzVmNDdlYTI5";
  w.token_admin_b = "demo-admin-b-OTJmMzRkYmItNjQwZC00";
  w.token_partner = "demo-partner-NmFlNS00NDNhLWFmNzYt";
  w.token_park_reader_a1 = "demo-parkreader-a1-MmQ0ZTRiNmE4YzlkMGUx";
  fake.add_token({w.token_admin_a, w.org_a, {}, {}});
  fake.add_token({w.token_loc_admin_a1, w.org_a, {}, {w.loc_a1}, {}, {"queues"}});
  fake.add_token({w.token_admin_b, w.org_b, {}, {}});
  fake.add_token({w.token_partner, w.org_partner, {w.org_a}, {}});
  fake.add_token({w.token_park_reader_a1, w.org_a, {}, {w.loc_a1}, {"callParks"}});

  w.park_a1 = fake.add_call_park(w.loc_a1, demo_park_a1_name);
  w.park_a2 = fake.add_call_park(w.loc_a2, demo_park_a2_name);
  w.park_b1 = fake.add_call_park(w.loc_b1, demo_park_b1_name);
  w.paging_a1 = fake.add_paging_group(w.loc_a1, demo_paging_a1_name);
  w.paging_b1 = fake.add_paging_group(w.loc_b1, demo_paging_b1_name);
  w.pickup_a1 = fake.add_item(w.loc_a1, "callPickups", demo_pickup_a1_name);
  w.schedule_a1 = fake.add_item(w.loc_a1, "schedules/holidays", demo_schedule_a1_name);
  w.schedule_event_a1 =
      fake.add_item(w.loc_a1, "schedules/holidays/" + w.schedule_a1 + "/events", demo_schedule_event_a1_name);
  w.hunt_group_a1 = fake.add_item(w.loc_a1, "huntGroups", demo_hunt_group_a1_name);
  w.queue_a1 = fake.add_item(w.loc_a1, "queues", demo_queue_a1_name);
  return w;
}

}  // namespace wcp::fake
