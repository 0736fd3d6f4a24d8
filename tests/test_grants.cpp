#include <doctest/doctest.h>

#include "cache/grants.hpp"

using namespace wcp::cache;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {
const auto alice = fingerprint("Bearer alice");
const auto bob = fingerprint("Bearer bob");
const grant_scope own_l1{"", "TDE"};
const grant_scope own_l2{"", "TDI"};
const grant_scope org_l1{"T1JH", "TDE"};
}  // namespace

TEST_CASE("no grant until learned - a grant is per token - org form and location") {
  memory_grants g;
  CHECK_FALSE(g.holds_now(alice, own_l1));
  g.learn_now(alice, own_l1, seconds(300));
  CHECK(g.holds_now(alice, own_l1));
  CHECK_FALSE(g.holds_now(bob, own_l1));
  CHECK_FALSE(g.holds_now(alice, own_l2));
  CHECK_FALSE(g.holds_now(alice, org_l1));
}

TEST_CASE("grants expire after their TTL") {
  memory_grants g;
  const auto t0 = memory_grants::clock::now();
  g.learn_now(alice, own_l1, seconds(300), t0);
  CHECK(g.holds_now(alice, own_l1, t0 + seconds(299)));
  CHECK_FALSE(g.holds_now(alice, own_l1, t0 + seconds(300)));
  g.sweep(t0 + seconds(301));
  CHECK(g.size() == 0);
}

TEST_CASE("a zero TTL learns nothing") {
  memory_grants g;
  g.learn_now(alice, own_l1, milliseconds(0));
  CHECK_FALSE(g.holds_now(alice, own_l1));
}

TEST_CASE("401 drops all of a token's grants - 403 drops one scope") {
  memory_grants g;
  g.learn_now(alice, own_l1, seconds(300));
  g.learn_now(alice, own_l2, seconds(300));
  g.learn_now(bob, own_l1, seconds(300));
  g.drop_scope_now(alice, own_l1);
  CHECK_FALSE(g.holds_now(alice, own_l1));
  CHECK(g.holds_now(alice, own_l2));
  g.drop_token_now(alice);
  CHECK_FALSE(g.holds_now(alice, own_l2));
  CHECK(g.holds_now(bob, own_l1));
}
