#include <doctest/doctest.h>

#include "proxy/http_rules.hpp"

using namespace wcp::proxy;

TEST_CASE("a well-formed request line is split into method, target and version") {
  auto r = parse_request_line("GET /v1/people/me?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(r.line);
  CHECK_FALSE(r.error);
  CHECK(r.line->method == "GET");
  CHECK(r.line->target == "/v1/people/me?x=1");
  CHECK(r.line->version == 11);
  CHECK(parse_request_line("get * HTTP/1.0\r\n\r\n").line->version == 10);
  // A later minor version of HTTP/1 is read as what it is; the major must be 1.
  CHECK(parse_request_line("GET / HTTP/1.2\r\n\r\n").line->version == 12);
}

TEST_CASE("a malformed request line is a 400 - another major version a 505") {
  for (const char* line : {"GET / \r\n\r\n", "GET /\r\n\r\n", "GET  / HTTP/1.1\r\n", "GET / HTTP/1.1 \r\n",
                           "GET / http/1.1\r\n", "G@T / HTTP/1.1\r\n", " GET / HTTP/1.1\r\n",
                           "GET / HTTP/1\r\n", "GET / HTTP/1.10\r\n", "GET /\x7f HTTP/1.1\r\n",
                           "GET /\xc3\xa9 HTTP/1.1\r\n", "GET / HTTP/1.1\n", "GET / HTTP/1.1",
                           "\r\n", "GET\t/ HTTP/1.1\r\n", "GET /a b HTTP/1.1\r\n", ""}) {
    CAPTURE(line);
    auto r = parse_request_line(line);
    CHECK_FALSE(r.line);
    REQUIRE(r.error);
    CHECK(r.error->status == 400);
    CHECK(r.error->reason == "malformed");
    CHECK_FALSE(r.error->message.empty());
  }
  for (const char* line : {"GET / HTTP/2.0\r\n", "GET / HTTP/0.9\r\n", "GET / HTTP/3.0\r\n"}) {
    CAPTURE(line);
    auto r = parse_request_line(line);
    REQUIRE(r.error);
    CHECK(r.error->status == 505);
  }
}

TEST_CASE("a target is refused for any byte outside visible ASCII - wherever it is in the target") {
  const std::string target = "/v1/telephony/config/locations/abc";  // 34 characters
  for (std::size_t at = 1; at < target.size(); ++at) {
    for (char bad : {'\t', '\x01', '\x20', '\x7f', '\x80', '\xff'}) {
      std::string t = target;
      t[at] = bad;
      CAPTURE(at);
      CAPTURE(static_cast<int>(static_cast<unsigned char>(bad)));
      auto r = parse_request_line("GET " + t + " HTTP/1.1\r\n\r\n");
      CHECK_FALSE(r.line);
    }
  }
  for (char edge : {'!', '~'}) {
    std::string t = target;
    t[20] = edge;
    const std::string line = "GET " + t + " HTTP/1.1\r\n\r\n";
    auto r = parse_request_line(line);
    REQUIRE(r.line);
    CHECK(r.line->target == t);
  }
}

TEST_CASE("methods: the proxy's seven are handled - TRACE and CONNECT not allowed - the rest unknown") {
  for (auto m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
    CHECK(classify_method(m) == method_policy::handled);
  CHECK(classify_method("TRACE") == method_policy::not_allowed);
  CHECK(classify_method("CONNECT") == method_policy::not_allowed);
  for (auto m : {"get", "Get", "FOO", "G3T", "PROPFIND", "LINK", "PURGE", "trace"})
    CHECK(classify_method(m) == method_policy::unknown);
}

TEST_CASE("Host: exactly one on HTTP/1.1, at most one on HTTP/1.0, and a valid host[:port]") {
  CHECK_FALSE(check_host(11, 1, "api.example.com"));
  CHECK_FALSE(check_host(11, 1, "api.example.com:8443"));
  CHECK_FALSE(check_host(11, 1, "127.0.0.1:80"));
  CHECK_FALSE(check_host(11, 1, "[::1]:8080"));
  CHECK_FALSE(check_host(11, 1, "a-b.example:65535"));
  CHECK_FALSE(check_host(11, 1, "a:00080"));
  CHECK_FALSE(check_host(10, 0, ""));
  CHECK(check_host(11, 0, "")->status == 400);
  CHECK(check_host(11, 2, "a")->status == 400);
  CHECK(check_host(10, 2, "a")->status == 400);
  for (auto bad : {"", "a b", "user@host", "a/b", "a:99999x", "a:0", "[::1", "a?b", "a#b", "a:123456", ":80", "a:", "a:00000", "a:-1"}) {
    CAPTURE(bad);
    auto r = check_host(11, 1, bad);
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(r->reason == "host");
  }
}

TEST_CASE("request-target forms: origin, absolute (routed by its path), asterisk, authority") {
  CHECK(classify_target("/v1/x?y=1").form == target_form::origin);
  auto abs = classify_target("http://proxy:8080/v1/x?y=1");
  CHECK(abs.form == target_form::absolute);
  CHECK(abs.origin == "/v1/x?y=1");
  auto bare = classify_target("HTTPS://proxy");
  CHECK(bare.form == target_form::absolute);
  CHECK(bare.origin == "/");
  CHECK(classify_target("http://h/a%2Fb").origin == "/a%2Fb");
  CHECK(classify_target("*").form == target_form::asterisk);
  CHECK(classify_target("example.com:443").form == target_form::authority);
  for (auto bad : {"", "ftp://h/x", "http:///x", "http://u@h/x", "people/me", "http://h/x#frag", "mailto:a@b",
                   "http://h:__O_PT"}) {
    CAPTURE(bad);
    CHECK(classify_target(bad).form == target_form::invalid);
  }
}

TEST_CASE("Accept-Encoding: gzip when listed with a weight above 0, or * is - an explicit gzip;q=0 wins") {
  for (const char* yes : {"gzip", "GZIP", "gzip, deflate, br", "deflate, gzip;q=0.5", "x-gzip",
                          " gzip ;q=1", "gzip;q=1.000", "gzip;q=0.001", "*", "br, *;q=0.1",
                          "identity, gzip", "gzip;q=0, gzip"}) {
    CAPTURE(yes);
    CHECK(accepts_gzip(yes));
  }
  for (const char* no : {"", "identity", "deflate, br", "gzip;q=0", "gzip;q=0.000", "*;q=0",
                         "gzip;q=0, *", "gzip;q=2", "gzip;q=1.5", "gzip;q=0.5000", "gzip;q=abc",
                         "gzipped", "x", ",,,", "gzip;q="}) {
    CAPTURE(no);
    CHECK_FALSE(accepts_gzip(no));
  }
}
