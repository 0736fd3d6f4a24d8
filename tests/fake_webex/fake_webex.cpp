#include "fake_webex/fake_webex.hpp"

#include "net/net.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

#include <openssl/evp.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <stdexcept>
#include <thread>

namespace wcp::fake {

namespace {

using tcp = net::ip::tcp;
using field_list = std::vector<std::pair<std::string, std::string>>;  // key (unescaped), raw JSON

// The example bodies of the two "Get Details" pages (seeds/call_park.json, seeds/paging_group.json),
// embedded so that the fake-webex binary is standalone.
constexpr std::string_view call_park_seed = R"json({
  "id": "Y2lzY29zcGFyazovL3VzL0NBTExfUEFSSy9kR1ZqYUc1cFkyRnNJSE4xY0hCdmNuUWdMU0JwYm5OMWNtRnVZMlVnTFNCamRYTjBiMjFsY2lBeA==",
  "name": "technical support - insurance - customer 1",
  "recall": {
    "huntGroupId": "Y2lzY29zcGFyazovL3VzL0hVTlRfR1JPVVAvZEdWamFHNXBZMkZzTFhOMWNIQnZjblF0TlRVMU9EWTNOVE13T1VCbmJXRnBiQzVqYjIwPQ",
    "huntGroupName": "Technical Support Group - 5558675309",
    "option": "ALERT_PARKING_USER_FIRST_THEN_HUNT_GROUP"
  },
  "agents": [
    {
      "id": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS80NDVkMzMzMC1mNjE3LTExZWItOWQyZS01NzViODE3ZGE2NmE",
      "firstName": "John",
      "lastName": "Brown",
      "displayName": "John Brown",
      "type": "PEOPLE",
      "email": "john.brown@example.com",
      "numbers": [
        {
          "external": "+19075552859",
          "extension": "8080",
          "routingPrefix": "1234",
          "esn": "12348080",
          "primary": "true"
        }
      ]
    },
    {
      "id": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS83MGY2MzYzMC1mZjlmLTExZWItODU5YS0xZjhiYjRjNzc1MWQ",
      "firstName": "John",
      "lastName": "Smith",
      "displayName": "John Smith",
      "type": "PEOPLE",
      "email": "john.smith@example.com",
      "numbers": [
        {
          "external": "+19075553859",
          "extension": "8081",
          "routingPrefix": "1234",
          "esn": "12348081",
          "primary": "true"
        }
      ]
    }
  ],
  "parkOnAgentsEnabled": false,
  "callParkExtensions": [
    {
      "id": "Y3lzY29zcGFyazovL3VzL1BFT1BMRS83MGY2MzYzMC1mZjlmLTExZWItODU5YS0xZjhiYjRjNzc2MWQ",
      "extension": "1415",
      "name": "14159265"
    }
  ]
})json";

constexpr std::string_view paging_group_seed = R"json({
  "id": "Y2lzY29zcGFyazovL3VzL1BBR0lOR19HUk9VUC9hSFpoWlROMk1HOHliMEEyTkRrME1USTVOeTVwYm5ReE1DNWlZMnhrTG5kbFltVjRMbU52YlE",
  "enabled": true,
  "name": "PagingGroup-1",
  "phoneNumber": "+15558675309",
  "extension": "7781",
  "language": "English",
  "languageCode": "en_us",
  "firstName": "John",
  "lastName": "Doe",
  "originatorCallerIdEnabled": true,
  "originators": [
    {
      "id": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS80YTc2ZmVmNC1mZjlmLTExZWItYWYwZC00M2YwZjY1NTdjYWI",
      "firstName": "John",
      "lastName": "Doe",
      "type": "PEOPLE",
      "phoneNumber": "+15558675310",
      "extension": "7781",
      "routingPrefix": "567",
      "esn": "5677781"
    },
    {
      "id": "Y2lzY29zcGFyazovL3VzL1ZJUlRVQUxfTElORS83MGY2MzYzMC1mZjlmLTExZWItODU5YS0xZjhiYjRjNzc3OGg=",
      "firstName": "Alice",
      "lastName": "Smith",
      "type": "VIRTUAL_LINE",
      "phoneNumber": "+15558675311",
      "extension": "7782",
      "routingPrefix": "567",
      "esn": "5677781"
    }
  ],
  "targets": [
    {
      "id": "Y2lzY29zcGFyazovL3VzL1BMQUNFLzg0YjQ1OTIyLWZmOWYtMTFlYi1hNGI4LTMzNjI3YmVkNjdiNQ",
      "firstName": "Alaska Office",
      "lastName": "Second Floor",
      "type": "PLACE",
      "phoneNumber": "+15558675311",
      "extension": "7781",
      "routingPrefix": "567",
      "esn": "5677781"
    },
    {
      "id": "Y2lzY29zcGFyazovL3VzL1ZJUlRVQUxfTElORS83MGY2MzYzMC1mZjlmLTExZWItODU5YS0xZjhiYjRjNzc3OGg=",
      "firstName": "Alice",
      "lastName": "Smith",
      "type": "VIRTUAL_LINE",
      "phoneNumber": "+15558675311",
      "extension": "7782",
      "routingPrefix": "567",
      "esn": "5677781"
    }
  ]
})json";

constexpr std::string_view json_content_type = "application/json;charset=UTF-8";
constexpr std::string_view telephony_locations_prefix = "/v1/telephony/config/locations/";

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string json_string(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char hex[] = "0123456789abcdef";
          out += "\\u00";
          out += hex[(c >> 4) & 0xf];
          out += hex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool has_header(const field_list& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); });
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// The top-level members of a JSON object, each value as its raw JSON text; nullopt if `json` is
// not an object. `name` receives the unescaped "name" member when it is a string; a "name" that is
// not a string makes the whole body invalid.
std::optional<field_list> top_level_fields(std::string_view json, std::optional<std::string>* name = nullptr) {
  namespace od = simdjson::ondemand;
  od::parser parser;
  simdjson::padded_string padded(json);
  od::document doc;
  od::object obj;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(obj)) return std::nullopt;
  field_list out;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    if (std::move(result).get(field) || field.unescaped_key().get(key)) return std::nullopt;
    std::string k(key);
    od::value v = field.value();
    od::json_type type;
    if (v.type().get(type)) return std::nullopt;
    std::string_view raw;
    switch (type) {
      case od::json_type::object: {
        od::object o;
        if (v.get_object().get(o) || o.raw_json().get(raw)) return std::nullopt;
        break;
      }
      case od::json_type::array: {
        od::array a;
        if (v.get_array().get(a) || a.raw_json().get(raw)) return std::nullopt;
        break;
      }
      case od::json_type::string: {
        raw = trim_right(v.raw_json_token());
        std::string_view s;
        if (v.get_string().get(s)) return std::nullopt;
        if (name && k == "name") *name = std::string(s);
        break;
      }
      case od::json_type::number: {
        raw = trim_right(v.raw_json_token());
        double d;
        if (v.get_double().get(d)) return std::nullopt;
        break;
      }
      case od::json_type::boolean: {
        raw = trim_right(v.raw_json_token());
        bool b;
        if (v.get_bool().get(b)) return std::nullopt;
        break;
      }
      case od::json_type::null: {
        raw = trim_right(v.raw_json_token());
        bool is_null = false;
        if (v.is_null().get(is_null) || !is_null) return std::nullopt;
        break;
      }
    }
    if (k == "name" && type != od::json_type::string) return std::nullopt;
    std::string compact(raw.size() + simdjson::SIMDJSON_PADDING, '\0');
    std::size_t compact_size = 0;
    if (simdjson::minify(raw.data(), raw.size(), compact.data(), compact_size)) return std::nullopt;
    compact.resize(compact_size);
    out.emplace_back(std::move(k), std::move(compact));
  }
  return out;
}

void merge_fields(field_list& into, const field_list& from) {
  for (const auto& [key, raw] : from) {
    auto it = std::find_if(into.begin(), into.end(), [&](const auto& f) { return f.first == key; });
    if (it != into.end()) {
      it->second = raw;
    } else {
      into.emplace_back(key, raw);
    }
  }
}

scripted_response json_response(unsigned status, std::string body) {
  scripted_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

scripted_response webex_error(unsigned status, std::string_view message, const std::string& tracking_id) {
  std::string m = json_string(message);
  return json_response(status, "{\"message\":" + m + ",\"errors\":[{\"description\":" + m +
                                   "}],\"trackingId\":" + json_string(tracking_id) + "}");
}

std::string render_object(const field_list& fields, std::string_view leading_members = {}) {
  std::string out = "{";
  out += leading_members;
  bool first = leading_members.empty();
  for (const auto& [key, raw] : fields) {
    if (!first) out += ',';
    first = false;
    out += json_string(key);
    out += ':';
    out += raw;
  }
  out += '}';
  return out;
}

// Sets one member (in place if present, else at the end).
void set_member(field_list& fields, std::string_view key, std::string raw) {
  auto it = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == key; });
  if (it != fields.end()) {
    it->second = std::move(raw);
  } else {
    fields.emplace_back(std::string(key), std::move(raw));
  }
}

// Sets "member", or "outer.member" inside the object member "outer" (created if missing).
void set_member_path(field_list& fields, std::string_view path, std::string raw) {
  const auto dot = path.find('.');
  if (dot == std::string_view::npos) return set_member(fields, path, std::move(raw));
  const std::string_view outer = path.substr(0, dot);
  field_list inner;
  auto it = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == outer; });
  if (it != fields.end()) {
    if (auto parsed = top_level_fields(it->second)) inner = std::move(*parsed);
  }
  set_member_path(inner, path.substr(dot + 1), std::move(raw));
  set_member(fields, outer, render_object(inner));
}

