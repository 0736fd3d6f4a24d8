// Who may purge: the admin token, or a loopback peer when no token is configured. The addresses
// here are values only; nothing is sent anywhere.
#include <doctest/doctest.h>

#include <boost/asio/ip/address.hpp>

#include "proxy/admin_session.hpp"

using namespace wcp::proxy;
namespace ip = boost::asio::ip;

TEST_CASE("without an admin token, purges come from loopback peers only") {
  for (const char* a : {"127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"}) {
    CAPTURE(a);
    CHECK(check_purge_access(ip::make_address(a), "", "") == purge_access::allowed);
  }
  for (const char* a : {"10.0.0.5", "192.168.1.2", "0.0.0.0", "fe80::1", "2001:db8::1", "::ffff:10.0.0.5"}) {
    CAPTURE(a);
    CHECK(check_purge_access(ip::make_address(a), "", "") == purge_access::forbidden);
    // An Authorization header changes nothing when no token is configured.
    CHECK(check_purge_access(ip::make_address(a), "Bearer anything", "") == purge_access::forbidden);
  }
}

TEST_CASE("with an admin token, purges need exactly that bearer token - from any peer") {
  const std::string token = "s3cret-admin-token";
  for (const char* a : {"127.0.0.1", "10.0.0.5", "2001:db8::1"}) {
    CAPTURE(a);
    const auto peer = ip::make_address(a);
    CHECK(check_purge_access(peer, "Bearer s3cret-admin-token", token) == purge_access::allowed);
    CHECK(check_purge_access(peer, "bearer s3cret-admin-token", token) == purge_access::allowed);
    for (const char* wrong : {"", "Bearer", "Bearer ", "Bearer s3cret-admin-toke", "Bearer s3cret-admin-token ",
                              "Bearer S3CRET-ADMIN-TOKEN", "Basic s3cret-admin-token", "s3cret-admin-token",
                              "Bearer s3cret-admin-token-and-more"}) {
      CAPTURE(wrong);
      CHECK(check_purge_access(peer, wrong, token) == purge_access::unauthorized);
    }
  }
}
