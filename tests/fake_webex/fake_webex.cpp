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
#include <future>
#include <map>
#include <mutex>
#include <set>
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

enum class kind { call_park, paging_group };

struct resource {
  kind k;
  std::string id;            // as generated (with any padding)
  std::string location_key;  // the location's ID without padding
  std::string name;
  field_list fields;         // the body, in order; "id" and "name" are rendered from the members above
};

struct location_rec {
  std::string id;
  std::string org_key;
};

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

struct fake_webex::impl {
  // World and records, guarded by mutex_.
  mutable std::mutex mutex_;
  std::set<std::string> orgs_;                      // org IDs without padding
  std::map<std::string, location_rec> locations_;   // key: location ID without padding
  std::map<std::string, token_spec> tokens_;        // key: the token
  std::vector<resource> resources_;                 // in creation order
  std::uint64_t paging_counter_ = 0;
  std::vector<recorded_request> requests_;
  std::function<std::optional<scripted_response>(const recorded_request&)> interceptor_;
  std::chrono::milliseconds response_delay_{0};
  std::vector<std::pair<std::string, std::string>> holds_;  // (method or "", path part), once each
  std::vector<std::shared_ptr<net::steady_timer>> held_;

  field_list call_park_fields_;
  field_list paging_group_fields_;
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
    auto cp = top_level_fields(call_park_seed);
    auto pg = top_level_fields(paging_group_seed);
    if (!cp || !pg) throw std::logic_error("fake_webex: embedded seed bodies do not parse");
    call_park_fields_ = std::move(*cp);
    paging_group_fields_ = std::move(*pg);

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

  const location_rec* find_location(const std::string& id) const {
    auto it = locations_.find(strip_padding(id));
    return it == locations_.end() ? nullptr : &it->second;
  }

  resource* find_resource(kind k, const std::string& location_key, const std::string& id) {
    auto key = strip_padding(id);
    for (auto& r : resources_) {
      if (r.k == k && r.location_key == location_key && strip_padding(r.id) == key) return &r;
    }
    return nullptr;
  }

