// End-to-end: request smuggling, scanner style, checked on the wire. Hundreds of CL.TE, TE.CL and
// TE.TE permutations go to the daemon, each on its own connection; a raw TCP tap between the
// daemon and the fake Webex records every byte the daemon sent upstream, and a strict reader
// checks that those bytes are whole, unambiguously framed requests — none of them a request the
// client hid inside a body. Plus slow readers of a large passthrough answer.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "fake_webex/demo_world.hpp"
#include "fake_webex/fake_webex.hpp"
#include "support/e2e.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/tcp_tap.hpp"

using namespace wcp;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

namespace {

std::string park_a1(const fake::demo_world& w) { return fake::call_park_path(w.loc_a1, w.park_a1); }


std::string hex(std::size_t n) {
  std::ostringstream o;
  o << std::hex << n;
  return o.str();
}

// ---- the permutations -------------------------------------------------------------------------

// How the Transfer-Encoding header line is written. `block` gets the value (everything after the
// colon) and returns the header lines, each ending in CRLF; an "X-Pad: a" line comes first, so a
// line that starts with whitespace continues (folds) it.
struct name_variant {
  const char* name;
  std::string (*block)(const std::string& value);
  // Whether RFC 9112 reads the line as a Transfer-Encoding field (when the message is valid at
  // all). Transfer_Encoding is another field; lines with whitespace before the colon, folding or
  // bare line ends make the message invalid.
  bool canonical;
};

const name_variant names[] = {
    {"exact", [](const std::string& v) { return "X-Pad: a\r\nTransfer-Encoding:" + v + "\r\n"; }, true},
    {"lowercase", [](const std::string& v) { return "X-Pad: a\r\ntransfer-encoding:" + v + "\r\n"; }, true},
    {"UPPER", [](const std::string& v) { return "X-Pad: a\r\nTRANSFER-ENCODING:" + v + "\r\n"; }, true},
    {"space before colon", [](const std::string& v) { return "X-Pad: a\r\nTransfer-Encoding :" + v + "\r\n"; }, false},
    {"tab before colon", [](const std::string& v) { return "X-Pad: a\r\nTransfer-Encoding\t:" + v + "\r\n"; }, false},
    {"leading space", [](const std::string& v) { return "X-Pad: a\r\n Transfer-Encoding:" + v + "\r\n"; }, false},
    {"leading tab", [](const std::string& v) { return "X-Pad: a\r\n\tTransfer-Encoding:" + v + "\r\n"; }, false},
    {"underscore", [](const std::string& v) { return "X-Pad: a\r\nTransfer_Encoding:" + v + "\r\n"; }, false},
    {"after a bare LF", [](const std::string& v) { return "X-Pad: a\nTransfer-Encoding:" + v + "\r\n"; }, false},
    {"after a bare CR", [](const std::string& v) { return "X-Pad: a\rTransfer-Encoding:" + v + "\r\n"; }, false},
    {"duplicated",
     [](const std::string& v) { return "X-Pad: a\r\nTransfer-Encoding:" + v + "\r\nTransfer-Encoding:" + v + "\r\n"; },
     true},
    {"after identity",
     [](const std::string& v) { return "X-Pad: a\r\nTransfer-Encoding: identity\r\nTransfer-Encoding:" + v + "\r\n"; },
     true},
};

struct value_variant {
  const char* name;
  std::string text;  // everything after the colon
  bool plain_chunked;  // "chunked" up to case and surrounding whitespace
};

const value_variant values[] = {
    {"chunked", " chunked", true},
    {"no space", "chunked", true},
    {"extra space", "  chunked", true},
    {"trailing space", " chunked ", true},
    {"tab", "\tchunked", true},
    {"Chunked", " Chunked", true},
    {"CHUNKED", " CHUNKED", true},
    {"chunked, identity", " chunked, identity", false},
    {"identity, chunked", " identity, chunked", false},
    {"quoted", " \"chunked\"", false},
    {"chunk", " chunk", false},
    {"xchunked", " xchunked", false},
    {"chunked;", " chunked;", false},
    {"chunked VT", " chunked\x0b", false},
    {"folded", "\r\n chunked", false},
    {"gzip, chunked", " gzip, chunked", false},
};

enum class length_variant { none, matching, smaller, zero };
const char* to_string(length_variant l) {
  switch (l) {
    case length_variant::none: return "no CL";
    case length_variant::matching: return "CL = body";
    case length_variant::smaller: return "CL smaller";
    case length_variant::zero: return "CL 0";
  }
  return "?";
}

enum class body_variant { cl_te, te_cl };
// Content-Length variants x versions x bodies: the permutations of one name and value variant.
constexpr std::size_t other_dimensions = 4 * 2 * 2;
const char* to_string(body_variant b) { return b == body_variant::cl_te ? "CL.TE body" : "TE.CL body"; }

struct permutation {
  std::size_t id;
  const name_variant* name;
  const value_variant* value;
  length_variant length;
  const char* version;
  body_variant body;
  // The path of the request hidden in the body: "/v1/smuggled/<id>", which must never reach
  // upstream. Except where the bytes have one reading only and in it the hidden request simply
  // follows the first one (a single plain "Transfer-Encoding: chunked" and no Content-Length; or
  // Transfer_Encoding, which is not a framing field, and a Content-Length that ends right before
  // it): that is ordinary pipelining, which a proxy is right to forward ("/v1/pipelined/<id>").
  std::string hidden_path;
  std::string bytes;

