// HTTP/1.1 message rules the client listener enforces before a request reaches the router
// (RFC 9112 / RFC 9110): the request line, the Host header, the request-target's form and which
// methods the proxy handles. Pure functions over the request's raw text; no I/O, no Beast.
// Unit-tested and fuzzed on their own.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wcp::proxy {

// Why the proxy answers a request itself instead of handling it.
struct refusal {
  unsigned status = 400;
  std::string message;     // for the caller, in the Webex error shape
  std::string_view reason;  // bad_requests_total{reason=...}
};

// The request line of a head: `method SP request-target SP HTTP/DIGIT.DIGIT CRLF`, checked
// byte by byte (a method is a token; a target is visible ASCII; one space between the three).
// A malformed line is a 400; an HTTP major version other than 1 is a 505.
struct request_line {
  std::string_view method;
  std::string_view target;
  unsigned version = 11;  // 10 * major + minor
};
struct request_line_result {
  std::optional<request_line> line;
  std::optional<refusal> error;  // set exactly when line is not
};
request_line_result parse_request_line(std::string_view head);

// What the proxy does with a method (methods are case-sensitive: `get` is not `GET`).
enum class method_policy {
  handled,      // GET HEAD POST PUT PATCH DELETE OPTIONS
  not_allowed,  // TRACE, CONNECT: 405 with Allow, never forwarded
  unknown,      // any other token: 501
};
method_policy classify_method(std::string_view method) noexcept;

// The methods the proxy handles, as an Allow header value.
inline constexpr std::string_view allowed_methods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

// The Host header rule: an HTTP/1.1 request has exactly one, an HTTP/1.0 request at most one, and
// a value present is `uri-host [":" port]` (no user info, no path, not empty).
// `count` is how many Host field lines the head has; `value` the first one's value.
std::optional<refusal> check_host(unsigned version, std::size_t count, std::string_view value);

// The request-target's form (RFC 9112 §3.2).
enum class target_form { origin, absolute, asterisk, authority, invalid };
struct target_result {
  target_form form = target_form::invalid;
  std::string origin;  // absolute: the origin-form the proxy routes by (path, or "/", and query)
};
target_result classify_target(std::string_view target);

// Whether an Accept-Encoding field value (all its lines, joined with ",") lets the answer be
// gzip (RFC 9110 section 12.5.3): `gzip` or `x-gzip` with a weight above 0, or else `*` with a
// weight above 0. An explicit `gzip;q=0` refuses it whatever `*` says; an unparsable weight
// counts as 0.
bool accepts_gzip(std::string_view accept_encoding) noexcept;

}  // namespace wcp::proxy