void erase_members(field_list& fields, std::initializer_list<std::string_view> keys) {
  std::erase_if(fields, [&](const auto& f) { return std::find(keys.begin(), keys.end(), f.first) != keys.end(); });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    path.remove_prefix(slash + 1);
  }
}

std::string join_path(const std::vector<std::string>& segs) {
  std::string out;
  for (const auto& s : segs) {
    if (!out.empty()) out += '/';
    out += s;
  }
  return out;
}

// ---- the kinds of item ------------------------------------------------------------------------

// How a kind's IDs are made.
enum class id_style {
  from_name,        // the ID encodes the name, as Webex's do: a rename gives a new ID, and a name
                    // may be used once per collection
  serial,           // a UUID-shaped value from a counter
  cycling_padding,  // paging groups: a mailbox-shaped value whose '=' padding cycles
};
enum class put_answer { no_put, no_content, with_id };  // no PUT (echoed), 204, or 200 {"id"}
enum class list_style { unlisted, paged, unpaged };

// One kind of item under a location. Paths are patterns below
// L = /v1/telephony/config/locations/{L}: literal segments, "{id}" for a parent item's ID, and a
// trailing "{type}" where the item's type is part of its path (schedules: GET
// L/schedules/holidays/{id}; their list and POST are on L/schedules, with the type in the query or
// the body).
struct kind_def {
  std::string_view collection;  // items at "<collection>/{id}"; the parent is the kind whose items
                                // the path up to the last "{id}" names
  std::string_view kind;        // its name in token_spec::kinds
  id_style ids;
  put_answer put;
  std::string_view list_key;    // the member that holds the list
  list_style location_list;     // GET on the collection
  list_style org_list;          // GET /v1/telephony/config/<collection>?locationId=
  std::string_view id_type;     // webex_id's type
  std::string_view label;       // in "[Error 4202] <label> Not Found."
  std::string_view seed;        // the body of a new item ("id" and "name" are filled in)
  std::string_view created_key = "id";  // what POST's 201 answer calls the new ID
  // Where the items are also shown: a member (or "object.member") of the document at the
  // collection's parent path, which is the parent item or a settings document.
  std::string_view listed_as = {};
};

constexpr std::string_view call_pickup_seed =
    R"({"id":"","name":"","notification":{"type":"NONE","timeoutType":"RING_TIMEOUT","timerSeconds":6},"agents":[]})";
constexpr std::string_view schedule_seed = R"({"id":"","name":"","type":"","events":[]})";
constexpr std::string_view schedule_event_seed =
    R"({"id":"","name":"","startDate":"2026-12-25","endDate":"2026-12-25","startTime":"","endTime":"","allDayEnabled":true,"recurrence":{"recurForEver":true,"recurYearlyByDate":{"dayOfMonth":25,"month":"DECEMBER"}}})";
constexpr std::string_view selective_rule_seed =
    R"({"id":"","name":"","enabled":true,"holidaySchedule":"","businessSchedule":"","forwardTo":{"selection":"FORWARD_TO_DEFAULT_NUMBER"},"callsFrom":{"selection":"ANY"},"callsTo":{"numbers":[]}})";
constexpr std::string_view hunt_group_seed =
    R"({"id":"","name":"","enabled":true,"phoneNumber":"+15558675320","extension":"7320","languageCode":"en_us","firstName":"Hunt","lastName":"Group","timeZone":"America/Chicago","callPolicies":{"policy":"CIRCULAR","waitingEnabled":false,"noAnswer":{"nextAgentEnabled":false,"nextAgentRings":5}},"agents":[]})";
constexpr std::string_view queue_seed =
    R"({"id":"","name":"","enabled":true,"phoneNumber":"+15558675330","extension":"7330","languageCode":"en_us","firstName":"Call","lastName":"Queue","timeZone":"America/Chicago","callPolicies":{"policy":"CIRCULAR","routingType":"PRIORITY_BASED"},"queueSettings":{"queueSize":10,"overflow":{"action":"PERFORM_BUSY_TREATMENT"}},"agents":[]})";
constexpr std::string_view auto_attendant_seed =
    R"({"id":"","name":"","enabled":true,"phoneNumber":"+15558675340","extension":"7340","firstName":"Auto","lastName":"Attendant","businessSchedule":"","holidaySchedule":"","extensionDialing":"ENTERPRISE","nameDialing":"ENTERPRISE","businessHoursMenu":{"greeting":"DEFAULT","extensionEnabled":true,"keyConfigurations":[]},"afterHoursMenu":{"greeting":"DEFAULT","extensionEnabled":true,"keyConfigurations":[]}})";
constexpr std::string_view voicemail_group_seed =
    R"({"id":"","name":"","enabled":true,"phoneNumber":"","extension":"7350","languageCode":"en_us","firstName":"Voicemail","lastName":"Group","messageStorage":{"storageType":"INTERNAL"}})";
constexpr std::string_view call_park_extension_seed = R"({"id":"","name":"","extension":"7360"})";
constexpr std::string_view announcement_seed =
    R"({"id":"","name":"","fileName":"greeting.wav","fileSize":"1024","mediaFileType":"WAV","lastUpdated":"2026-01-01T00:00:00.000Z","featureReferenceCount":0})";
constexpr std::string_view translation_pattern_seed =
    R"({"id":"","name":"","matchingPattern":"+1408XXX","replacementPattern":"+1555XXX"})";
constexpr std::string_view digit_pattern_seed = R"({"id":"","name":"","pattern":"1XXX","action":"ALLOW","transferEnabled":false})";
constexpr std::string_view dect_network_seed =
    R"({"id":"","name":"","displayName":"","chainId":1,"model":"DMS Cisco DBS110","defaultAccessCodeEnabled":false})";
constexpr std::string_view base_station_seed = R"({"id":"","name":"","mac":"00:1A:2B:3C:4D:5E"})";
constexpr std::string_view handset_seed = R"({"id":"","name":"","displayName":"","accessCode":"1234","lines":[]})";
constexpr std::string_view directory_seed = R"({"id":"","name":"","contacts":[]})";
constexpr std::string_view ai_receptionist_seed = R"({"id":"","name":"","enabled":true,"languageCode":"en_us","voice":"default"})";
constexpr std::string_view intent_seed = R"({"id":"","name":"","description":"","action":"TRANSFER"})";

const std::vector<kind_def>& kind_table() {
  using enum id_style;
  using enum put_answer;
  using enum list_style;
  // clang-format off
  static const std::vector<kind_def> table = {
    //collection                                           kind                    IDs               PUT          list key                L list     org list   ID type                            label                    seed (, created key, listed as)
    {"callParks",                                          "callParks",            from_name,        with_id,     "callParks",            paged,     unlisted,  "CALL_PARK",                       "Call Park",             call_park_seed},
    {"callPickups",                                        "callPickups",          from_name,        with_id,     "callPickups",          paged,     unlisted,  "CALL_PICKUP",                     "Call Pickup",           call_pickup_seed},
    {"schedules/{type}",                                   "schedules",            from_name,        with_id,     "schedules",            paged,     unlisted,  "SCHEDULE",                        "Schedule",              schedule_seed},
    {"schedules/{type}/{id}/events",                       "events",               from_name,        with_id,     "events",               unlisted,  unlisted,  "SCHEDULE_EVENT",                  "Schedule Event",        schedule_event_seed,       "id",             "events"},
    {"autoAttendants",                                     "autoAttendants",       serial,           no_content,  "autoAttendants",       unlisted,  paged,     "AUTO_ATTENDANT",                  "Auto Attendant",        auto_attendant_seed},
    {"huntGroups",                                         "huntGroups",           serial,           no_content,  "huntGroups",           unlisted,  paged,     "HUNT_GROUP",                      "Hunt Group",            hunt_group_seed},
    {"queues",                                             "queues",               serial,           no_content,  "queues",               unlisted,  paged,     "CALL_QUEUE",                      "Call Queue",            queue_seed},
    {"autoAttendants/{id}/callForwarding/selectiveRules",  "selectiveRules",       from_name,        with_id,     "rules",                unlisted,  unlisted,  "CALL_FORWARDING_SELECTIVE_RULE",  "Call Forwarding Rule",  selective_rule_seed,       "id",             "callForwarding.rules"},
    {"huntGroups/{id}/callForwarding/selectiveRules",      "selectiveRules",       from_name,        with_id,     "rules",                unlisted,  unlisted,  "CALL_FORWARDING_SELECTIVE_RULE",  "Call Forwarding Rule",  selective_rule_seed,       "id",             "callForwarding.rules"},
    {"queues/{id}/callForwarding/selectiveRules",          "selectiveRules",       from_name,        with_id,     "rules",                unlisted,  unlisted,  "CALL_FORWARDING_SELECTIVE_RULE",  "Call Forwarding Rule",  selective_rule_seed,       "id",             "callForwarding.rules"},
    // Paging groups keep the location-scoped list the fake has always answered.
    {"paging",                                             "paging",               cycling_padding,  no_content,  "locationPaging",       paged,     paged,     "PAGING_GROUP",                    "Paging Group",          paging_group_seed},
    {"voicemailGroups",                                    "voicemailGroups",      serial,           no_content,  "voicemailGroups",      unlisted,  paged,     "VOICEMAIL_GROUP",                 "Voicemail Group",       voicemail_group_seed},
    {"callParkExtensions",                                 "callParkExtensions",   serial,           no_content,  "callParkExtensions",   unlisted,  paged,     "CALL_PARK_EXTENSION",             "Call Park Extension",   call_park_extension_seed},
    {"announcements",                                      "announcements",        serial,           no_content,  "announcements",        unlisted,  unlisted,  "ANNOUNCEMENT",                    "Announcement",          announcement_seed},
    {"callRouting/translationPatterns",                    "translationPatterns",  serial,           no_content,  "translationPatterns",  unlisted,  unlisted,  "TRANSLATION_PATTERN",             "Translation Pattern",   translation_pattern_seed},
    {"outgoingPermission/digitPatterns",                   "digitPatterns",        serial,           no_content,  "digitPatterns",        unpaged,   unlisted,  "DIGIT_PATTERN",                   "Digit Pattern",         digit_pattern_seed},
    {"dectNetworks",                                       "dectNetworks",         serial,           no_content,  "dectNetworks",         unlisted,  unpaged,   "DECT_NETWORK",                    "DECT Network",          dect_network_seed,         "dectNetworkId"},
    {"dectNetworks/{id}/baseStations",                     "baseStations",         serial,           no_put,      "baseStations",         unpaged,   unlisted,  "DECT_BASE_STATION",               "Base Station",          base_station_seed},
    {"dectNetworks/{id}/handsets",                         "handsets",             serial,           no_content,  "handsets",             unpaged,   unlisted,  "DECT_HANDSET",                    "Handset",               handset_seed},
    {"receptionistContacts/directories",                   "directories",          serial,           with_id,     "directories",          unpaged,   unlisted,  "RECEPTIONIST_CONTACT_DIRECTORY",  "Directory",             directory_seed},
    {"aiReceptionists",                                    "aiReceptionists",      serial,           no_content,  "aiReceptionists",      unlisted,  unlisted,  "AI_RECEPTIONIST",                 "AI Receptionist",       ai_receptionist_seed},
    {"aiReceptionists/{id}/intents",                       "intents",              serial,           no_content,  "intents",              unpaged,   unlisted,  "AI_RECEPTIONIST_INTENT",          "Intent",                intent_seed},
  };
  // clang-format on
  return table;
}