  std::string describe() const {
    return "#" + std::to_string(id) + " [" + name->name + " | " + value->name + " | " + to_string(length) + " | " +
           version + " | " + to_string(body) + "]";
  }
};

std::vector<permutation> make_permutations(const std::string& token) {
  std::vector<permutation> out;
  for (const auto& n : names)
    for (const auto& v : values)
      for (auto l : {length_variant::none, length_variant::matching, length_variant::smaller, length_variant::zero})
        for (const char* version : {"HTTP/1.1", "HTTP/1.0"})
          for (auto b : {body_variant::cl_te, body_variant::te_cl}) {
            permutation p;
            p.id = out.size();
            p.name = &n;
            p.value = &v;
            p.length = l;
            p.version = version;
            p.body = b;
            // A single well-formed "Transfer-Encoding: chunked" and nothing else (HTTP/1.1): the
            // chunked body ends at "0 CRLF CRLF" for everyone and what follows is a new request.
            const bool unambiguous_chunked = n.canonical && std::string_view(n.name) != "duplicated" &&
                                             std::string_view(n.name) != "after identity" && v.plain_chunked &&
                                             l == length_variant::none && std::string_view(version) == "HTTP/1.1";
            // Transfer_Encoding is just another field: Content-Length frames the request, and a
            // smaller one ends it right where the hidden request starts.
            const bool framed_by_length_before_it = std::string_view(n.name) == "underscore" &&
                                                    l == length_variant::smaller &&
                                                    std::string_view(version) == "HTTP/1.1";
            // (With the TE.CL body and a single plain chunked coding the hidden request is chunk
            // data: never a request of its own.)
            const bool pipelined = (unambiguous_chunked && b == body_variant::cl_te) || framed_by_length_before_it;
            p.hidden_path = (pipelined ? "/v1/pipelined/" : "/v1/smuggled/") + std::to_string(p.id);
            const std::string hidden = "GET " + p.hidden_path + " HTTP/1.1\r\nHost: x\r\n\r\n";
            std::string body;
            std::size_t smaller = 0;
            if (b == body_variant::cl_te) {
              body = "0\r\n\r\n" + hidden;
              smaller = 5;  // just the last chunk
            } else {
              const std::string size_line = hex(hidden.size()) + "\r\n";
              body = size_line + hidden + "\r\n0\r\n\r\n";
              smaller = size_line.size();  // just the chunk-size line
            }
            std::string cl;
            switch (l) {
              case length_variant::none: break;
              case length_variant::matching: cl = "Content-Length: " + std::to_string(body.size()) + "\r\n"; break;
              case length_variant::smaller: cl = "Content-Length: " + std::to_string(smaller) + "\r\n"; break;
              case length_variant::zero: cl = "Content-Length: 0\r\n"; break;
            }
            p.bytes = std::string("POST /v1/smuggle-probe ") + version + "\r\nHost: x\r\nAuthorization: Bearer " +
                      token + "\r\nX-Probe: " + std::to_string(p.id) + "\r\n" + cl + n.block(v.text) + "\r\n" + body;
            out.push_back(std::move(p));
          }
  return out;
}

struct outcome {
  unsigned status = 0;  // 0: no answer (closed, or nothing within the deadline)
  std::string error;    // why there was no answer
};

// Sends each permutation on its own connection from a few threads at once; the answers in
// permutation order.
std::vector<outcome> send_all(std::uint16_t port, const std::vector<permutation>& perms) {
  std::vector<outcome> results(perms.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < perms.size(); i = next++) {
      try {
        test::http_connection c(port, seconds(5));
        c.send_raw(perms[i].bytes, seconds(5));
        results[i].status = c.read_raw_response(seconds(2)).status;
      } catch (const std::exception& e) {
        results[i].error = e.what();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return results;
}

// What the tap saw, read strictly.
struct tap_reading {
  std::vector<test::strict_parse_result> connections;
  std::size_t requests = 0;
  bool all_whole = true;
};

tap_reading read_tap(const test::tcp_tap& tap) {
  tap_reading r;
  for (const auto& bytes : tap.client_bytes()) {
    r.connections.push_back(test::strict_parse_requests(bytes));
    r.requests += r.connections.back().requests.size();
    if (!r.connections.back().error.empty()) r.all_whole = false;
  }
  return r;
}

std::string header_of(const test::strict_request& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n.size() == name.size() &&
        std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
      return v;
  }
  return {};
}

// A header name some servers take for Transfer-Encoding: the same up to case and '_' for '-'.
bool looks_like_transfer_encoding(std::string name) {
  for (auto& c : name) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name == "transfer-encoding";
}

}  // namespace

TEST_CASE("the strict request reader refuses what an upstream could misread") {
  using test::strict_parse_requests;
  SUBCASE("well-framed requests are read one after another") {
    auto r = strict_parse_requests(
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
        "PUT /c HTTP/1.1\r\nContent-Length:  0 \r\n\r\n");
    CHECK(r.error.empty());
    REQUIRE(r.requests.size() == 3);
    CHECK(r.requests[0].method == "POST");
    CHECK(r.requests[0].body == "abc");
    CHECK(r.requests[1].target == "/b");
    CHECK(r.requests[1].body.empty());
    CHECK(r.requests[2].method == "PUT");
    CHECK(strict_parse_requests("").requests.empty());
    CHECK(strict_parse_requests("").error.empty());
  }
  SUBCASE("a body that holds CRLF CRLF and a request line is still one body") {
    const std::string body = "0\r\n\r\nGET /v1/smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    auto r = strict_parse_requests("POST /a HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) +
                                   "\r\n\r\n" + body);
    CHECK(r.error.empty());
    REQUIRE(r.requests.size() == 1);
    CHECK(r.requests[0].body == body);
  }
  const std::vector<std::pair<const char*, std::string>> refused = {
      {"Transfer-Encoding", "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"transfer-encoding in lower case", "POST /a HTTP/1.1\r\ntransfer-encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
      {"two Content-Lengths", "POST /a HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"},
      {"a Content-Length that is not digits", "POST /a HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc"},
      {"a negative Content-Length", "POST /a HTTP/1.1\r\nContent-Length: -3\r\n\r\nabc"},
      {"an empty Content-Length", "POST /a HTTP/1.1\r\nContent-Length:\r\n\r\n"},
      {"leftover bytes after a request", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HT"},
      {"bytes after the body", "POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nabc"},
      {"a body shorter than its length", "POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"},
      {"a bare LF", "GET /a HTTP/1.1\r\nHost: x\nX: y\r\n\r\n"},
      {"a bare LF request line", "GET /a HTTP/1.1\nHost: x\r\n\r\n"},
      {"a bare CR", "GET /a HTTP/1.1\r\nHost: x\rX: y\r\n\r\n"},
      {"a control character", std::string("GET /a HTTP/1.1\r\nX: a\x0b\r\n\r\n")},
      {"a NUL", [] {
         static constexpr char raw[] = "GET /a HTTP/1.1\r\nX: a\0b\r\n\r\n";
         return std::string(raw, sizeof raw - 1);
       }()},
      {"a folded line", "GET /a HTTP/1.1\r\nX: a\r\n b\r\n\r\n"},
      {"a line starting with a tab", "GET /a HTTP/1.1\r\n\tX: a\r\n\r\n"},
      {"space before a colon", "GET /a HTTP/1.1\r\nX : a\r\n\r\n"},
      {"a header line without a colon", "GET /a HTTP/1.1\r\nX a\r\n\r\n"},
      {"a leading empty line", "\r\nGET /a HTTP/1.1\r\n\r\n"},
      {"a request line without a version", "GET /a\r\n\r\n"},
      {"a request line with two spaces", "GET  /a HTTP/1.1\r\n\r\n"},
      {"an HTTP/2 version", "GET /a HTTP/2.0\r\n\r\n"},
  };
  for (const auto& [what, bytes] : refused) {
    CAPTURE(what);
    auto r = test::strict_parse_requests(bytes);
    CHECK_FALSE(r.error.empty());
  }
  // Refused after the well-framed requests before it, which are still returned.
  auto r = test::strict_parse_requests("GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  CHECK(r.requests.size() == 1);
  CHECK(r.error.find("request 2") != std::string::npos);
}

TEST_CASE("the tap relays both ways and records what the client side sent, per connection") {
  fake::fake_webex fake;
  auto world = fake::populate_demo_world(fake);
  test::tcp_tap tap(fake.port());
  test::http_connection c(tap.port());
  auto one = c.request("GET", park_a1(world), test::bearer(world.token_admin_a));
  CHECK(one.status == 200);
  CHECK(one.body.find(fake::demo_park_a1_name) != std::string::npos);
  CHECK(c.request("POST", "/v1/echo", test::bearer(world.token_admin_a), "hello").body.find("hello") !=
        std::string::npos);
  auto other = test::http_request(tap.port(), "GET", "/v1/x", test::bearer(world.token_admin_a));
  CHECK(other.status == 200);
  auto bytes = tap.client_bytes();
  REQUIRE(bytes.size() == 2);
  auto first = test::strict_parse_requests(bytes[0]);
  CHECK(first.error.empty());
  REQUIRE(first.requests.size() == 2);
  CHECK(first.requests[1].body == "hello");
  CHECK(test::strict_parse_requests(bytes[1]).requests.size() == 1);
  // The server closing is passed on to the client.
  fake.close_connections();
  CHECK(c.is_closed_by_peer(seconds(5)));
}

TEST_CASE("scanner-style CL.TE - TE.CL and TE.TE permutations: what reaches upstream is well framed and never smuggled") {
  const auto started = steady_clock::now();
  fake::fake_webex fake;
  auto world = fake::populate_demo_world(fake);
  test::tcp_tap tap(fake.port());
  auto proxy = test::start_proxy({"--upstream", "http://127.0.0.1:" + std::to_string(tap.port()), "--log-level", "info"});

  const auto perms = make_permutations(world.token_admin_a);
  const auto results = send_all(proxy.port, perms);

  // Everything the daemon forwarded has reached the fake (it records a request once it has all
  // of it; the tap has the bytes before the fake does).
  tap_reading tapped;
  const bool settled = test::eventually([&] {
    tapped = read_tap(tap);
    return tapped.all_whole && tapped.requests == fake.requests().size();
  });
  CHECK(settled);
  const auto recorded = fake.requests();

  // 1. Every tap connection is a sequence of whole, well-framed requests.
  for (std::size_t i = 0; i < tapped.connections.size(); ++i) {
    CAPTURE(i);
    CHECK_MESSAGE(tapped.connections[i].error.empty(), tapped.connections[i].error);
  }
  // 2. As many requests as the fake saw.
  CHECK(tapped.requests == recorded.size());

  // 3. No hidden request reached upstream (on the wire, or as the fake read it).
  std::map<std::size_t, std::vector<const test::strict_request*>> forwarded;  // by X-Probe
  std::map<std::string, std::size_t> like_te;  // a Transfer-Encoding look-alike forwarded: line -> times
  for (const auto& conn : tapped.connections)
    for (const auto& req : conn.requests) {
      CAPTURE(req.target);
      CHECK(req.target.find("/v1/smuggled") == std::string::npos);
      const auto probe = header_of(req, "X-Probe");
      if (!probe.empty()) forwarded[std::stoul(probe)].push_back(&req);
      for (const auto& [n, v] : req.headers)
        if (looks_like_transfer_encoding(n)) ++like_te[n + ": " + test::excerpt(v, std::string::npos)];
    }
  for (const auto& r : recorded) {
    CAPTURE(r.target);
    CHECK(r.path.find("/v1/smuggled") == std::string::npos);
  }

  // 4. Per permutation: refused (400), no answer, or forwarded as one well-framed request.
  // Answers other than 400: status -> name variant | value variant -> the other dimensions.
  std::map<std::string, std::map<std::pair<std::string, std::string>, std::vector<std::string>>> not_400;
  for (const auto& p : perms) {
    const auto& res = results[p.id];
    const auto it = forwarded.find(p.id);
    const bool was_forwarded = it != forwarded.end();
    CAPTURE(p.describe());
    CAPTURE(test::excerpt(p.bytes, std::string::npos));
    CAPTURE(res.error);
    CHECK((res.status == 400 || res.status == 0 || was_forwarded));
    if (was_forwarded) {
      CHECK(it->second.size() == 1);  // never sent twice
      CHECK(it->second.front()->method == "POST");
    }
    if (res.status != 400) {
      std::string key = "status " + std::to_string(res.status) + (was_forwarded ? ", forwarded" : "");
      if (res.status == 0) key += " (" + res.error.substr(0, 40) + ")";
      not_400[key][{p.name->name, p.value->name}].push_back(std::string(to_string(p.length)) + " " + p.version +
                                                            " " + to_string(p.body));
    }
  }

  // The daemon still serves.
  auto normal = test::http_request(proxy.port, "GET", park_a1(world), test::bearer(world.token_admin_a));
  CHECK(normal.status == 200);
  CHECK(normal.body.find(fake::demo_park_a1_name) != std::string::npos);

  const auto took = std::chrono::duration<double>(steady_clock::now() - started).count();
  std::ostringstream report;
  report << perms.size() << " permutations in " << took << " s; " << tapped.connections.size()
         << " upstream connections, " << tapped.requests << " requests forwarded ("
         << forwarded.size() << " of them probes)\n";
  for (const auto& [key, by_variant] : not_400) {
    std::size_t total = 0;
    // Name variant and the other dimensions -> the value variants answered so.
    std::map<std::pair<std::string, std::string>, std::vector<std::string>> grouped;
    for (const auto& [nv, rest] : by_variant) {
      total += rest.size();
      std::string when;
      if (rest.size() == other_dimensions) {
        when = "with every CL, version and body";
      } else {
        for (const auto& r : rest) when += (when.empty() ? "" : "; ") + r;
      }
      grouped[{nv.first, when}].push_back(nv.second);
    }
    report << "  " << key << ": " << total << " permutations\n";
    for (const auto& [nw, vals] : grouped) {
      report << "    " << nw.first << " x {";
      for (std::size_t i = 0; i < vals.size(); ++i) report << (i ? " / " : "") << vals[i];
      report << "} " << nw.second << "\n";
    }
  }
  for (const auto& [line, times] : like_te)
    report << "  forwarded a header some servers read as Transfer-Encoding, " << times << " times: " << line << "\n";
  INFO(report.str());
  CHECK_MESSAGE(like_te.empty(), "the daemon forwarded headers some servers take for Transfer-Encoding");
}

// ---- slow readers -------------------------------------------------------------------------------

namespace {

std::string big_body() {
  std::string s(4u << 20, '\0');
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 4099) % 26);
  return s;
}

void serve_big(fake::fake_webex& fake, const std::string& big) {
  fake.set_interceptor([&big](const fake::recorded_request& r) -> std::optional<fake::scripted_response> {
    if (r.path != "/v1/export-big") return std::nullopt;
    fake::scripted_response res;
    res.headers.emplace_back("Content-Type", "application/octet-stream");
    res.body = big;
    return res;
  });
}

// A plain POSIX client with a small receive buffer, so the daemon's writes to it block as soon as
// it stops reading.
class raw_client {
 public:
  raw_client(std::uint16_t port, int rcvbuf) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    REQUIRE(::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~raw_client() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  void send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      REQUIRE(n > 0);
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // Up to `max` bytes, waiting at most until `deadline`; "" at end of stream. Throws on timeout.
  std::string read_some(std::size_t max, steady_clock::time_point deadline) {
    pollfd p{fd_, POLLIN, 0};
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) != 1) throw std::runtime_error("read: timeout");
    std::string buf(max, '\0');
    const auto n = ::recv(fd_, buf.data(), max, 0);
    if (n < 0) throw std::runtime_error(std::string("read: ") + std::strerror(errno));
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }

 private:
  int fd_ = -1;
};

}  // namespace

