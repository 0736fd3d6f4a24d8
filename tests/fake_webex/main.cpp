// fake-webex: the demo world of the fake Webex Calling API, served standalone, to try the proxy by
// hand. Prints its tokens, IDs and example requests, then serves until SIGINT or SIGTERM.
#include "fake_webex/demo_world.hpp"
#include "fake_webex/fake_webex.hpp"

#include <pthread.h>
#include <signal.h>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view usage =
    "usage: fake-webex [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE]\n"
    "  --listen HOST:PORT  address to serve on (default 127.0.0.1:9080; port 0 = any free port)\n"
    "  --tls-cert FILE     serve HTTPS with this PEM certificate (chain)\n"
    "  --tls-key FILE      ... and this PEM private key\n";

void split_host_port(const std::string& listen, wcp::fake::options& o) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) throw std::invalid_argument("--listen wants HOST:PORT, got " + listen);
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long port = std::stoul(listen.substr(colon + 1));
  if (port > 65535) throw std::invalid_argument("--listen: port out of range in " + listen);
  o.host = host;
  o.port = static_cast<std::uint16_t>(port);
}

void print_world(const wcp::fake::fake_webex& fake, const wcp::fake::demo_world& w) {
  const std::string url = fake.base_url();
  const std::string insecure = url.starts_with("https") ? "-k " : "";
  std::cout << "fake-webex listening on " << url << "\n\n"
            << "org_a=" << w.org_a << "\n"
            << "org_b=" << w.org_b << "\n"
            << "org_partner=" << w.org_partner << "\n"
            << "loc_a1=" << w.loc_a1 << "   (" << fake.location_name(w.loc_a1) << ")\n"
            << "loc_a2=" << w.loc_a2 << "   (" << fake.location_name(w.loc_a2) << ")\n"
            << "loc_b1=" << w.loc_b1 << "   (" << fake.location_name(w.loc_b1) << ")\n"
            << "park_a1=" << w.park_a1 << "   (" << wcp::fake::demo_park_a1_name << ", in loc_a1)\n"
            << "park_a2=" << w.park_a2 << "   (" << wcp::fake::demo_park_a2_name << ", in loc_a2)\n"
            << "park_b1=" << w.park_b1 << "   (" << wcp::fake::demo_park_b1_name << ", in loc_b1)\n"
            << "paging_a1=" << w.paging_a1 << "   (" << wcp::fake::demo_paging_a1_name << ", in loc_a1)\n"
            << "paging_b1=" << w.paging_b1 << "   (" << wcp::fake::demo_paging_b1_name << ", in loc_b1)\n"
            << "pickup_a1=" << w.pickup_a1 << "   (" << wcp::fake::demo_pickup_a1_name << ", in loc_a1)\n"
            << "schedule_a1=" << w.schedule_a1 << "   (holidays: " << wcp::fake::demo_schedule_a1_name
            << ", in loc_a1)\n"
            << "schedule_event_a1=" << w.schedule_event_a1 << "   (" << wcp::fake::demo_schedule_event_a1_name
            << ", in schedule_a1)\n"
            << "hunt_group_a1=" << w.hunt_group_a1 << "   (" << wcp::fake::demo_hunt_group_a1_name << ", in loc_a1)\n"
            << "queue_a1=" << w.queue_a1 << "   (" << wcp::fake::demo_queue_a1_name << ", in loc_a1)\n"
            << "token_admin_a=" << w.token_admin_a << "   (full admin of org A)\n"
            << "token_loc_admin_a1=" << w.token_loc_admin_a1
            << "   (location admin of loc_a1; may write call queues, not read them)\n"
            << "token_admin_b=" << w.token_admin_b << "   (full admin of org B)\n"
            << "token_partner=" << w.token_partner << "   (partner; acts on org A with ?orgId=org_a)\n"
            << "token_park_reader_a1=" << w.token_park_reader_a1
            << "   (location admin of loc_a1, call parks only)\n\n"
            << "Examples:\n"
            << "  curl -si " << insecure << "-H 'Authorization: Bearer " << w.token_admin_a << "' '" << url
            << wcp::fake::call_park_path(w.loc_a1, w.park_a1) << "'\n"
            << "  curl -si " << insecure << "-H 'Authorization: Bearer " << w.token_partner << "' '" << url
            << wcp::fake::paging_path(w.loc_a1, w.paging_a1) << "?orgId=" << w.org_a << "'\n"
            << "  curl -si " << insecure << "-X PUT -H 'Authorization: Bearer " << w.token_admin_a
            << "' -H 'Content-Type: application/json' -d '{\"name\":\"Renamed Park\"}' '" << url
            << wcp::fake::call_park_path(w.loc_a1, w.park_a1) << "'\n"
            << "  curl -si " << insecure << "-H 'Authorization: Bearer " << w.token_loc_admin_a1 << "' '" << url
            << wcp::fake::call_park_path(w.loc_a2, w.park_a2) << "'   # 403\n"
            << "  curl -si " << insecure << "-H 'Authorization: Bearer " << w.token_admin_a << "' '" << url
            << wcp::fake::item_path(w.loc_a1, "schedules/holidays", w.schedule_a1) << "'   # with its events\n"
            << "  curl -si " << insecure << "-H 'Authorization: Bearer " << w.token_admin_a << "' '" << url
            << "/v1/telephony/config/huntGroups?locationId=" << w.loc_a1 << "&max=1'   # org-wide list\n"
            << "  curl -si " << insecure << "-H 'Authorization: Bearer " << w.token_admin_a << "' '" << url
            << wcp::fake::location_path(w.loc_a1, "huntGroups/" + w.hunt_group_a1 + "/callForwarding")
            << "'   # a settings document\n"
            << "  curl -si " << insecure << "-H 'Authorization: Bearer " << w.token_park_reader_a1 << "' '" << url
            << wcp::fake::location_path(w.loc_a1, "callPickups") << "'   # 403: call parks only\n"
            << "  curl -si " << insecure << "-H 'Authorization: Bearer " << w.token_admin_b << "' '" << url
            << "/v1/people/me?x=1'   # echo\n"
            << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  wcp::fake::options o;
  o.port = 9080;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string_view arg = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + " needs a value");
        return argv[++i];
      };
      if (arg == "--help" || arg == "-h") {
        std::cout << usage;
        return 0;
      } else if (arg == "--listen") {
        split_host_port(value(), o);
      } else if (arg == "--tls-cert") {
        o.tls_cert_file = value();
      } else if (arg == "--tls-key") {
        o.tls_key_file = value();
      } else {
        throw std::invalid_argument("unknown argument " + std::string(arg));
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "fake-webex: " << e.what() << "\n" << usage;
    return 2;
  }

  // Block the stop signals before the server thread starts, so that only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    wcp::fake::fake_webex fake(o);
    auto world = wcp::fake::populate_demo_world(fake);
    print_world(fake, world);
    int signal = 0;
    sigwait(&stop_signals, &signal);
    std::cout << "fake-webex: stopping (signal " << signal << ")" << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "fake-webex: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