constexpr std::string_view schedule_types[] = {"businessHours", "holidays"};

bool is_schedule_type(std::string_view s) {
  return std::find(std::begin(schedule_types), std::end(schedule_types), s) != std::end(schedule_types);
}

// ---- settings documents and read-only answers --------------------------------------------------

// A settings document: one per location, or per item for the paths below an item. GET answers
// it, PUT merges top-level members and answers 204.
struct settings_def {
  std::string_view path;  // pattern below L
  std::string_view seed;  // the document before any PUT
};

constexpr std::string_view forwarding_seed =
    R"({"callForwarding":{"always":{"enabled":false,"destination":"","ringReminderEnabled":false,"sendToVoicemailEnabled":false},"selective":{"enabled":false,"destination":"","ringReminderEnabled":false,"sendToVoicemailEnabled":false},"rules":[]}})";

const std::vector<settings_def>& settings_table() {
  // clang-format off
  static const std::vector<settings_def> table = {
    {"intercept", R"({"enabled":false,"incoming":{"type":"INTERCEPT_ALL","voicemailEnabled":false,"announcements":{"greeting":"DEFAULT","newNumber":{"enabled":false},"zeroTransfer":{"enabled":false}}},"outgoing":{"type":"INTERCEPT_ALL","transferEnabled":false}})"},
    {"internalDialing", R"({"enableUnknownExtensionRoutePolicy":false})"},
    {"musicOnHold", R"({"callHoldEnabled":true,"callParkEnabled":true,"greeting":"DEFAULT"})"},
    {"voicemail", R"({"voicemailTranscriptionEnabled":false})"},
    {"voicePortal", R"({"name":"Voice Portal","languageCode":"en_us","extension":"8001","phoneNumber":"","firstName":"Voice","lastName":"Portal"})"},
    {"callCaptions", R"({"locationClosedCaptionsEnabled":false,"locationTranscriptsEnabled":false,"orgClosedCaptionsEnabled":false,"orgTranscriptsEnabled":false,"useOrgSettingsEnabled":true})"},
    {"privateNetworkConnect", R"({"networkConnectionType":"PUBLIC_INTERNET"})"},
    {"outgoingPermission", R"({"callingPermissions":[{"callType":"INTERNAL_CALL","action":"ALLOW","transferEnabled":true},{"callType":"NATIONAL","action":"ALLOW","transferEnabled":true},{"callType":"INTERNATIONAL","action":"BLOCK","transferEnabled":false}]})"},
    {"outgoingPermission/accessCodes", R"({"accessCodes":[]})"},
    {"outgoingPermission/autoTransferNumbers", R"({"autoTransferNumber1":"","autoTransferNumber2":"","autoTransferNumber3":""})"},
    {"emergencyCallNotification", R"({"emergencyCallNotificationEnabled":false,"allowEmailNotificationAllLocationEnabled":false,"emailAddress":""})"},
    {"features/emergencyCallbackNumber", R"({"selected":"LOCATION_NUMBER","locationInfo":{"phoneNumber":"+15558675300","name":"Main Line"}})"},
    {"features/hotDesking", R"({"voicePortalHotDeskSignInEnabled":false})"},
    {"callParks/settings", R"({"callParkRecall":{"option":"ALERT_PARKING_USER_ONLY"},"callParkSettings":{"ringPattern":"NORMAL","recallTime":45,"huntWaitTime":45}})"},
    {"callRecording/announcements", R"({"recordingStartedAnnouncementEnabled":false,"recordingPausedResumedAnnouncementEnabled":false})"},
    {"callRecording/complianceAnnouncement", R"({"inboundPSTNCallsEnabled":false,"useOrgSettingsEnabled":true,"outboundPSTNCallsEnabled":false,"outboundPSTNCallsDelayEnabled":false,"delayInSeconds":10})"},
    {"autoAttendants/{id}/callForwarding", forwarding_seed},
    {"huntGroups/{id}/callForwarding", forwarding_seed},
    {"queues/{id}/callForwarding", forwarding_seed},
    {"queues/{id}/forcedForward", R"({"forcedForwardEnabled":false,"transferPhoneNumber":"","playAnnouncementBeforeEnabled":false,"audioMessageSelection":"DEFAULT"})"},
    {"queues/{id}/holidayService", R"({"holidayServiceEnabled":false,"action":"BUSY","holidayScheduleLevel":"LOCATION","holidayScheduleName":"","transferPhoneNumber":"","playAnnouncementBeforeEnabled":false})"},
    {"queues/{id}/nightService", R"({"nightServiceEnabled":false,"action":"BUSY","transferPhoneNumber":"","playAnnouncementBeforeEnabled":false,"announcementMode":"NORMAL","businessHoursName":"","businessHoursLevel":"LOCATION","forceNightServiceEnabled":false})"},
    {"queues/{id}/strandedCalls", R"({"action":"NONE","transferPhoneNumber":"","audioMessageSelection":"DEFAULT"})"},
    {"queues/{id}/dnis/settings", R"({"dnisEnabled":false,"displayDnisNameEnabled":false,"priorityPromotionEnabled":false})"},
  };
  // clang-format on
  return table;
}

// A read-only answer (GET only): {"route","method","locationId","orgId", <members>}.
struct answer_def {
  std::string_view path;     // pattern below L ("{id}" matches any ID; the item need not exist)
  std::string_view kind;     // for token_spec::kinds: the kind it sits beside, else "settings"
  std::string_view members;  // the rest of the body
};

const std::vector<answer_def>& answer_table() {
  constexpr std::string_view numbers = R"("phoneNumbers":[])";
  // clang-format off
  static const std::vector<answer_def> table = {
    {"callParks/availableUsers", "callParks", R"("agents":[])"},
    {"callParks/availableRecallHuntGroups", "callParks", R"("huntGroups":[])"},
    {"callPickups/availableUsers", "callPickups", R"("agents":[])"},
    {"availableNumbers", "settings", numbers},
    {"autoAttendants/availableNumbers", "autoAttendants", numbers},
    {"autoAttendants/alternate/availableNumbers", "autoAttendants", numbers},
    {"autoAttendants/callForwarding/availableNumbers", "autoAttendants", numbers},
    {"callIntercept/availableNumbers", "settings", numbers},
    {"chargeNumber/availableNumbers", "settings", numbers},
    {"emergencyCallbackNumber/availableNumbers", "settings", numbers},
    {"externalCallerId/availableNumbers", "settings", numbers},
    {"huntGroups/availableNumbers", "huntGroups", numbers},
    {"huntGroups/alternate/availableNumbers", "huntGroups", numbers},
    {"huntGroups/callForwarding/availableNumbers", "huntGroups", numbers},
    {"operatingModes/callForwarding/availableNumbers", "settings", numbers},
    {"paging/availableNumbers", "paging", numbers},
    {"queues/availableNumbers", "queues", numbers},
    {"queues/alternate/availableNumbers", "queues", numbers},
    {"queues/callForwarding/availableNumbers", "queues", numbers},
    {"queues/dnis/availableNumbers", "queues", numbers},
    {"singleNumberReach/availableNumbers", "settings", numbers},
    {"voicePortal/availableNumbers", "settings", numbers},
    {"voicemailGroups/availableNumbers", "voicemailGroups", numbers},
    {"voicemailGroups/faxMessage/availableNumbers", "voicemailGroups", numbers},
    {"webexGo/availableNumbers", "settings", numbers},
    {"aiReceptionists/availableNumbers", "aiReceptionists", numbers},
    {"aiReceptionists/voices", "aiReceptionists", R"("voices":[])"},
    {"announcements/usage", "announcements",
     R"("totalFileSizeUsedKB":0,"maxAudioFileSizeAllowedKB":9600,"maxVideoFileSizeAllowedKB":120000,"totalFileSizeLimitMB":1000)"},
    {"redSky/status", "settings", R"("companyId":"","complianceStatus":"ROUTING_ENABLED")"},
    {"callRecording/vendorUsers", "settings", R"("members":[])"},
    {"dectNetworks/{id}/serviceabilityPassword", "settings", R"("enabled":false)"},
  };
  // clang-format on
  return table;
}