TEST_CASE("a slow but steady reader gets a 4 MiB passthrough answer byte for byte - and others are served meanwhile") {
  test::e2e_stack s;
  const std::string big = big_body();
  serve_big(s.fake, big);

  const auto deadline = steady_clock::now() + seconds(20);
  raw_client slow(s.proxy.port, 16 * 1024);
  slow.send_all("GET /v1/export-big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + s.world.token_admin_a +
                "\r\nConnection: close\r\n\r\n");

  std::string received;
  std::size_t reads = 0;
  bool others_served = false;
  unsigned other_status = 0;
  std::size_t received_when_other_done = 0;
  for (;;) {
    auto part = slow.read_some(64 * 1024, deadline);
    if (part.empty()) break;
    received += part;
    ++reads;
    if (!others_served && received.size() > 256 * 1024) {
      // Mid-answer: someone else's ordinary read is served at once.
      const auto t = steady_clock::now();
      auto other = test::http_request(s.proxy.port, "GET", park_a1(s.world), test::bearer(s.world.token_admin_a),
                                      {}, seconds(5));
      other_status = other.status;
      others_served = steady_clock::now() - t < seconds(2);
      received_when_other_done = received.size();
    }
    std::this_thread::sleep_for(milliseconds(3));  // a slow reader's pace
  }
  MESSAGE(reads << " reads");
  CHECK(other_status == 200);
  CHECK(others_served);
  CHECK(received_when_other_done < big.size());  // the slow answer was still under way

  const auto head_end = received.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  const std::string head = received.substr(0, head_end);
  CAPTURE(head);
  CHECK(head.rfind("HTTP/1.1 200 ", 0) == 0);
  std::string body = received.substr(head_end + 4);
  if (head.find("Transfer-Encoding: chunked") != std::string::npos ||
      head.find("transfer-encoding: chunked") != std::string::npos) {
    std::string decoded;
    std::size_t at = 0;
    for (;;) {
      const auto eol = body.find("\r\n", at);
      REQUIRE(eol != std::string::npos);
      const auto n = std::stoul(body.substr(at, eol - at), nullptr, 16);
      if (n == 0) break;
      decoded += body.substr(eol + 2, n);
      at = eol + 2 + n + 2;
    }
    body = std::move(decoded);
  }
  CHECK(body.size() == big.size());
  // Where the answer first differs (not the 4 MiB themselves in a failure message).
  const auto differ = std::mismatch(body.begin(), body.end(), big.begin(), big.end());
  CHECK_MESSAGE(body == big, "first difference at byte " << (differ.first - body.begin()));
}

