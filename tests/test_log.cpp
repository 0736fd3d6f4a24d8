// Log lines and JSON text: fields as keys, quoting, and no raw byte that is not UTF-8.
#include <doctest/doctest.h>

#include <boost/json/parse.hpp>

#include "proxy/json_text.hpp"
#include "proxy/log.hpp"
#include "proxy/router.hpp"
#include "proxy/webex_error.hpp"

using namespace wcp;

TEST_CASE("append_utf8 keeps well-formed UTF-8 and writes every other byte as \\xNN") {
  auto run = [](std::string_view in) {
    std::string out;
    proxy::append_utf8(out, in);
    return out;
  };
  CHECK(run("plain") == "plain");
  CHECK(run("Zürich €") == "Zürich €");
  CHECK(run("a\xff" "b") == "a\\xFFb");
  CHECK(run("\xc3") == "\\xC3");                  // a sequence cut short
  CHECK(run("\xc3(") == "\\xC3(");
  CHECK(run("\xe2\x82") == "\\xE2\\x82");
  CHECK(run("\xed\xa0\x80") == "\\xED\\xA0\\x80");  // a UTF-16 surrogate
  CHECK(run("\xc0\xaf") == "\\xC0\\xAF");          // overlong
  CHECK(run("ok \xf0\x9f\x98\x80 \x80") == "ok \xf0\x9f\x98\x80 \\x80");
}

TEST_CASE("append_json_string makes a JSON string a parser accepts, for any bytes") {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  std::string out;
  proxy::append_json_string(out, all);
  boost::system::error_code ec;
  const auto v = boost::json::parse(out, ec);
  REQUIRE_FALSE(ec);
  const std::string back(v.as_string());
  CHECK(back.substr(0, 128) == all.substr(0, 128));  // ASCII, control characters included
  CHECK(back.substr(128, 8) == "\\x80\\x81");
}

TEST_CASE("a Webex-shaped error body is valid JSON whatever the tracking ID holds") {
  const auto body = proxy::webex_error_body("Bad \"id\"\n", "t\xff\x01");
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  REQUIRE_FALSE(ec);
  CHECK(std::string(v.at("message").as_string()) == "Bad \"id\"\n");
  CHECK(std::string(v.at("errors").at(0).at("description").as_string()) == "Bad \"id\"\n");
  CHECK(std::string(v.at("trackingId").as_string()) == "t\\xFF\x01");
}

TEST_CASE("json lines: the message and each field are keys of their own") {
  const std::optional<unsigned> none;
  const auto line = log::render(log::format::json, "access",
                                {{"client", "127.0.0.1:5"},
                                 {"status", 200u},
                                 {"ms", 1.5},
                                 {"upstream_status", none},
                                 {"token", ""},
                                 {"agent", "a\"b\xff"}});
  boost::system::error_code ec;
  const auto v = boost::json::parse("{" + line + "}", ec);
  CAPTURE(line);
  REQUIRE_FALSE(ec);
  const auto& o = v.as_object();
  CHECK(std::string(o.at("message").as_string()) == "access");
  CHECK(std::string(o.at("client").as_string()) == "127.0.0.1:5");
  CHECK(o.at("status").as_int64() == 200);
  CHECK(o.at("ms").as_double() == 1.5);
  CHECK(o.at("upstream_status").is_null());
  CHECK(o.at("token").is_null());
  CHECK(std::string(o.at("agent").as_string()) == "a\"b\\xFF");
}

TEST_CASE("text lines: key=value, quoted only when a value needs it, one line whatever the input") {
  const std::optional<unsigned> none;
  CHECK(log::render(log::format::text, "access",
                    {{"method", "GET"}, {"status", 404}, {"ms", 0.25}, {"upstream_status", none}}) ==
        "access method=GET status=404 ms=0.250 upstream_status=-");
  CHECK(log::render(log::format::text, "m", {{"agent", "curl/8 (x)"}, {"e", ""}}) ==
        R"x(m agent="curl/8 (x)" e=-)x");
  CHECK(log::render(log::format::text, "m", {{"v", "a=b"}}) == R"(m v="a=b")");
  const auto hostile = log::render(log::format::text, "line\nbreak", {{"v", "x\r\ny\xff"}});
  CHECK(hostile == R"("line\nbreak" v="x\r\ny\\xFF")");
}

TEST_CASE("path templates replace IDs by {id} and drop the query") {
  using proxy::path_template;
  CHECK(path_template("/v1/telephony/config/locations/Y2lzY29zcGFyazovL3VzL0xPQ0FUSU9OLzE/callParks/"
                      "Y2lzY29zcGFyazovL3VzL0NBTExfUEFSSy8y?orgId=secret-org") ==
        "/v1/telephony/config/locations/{id}/callParks/{id}");
  CHECK(path_template("/v1/telephony/config/locations/loc-1/paging/pg_2/availableUsers") ==
        "/v1/telephony/config/locations/{id}/paging/{id}/availableUsers");
  CHECK(path_template("/v1/people/me") == "/v1/people/me");
  CHECK(path_template("/v1/people/12345") == "/v1/people/{id}");
  CHECK(path_template("/v1/a%20b/") == "/v1/{id}/");
  CHECK(path_template("/") == "/");
  CHECK(path_template("*") == "-");
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "/x";
  CHECK(path_template(deep).size() < 40);
  CHECK(path_template(deep).ends_with("/..."));
}