// ---- the tables, resolved once ------------------------------------------------------------------

using pattern = std::vector<std::string_view>;

struct kind_info {
  const kind_def* def = nullptr;
  pattern collection;        // as in the table
  pattern http_collection;   // where GET lists and POST creates: `collection` without a "{type}"
  pattern item;              // collection + "{id}"
  std::size_t placeholders = 0;  // in `collection`
  bool typed = false;            // `collection` ends with "{type}"
  std::optional<std::size_t> parent;         // the kind of the item the collection sits under
  std::optional<std::size_t> shown_in_settings;  // listed_as names a member of this settings document
};

struct settings_info {
  pattern path;
  std::optional<std::size_t> parent;  // the kind of the item the document belongs to
};

struct model {
  std::vector<kind_info> kinds;
  std::vector<settings_info> settings;  // as settings_table()
  std::vector<pattern> answers;         // as answer_table()
};

std::size_t count_placeholders(const pattern& p) {
  auto is_placeholder = [](std::string_view s) { return s.starts_with('{'); };
  return static_cast<std::size_t>(std::count_if(p.begin(), p.end(), is_placeholder));
}

// The kind whose items the pattern's part up to its last "{id}" names.
std::optional<std::size_t> parent_kind(const std::vector<kind_info>& kinds, const pattern& p) {
  auto last = std::find(p.rbegin(), p.rend(), "{id}");
  if (last == p.rend()) return std::nullopt;
  const pattern prefix(p.begin(), last.base());
  for (std::size_t k = 0; k < kinds.size(); ++k) {
    if (kinds[k].item == prefix) return k;
  }
  throw std::logic_error("fake_webex: no kind is the parent of a route");
}

const model& the_model() {
  static const model m = [] {
    model out;
    for (const auto& def : kind_table()) {
      kind_info k;
      k.def = &def;
      k.collection = split_path(def.collection);
      k.typed = k.collection.back() == "{type}";
      k.http_collection = k.collection;
      if (k.typed) k.http_collection.pop_back();
      k.item = k.collection;
      k.item.push_back("{id}");
      k.placeholders = count_placeholders(k.collection);
      out.kinds.push_back(std::move(k));
    }
    for (const auto& def : settings_table()) {
      auto path = split_path(def.path);
      out.settings.push_back({path, parent_kind(out.kinds, path)});
    }
    for (auto& k : out.kinds) {
      k.parent = parent_kind(out.kinds, k.collection);
      if (k.def->listed_as.empty()) continue;
      const pattern home(k.collection.begin(), k.collection.end() - 1);
      for (std::size_t s = 0; s < out.settings.size(); ++s) {
        if (out.settings[s].path == home) k.shown_in_settings = s;
      }
      if (!k.shown_in_settings && (!k.parent || out.kinds[*k.parent].item != home))
        throw std::logic_error("fake_webex: a kind is listed in a document that does not exist");
    }
    for (const auto& def : answer_table()) out.answers.push_back(split_path(def.path));
    return out;
  }();
  return m;
}

// Whether `path` matches the pattern; the placeholders' values go to `caps`, in order.
bool match(const pattern& p, const std::vector<std::string>& path, std::vector<std::string>& caps) {
  caps.clear();
  if (p.size() != path.size()) return false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == "{id}") {
      caps.push_back(path[i]);
    } else if (p[i] == "{type}") {
      if (!is_schedule_type(path[i])) return false;
      caps.push_back(path[i]);
    } else if (p[i] != path[i]) {
      return false;
    }
  }
  return true;
}

// What a path below L names.
enum class route_type { location, settings, answer, collection, item };

struct route {
  route_type type = route_type::location;
  std::size_t index = 0;          // into the kinds, the settings or the answers
  std::vector<std::string> caps;  // the placeholders' values
};

std::optional<route> match_route(const std::vector<std::string>& rel) {
  const model& m = the_model();
  route r;
  if (rel.empty()) return r;
  // Named routes first: "callParks/settings" is not a call park called "settings".
  for (std::size_t i = 0; i < m.settings.size(); ++i) {
    if (match(m.settings[i].path, rel, r.caps)) return route{route_type::settings, i, std::move(r.caps)};
  }
  for (std::size_t i = 0; i < m.answers.size(); ++i) {
    if (match(m.answers[i], rel, r.caps)) return route{route_type::answer, i, std::move(r.caps)};
  }
  for (std::size_t i = 0; i < m.kinds.size(); ++i) {
    if (match(m.kinds[i].http_collection, rel, r.caps)) return route{route_type::collection, i, std::move(r.caps)};
  }
  for (std::size_t i = 0; i < m.kinds.size(); ++i) {
    if (match(m.kinds[i].item, rel, r.caps)) return route{route_type::item, i, std::move(r.caps)};
  }
  return std::nullopt;
}

// Whether the fake models this method on the route (the others are echoed).
bool route_has_method(const route& r, std::string_view method) {
  const bool read = method == "GET" || method == "HEAD";
  switch (r.type) {
    case route_type::location:
    case route_type::settings: return read || method == "PUT";
    case route_type::answer: return read;
    case route_type::collection:
      return method == "POST" || (read && the_model().kinds[r.index].def->location_list != list_style::unlisted);
    case route_type::item:
      return read || method == "DELETE" ||
             (method == "PUT" && the_model().kinds[r.index].def->put != put_answer::no_put);
  }
  return false;
}

// The kind token_spec::kinds names the route by.
std::string_view route_kind_name(const route& r) {
  switch (r.type) {
    case route_type::location: return "locations";
    case route_type::settings: return "settings";
    case route_type::answer: return answer_table()[r.index].kind;
    case route_type::collection:
    case route_type::item: return the_model().kinds[r.index].def->kind;
  }
  return {};
}

// The kind whose org-wide list is GET /v1/telephony/config/<segment>.
std::optional<std::size_t> org_list_kind(std::string_view segment) {
  const model& m = the_model();
  for (std::size_t k = 0; k < m.kinds.size(); ++k) {
    if (m.kinds[k].def->org_list != list_style::unlisted && m.kinds[k].collection == pattern{segment}) return k;
  }
  return std::nullopt;
}

// A UUID-shaped value, the same for the same n on every run.
std::string serial_value(std::uint64_t n) {
  std::uint64_t h = (n + 0x51ed27u) * 0x9E3779B97F4A7C15ull;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-9%03x-%012llx", static_cast<unsigned>(h >> 32),
                static_cast<unsigned>((h >> 16) & 0xffff), static_cast<unsigned>(h & 0xfff),
                static_cast<unsigned>((h >> 44) & 0xfff), static_cast<unsigned long long>(n));
  return buf;
}

// ---- the world ---------------------------------------------------------------------------------

struct item {
  std::uint64_t uid = 0;      // stays across renames; what children name their parent by
  std::size_t kind = 0;       // into the_model().kinds
  std::string id;             // as generated (with any padding)
  std::string location_key;   // the location's ID without padding
  std::uint64_t parent = 0;   // the parent item's uid; 0 directly under the location
  std::string type;           // schedules: businessHours or holidays
  std::string name;
  field_list fields;          // the body, in order; "id", "name" and "type" are rendered from the members above
};

struct location_rec {
  std::string id;
  std::string org_id;
  std::string org_key;
  std::string name;
  field_list calling;  // the Webex Calling details (GET L), without "id" and "name"
  field_list common;   // the common locations API's (GET /v1/locations/{L}), without "id", "name" and "orgId"
};

constexpr std::string_view location_calling_seed =
    R"({"announcementLanguage":"en_us","callingLineId":{"name":"Main Line","phoneNumber":"+15558675300"},"connection":{"type":"TRUNK","id":"Y2lzY29zcGFyazovL3VzL1RSVU5LL2M1MGIxYjc1LTE5MWQtNDgxYy1hMTc2LTgzZTY3NjlmNmQ1Zg"},"externalCallerIdName":"Main Line","userLimit":500000,"pAccessNetworkInfo":"","outsideDialDigit":"9","enforceOutsideDialDigit":false,"routingPrefix":"","chargeNumber":"+15558675300","defaultDomain":"98765432.int10.bcld.webex.com","e911SetupRequired":false,"useChargeNumberForPChargeInfo":false})";
constexpr std::string_view location_common_seed =
    R"({"timeZone":"America/Chicago","preferredLanguage":"en_us","address":{"address1":"771 Alder Drive","address2":"","city":"Milpitas","state":"CA","postalCode":"95035","country":"US"},"latitude":"37.4331","longitude":"-121.9025","notes":""})";

}  // namespace

std::string webex_id(std::string_view type, std::string_view value) {
  std::string plain = "ciscospark://us/";
  plain += type;
  plain += '/';
  plain += value;
  return base64(plain);
}

std::string strip_padding(std::string_view id) {
  while (!id.empty() && id.back() == '=') id.remove_suffix(1);
  return std::string(id);
}

std::string call_park_path(std::string_view location_id, std::string_view call_park_id) {
  return std::string(telephony_locations_prefix) + std::string(location_id) + "/callParks/" + std::string(call_park_id);
}