TEST_CASE("a client that never reads its 4 MiB answer is closed after the client body timeout - others are served") {
  test::e2e_stack s({"--client-body-timeout", "1s"});
  const std::string big = big_body();
  serve_big(s.fake, big);
  const auto connections = [&] { return s.metric("webex_cache_proxy_client_connections"); };

  // Another client, with a keep-alive connection open throughout.
  test::http_connection other(s.proxy.port);
  CHECK(other.request("GET", park_a1(s.world), test::bearer(s.world.token_admin_a)).status == 200);
  REQUIRE(test::eventually([&] { return connections() == 1; }));

  raw_client stuck(s.proxy.port, 4 * 1024);
  stuck.send_all("GET /v1/export-big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + s.world.token_admin_a +
                 "\r\n\r\n");
  // The answer has begun (upstream was asked) and the connection is open.
  CHECK(test::eventually([&] { return s.fake.count("GET", "/v1/export-big") == 1; }));
  CHECK(connections() == 2);

  // Meanwhile the other client is served.
  auto served = other.request("GET", park_a1(s.world), test::bearer(s.world.token_admin_a), {}, seconds(5));
  CHECK(served.status == 200);

  // The stuck connection is dropped; the other one stays.
  const auto t = steady_clock::now();
  CHECK(test::eventually([&] { return connections() == 1; }, seconds(10)));
  MESSAGE("closed after " << std::chrono::duration<double>(steady_clock::now() - t).count() << " s");
  CHECK(other.request("GET", park_a1(s.world), test::bearer(s.world.token_admin_a)).status == 200);
  CHECK(test::http_request(s.proxy.port, "GET", park_a1(s.world), test::bearer(s.world.token_admin_a)).status == 200);
}
