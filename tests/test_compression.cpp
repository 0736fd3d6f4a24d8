#include <doctest/doctest.h>

#include <random>
#include <string>

#include "cache/compression.hpp"
#include "cache/entry.hpp"

using namespace wcp::cache;

TEST_CASE("a JSON body is gzip-compressed once and comes back whole") {
  std::string body = R"({"callParks":[)";
  for (int i = 0; i < 20; ++i)
    body += R"({"id":"Y2lzY29zcGFyazovL3VzL0NBTExfUEFSSy9)" + std::to_string(i) +
            R"(","name":"Park )" + std::to_string(i) + R"(","locationId":"Y2lzY29zcGFyazovL3VzL0xPQ0FUSU9O"},)";
  body.back() = ']';
  body += '}';
  const auto gz = gzip_if_smaller(body);
  REQUIRE_FALSE(gz.empty());
  CHECK(gz.size() < body.size() / 2);
  CHECK(gz.substr(0, 2) == "\x1f\x8b");  // a gzip member
  CHECK(gunzip(gz) == body);
}

TEST_CASE("bodies not worth compressing keep no gzip form") {
  CHECK(gzip_if_smaller("").empty());
  CHECK(gzip_if_smaller(R"({"id":"short"})").empty());  // under 256 bytes
  std::mt19937 rng(7);
  std::string noise(4096, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  CHECK(gzip_if_smaller(noise).empty());  // does not shrink by a tenth
  CHECK(gunzip("not gzip").empty());
}