std::string paging_path(std::string_view location_id, std::string_view paging_id) {
  return std::string(telephony_locations_prefix) + std::string(location_id) + "/paging/" + std::string(paging_id);
}

std::string item_path(std::string_view location_id, std::string_view collection_path, std::string_view id) {
  return location_path(location_id, std::string(collection_path) + "/" + std::string(id));
}

std::string location_path(std::string_view location_id, std::string_view sub_path) {
  std::string out = std::string(telephony_locations_prefix) + std::string(location_id);
  if (!sub_path.empty()) out += "/" + std::string(sub_path);
  return out;
}

struct fake_webex::impl {
  // World and records, guarded by mutex_.
  mutable std::mutex mutex_;
  std::set<std::string> orgs_;                      // org IDs without padding
  std::map<std::string, location_rec> locations_;   // key: location ID without padding
  std::map<std::string, token_spec> tokens_;        // key: the token
  std::vector<item> items_;                         // in creation order
  std::map<std::string, field_list> settings_;      // key: location key, settings index, parent uid
  std::uint64_t uid_counter_ = 0;
  std::uint64_t serial_counter_ = 0;
  std::uint64_t paging_counter_ = 0;
  std::uint64_t locations_added_ = 0;
  std::vector<recorded_request> requests_;
  std::function<std::optional<scripted_response>(const recorded_request&)> interceptor_;
  std::chrono::milliseconds response_delay_{0};
  std::vector<std::pair<std::string, std::string>> holds_;  // (method or "", path part), once each
  std::vector<std::shared_ptr<net::steady_timer>> held_;

  // The parsed seed bodies: of each kind (as the_model().kinds), of each settings document (as
  // settings_table()) and of a location's two documents.
  std::vector<field_list> seed_fields_;
  std::vector<field_list> settings_seeds_;
  field_list location_calling_fields_;
  field_list location_common_fields_;
  std::atomic<std::uint64_t> tracking_counter_{0};
  std::atomic<std::size_t> accepted_{0};

  options options_;
  std::optional<ssl::context> ssl_ctx_;
  // The open connections; touched only on the server thread.
  std::map<std::uint64_t, beast::tcp_stream*> live_;
  std::uint64_t next_connection_ = 0;

  // Declared after everything a pending session refers to, so that sessions (destroyed with the
  // io_context) never outlive what they use.
  net::io_context ioc_{1};
  tcp::acceptor acceptor_{ioc_};
  std::uint16_t port_ = 0;
  std::thread thread_;

