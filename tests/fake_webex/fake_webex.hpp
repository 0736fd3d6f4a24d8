// An in-process fake of the Webex Calling configuration API, for tests.
//
// fake_webex is a real HTTP/1.1 server (keep-alive, optional TLS) listening on a loopback port and
// running on its own thread with its own io_context. It models what the proxy relies on: bearer
// tokens with a home org, partner orgs, location-admin scopes and kind limits; the `orgId` query
// parameter; Webex-shaped error bodies and a `trackingid` header on every answer. Every request is
// recorded; an interceptor can script any answer (a status, a delay, a dropped connection, raw
// bytes).
//
// The world it models, under L = /v1/telephony/config/locations/{locationId}:
//
//  - Items of every kind in one table (fake_webex.cpp, `kind_table`): call parks, call pickups,
//    schedules (L/schedules/{businessHours|holidays}/{id}) and their events, the selective call
//    forwarding rules of auto attendants, hunt groups and call queues, hunt groups, call queues,
//    auto attendants, paging groups, voicemail groups, call park extensions, announcements,
//    translation patterns, outgoing-permission digit patterns, DECT networks with their base
//    stations and handsets, receptionist contact directories, AI receptionists and their intents.
//    GET answers {"id","name",...}; DELETE 204 (the item's own items go with it); PUT merges the
//    body's top-level members and answers 204, or 200 {"id"} for the kinds whose ID encodes their
//    name (call parks, call pickups, schedules, schedule events, selective rules: a rename gives a
//    new ID and the old one answers 404; a name used twice in one collection is a 409) and for
//    receptionist directories (the same ID). POST on the collection creates and answers 201 {"id"}
//    (DECT networks: {"dectNetworkId"}).
//  - Lists: L/callParks, L/callPickups, L/schedules (and, as before, L/paging) paged with `start`
//    and `max` and absolute Link URLs on this server; filters `name` (contains, any case) and, for
//    schedules, `type`. Org-wide lists GET /v1/telephony/config/{huntGroups|queues|autoAttendants|
//    paging|voicemailGroups|callParkExtensions|dectNetworks}, filtered by `locationId` (without it:
//    every location of the effective org the token reaches); all but DECT networks are paged.
//    Unpaged lists under L: DECT handsets and base stations, AI receptionist intents, receptionist
//    directories, digit patterns. Schedule events are listed in their schedule's "events", selective
//    rules in their feature's callForwarding document ("callForwarding":{"rules":[...]}).
//  - The location: GET/PUT L itself (Webex Calling details; PUT 204) and GET/PUT /v1/locations/{L}
//    (the common locations API; PUT 204). Both share the location's name.
//  - Settings documents, one per location (and per feature for the feature settings): intercept,
//    musicOnHold, callParks/settings, queues/{id}/nightService, ... GET answers the document, PUT
//    merges its top-level members and answers 204. Their bodies, and those of the read-only
//    answers (available* lists, announcements/usage, redSky/status, ...), begin with "route" (the
//    path below L as sent), "locationId" (as sent) and "orgId".
//
// Every other path, and every method a modelled path does not have (PATCH anywhere, GET on
// L/huntGroups, whose list is org-wide, ...), answers 200 with an echo of what arrived, so
// pass-through tests can check it.
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
  // Empty: every kind; else only these kinds may be read or written, others answer 403. A kind is
  // its collection segment as Webex spells it ("callParks", "callPickups", "schedules", "events",
  // "selectiveRules", "huntGroups", "queues", "autoAttendants", "paging", "voicemailGroups",
  // "callParkExtensions", "announcements", "translationPatterns", "digitPatterns", "dectNetworks",
  // "baseStations", "handsets", "directories", "aiReceptionists", "intents"), "settings" for every
  // settings document (and the read-only answers that are not beside a kind's collection, e.g.
  // redSky/status), "locations" for the location itself (GET/PUT L and /v1/locations/{L}).
  // The read-only answers beside a collection (callParks/availableUsers, huntGroups/
  // availableNumbers, ...) are of that collection's kind.
  std::vector<std::string> kinds = {};
  // Kinds whose items and lists this token may write but not read: GET on an item, on a location's
  // list or on an org-wide list of such a kind answers 403. Webex has this for a location admin and
  // call queues ({"queues"}): it may create, change and delete them but not read them. Settings
  // documents and the available* lists beside the collection stay readable.
  std::vector<std::string> read_denied_kinds = {};
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
  // needed; a location added without a name is called "Location <n>" (n counts from 1). Adding a
  // location again replaces it. add_call_park and add_paging_group throw std::invalid_argument for
  // an unknown location (or a call park name already used in that location) and return the new ID.
  void add_org(const std::string& org_id);
  void add_location(const std::string& org_id, const std::string& location_id, const std::string& name = {});
  void add_token(token_spec);
  std::string add_call_park(const std::string& location_id, const std::string& name);
  std::string add_paging_group(const std::string& location_id, const std::string& name);
  // Adds an item of any kind and returns its ID. collection_path is the collection below the
  // location as in item_path: "callPickups", "queues", "schedules/holidays" (a schedule's type is
  // part of its path), "schedules/holidays/<scheduleId>/events",
  // "huntGroups/<huntGroupId>/callForwarding/selectiveRules", "dectNetworks/<id>/handsets", ...
  // Throws std::invalid_argument for an unknown location, collection or parent item, or a name
  // already used in that collection by a kind whose ID encodes its name.
  std::string add_item(const std::string& location_id, std::string_view collection_path, const std::string& name);
  // The current name of the item of any kind with this ID (in any location), or nullopt if there is
  // none (never existed, deleted, or renamed away). Items whose ID encodes their name share an ID
  // when they share a name in different collections; this answers with the first one added.
  std::optional<std::string> item_name(const std::string& id) const;
  std::optional<std::string> resource_name(const std::string& id) const;  // the same as item_name
  // The location's current name. Throws std::invalid_argument for an unknown location.
  std::string location_name(const std::string& location_id) const;

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
// "/v1/telephony/config/locations/{location_id}/{collection_path}/{id}", e.g.
// item_path(loc, "schedules/holidays", schedule_id).
std::string item_path(std::string_view location_id, std::string_view collection_path, std::string_view id);
// "/v1/telephony/config/locations/{location_id}" followed by "/{sub_path}" unless it is empty.
std::string location_path(std::string_view location_id, std::string_view sub_path = {});

}  // namespace wcp::fake
