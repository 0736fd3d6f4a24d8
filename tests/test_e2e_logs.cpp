// The daemon's logs as a log shipper reads them: fields as keys, nothing raw from clients, the
// access line switched on its own, priorities for journald.
#include <doctest/doctest.h>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "fake_webex/demo_world.hpp"
#include "fake_webex/fake_webex.hpp"
#include "support/e2e.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"

using namespace wcp;
using test::bearer;
using test::http_request;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

// Every line parsed as a JSON object (boost::json refuses a document that is not UTF-8).
std::vector<boost::json::object> json_lines(const std::string& text) {
  std::vector<boost::json::object> out;
  for (const auto& line : lines_of(text)) {
    CAPTURE(line);
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(v.is_object());
    out.push_back(v.as_object());
  }
  return out;
}

std::string str(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

TEST_CASE("json logs: one object per line, each access field its own key") {
  fake::fake_webex f;
  auto w = fake::populate_demo_world(f);
  auto p = test::start_proxy({"--upstream", f.base_url(), "--log-format", "json"});
  const auto path = fake::call_park_path(w.loc_a1, w.park_a1);
  auto h = bearer(w.token_admin_a);
  h.emplace_back("User-Agent", "inventory-sync/2.1 (nightly)");
  const auto r = http_request(p.port, "GET", path + "?orgId=" + w.org_a, h);
  REQUIRE(r.status == 200);
  // The answer's trackingid is the one on its access line (here upstream's).
  const auto tracking = r.header("trackingid");
  REQUIRE_FALSE(tracking.empty());
  // A request the proxy refuses before routing, so that other kinds of line are in the log too.
  test::http_connection c(p.port);
  c.send_raw("GET /v1/\"quoted\\ HTTP/1.1\r\nHost: x\r\n\r\n");
  c.is_closed_by_peer(milliseconds(500));
  p.proc->wait_for_output("\"message\":\"refused a request\"");
  p.proc->wait_for_output(tracking);

  const auto objects = json_lines(p.proc->output());
  CHECK(objects.size() >= 4);
  const boost::json::object* access = nullptr;
  for (const auto& o : objects) {
    CHECK(o.contains("time"));
    CHECK(o.contains("level"));
    CHECK(o.contains("message"));
    if (str(o, "message") == "access" && str(o, "trackingid") == tracking) access = &o;
  }
  REQUIRE(access != nullptr);
  const auto& a = *access;
  CAPTURE(boost::json::serialize(a));
  CHECK(str(a, "level") == "info");
  CHECK(std::regex_match(str(a, "client"), std::regex(R"(127\.0\.0\.1:\d+)")));
  CHECK(str(a, "method") == "GET");
  CHECK(str(a, "route") == "call_park");
  // IDs are replaced by {id}, and the query string is never logged.
  CHECK(str(a, "path") == "/v1/telephony/config/locations/{id}/callParks/{id}");
  CHECK(str(a, "http_version") == "1.1");
  CHECK(a.at("status").as_int64() == 200);
  CHECK(str(a, "cache") == "miss");
  CHECK(a.at("bytes").as_int64() > 100);
  CHECK(a.at("upstream_status").as_int64() == 200);
  CHECK(a.at("upstream_ms").is_double());
  CHECK(a.at("ms").as_double() >= a.at("upstream_ms").as_double());
  CHECK(str(a, "trackingid") == tracking);
  CHECK(str(a, "user_agent") == "inventory-sync/2.1 (nightly)");
  CHECK(std::regex_match(str(a, "token"), std::regex("[0-9a-f]{8}")));
  const auto out = p.proc->output();
  CHECK(out.find(w.token_admin_a) == std::string::npos);
  CHECK(out.find(w.org_a) == std::string::npos);
}

TEST_CASE("bytes that are not UTF-8 are escaped - in json logs and in Webex-shaped error bodies") {
  fake::fake_webex f;
  auto w = fake::populate_demo_world(f);
  auto p = test::start_proxy({"--upstream", f.base_url(), "--log-format", "json"});
  auto h = bearer(w.token_admin_a);
  h.emplace_back("TrackingID", "bad\xff\xfe-id");
  h.emplace_back("User-Agent", "agent\xc3(");
  // A target the proxy refuses itself: its error body carries the caller's TrackingID.
  const auto r = http_request(p.port, "GET", "/v1/telephony/../people", h);
  REQUIRE(r.status == 400);
  boost::system::error_code ec;
  const auto body = boost::json::parse(r.body, ec);
  CAPTURE(r.body);
  REQUIRE_FALSE(ec);
  CHECK(std::string(body.at("trackingId").as_string()) == "bad\\xFF\\xFE-id");
  CHECK(body.at("message").is_string());
  CHECK(body.at("errors").as_array().size() == 1);

  p.proc->wait_for_output("\"message\":\"access\"");
  const auto out = p.proc->output();
  CHECK(out.find('\xff') == std::string::npos);
  CHECK(out.find('\xc3') == std::string::npos);
  bool seen = false;
  for (const auto& o : json_lines(out)) {
    if (str(o, "message") != "access") continue;
    seen = true;
    CHECK(str(o, "trackingid") == "bad\\xFF\\xFE-id");
    CHECK(str(o, "user_agent") == "agent\\xC3(");
  }
  CHECK(seen);
}

TEST_CASE("text logs quote a value with spaces and escape what is not UTF-8") {
  fake::fake_webex f;
  auto w = fake::populate_demo_world(f);
  auto p = test::start_proxy({"--upstream", f.base_url()});
  auto h = bearer(w.token_admin_a);
  h.emplace_back("User-Agent", "two words \"and\" \xff");
  REQUIRE(http_request(p.port, "GET", "/v1/people/me", h).status == 200);
  const auto line = p.proc->wait_for_output(" access client=");
  CHECK(line.find(R"(user_agent="two words \"and\" \\xFF")") != std::string::npos);
  CHECK(line.find("path=/v1/people/me ") != std::string::npos);
  CHECK(line.find("cache=bypass") != std::string::npos);
}

TEST_CASE("--access-log switches the access line whatever the log level") {
  fake::fake_webex f;
  auto w = fake::populate_demo_world(f);
  const auto path = fake::call_park_path(w.loc_a1, w.park_a1);

  SUBCASE("warn level, access log on: access lines and no info lines") {
    // Started at info (the test reads the ports from the listener lines), then set to warn; the
    // restart warning shows once the new levels are in force.
    const auto dir = test::make_temp_dir("wcp-access-");
    std::ofstream(dir + "/proxy.conf") << "log-level = info\n";
    auto p = test::start_proxy({"--upstream", f.base_url(), "--config", dir + "/proxy.conf"});
    std::ofstream(dir + "/proxy.conf") << "log-level = warn\nmax-connections = 77\n";
    const auto mark = p.proc->output().size();
    p.proc->signal(SIGHUP);
    p.proc->wait_for_output("needs a restart", seconds(10), mark);
    REQUIRE(http_request(p.port, "GET", path, bearer(w.token_admin_a)).status == 200);
    REQUIRE(http_request(p.port, "GET", "/v1/telephony/../people", bearer(w.token_admin_a)).status == 400);
    p.proc->wait_for_output("status=400", seconds(10), mark);
    const auto out = p.proc->output().substr(mark);
    CHECK(out.find("access client=") != std::string::npos);
    CHECK(out.find("refused a request") == std::string::npos);
    std::filesystem::remove_all(dir);
  }
  SUBCASE("info level, access log off: info lines and no access lines") {
    auto p = test::start_proxy({"--upstream", f.base_url(), "--access-log", "off"});
    REQUIRE(http_request(p.port, "GET", path, bearer(w.token_admin_a)).status == 200);
    // Logged before its answer is sent; the answer to the first request was sent before.
    REQUIRE(http_request(p.port, "GET", "/v1/telephony/../people", bearer(w.token_admin_a)).status == 400);
    p.proc->wait_for_output("refused a request");
    CHECK(p.proc->output().find("access client=") == std::string::npos);
  }
}

TEST_CASE("under journald each line starts with its priority and carries no time of its own") {
  fake::fake_webex f;
  auto w = fake::populate_demo_world(f);
  f.set_interceptor([](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.path != "/v1/lost") return std::nullopt;
    fake::scripted_response lost;
    lost.close_without_answer = true;
    return lost;
  });
  auto p = test::start_proxy({"--upstream", f.base_url()}, {"JOURNAL_STREAM=@output"});
  CHECK(http_request(p.port, "GET", "/v1/lost", bearer(w.token_admin_a)).status == 502);
  const auto warning = p.proc->wait_for_output("upstream request failed");
  CHECK(warning.rfind("<4>warning upstream request failed ", 0) == 0);
  CHECK(p.proc->wait_for_output("client listener").rfind("<6>info client listener ", 0) == 0);
  CHECK(p.proc->wait_for_output(" access client=").rfind("<6>info access ", 0) == 0);

  SUBCASE("a JOURNAL_STREAM inherited from elsewhere is not the journal") {
    auto q = test::start_proxy({"--upstream", f.base_url()}, {"JOURNAL_STREAM=8:12345"});
    const auto line = q.proc->wait_for_output("client listener");
    CHECK(std::regex_search(line, std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\S* info client listener )")));
  }
}

TEST_CASE("the access log names the token only by a fingerprint prefix") {
  fake::fake_webex f;
  auto w = fake::populate_demo_world(f);
  auto p = test::start_proxy({"--upstream", f.base_url()});
  http_request(p.port, "GET", fake::call_park_path(w.loc_a1, w.park_a1), bearer(w.token_admin_a));
  http_request(p.port, "GET", "/v1/people/me", bearer(w.token_partner));
  const auto line = p.proc->wait_for_output("route=passthrough");
  CHECK(std::regex_search(line, std::regex(R"(token=[0-9a-f]{8}\b)")));
  const auto out = p.proc->output();
  for (const auto& t : {w.token_admin_a, w.token_partner}) CHECK(out.find(t) == std::string::npos);
}