  explicit impl(options o) : options_(std::move(o)) {
    auto parse_seed = [](std::string_view seed) {
      auto fields = top_level_fields(seed);
      if (!fields) throw std::logic_error("fake_webex: an embedded seed body does not parse");
      return std::move(*fields);
    };
    for (const auto& k : the_model().kinds) seed_fields_.push_back(parse_seed(k.def->seed));
    for (const auto& s : settings_table()) settings_seeds_.push_back(parse_seed(s.seed));
    location_calling_fields_ = parse_seed(location_calling_seed);
    location_common_fields_ = parse_seed(location_common_seed);

    if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
      if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
        throw std::invalid_argument("fake_webex: TLS needs both a certificate and a key file");
      }
      ssl_ctx_.emplace(ssl::context::tls_server);
      ssl_ctx_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3);
      ssl_ctx_->use_certificate_chain_file(options_.tls_cert_file);
      ssl_ctx_->use_private_key_file(options_.tls_key_file, ssl::context::pem);
    }

    auto address = options_.host == "localhost" ? net::ip::make_address("127.0.0.1")
                                                : net::ip::make_address(options_.host);
    tcp::endpoint endpoint{address, options_.port};
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
    port_ = acceptor_.local_endpoint().port();

    net::co_spawn(ioc_, accept_loop(), net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }

  ~impl() {
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string next_tracking_id() { return "ROUTER_" + std::to_string(++tracking_counter_); }

  // ---- the server --------------------------------------------------------------------------

  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(net::as_tuple(net::use_awaitable));
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor_.is_open()) co_return;
        // E.g. out of file descriptors: pause instead of spinning.
        net::steady_timer pause(ioc_, std::chrono::milliseconds(10));
        co_await pause.async_wait(net::as_tuple(net::use_awaitable));
        continue;
      }
      ++accepted_;
      if (ssl_ctx_) {
        net::co_spawn(ioc_, tls_session(std::move(socket)), net::detached);
      } else {
        net::co_spawn(ioc_, plain_session(std::move(socket)), net::detached);
      }
    }
  }

  // Keeps a connection in live_ for as long as its session runs.
  struct live_guard {
    impl& self;
    std::uint64_t id;
    live_guard(impl& s, beast::tcp_stream& stream) : self(s), id(++s.next_connection_) { self.live_[id] = &stream; }
    ~live_guard() { self.live_.erase(id); }
    live_guard(const live_guard&) = delete;
    live_guard& operator=(const live_guard&) = delete;
  };

  net::awaitable<void> plain_session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    live_guard guard(*this, stream);
    bool graceful = co_await serve(stream);
    beast::error_code ec;
    if (graceful) stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.close();
  }

  net::awaitable<void> tls_session(tcp::socket socket) {
    ssl::stream<beast::tcp_stream> stream(std::move(socket), *ssl_ctx_);
    live_guard guard(*this, beast::get_lowest_layer(stream));
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, net::as_tuple(net::use_awaitable));
    if (hec) co_return;
    bool graceful = co_await serve(stream);
    if (graceful) {
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
      co_await stream.async_shutdown(net::as_tuple(net::use_awaitable));
    }
    beast::get_lowest_layer(stream).close();
  }

  // Serves requests on one connection until it should close; returns whether to close gracefully.
  template <class Stream>
  net::awaitable<bool> serve(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(1024 * 1024);
      parser.body_limit(64 * 1024 * 1024);
      beast::get_lowest_layer(stream).expires_after(std::chrono::minutes(5));
      auto [rec, rn] = co_await http::async_read(stream, buffer, parser, net::as_tuple(net::use_awaitable));
      if (rec) co_return rec == http::error::end_of_stream;
      const auto& req = parser.get();

      recorded_request r = record(req);
      scripted_response answer = respond(r);
      co_await hold_if_asked(r);

      if (answer.delay.count() > 0) {
        net::steady_timer timer(co_await net::this_coro::executor);
        timer.expires_after(answer.delay);
        co_await timer.async_wait(net::as_tuple(net::use_awaitable));
      }
      if (answer.close_without_answer) co_return false;
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
      if (!answer.raw.empty()) {
        auto [rec, rn] = co_await net::async_write(stream, net::buffer(answer.raw),
                                                   net::as_tuple(net::use_awaitable));
        if (answer.keep_open && !rec) continue;
        co_return true;
      }

      http::response<http::string_body> res = build_response(req, std::move(answer));
      bool keep_alive = res.keep_alive();
      auto [wec, wn] = co_await http::async_write(stream, res, net::as_tuple(net::use_awaitable));
      if (wec) co_return false;
      if (!keep_alive) co_return true;
    }
  }

  // A request matching a hold waits, its answer already decided, until release_held().
  net::awaitable<void> hold_if_asked(const recorded_request& r) {
    std::shared_ptr<net::steady_timer> timer;
    auto ex = co_await net::this_coro::executor;
    {
      std::lock_guard lock(mutex_);
      bool match = false;
      for (auto it = holds_.begin(); it != holds_.end(); ++it)
        if ((it->first.empty() || it->first == r.method) &&
            r.path.find(it->second) != std::string::npos) {
          holds_.erase(it);
          match = true;
          break;
        }
      if (!match) co_return;
      timer = std::make_shared<net::steady_timer>(ex);
      timer->expires_after(std::chrono::minutes(2));
      held_.push_back(timer);
    }
    co_await timer->async_wait(net::as_tuple(net::use_awaitable));
  }

  recorded_request record(const http::request<http::string_body>& req) {
    recorded_request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.path = r.target.substr(0, r.target.find('?'));
    for (const auto& f : req) {
      r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      if (r.authorization.empty() && f.name() == http::field::authorization) r.authorization = std::string(f.value());
      if (r.tracking_id.empty() && iequals(f.name_string(), "TrackingID")) r.tracking_id = std::string(f.value());
    }
    r.body = req.body();
    std::lock_guard lock(mutex_);
    requests_.push_back(r);
    return r;
  }

  scripted_response respond(const recorded_request& r) {
    std::function<std::optional<scripted_response>(const recorded_request&)> interceptor;
    {
      std::lock_guard lock(mutex_);
      interceptor = interceptor_;
    }
    if (interceptor) {
      try {
        if (auto scripted = interceptor(r)) return std::move(*scripted);
      } catch (const std::exception& e) {
        return webex_error(500, std::string("fake_webex interceptor threw: ") + e.what(), next_tracking_id());
      }
    }
    std::lock_guard lock(mutex_);
    auto answer = handle(r);
    answer.delay = response_delay_;
    return answer;
  }

  http::response<http::string_body> build_response(const http::request<http::string_body>& req,
                                                   scripted_response answer) {
    http::response<http::string_body> res;
    res.version(req.version());
    res.result(answer.status);
    res.keep_alive(req.keep_alive());
    if (has_header(answer.headers, "Connection")) res.erase(http::field::connection);
    for (const auto& [name, value] : answer.headers) res.insert(name, value);
    if (!has_header(answer.headers, "trackingid")) res.set("trackingid", next_tracking_id());
    if (!answer.body.empty() && !has_header(answer.headers, "Content-Type")) {
      res.set(http::field::content_type, json_content_type);
    }
    bool no_body = answer.status / 100 == 1 || answer.status == 204 || answer.status == 304;
    if (no_body) {
      // Nothing to send and no Content-Length.
    } else if (req.method() == http::verb::head) {
      res.content_length(answer.body.size());
    } else {
      res.body() = std::move(answer.body);
      res.prepare_payload();
    }
    return res;
  }

  // ---- the Webex model (called with mutex_ held) ----------------------------------------------

  location_rec* find_location(const std::string& id) {
    auto it = locations_.find(strip_padding(id));
    return it == locations_.end() ? nullptr : &it->second;
  }
  const location_rec* find_location(const std::string& id) const {
    auto it = locations_.find(strip_padding(id));
    return it == locations_.end() ? nullptr : &it->second;
  }

  // The uid of the item a collection of kind k sits under (0: the location itself), from the
  // collection's placeholder values; nullopt if it does not exist, with `missing` set to the kind
  // that was not found.
  std::optional<std::uint64_t> find_parent(std::size_t k, const std::string& location_key,
                                           std::span<const std::string> caps, std::size_t& missing) {
    const auto& parent = the_model().kinds[k].parent;
    if (!parent) return 0;
    const std::size_t n = the_model().kinds[*parent].placeholders + 1;
    item* p = find_item(*parent, location_key, caps.first(n), missing);
    if (!p) return std::nullopt;
    return p->uid;
  }

  // The item of kind k named by its collection's placeholder values followed by its ID.
  item* find_item(std::size_t k, const std::string& location_key, std::span<const std::string> caps,
                  std::size_t& missing) {
    const kind_info& info = the_model().kinds[k];
    auto parent = find_parent(k, location_key, caps.first(info.placeholders), missing);
    if (!parent) return nullptr;
    const std::string type = info.typed ? caps[info.placeholders - 1] : std::string();
    const std::string key = strip_padding(caps.back());
    for (auto& it : items_) {
      if (it.kind == k && it.location_key == location_key && it.parent == *parent && it.type == type &&
          strip_padding(it.id) == key)
        return &it;
    }
    missing = k;
    return nullptr;
  }

  bool name_taken(std::size_t k, const std::string& location_key, std::uint64_t parent, const std::string& type,
                  const std::string& name, const item* except) const {
    return std::any_of(items_.begin(), items_.end(), [&](const item& it) {
      return &it != except && it.kind == k && it.location_key == location_key && it.parent == parent &&
             it.type == type && it.name == name;
    });
  }

  std::string new_paging_id() {
    // Shaped like Webex's: base64 of a mailbox-like value. Its length is tuned so that the
    // padding of successive IDs cycles through none, "=" and "==".
    ++paging_counter_;
    const std::size_t want_padding = (paging_counter_ + 2) % 3;
    std::string id;
    for (std::size_t extra = 0; extra < 3; ++extra) {
      std::string mailbox = "pg" + std::to_string(paging_counter_ * 7919 % 100000) + "x" + std::string(extra, 'q') +
                            "@" + std::to_string(64941297 + paging_counter_) + ".int10.bcld.webex.com";
      id = webex_id("PAGING_GROUP", strip_padding(base64(mailbox)));
      if (id.size() - strip_padding(id).size() == want_padding) break;
    }
    return id;
  }

  std::string new_id(std::size_t k, const std::string& name) {
    const kind_def& def = *the_model().kinds[k].def;
    switch (def.ids) {
      case id_style::from_name: return webex_id(def.id_type, strip_padding(base64(name)));  // as Webex does
      case id_style::serial: return webex_id(def.id_type, serial_value(++serial_counter_));
      case id_style::cycling_padding: return new_paging_id();
    }
    return {};
  }

  std::string create(std::size_t k, const location_rec& loc, std::uint64_t parent, const std::string& type,
                     const std::string& name, const field_list& extra) {
    item it;
    it.uid = ++uid_counter_;
    it.kind = k;
    it.location_key = strip_padding(loc.id);
    it.parent = parent;
    it.type = type;
    it.name = name;
    it.fields = seed_fields_[k];
    merge_fields(it.fields, extra);
    it.id = new_id(k, name);
    items_.push_back(std::move(it));
    return items_.back().id;
  }

  // Removes the item and everything under it.
  void erase_item(std::uint64_t uid) {
    std::set<std::uint64_t> gone{uid};
    for (bool grew = true; grew;) {
      grew = false;
      for (const auto& it : items_) {
        if (gone.count(it.parent) && gone.insert(it.uid).second) grew = true;
      }
    }
    std::erase_if(items_, [&](const item& it) { return gone.count(it.uid) > 0; });
  }

  // The items of kind k under `parent`, each rendered whole, as a JSON array.
  std::string children(std::size_t k, std::uint64_t parent) const {
    std::string out = "[";
    for (const auto& it : items_) {
      if (it.kind != k || it.parent != parent) continue;
      if (out.size() > 1) out += ',';
      out += render(it);
    }
    return out + "]";
  }

  std::string render(const item& it) const {
    const model& m = the_model();
    field_list fields = it.fields;
    set_member(fields, "id", json_string(it.id));
    set_member(fields, "name", json_string(it.name));
    if (m.kinds[it.kind].typed) set_member(fields, "type", json_string(it.type));
    for (std::size_t c = 0; c < m.kinds.size(); ++c) {
      const kind_info& child = m.kinds[c];
      if (child.parent == it.kind && !child.def->listed_as.empty() && !child.shown_in_settings)
        set_member_path(fields, child.def->listed_as, children(c, it.uid));
    }
    return render_object(fields);
  }

  // An entry of a list: its ID and name (and a schedule's type; and where it is, in org-wide lists).
  std::string list_entry(const item& it, const location_rec* loc) const {
    std::string out = "{\"id\":" + json_string(it.id) + ",\"name\":" + json_string(it.name);
    if (the_model().kinds[it.kind].typed) out += ",\"type\":" + json_string(it.type);
    if (loc) out += ",\"locationId\":" + json_string(loc->id) + ",\"locationName\":" + json_string(loc->name);
    return out + "}";
  }

  field_list& settings_doc(std::size_t s, const std::string& location_key, std::uint64_t parent) {
    auto key = location_key + "/" + std::to_string(s) + "/" + std::to_string(parent);
    return settings_.try_emplace(std::move(key), settings_seeds_[s]).first->second;
  }

  scripted_response echo(const recorded_request& r, const boost::urls::url_view& url) {
    return json_response(200, "{\"method\":" + json_string(r.method) + ",\"path\":" + json_string(url.encoded_path()) +
                                  ",\"query\":" + json_string(url.encoded_query()) + ",\"body\":" + json_string(r.body) +
                                  "}");
  }

  std::string origin() const {
    std::string host = options_.host == "localhost" ? "127.0.0.1" : options_.host;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return (ssl_ctx_ ? "https://" : "http://") + host + ":" + std::to_string(port_);
  }

  // One request while handle() decides its answer.
  struct request_ctx {
    const recorded_request& r;
    boost::urls::url_view url;
    std::string tid;
    const token_spec* token = nullptr;

    scripted_response ok(scripted_response res) const {
      res.headers.emplace_back("trackingid", tid);
      return res;
    }
    scripted_response error(unsigned status, std::string_view message) const {
      return ok(webex_error(status, message, tid));
    }
    bool read() const { return r.method == "GET" || r.method == "HEAD"; }
    std::optional<std::string> param(std::string_view name) const {
      auto it = url.params().find(name);
      if (it == url.params().end()) return std::nullopt;
      return std::string((*it).value);
    }
  };

  static bool name_matches(const std::string& name, const std::optional<std::string>& filter) {
    return !filter || lower(name).find(lower(*filter)) != std::string::npos;
  }

  static bool reaches(const token_spec& token, const std::string& location_key) {
    return token.locations.empty() || std::any_of(token.locations.begin(), token.locations.end(), [&](const auto& l) {
             return strip_padding(l) == location_key;
           });
  }

  // The org the request acts on (`orgId`, else the token's home org), or the 403 if the token may
  // not act on it.
  std::optional<scripted_response> effective_org(const request_ctx& c, std::string& org_key) const {
    org_key = strip_padding(c.token->home_org);
    if (auto o = c.param("orgId")) org_key = strip_padding(*o);
    const bool allowed = strip_padding(c.token->home_org) == org_key ||
                         std::any_of(c.token->orgs.begin(), c.token->orgs.end(),
                                     [&](const std::string& o) { return strip_padding(o) == org_key; });
    if (!allowed) return c.error(403, "User is not authorized to perform the requested action.");
    return std::nullopt;
  }

  // The location, if it is in the org and the token reaches it; else the 404 or 403.
  std::optional<scripted_response> reach_location(const request_ctx& c, const std::string& org_key,
                                                  const std::string& location_id, location_rec*& loc) {
    loc = find_location(location_id);
    if (!loc || loc->org_key != org_key) return c.error(404, "[Error 4008] Location Not Found.");
    if (!reaches(*c.token, strip_padding(loc->id))) {
      return c.error(403, "User is not authorized to perform the requested action on this location.");
    }
    return std::nullopt;
  }

  // The 403 if the token may not use this kind (or, reading items or lists, may not read it).
  std::optional<scripted_response> check_kind(const request_ctx& c, std::string_view kind, bool reads_items) const {
    const auto& allowed = c.token->kinds;
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), kind) == allowed.end()) {
      return c.error(403, "User is not authorized to perform the requested action on " + std::string(kind) + ".");
    }
    const auto& denied = c.token->read_denied_kinds;
    if (reads_items && std::find(denied.begin(), denied.end(), kind) != denied.end()) {
      return c.error(403, "User is not authorized to read " + std::string(kind) + ", only to change them.");
    }
    return std::nullopt;
  }

  scripted_response not_found(const request_ctx& c, std::size_t kind) const {
    return c.error(404, "[Error 4202] " + std::string(the_model().kinds[kind].def->label) + " Not Found.");
  }

  // A list as Webex pages it: `start` (0-based) and `max` (default 2000), with absolute Link URLs
  // on this server's own origin for the previous and next pages.
  scripted_response paged_list(const request_ctx& c, std::string_view key, const std::vector<std::string>& all) const {
    std::size_t start = 0, max = 2000;
    for (auto [name, value] : {std::pair<const char*, std::size_t*>{"start", &start}, {"max", &max}}) {
      auto v = c.param(name);
      if (!v) continue;
      if (v->empty() || v->size() > 6 || v->find_first_not_of("0123456789") != std::string::npos)
        return c.error(400, "[Error 1003] Invalid " + std::string(name) + ".");
      *value = std::stoul(*v);
    }
    if (max == 0) return c.error(400, "[Error 1003] Invalid max.");
    std::string items;
    for (std::size_t i = start; i < all.size() && i < start + max; ++i) {
      if (!items.empty()) items += ',';
      items += all[i];
    }
    auto res = json_response(200, "{" + json_string(key) + ":[" + items + "]}");
    auto page_link = [&](std::size_t page_start, const char* rel) {
      boost::urls::url link(origin() + c.r.target);
      link.params().set("start", std::to_string(page_start));
      link.params().set("max", std::to_string(max));
      return "<" + std::string(link.buffer()) + ">; rel=\"" + rel + "\"";
    };
    std::string links;
    if (start > 0) links = page_link(start > max ? start - max : 0, "prev");
    if (start + max < all.size()) links += (links.empty() ? "" : ", ") + page_link(start + max, "next");
    if (!links.empty()) res.headers.emplace_back("Link", links);
    return c.ok(std::move(res));
  }

  scripted_response list(const request_ctx& c, list_style style, std::string_view key,
                         const std::vector<std::string>& all) const {
    if (style == list_style::paged) return paged_list(c, key, all);
    std::string items;
    for (const auto& entry : all) items += (items.empty() ? "" : ",") + entry;
    return c.ok(json_response(200, "{" + json_string(key) + ":[" + items + "]}"));
  }

  scripted_response handle(const recorded_request& r) {
    request_ctx c{r, {}, next_tracking_id()};
    auto parsed = boost::urls::parse_origin_form(r.target);
    if (!parsed) return c.error(400, "The request target is not valid.");
    c.url = *parsed;

    // Authentication: exactly "Bearer <known token>".
    constexpr std::string_view bearer = "Bearer ";
    if (r.authorization.starts_with(bearer)) {
      auto it = tokens_.find(r.authorization.substr(bearer.size()));
      if (it != tokens_.end()) c.token = &it->second;
    }
    if (!c.token) {
      return c.error(401, "The request requires a valid access token set in the Authorization request header.");
    }

    std::vector<std::string> segs;
    for (auto s : c.url.segments()) segs.push_back(s);
    const bool telephony = segs.size() >= 4 && segs[0] == "v1" && segs[1] == "telephony" && segs[2] == "config";
    if (telephony && segs.size() >= 5 && segs[3] == "locations") {
      std::vector<std::string> rel(segs.begin() + 5, segs.end());
      auto rt = match_route(rel);
      if (rt && route_has_method(*rt, r.method)) return location_route(c, segs[4], rel, *rt);
    } else if (telephony && segs.size() == 4 && c.read()) {
      if (auto k = org_list_kind(segs[3])) return org_list(c, *k);
    } else if (segs.size() == 3 && segs[0] == "v1" && segs[1] == "locations" && (c.read() || r.method == "PUT")) {
      return common_location(c, segs[2]);
    }
    // Not modelled: echo it.
    return c.ok(echo(r, c.url));
  }

  // A route below /v1/telephony/config/locations/{L}: authorisation (effective org, then location,
  // then location-admin scope, then kind), then the route itself.
  scripted_response location_route(const request_ctx& c, const std::string& location_id,
                                   const std::vector<std::string>& rel, const route& rt) {
    std::string org_key;
    location_rec* loc = nullptr;
    if (auto e = effective_org(c, org_key)) return *e;
    if (auto e = reach_location(c, org_key, location_id, loc)) return *e;
    const bool reads_items = c.read() && (rt.type == route_type::collection || rt.type == route_type::item);
    if (auto e = check_kind(c, route_kind_name(rt), reads_items)) return *e;

    switch (rt.type) {
      case route_type::location: return location_details(c, *loc);
      case route_type::settings: return settings_route(c, location_id, rel, rt, *loc);
      case route_type::answer: {
        std::string body = "{\"route\":" + json_string(join_path(rel)) + ",\"method\":" + json_string(c.r.method) +
                           ",\"locationId\":" + json_string(location_id) + ",\"orgId\":" + json_string(loc->org_key) +
                           "," + std::string(answer_table()[rt.index].members) + "}";
        return c.ok(json_response(200, std::move(body)));
      }
      case route_type::collection: return collection_route(c, rt, *loc);
      case route_type::item: return item_route(c, rt, *loc);
    }
    return c.ok(echo(c.r, c.url));
  }

  // A PUT on a document: merges the body's top-level members into `fields`, except `rendered` (the
  // members the fake renders itself). Answers the new name if the body has one; nullopt when the
  // body is not valid.
  static std::optional<std::optional<std::string>> apply_put(const request_ctx& c, field_list& fields,
                                                             std::initializer_list<std::string_view> rendered) {
    std::optional<std::string> name;
    auto body = top_level_fields(c.r.body, &name);
    if (!body || (name && name->empty())) return std::nullopt;
    erase_members(*body, rendered);
    merge_fields(fields, *body);
    return name;
  }

  // The location's Webex Calling details: GET, and PUT (204, as Webex answers it when no batch job
  // is started).
  scripted_response location_details(const request_ctx& c, location_rec& loc) {
    if (c.read()) {
      const std::string lead = "\"id\":" + json_string(loc.id) + ",\"name\":" + json_string(loc.name);
      return c.ok(json_response(200, render_object(loc.calling, lead)));
    }
    auto name = apply_put(c, loc.calling, {"id", "name"});
    if (!name) return c.error(400, "[Error 1003] The request body is not valid.");
    if (*name) loc.name = **name;
    return c.ok(json_response(204, {}));
  }

  // GET/PUT /v1/locations/{L}: the common locations API (PUT answers 204).
  scripted_response common_location(const request_ctx& c, const std::string& location_id) {
    std::string org_key;
    location_rec* loc = nullptr;
    if (auto e = effective_org(c, org_key)) return *e;
    if (auto e = reach_location(c, org_key, location_id, loc)) return *e;
    if (auto e = check_kind(c, "locations", false)) return *e;
    if (c.read()) {
      const std::string lead = "\"id\":" + json_string(loc->id) + ",\"name\":" + json_string(loc->name) +
                               ",\"orgId\":" + json_string(loc->org_id);
      return c.ok(json_response(200, render_object(loc->common, lead)));
    }
    auto name = apply_put(c, loc->common, {"id", "name", "orgId"});
    if (!name) return c.error(400, "[Error 1003] The request body is not valid.");
    if (*name) loc->name = **name;
    return c.ok(json_response(204, {}));
  }

  scripted_response settings_route(const request_ctx& c, const std::string& location_id,
                                   const std::vector<std::string>& rel, const route& rt, const location_rec& loc) {
    const model& m = the_model();
    const std::string loc_key = strip_padding(loc.id);
    std::uint64_t parent = 0;
    if (const auto& owner = m.settings[rt.index].parent) {
      std::size_t missing = *owner;
      item* it = find_item(*owner, loc_key, rt.caps, missing);
      if (!it) return not_found(c, missing);
      parent = it->uid;
    }
    field_list& doc = settings_doc(rt.index, loc_key, parent);
    if (!c.read()) {
      if (!apply_put(c, doc, {"route", "locationId", "orgId"})) {
        return c.error(400, "[Error 1003] The request body is not valid.");
      }
      return c.ok(json_response(204, {}));
    }
    field_list shown = doc;
    for (std::size_t k = 0; k < m.kinds.size(); ++k) {
      if (m.kinds[k].shown_in_settings == rt.index) {
        set_member_path(shown, m.kinds[k].def->listed_as, children(k, parent));
      }
    }
    const std::string lead = "\"route\":" + json_string(join_path(rel)) +
                             ",\"locationId\":" + json_string(location_id) + ",\"orgId\":" + json_string(loc.org_key);
    return c.ok(json_response(200, render_object(shown, lead)));
  }

  scripted_response collection_route(const request_ctx& c, const route& rt, const location_rec& loc) {
    const kind_info& k = the_model().kinds[rt.index];
    const std::string loc_key = strip_padding(loc.id);
    std::size_t missing = rt.index;
    auto parent = find_parent(rt.index, loc_key, rt.caps, missing);
    if (!parent) return not_found(c, missing);

    if (c.read()) {
      auto type = k.typed ? c.param("type") : std::nullopt;
      if (type && !is_schedule_type(*type)) return c.error(400, "[Error 1003] Invalid type.");
      const auto name = c.param("name");
      std::vector<std::string> all;
      for (const auto& it : items_) {
        if (it.kind == rt.index && it.location_key == loc_key && it.parent == *parent && (!type || it.type == *type) &&
            name_matches(it.name, name))
          all.push_back(list_entry(it, nullptr));
      }
      return list(c, k.def->location_list, k.def->list_key, all);
    }

    // POST: create.
    std::optional<std::string> name;
    auto fields = top_level_fields(c.r.body, &name);
    if (!fields || !name || name->empty()) return c.error(400, "[Error 1003] The request body is not valid.");
    std::string type;
    if (k.typed) {
      for (auto t : schedule_types) {
        for (const auto& [key, raw] : *fields)
          if (key == "type" && raw == json_string(t)) type = t;
      }
      if (type.empty()) return c.error(400, "[Error 1003] The type is not valid.");
    }
    if (k.def->ids == id_style::from_name && name_taken(rt.index, loc_key, *parent, type, *name, nullptr)) {
      return c.error(409, already_exists(*k.def));
    }
    const std::string id = create(rt.index, loc, *parent, type, *name, *fields);
    return c.ok(json_response(201, "{" + json_string(k.def->created_key) + ":" + json_string(id) + "}"));
  }

  static std::string already_exists(const kind_def& def) {
    return "[Error 4206] A " + lower(def.label) + " with this name already exists in this location.";
  }

  scripted_response item_route(const request_ctx& c, const route& rt, const location_rec& loc) {
    const kind_def& def = *the_model().kinds[rt.index].def;
    const std::string loc_key = strip_padding(loc.id);
    std::size_t missing = rt.index;
    item* it = find_item(rt.index, loc_key, rt.caps, missing);
    if (!it) return not_found(c, missing);
    if (c.read()) return c.ok(json_response(200, render(*it)));
    if (c.r.method == "DELETE") {
      erase_item(it->uid);
      return c.ok(json_response(204, {}));
    }

    // PUT: merge, and rename.
    std::optional<std::string> name;
    auto fields = top_level_fields(c.r.body, &name);
    if (!fields || (name && name->empty())) return c.error(400, "[Error 1003] The request body is not valid.");
    if (def.ids == id_style::from_name && name && *name != it->name &&
        name_taken(rt.index, loc_key, it->parent, it->type, *name, it)) {
      return c.error(409, already_exists(def));
    }
    erase_members(*fields, {"id", "type"});
    merge_fields(it->fields, *fields);
    if (name && *name != it->name) {
      it->name = *name;
      if (def.ids == id_style::from_name) it->id = new_id(rt.index, *name);  // Webex: the ID changes with the name
    }
    if (def.put == put_answer::with_id) return c.ok(json_response(200, "{\"id\":" + json_string(it->id) + "}"));
    return c.ok(json_response(204, {}));
  }

  // GET /v1/telephony/config/{collection}: the org-wide list of a kind, every location of the
  // effective org the token reaches, or the one `locationId` names.
  scripted_response org_list(const request_ctx& c, std::size_t kind) {
    const kind_def& def = *the_model().kinds[kind].def;
    std::string org_key;
    if (auto e = effective_org(c, org_key)) return *e;
    location_rec* only = nullptr;
    if (auto location_id = c.param("locationId")) {
      if (auto e = reach_location(c, org_key, *location_id, only)) return *e;
    }
    if (auto e = check_kind(c, def.kind, true)) return *e;
    const auto name = c.param("name");
    std::vector<std::string> all;
    for (const auto& it : items_) {
      if (it.kind != kind || !name_matches(it.name, name)) continue;
      const location_rec* loc = find_location(it.location_key);
      if (!loc || loc->org_key != org_key || !reaches(*c.token, it.location_key)) continue;
      if (only && strip_padding(only->id) != it.location_key) continue;
      all.push_back(list_entry(it, loc));
    }
    return list(c, def.org_list, def.list_key, all);
  }
};