  static std::string call_park_id(std::string_view name) {
    // As Webex does: the ID encodes the name (which is why a rename changes it).
    return webex_id("CALL_PARK", strip_padding(base64(name)));
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

  std::string create(kind k, const location_rec& loc, const std::string& name, const field_list& extra) {
    resource r;
    r.k = k;
    r.location_key = strip_padding(loc.id);
    r.name = name;
    r.fields = k == kind::call_park ? call_park_fields_ : paging_group_fields_;
    merge_fields(r.fields, extra);
    r.id = k == kind::call_park ? call_park_id(name) : new_paging_id();
    resources_.push_back(std::move(r));
    return resources_.back().id;
  }

  bool call_park_name_taken(const std::string& location_key, const std::string& name, const resource* except) const {
    return std::any_of(resources_.begin(), resources_.end(), [&](const resource& r) {
      return &r != except && r.k == kind::call_park && r.location_key == location_key && r.name == name;
    });
  }

  std::string render(const resource& r) const {
    std::string out = "{";
    bool first = true;
    for (const auto& [key, raw] : r.fields) {
      if (!first) out += ',';
      first = false;
      out += json_string(key);
      out += ':';
      if (key == "id") {
        out += json_string(r.id);
      } else if (key == "name") {
        out += json_string(r.name);
      } else {
        out += raw;
      }
    }
    out += '}';
    return out;
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

  scripted_response handle(const recorded_request& r) {
    const std::string tid = next_tracking_id();
    auto with_tid = [&](scripted_response res) {
      res.headers.emplace_back("trackingid", tid);
      return res;
    };
    auto error = [&](unsigned status, std::string_view message) { return with_tid(webex_error(status, message, tid)); };

    auto parsed = boost::urls::parse_origin_form(r.target);
    if (!parsed) return error(400, "The request target is not valid.");
    boost::urls::url_view url = *parsed;

    // Authentication: exactly "Bearer <known token>".
    constexpr std::string_view bearer = "Bearer ";
    const token_spec* token = nullptr;
    if (r.authorization.starts_with(bearer)) {
      auto it = tokens_.find(r.authorization.substr(bearer.size()));
      if (it != tokens_.end()) token = &it->second;
    }
    if (!token) return error(401, "The request requires a valid access token set in the Authorization request header.");

    std::vector<std::string> segs;
    for (auto s : url.segments()) segs.push_back(s);
    bool telephony = segs.size() >= 6 && segs[0] == "v1" && segs[1] == "telephony" && segs[2] == "config" &&
                     segs[3] == "locations" && (segs[5] == "callParks" || segs[5] == "paging") && segs.size() <= 7;
    // Deeper paths (and everything else) are not modelled: echo them.
    if (!telephony) return with_tid(echo(r, url));

    // Authorisation: effective org, then location, then location-admin scope.
    std::string org_key = strip_padding(token->home_org);
    if (auto it = url.params().find("orgId"); it != url.params().end()) org_key = strip_padding((*it).value);
    bool org_allowed = strip_padding(token->home_org) == org_key ||
                       std::any_of(token->orgs.begin(), token->orgs.end(),
                                   [&](const std::string& o) { return strip_padding(o) == org_key; });
    if (!org_allowed) return error(403, "User is not authorized to perform the requested action.");
    const location_rec* loc = find_location(segs[4]);
    if (!loc || loc->org_key != org_key) return error(404, "[Error 4008] Location Not Found.");
    const std::string loc_key = strip_padding(loc->id);
    if (!token->locations.empty() &&
        std::none_of(token->locations.begin(), token->locations.end(),
                     [&](const std::string& l) { return strip_padding(l) == loc_key; })) {
      return error(403, "User is not authorized to perform the requested action on this location.");
    }

    const bool call_parks = segs[5] == "callParks";
    const kind k = call_parks ? kind::call_park : kind::paging_group;
    const std::string& method = r.method;
    const bool read = method == "GET" || method == "HEAD";
    auto not_allowed = [&] { return error(405, "Method " + method + " is not allowed on this resource."); };

    if (segs.size() == 6) {  // the collection
      if (read) {
        std::vector<std::string> all;
        for (const auto& res : resources_) {
          if (res.k != k || res.location_key != loc_key) continue;
          all.push_back("{\"id\":" + json_string(res.id) + ",\"name\":" + json_string(res.name) + "}");
        }
        // Pages as Webex serves them: `start` (0-based) and `max` (default 2000), with absolute
        // Link URLs on this server's own origin for the next and previous pages.
        std::size_t start = 0, max = 2000;
        for (auto [name, value] : {std::pair<const char*, std::size_t*>{"start", &start}, {"max", &max}}) {
          auto it = url.params().find(name);
          if (it == url.params().end()) continue;
          const std::string v = (*it).value;
          if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos)
            return error(400, "[Error 1003] Invalid " + std::string(name) + ".");
          *value = std::stoul(v);
        }
        if (max == 0) return error(400, "[Error 1003] Invalid max.");
        std::string items;
        for (std::size_t i = start; i < all.size() && i < start + max; ++i) {
          if (!items.empty()) items += ',';
          items += all[i];
        }
        auto res = json_response(200, std::string("{\"") + (call_parks ? "callParks" : "locationPaging") +
                                          "\":[" + items + "]}");
        auto page_link = [&](std::size_t page_start, const char* rel) {
          boost::urls::url link(origin() + std::string(r.target));
          link.params().set("start", std::to_string(page_start));
          link.params().set("max", std::to_string(max));
          return "<" + std::string(link.buffer()) + ">; rel=\"" + rel + "\"";
        };
        std::string links;
        if (start > 0) links = page_link(start > max ? start - max : 0, "prev");
        if (start + max < all.size()) links += (links.empty() ? "" : ", ") + page_link(start + max, "next");
        if (!links.empty()) res.headers.emplace_back("Link", links);
        return with_tid(std::move(res));
      }
      if (method == "POST") {
        std::optional<std::string> name;
        auto fields = top_level_fields(r.body, &name);
        if (!fields || !name || name->empty()) return error(400, "[Error 1003] The request body is not valid.");
        if (call_parks && call_park_name_taken(loc_key, *name, nullptr)) {
          return error(409, "[Error 4206] A call park with this name already exists in this location.");
        }
        return with_tid(json_response(201, "{\"id\":" + json_string(create(k, *loc, *name, *fields)) + "}"));
      }
      return not_allowed();
    }

    // Routes that sit beside the {id} ones.
    const std::string& leaf = segs[6];
    const char* list_member = nullptr;
    if (call_parks && leaf == "settings") list_member = "callParkRecall";
    if (call_parks && leaf == "availableUsers") list_member = "agents";
    if (call_parks && leaf == "availableRecallHuntGroups") list_member = "huntGroups";
    if (!call_parks && leaf == "availableNumbers") list_member = "phoneNumbers";
    if (list_member) {
      std::string body = "{\"route\":" + json_string(segs[5] + "/" + leaf) + ",\"method\":" + json_string(method) +
                         ",\"locationId\":" + json_string(segs[4]) + ",\"orgId\":" + json_string(loc->org_key) +
                         ",\"" + list_member + "\":" + (leaf == "settings" ? "{}" : "[]") + "}";
      return with_tid(json_response(200, std::move(body)));
    }

    // One call park or paging group.
    resource* res = find_resource(k, loc_key, leaf);
    if (!res) {
      return error(404, call_parks ? "[Error 4202] Call Park Not Found." : "[Error 4202] Paging Group Not Found.");
    }
    if (read) return with_tid(json_response(200, render(*res)));
    if (method == "DELETE") {
      resources_.erase(resources_.begin() + (res - resources_.data()));
      return with_tid(json_response(204, {}));
    }
    if (method == "PUT") {
      std::optional<std::string> name;
      auto fields = top_level_fields(r.body, &name);
      if (!fields || (name && name->empty())) return error(400, "[Error 1003] The request body is not valid.");
      if (call_parks && name && *name != res->name && call_park_name_taken(loc_key, *name, res)) {
        return error(409, "[Error 4206] A call park with this name already exists in this location.");
      }
      fields->erase(std::remove_if(fields->begin(), fields->end(), [](const auto& f) { return f.first == "id"; }),
                    fields->end());
      merge_fields(res->fields, *fields);
      if (name && *name != res->name) {
        res->name = *name;
        if (call_parks) res->id = call_park_id(*name);  // Webex: renaming a call park changes its ID
      }
      if (call_parks) return with_tid(json_response(200, "{\"id\":" + json_string(res->id) + "}"));
      return with_tid(json_response(204, {}));
    }
    return not_allowed();
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

void fake_webex::add_location(const std::string& org_id, const std::string& location_id) {
  std::lock_guard lock(impl_->mutex_);
  impl_->orgs_.insert(strip_padding(org_id));
  impl_->locations_[strip_padding(location_id)] = location_rec{location_id, strip_padding(org_id)};
}

void fake_webex::add_token(token_spec spec) {
  std::lock_guard lock(impl_->mutex_);
  auto key = spec.token;
  impl_->tokens_[key] = std::move(spec);
}

std::string fake_webex::add_call_park(const std::string& location_id, const std::string& name) {
  std::lock_guard lock(impl_->mutex_);
  const location_rec* loc = impl_->find_location(location_id);
  if (!loc) throw std::invalid_argument("fake_webex: unknown location " + location_id);
  if (impl_->call_park_name_taken(strip_padding(loc->id), name, nullptr)) {
    throw std::invalid_argument("fake_webex: call park name already used in this location: " + name);
  }
  return impl_->create(kind::call_park, *loc, name, {});
}

std::string fake_webex::add_paging_group(const std::string& location_id, const std::string& name) {
  std::lock_guard lock(impl_->mutex_);
  const location_rec* loc = impl_->find_location(location_id);
  if (!loc) throw std::invalid_argument("fake_webex: unknown location " + location_id);
  return impl_->create(kind::paging_group, *loc, name, {});
}

std::optional<std::string> fake_webex::resource_name(const std::string& id) const {
  std::lock_guard lock(impl_->mutex_);
  auto key = strip_padding(id);
  for (const auto& r : impl_->resources_) {
    if (strip_padding(r.id) == key) return r.name;
  }
  return std::nullopt;
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
