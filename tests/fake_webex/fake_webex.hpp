// An in-process fake of the Webex Calling configuration API, for tests.
//
// fake_webex is a real HTTP/1.1 server (keep-alive, optional TLS) listening on a loopback port and
// running on its own thread with its own io_context. It models what the proxy relies on: bearer
// tokens with a home org, partner orgs and location-admin scopes; the `orgId` query parameter;
// call parks (whose ID changes on rename) and paging groups; Webex-shaped error bodies and a
// `trackingid` header on every answer. Every other path answers an echo of what arrived, so
// pass-through tests can check it. Every request is recorded; an interceptor can script any answer
// (a status, a delay, a dropped connection, raw bytes).
//
// Thread-safety: every public member may be called from any thread while the server serves. The
// interceptor runs on the server thread, without the fake's lock held, so it may call back into
// the fake (requests(), add_call_park(), ...); it must not block for long (use
// scripted_response::delay to slow an answer down).
//
// Beast and Asio stay in fake_webex.cpp: including this header is cheap.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wcp::fake {

// A bearer token the fake knows.
struct token_spec {
  std::string token;                   // as sent after "Bearer "
  std::string home_org;                // the effective org when a request has no orgId
  std::vector<std::string> orgs;       // other orgs it may act on through orgId (home_org implied)
  std::vector<std::string> locations;  // empty: every location of its orgs; else a location admin
                                       // of just these
};

// One request as it arrived.
struct recorded_request {
  std::string method;         // "GET", "PUT", ...
  std::string target;         // path and query, as sent
  std::string path;           // target without the query, as sent (not percent-decoded)
  std::string authorization;  // the raw Authorization header value, "" if absent
  std::string tracking_id;    // the TrackingID header value, "" if absent
  std::vector<std::pair<std::string, std::string>> headers;  // every header, in order, as sent
  std::string body;
};

// An answer scripted by an interceptor.
struct scripted_response {
  unsigned status = 200;
  // Sent as given. Added when absent: `trackingid` (ROUTER_<n>), and `Content-Type:
  // application/json;charset=UTF-8` when the body is not empty. Content-Length is always computed.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds delay{0};  // wait this long before answering (or closing)
  bool close_without_answer = false;   // close the connection instead of answering
  std::string raw;  // if non-empty: written verbatim instead of a response, then the connection is closed
  bool keep_open = false;  // with raw: the connection stays open and serves the next request
};

struct options {
  std::string host = "127.0.0.1";  // an IP address, or "localhost" (= 127.0.0.1)
  std::uint16_t port = 0;          // 0: an ephemeral port
  std::string tls_cert_file;       // both set: serve HTTPS with this PEM certificate (chain) ...
  std::string tls_key_file;        // ... and this PEM private key
};

class fake_webex {
 public:
  // Binds and starts serving before returning. Throws std::exception if it cannot (port in use,
  // unreadable certificate, ...).
  explicit fake_webex(options = {});
  // Stops serving, drops every connection and joins the server thread.
  ~fake_webex();

  fake_webex(const fake_webex&) = delete;
  fake_webex& operator=(const fake_webex&) = delete;

  std::uint16_t port() const;
  std::string base_url() const;  // "http://127.0.0.1:PORT", or "https://..." with TLS

  // The world. IDs are compared with trailing '=' padding stripped. add_location adds its org if
  // needed. add_call_park and add_paging_group throw std::invalid_argument for an unknown
  // location (or a call park name already used in that location) and return the new ID.
  void add_org(const std::string& org_id);
  void add_location(const std::string& org_id, const std::string& location_id);
  void add_token(token_spec);
  std::string add_call_park(const std::string& location_id, const std::string& name);
  std::string add_paging_group(const std::string& location_id, const std::string& name);
  // The current name of the call park or paging group with this ID (in any location), or nullopt
  // if there is none (never existed, deleted, or renamed away).
  std::optional<std::string> resource_name(const std::string& id) const;

  // Every request received so far (including intercepted ones), oldest first.
  std::vector<recorded_request> requests() const;
  // How many recorded requests have this method ("" = any) and a path containing path_contains.
  std::size_t count(std::string_view method, std::string_view path_contains) const;
  void clear_requests();

  std::size_t connections_accepted() const;
  // Closes every open connection from the server side (the listener keeps accepting).
  void close_connections();

  // Called for every request before normal handling; returning a response overrides it.
  // Pass an empty function to remove it.
  void set_interceptor(std::function<std::optional<scripted_response>(const recorded_request&)>);
  // The next request matching (method, "" = any; a part of its path) is answered as it would be
  // now, but held back until release_held(): a read that began before a write ends after it.
  void hold_next(std::string method, std::string path_contains);
  std::size_t held() const;  // requests being held now
  void release_held();

  // Delays every normally handled answer (not interceptor ones) by `d`, without blocking others.
  void set_response_delay(std::chrono::milliseconds d);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// The Webex ID of a resource: base64 (standard alphabet, with padding) of
// "ciscospark://us/<type>/<value>", e.g. webex_id("LOCATION", "...").
std::string webex_id(std::string_view type, std::string_view value);
// The ID with its trailing '=' padding removed.
std::string strip_padding(std::string_view id);

// "/v1/telephony/config/locations/{location_id}/callParks/{call_park_id}"
std::string call_park_path(std::string_view location_id, std::string_view call_park_id);
// "/v1/telephony/config/locations/{location_id}/paging/{paging_id}"
std::string paging_path(std::string_view location_id, std::string_view paging_id);

}  // namespace wcp::fake
