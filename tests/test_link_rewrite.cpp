#include <doctest/doctest.h>

#include "proxy/link_rewrite.hpp"

using wcp::proxy::is_plain_host;
using wcp::proxy::link_rewriter;

namespace {

const link_rewriter webex(true, "webexapis.com", 443, "", "");

}  // namespace

TEST_CASE("a Link URL on the upstream's origin moves to the client's - the rest of the field is kept") {
  const auto to = webex.destination(false, "proxy.internal:8080");
  REQUIRE(to);
  CHECK(*to == "http://proxy.internal:8080");
  CHECK(webex.rewrite(R"(<https://webexapis.com/v1/telephony/config/locations/L1/callParks?start=2&max=2>; rel="next")", *to) ==
        R"(<http://proxy.internal:8080/v1/telephony/config/locations/L1/callParks?start=2&max=2>; rel="next")");
  // Several links, parameters with quoted strings holding '<', '>' and ',' are left as they are.
  CHECK(webex.rewrite(R"(<https://webexapis.com/v1/x?start=0&max=2>; rel="prev"; title="a <b>, c", <https://WEBEXAPIS.com:443/v1/x?start=4&max=2>;rel=next)", *to) ==
        R"(<http://proxy.internal:8080/v1/x?start=0&max=2>; rel="prev"; title="a <b>, c", <http://proxy.internal:8080/v1/x?start=4&max=2>;rel=next)");
}

TEST_CASE("Link URLs elsewhere are left alone") {
  const std::string to = "https://proxy.example.com";
  for (const char* value : {
           R"(<https://developer.webex.com/docs/api>; rel="help")",
           R"(<http://webexapis.com/v1/x>; rel="next")",             // another scheme
           R"(<https://webexapis.com:8443/v1/x>; rel="next")",       // another port
           R"(<https://webexapis.com.evil.example/v1/x>; rel="next")",
           R"(<https://evil.example/?u=https://webexapis.com/v1/x>; rel="next")",
           R"(</v1/x?start=2>; rel="next")",                          // relative: already ours
           R"(<https://webexapis.com/v1/x; rel="next")",              // no closing '>'
           R"(<https://webexapis.com/v1/x>; title="unterminated)",    // unterminated quote
           "",
       }) {
    CAPTURE(value);
    CHECK(webex.rewrite(value, to) == value);
  }
}

TEST_CASE("an upstream with a base path: only URLs under it move, and the base path goes") {
  const link_rewriter fake(false, "127.0.0.1", 9000, "/mock", "");
  CHECK(fake.rewrite("<http://127.0.0.1:9000/mock/v1/x?start=2>; rel=\"next\"", "http://p:1") ==
        "<http://p:1/v1/x?start=2>; rel=\"next\"");
  CHECK(fake.rewrite("<http://127.0.0.1:9000/mockery/v1/x>; rel=\"next\"", "http://p:1") ==
        "<http://127.0.0.1:9000/mockery/v1/x>; rel=\"next\"");
  CHECK(fake.rewrite("<http://127.0.0.1:9000/other/v1/x>; rel=\"next\"", "http://p:1") ==
        "<http://127.0.0.1:9000/other/v1/x>; rel=\"next\"");
  // An implicit default port matches an explicit one.
  const link_rewriter plain(false, "Upstream.Example", 80, "", "");
  CHECK(plain.rewrite("<http://upstream.example/v1/x>", "https://p") == "<https://p/v1/x>");
  const link_rewriter v6(true, "::1", 8443, "", "");
  CHECK(v6.rewrite("<https://[::1]:8443/v1/x>", "https://p") == "<https://p/v1/x>");
}

TEST_CASE("where links go: --public-url first, else the client's Host and the listener's scheme") {
  const link_rewriter behind_lb(true, "webexapis.com", 443, "", "https://webex-cache.example.com/");
  CHECK(behind_lb.destination(false, "10.0.0.7:8080") == "https://webex-cache.example.com");
  CHECK(behind_lb.destination(false, "") == "https://webex-cache.example.com");
  CHECK(webex.destination(true, "Proxy.Internal") == "https://proxy.internal");
  CHECK(webex.destination(false, "[::1]:8080") == "http://[::1]:8080");
  // Without a usable Host the links are left as they are.
  for (const char* host : {"", "a b", "host:0", "host:99999", "host:", "user@host", "host/path",
                           "[::1", "[zz]:80", "host:80:81"}) {
    CAPTURE(host);
    CHECK_FALSE(webex.destination(false, host));
    CHECK_FALSE(is_plain_host(host));
  }
  CHECK(is_plain_host("127.0.0.1:8080"));
  CHECK(is_plain_host("webex-cache"));
}
