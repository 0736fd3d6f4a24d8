#include <doctest/doctest.h>

#include "cache/entry.hpp"
#include "cache/fingerprint.hpp"
#include "cache/key.hpp"

using namespace wcp::cache;

TEST_CASE("valid IDs") {
  CHECK(is_valid_id("Y2lzY29zcGFyazovL3VzL0NBTExfUEFSSy9hYmM="));
  CHECK(is_valid_id("a-b_c=="));
  CHECK(is_valid_id(std::string(512, 'x')));
  CHECK_FALSE(is_valid_id(""));
  CHECK_FALSE(is_valid_id(std::string(513, 'x')));
  CHECK_FALSE(is_valid_id("a/b"));
  CHECK_FALSE(is_valid_id("a+b"));
  CHECK_FALSE(is_valid_id("a b"));
  CHECK_FALSE(is_valid_id(std::string_view("a\0b", 3)));
  CHECK_FALSE(is_valid_id("="));  // found by fuzzing: padding alone normalises to ""
  CHECK_FALSE(is_valid_id("=="));
  CHECK_FALSE(is_valid_id(std::string(17, '=')));
  CHECK(is_valid_id(std::string(16, '=') + "a"));
  // A character outside the set anywhere: in a block of eight or in the tail after them.
  for (std::size_t at = 0; at < 21; ++at) {
    std::string id(21, 'a');
    id[at] = '/';
    CHECK_MESSAGE(!is_valid_id(id), "at ", at);
    id[at] = '\x80';
    CHECK_MESSAGE(!is_valid_id(id), "at ", at);
  }
}

TEST_CASE("normalisation strips only trailing padding") {
  CHECK(normalise_id("QUJD") == "QUJD");
  CHECK(normalise_id("QUI=") == "QUI");
  CHECK(normalise_id("QQ==") == "QQ");
  CHECK(normalise_id("a=b") == "a=b");
}

TEST_CASE("resource and variant keys are readable and distinct") {
  resource_key a(resource_kind::call_park, "TE9D==", "UEFSSw=");
  resource_key b(resource_kind::call_park, "TE9D", "UEFSSw");
  CHECK(a == b);
  CHECK(a.str() == "callParks/TE9D/UEFSSw");
  CHECK(resource_key_hash{}(a) == resource_key_hash{}(b));
  resource_key c(resource_kind::paging_group, "TE9D", "UEFSSw");
  CHECK_FALSE(a == c);
  CHECK(variant_key{a, ""}.str() != variant_key{a, "T1JH"}.str());
}

TEST_CASE("fingerprints are SHA-256 of the header value - never the token itself") {
  auto fp = fingerprint("Bearer abc");
  CHECK(fp.hex().size() == 64);
  // Known vector: SHA-256("abc").
  CHECK(fingerprint("abc").hex() ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(fingerprint("Bearer a") != fingerprint("Bearer b"));
  CHECK(fp.short_hex().size() == 8);
}

TEST_CASE("only 200 with a JSON body is cacheable") {
  CHECK(is_cacheable_response(200, R"({"id":"x"})"));
  CHECK(is_cacheable_response(200, R"([1,2])"));
  CHECK_FALSE(is_cacheable_response(200, R"({"id":)"));
  CHECK_FALSE(is_cacheable_response(200, ""));
  CHECK_FALSE(is_cacheable_response(200, "<html></html>"));
  CHECK_FALSE(is_cacheable_response(203, R"({"id":"x"})"));
  CHECK_FALSE(is_cacheable_response(404, R"({"message":"x"})"));
}

TEST_CASE("freshness windows and age") {
  entry e;
  const auto t0 = wall_clock::now();
  e.stored_at = t0;
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  CHECK(freshness_at(e, t0 + seconds(10), seconds(300), seconds(3600)) == freshness::fresh);
  CHECK(freshness_at(e, t0 + seconds(301), seconds(300), seconds(3600)) == freshness::stale);
  CHECK(freshness_at(e, t0 + seconds(3901), seconds(300), seconds(3600)) == freshness::expired);
  CHECK(freshness_at(e, t0, milliseconds(0), seconds(10)) == freshness::stale);
  CHECK(age_seconds(e, t0 + milliseconds(2500)) == 2);
  CHECK(age_seconds(e, t0 - seconds(5)) == 0);
}

TEST_CASE("entries round-trip through their serialised form") {
  entry e;
  e.status = 200;
  e.content_type = "application/json;charset=UTF-8";
  e.tracking_id = "ROUTER_1";
  e.body = std::string("{\"a\":\"\n\0x\"}", 11);
  e.stored_at = wall_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  e.expires_at = e.stored_at + std::chrono::seconds(3900);
  auto back = deserialise(serialise(e));
  REQUIRE(back.has_value());
  CHECK(back->status == 200);
  CHECK(back->content_type == e.content_type);
  CHECK(back->tracking_id == e.tracking_id);
  CHECK(back->body == e.body);
  CHECK(back->stored_at == e.stored_at);
  CHECK(back->expires_at == e.expires_at);
}

TEST_CASE("malformed serialised entries are refused") {
  entry e;
  e.body = "{}";
  e.stored_at = wall_clock::time_point(std::chrono::milliseconds(1000));
  e.expires_at = e.stored_at;
  const std::string good = serialise(e);
  REQUIRE(deserialise(good).has_value());
  CHECK_FALSE(deserialise("").has_value());
  CHECK_FALSE(deserialise("WCPE2\n200\n").has_value());
  CHECK_FALSE(deserialise(good.substr(0, good.size() - 1)).has_value());  // truncated body
  CHECK_FALSE(deserialise(good + "x").has_value());                      // trailing bytes
  std::string big_len = good;
  big_len.replace(big_len.rfind("\n2\n") + 1, 1, "99999999999999999999999");
  CHECK_FALSE(deserialise(big_len).has_value());
  std::string bad_status = good;
  bad_status.replace(6, 3, "999");
  CHECK_FALSE(deserialise(bad_status).has_value());
  for (std::size_t cut = 0; cut < good.size(); ++cut) CHECK_FALSE(deserialise(good.substr(0, cut)).has_value());
  // Kept headers go out as headers: a Content-Type or trackingid that would split an answer.
  for (std::string bad : {std::string("application/json\r\nSet-Cookie: x=1"), std::string("a\nb"),
                          std::string("a\0b", 3)}) {
    entry split = e;
    split.content_type = bad;
    CHECK_FALSE(deserialise(serialise(split)).has_value());
    split = e;
    split.tracking_id = bad;
    CHECK_FALSE(deserialise(serialise(split)).has_value());
  }
  entry tabbed = e;
  tabbed.content_type = "application/json;\tcharset=UTF-8";
  CHECK(deserialise(serialise(tabbed)).has_value());
  // Found by fuzzing: times the clock cannot hold (year 9999) must be refused, not overflow.
  CHECK_FALSE(deserialise("WCPE1\n599\n253402300799000\n253402300799000\n10\ntext/plain1\nt1\nx").has_value());
}