fake_webex::fake_webex(options o) : impl_(std::make_unique<impl>(std::move(o))) {}

fake_webex::~fake_webex() = default;

std::uint16_t fake_webex::port() const { return impl_->port_; }

std::string fake_webex::base_url() const { return impl_->origin(); }

void fake_webex::add_org(const std::string& org_id) {
  std::lock_guard lock(impl_->mutex_);
  impl_->orgs_.insert(strip_padding(org_id));
}

void fake_webex::add_location(const std::string& org_id, const std::string& location_id, const std::string& name) {
  std::lock_guard lock(impl_->mutex_);
  impl_->orgs_.insert(strip_padding(org_id));
  location_rec loc;
  loc.id = location_id;
  loc.org_id = org_id;
  loc.org_key = strip_padding(org_id);
  ++impl_->locations_added_;
  loc.name = name.empty() ? "Location " + std::to_string(impl_->locations_added_) : name;
  loc.calling = impl_->location_calling_fields_;
  loc.common = impl_->location_common_fields_;
  impl_->locations_[strip_padding(location_id)] = std::move(loc);
}

void fake_webex::add_token(token_spec spec) {
  std::lock_guard lock(impl_->mutex_);
  auto key = spec.token;
  impl_->tokens_[key] = std::move(spec);
}

