#include "proxy/http_rules.hpp"

#include <array>
#include <cstdint>
#include <cstring>

#include <boost/url/authority_view.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace wcp::proxy {

namespace {

// RFC 9110 §5.6.2 tchar, as a table: every request line is walked character by character.
constexpr std::array<bool, 256> tchars = [] {
  std::array<bool, 256> t{};
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool is_tchar(char c) noexcept { return tchars[static_cast<unsigned char>(c)]; }

bool is_visible_ascii(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u - 0x21u < 0x7fu - 0x21u;
}

// Whether every character of s is visible ASCII (0x21-0x7e), eight at a time: a request
// target is checked on every request. Per byte of a word, (x - 0x21) & ~x has its high bit set
// if the byte is below 0x21, and (x + 1) | x if it is 0x7f or above (a carry out of a byte
// only comes from 0xff, which is flagged by itself).
bool all_visible_ascii(std::string_view s) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t x;
    std::memcpy(&x, s.data() + i, 8);
    if ((((x - ones * 0x21) & ~x) | ((x + ones) | x)) & high) return false;
  }
  for (; i < s.size(); ++i)
    if (!is_visible_ascii(s[i])) return false;
  return true;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

refusal malformed(std::string message) { return {400, std::move(message), "malformed"}; }

}  // namespace

request_line_result parse_request_line(std::string_view head) {
  request_line_result r;
  const auto eol = head.find('\n');
  if (eol == std::string_view::npos || eol == 0 || head[eol - 1] != '\r') {
    r.error = malformed("The request line must end with CRLF.");
    return r;
  }
  const std::string_view line = head.substr(0, eol - 1);

  std::size_t i = 0;
  while (i < line.size() && is_tchar(line[i])) ++i;
  if (i == 0 || i == line.size() || line[i] != ' ') {
    r.error = malformed("The request line must start with a method followed by one space.");
    return r;
  }
  request_line out;
  out.method = line.substr(0, i);

  const std::size_t target_start = ++i;
  i = line.find(' ', target_start);
  if (i == std::string_view::npos || i == target_start ||
      !all_visible_ascii(line.substr(target_start, i - target_start))) {
    r.error = malformed("The request line must have a request target followed by one space.");
    return r;
  }
  out.target = line.substr(target_start, i - target_start);

  const std::string_view version = line.substr(i + 1);
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !digit(version[5]) ||
      version[6] != '.' || !digit(version[7])) {
    r.error = malformed("The request line must end with an HTTP version (HTTP/1.1).");
    return r;
  }
  if (version[5] != '1') {
    r.error = refusal{505, "Only HTTP/1.0 and HTTP/1.1 are supported.", "version"};
    return r;
  }
  out.version = 10 + static_cast<unsigned>(version[7] - '0');
  r.line = out;
  return r;
}

method_policy classify_method(std::string_view method) noexcept {
  static constexpr std::array<std::string_view, 7> handled = {"GET", "HEAD",   "POST",   "PUT",
                                                              "PATCH", "DELETE", "OPTIONS"};
  for (auto m : handled)
    if (method == m) return method_policy::handled;
  if (method == "TRACE" || method == "CONNECT") return method_policy::not_allowed;
  return method_policy::unknown;
}

std::optional<refusal> check_host(unsigned version, std::size_t count, std::string_view value) {
  if (count > 1) return refusal{400, "The request has more than one Host header.", "host"};
  if (count == 0) {
    if (version >= 11) return refusal{400, "An HTTP/1.1 request must have a Host header.", "host"};
    return std::nullopt;
  }
  auto bad = [] { return refusal{400, "The Host header is not a valid host[:port].", "host"}; };
  if (value.empty()) return bad();
  // The common case without the URL parser: a name or IPv4 address, and a port in range.
  {
    const auto colon = value.find(':');
    const auto host = value.substr(0, colon);
    bool plain = !host.empty();
    for (char c : host)
      plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == '-');
    if (plain && colon != std::string_view::npos) {
      const auto port = value.substr(colon + 1);
      unsigned number = 0;
      plain = !port.empty() && port.size() <= 5;
      for (char c : port) {
        plain = plain && c >= '0' && c <= '9';
        number = number * 10 + static_cast<unsigned>(c - '0');
      }
      plain = plain && number > 0 && number <= 65535;
    }
    if (plain) return std::nullopt;
  }
  auto authority = boost::urls::parse_authority(value);
  if (!authority || authority->has_userinfo() || authority->encoded_host().empty()) return bad();
  if (authority->has_port()) {
    const auto port = authority->port();
    if (port.empty() || port.size() > 5 || authority->port_number() == 0) return bad();
  }
  return std::nullopt;
}

target_result classify_target(std::string_view target) {
  target_result r;
  if (target.empty()) return r;
  if (target.front() == '/') {
    r.form = target_form::origin;
    return r;
  }
  if (target == "*") {
    r.form = target_form::asterisk;
    return r;
  }
  auto absolute = boost::urls::parse_absolute_uri(target);
  if (absolute && (iequals(absolute->scheme(), "http") || iequals(absolute->scheme(), "https"))) {
    const auto& u = *absolute;
    if (!u.has_authority() || u.encoded_host().empty() || u.has_userinfo()) return r;
    const std::string_view path = u.encoded_path();
    if (!path.empty() && path.front() != '/') return r;
    r.form = target_form::absolute;
    r.origin = path.empty() ? "/" : std::string(path);
    if (u.has_query()) r.origin.append("?").append(u.encoded_query());
    return r;
  }
  // host:port also reads as an absolute URI whose scheme is the host.
  if (auto authority = boost::urls::parse_authority(target);
      authority && !authority->has_userinfo() && authority->has_port() &&
      !authority->encoded_host().empty()) {
    r.form = target_form::authority;
    return r;
  }
  return r;
}

namespace {

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The weight of one Accept-Encoding member's parameters ("q=0.5"): 1 without one, 0 when it
// does not parse (qvalue = "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ]).
bool weight_above_zero(std::string_view params) {
  bool above = true;
  while (!params.empty()) {
    const auto semi = params.find(';');
    auto param = trim_ows(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    if (param.size() < 2 || (param[0] != 'q' && param[0] != 'Q') || param[1] != '=') continue;
    const auto q = param.substr(2);
    if (q.empty() || q.size() > 5 || (q[0] != '0' && q[0] != '1')) return false;
    if (q.size() > 1 && (q[1] != '.' || q.size() == 2)) return false;
    bool nonzero_fraction = false;
    for (std::size_t i = 2; i < q.size(); ++i) {
      if (q[i] < '0' || q[i] > '9') return false;
      if (q[i] != '0') nonzero_fraction = true;
    }
    if (q[0] == '1' && nonzero_fraction) return false;
    above = q[0] == '1' || nonzero_fraction;
  }
  return above;
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) noexcept {
  std::optional<bool> gzip, any;
  while (!accept_encoding.empty()) {
    const auto comma = accept_encoding.find(',');
    auto member = accept_encoding.substr(0, comma);
    accept_encoding = comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);
    const auto semi = member.find(';');
    const auto coding = trim_ows(member.substr(0, semi));
    const auto params = semi == std::string_view::npos ? std::string_view() : member.substr(semi + 1);
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip"))
      gzip = gzip.value_or(false) || weight_above_zero(params);
    else if (coding == "*")
      any = weight_above_zero(params);
  }
  if (gzip) return *gzip;
  return any.value_or(false);
}

}  // namespace wcp::proxy