std::string fake_webex::add_item(const std::string& location_id, std::string_view collection_path,
                                 const std::string& name) {
  std::lock_guard lock(impl_->mutex_);
  const location_rec* loc = impl_->find_location(location_id);
  if (!loc) throw std::invalid_argument("fake_webex: unknown location " + location_id);
  const std::string loc_key = strip_padding(loc->id);
  std::vector<std::string> path;
  for (auto s : split_path(collection_path)) path.emplace_back(s);
  const model& m = the_model();
  std::vector<std::string> caps;
  for (std::size_t k = 0; k < m.kinds.size(); ++k) {
    if (!match(m.kinds[k].collection, path, caps)) continue;
    std::size_t missing = k;
    auto parent = impl_->find_parent(k, loc_key, caps, missing);
    if (!parent) {
      throw std::invalid_argument("fake_webex: no such " + std::string(m.kinds[missing].def->label) + " in " +
                                  std::string(collection_path));
    }
    const std::string type = m.kinds[k].typed ? caps.back() : std::string();
    if (m.kinds[k].def->ids == id_style::from_name && impl_->name_taken(k, loc_key, *parent, type, name, nullptr)) {
      throw std::invalid_argument("fake_webex: name already used in " + std::string(collection_path) + ": " + name);
    }
    return impl_->create(k, *loc, *parent, type, name, {});
  }
  throw std::invalid_argument("fake_webex: unknown collection " + std::string(collection_path));
}

std::string fake_webex::add_call_park(const std::string& location_id, const std::string& name) {
  return add_item(location_id, "callParks", name);
}

std::string fake_webex::add_paging_group(const std::string& location_id, const std::string& name) {
  return add_item(location_id, "paging", name);
}

std::optional<std::string> fake_webex::item_name(const std::string& id) const {
  std::lock_guard lock(impl_->mutex_);
  auto key = strip_padding(id);
  for (const auto& it : impl_->items_) {
    if (strip_padding(it.id) == key) return it.name;
  }
  return std::nullopt;
}

std::optional<std::string> fake_webex::resource_name(const std::string& id) const { return item_name(id); }

std::string fake_webex::location_name(const std::string& location_id) const {
  std::lock_guard lock(impl_->mutex_);
  const location_rec* loc = impl_->find_location(location_id);
  if (!loc) throw std::invalid_argument("fake_webex: unknown location " + location_id);
  return loc->name;
}

std::vector<recorded_request> fake_webex::requests() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->requests_;
}

std::size_t fake_webex::count(std::string_view method, std::string_view path_contains) const {
  std::lock_guard lock(impl_->mutex_);
  return static_cast<std::size_t>(
      std::count_if(impl_->requests_.begin(), impl_->requests_.end(), [&](const recorded_request& r) {
        return (method.empty() || r.method == method) && r.path.find(path_contains) != std::string::npos;
      }));
}

void fake_webex::clear_requests() {
  std::lock_guard lock(impl_->mutex_);
  impl_->requests_.clear();
}

std::size_t fake_webex::connections_accepted() const { return impl_->accepted_.load(); }

void fake_webex::close_connections() {
  auto close_all = [this] {
    std::vector<beast::tcp_stream*> streams;
    for (auto& [id, stream] : impl_->live_) streams.push_back(stream);
    for (auto* stream : streams) {
      beast::error_code ec;
      stream->socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
      stream->close();
    }
  };
  if (impl_->ioc_.get_executor().running_in_this_thread()) {
    close_all();
    return;
  }
  std::promise<void> done;
  net::post(impl_->ioc_, [&] {
    close_all();
    done.set_value();
  });
  done.get_future().wait();
}

void fake_webex::hold_next(std::string method, std::string path_contains) {
  std::lock_guard lock(impl_->mutex_);
  impl_->holds_.emplace_back(std::move(method), std::move(path_contains));
}

std::size_t fake_webex::held() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->held_.size();
}

void fake_webex::release_held() {
  std::vector<std::shared_ptr<net::steady_timer>> timers;
  {
    std::lock_guard lock(impl_->mutex_);
    timers.swap(impl_->held_);
  }
  for (auto& t : timers) net::post(t->get_executor(), [t] { t->cancel(); });
}

void fake_webex::set_response_delay(std::chrono::milliseconds d) {
  std::lock_guard lock(impl_->mutex_);
  impl_->response_delay_ = d;
}

void fake_webex::set_interceptor(std::function<std::optional<scripted_response>(const recorded_request&)> f) {
  std::lock_guard lock(impl_->mutex_);
  impl_->interceptor_ = std::move(f);
}

}  // namespace wcp::fake
