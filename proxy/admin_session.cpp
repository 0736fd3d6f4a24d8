#include "proxy/admin_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "proxy/json_text.hpp"
#include "proxy/router.hpp"
#include "proxy/log.hpp"
#include "proxy/webex_error.hpp"

namespace wcp::proxy {

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

http::response<http::string_body> text(http::status status, unsigned version, std::string body,
                                       std::string_view type = "text/plain; charset=utf-8") {
  http::response<http::string_body> res{status, version};
  res.set(http::field::content_type, type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// `path`: what follows the location, e.g. "callParks/<id>" (empty: the whole location).
purge_request make_purge(std::string_view location, std::string_view path) {
  purge_request p;
  if (!cache::is_valid_id(location)) {
    p.error = "The location ID is not valid.";
    return p;
  }
  p.location = std::string(cache::normalise_id(location));
  if (!path.empty()) {
    // What a read of that path would be cached as.
    const std::string target =
        "/v1/telephony/config/locations/" + std::string(location) + "/" + std::string(path);
    const auto r = route_request("GET", target);
    if (r.kind != route_kind::cached_read || r.row->shape == route_shape::list) {
      p.error = r.kind == route_kind::invalid
                    ? r.error
                    : "Not a cached item or settings path under the location.";
      return p;
    }
    p.resource = r.key();
  }
  p.valid = true;
  return p;
}

}  // namespace

std::optional<purge_request> parse_purge(std::string_view method, std::string_view target) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return std::nullopt;
  std::vector<std::string> seg;
  for (auto s : parsed->encoded_segments()) seg.push_back(s.decode());
  if (method == "DELETE" && seg.size() >= 3 && seg[0] == "cache" && seg[1] == "locations") {
    std::string path;
    for (std::size_t i = 3; i < seg.size(); ++i) path.append(i > 3 ? "/" : "").append(seg[i]);
    return make_purge(seg[2], path);
  }
  if (method == "POST" && seg.size() == 1 && seg[0] == "purge") {
    std::optional<std::string> location, kind, id;
    for (auto p : parsed->params()) {
      if (p.key == "location") location = p.value;
      else if (p.key == "kind") kind = p.value;
      else if (p.key == "id") id = p.value;
    }
    if (!location) {
      purge_request bad;
      bad.error = "location is required.";
      return bad;
    }
    if (kind.has_value() != id.has_value()) {
      purge_request bad;
      bad.error = "Give both kind and id, or neither.";
      return bad;
    }
    return make_purge(*location, kind ? *kind + "/" + *id : std::string());
  }
  return std::nullopt;
}

purge_access check_purge_access(const net::ip::address& peer, std::string_view authorization,
                                std::string_view admin_token) {
  if (admin_token.empty()) {
    bool loopback = peer.is_loopback();
    if (peer.is_v6() && peer.to_v6().is_v4_mapped())
      loopback = net::ip::make_address_v4(net::ip::v4_mapped, peer.to_v6()).is_loopback();
    return loopback ? purge_access::allowed : purge_access::forbidden;
  }
  constexpr std::string_view scheme = "Bearer ";
  if (authorization.size() <= scheme.size() ||
      !beast::iequals(authorization.substr(0, scheme.size()), scheme))
    return purge_access::unauthorized;
  // Digests of both, compared in constant time: neither the content nor the length leaks.
  unsigned char given[SHA256_DIGEST_LENGTH], expected[SHA256_DIGEST_LENGTH];
  const auto token = authorization.substr(scheme.size());
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), given);
  SHA256(reinterpret_cast<const unsigned char*>(admin_token.data()), admin_token.size(), expected);
  return CRYPTO_memcmp(given, expected, sizeof given) == 0 ? purge_access::allowed
                                                          : purge_access::unauthorized;
}

net::awaitable<void> run_admin_session(net::ip::tcp::socket socket, admin_context ctx) {
  boost::system::error_code peer_ec;
  const auto peer = socket.remote_endpoint(peer_ec).address();
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(8192);
    parser.body_limit(4096);
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec) break;
    const auto& req = parser.get();
    const std::string_view path = std::string_view(req.target()).substr(
        0, std::string_view(req.target()).find('?'));
    const bool read = req.method() == http::verb::get || req.method() == http::verb::head;

    http::response<http::string_body> res;
    auto purge = parse_purge(req.method_string(), req.target());
    const auto access = purge ? check_purge_access(peer, req[http::field::authorization],
                                                 ctx.admin_token ? *ctx.admin_token : std::string())
                              : purge_access::allowed;
    if (access == purge_access::unauthorized) {
      if (ctx.refused) ctx.refused->with({"unauthorized"}).inc();
      log::warn("admin: purge refused: no valid admin token", {{"client", peer.to_string()}});
      res = text(http::status::unauthorized, req.version(),
                 webex_error_body("Purges need Authorization: Bearer <admin token>.", new_tracking_id()),
                 "application/json");
      res.set(http::field::www_authenticate, "Bearer realm=\"webex-cache-proxy admin\"");
    } else if (access == purge_access::forbidden) {
      if (ctx.refused) ctx.refused->with({"forbidden"}).inc();
      log::warn("admin: purge refused: purges come from loopback only without --admin-token-file",
                {{"client", peer.to_string()}});
      res = text(http::status::forbidden, req.version(),
                 webex_error_body("Purges are accepted from this host only (no admin token is configured).",
                                  new_tracking_id()),
                 "application/json");
    } else if (purge && !purge->valid) {
      res = text(http::status::bad_request, req.version(),
                 webex_error_body(purge->error, new_tracking_id()), "application/json");
    } else if (purge && ctx.store) {
      std::string what;
      if (purge->resource) {
        co_await ctx.store->invalidate(*purge->resource);
        what = purge->resource->str();
      } else {
        co_await ctx.store->invalidate_location(purge->location);
        what = "location " + purge->location;
      }
      if (ctx.invalidations) ctx.invalidations->with({"purge"}).inc();
      log::info("purged", {{"what", what}});
      std::string body = "{\"purged\":";
      append_json_string(body, what);
      body += "}\n";
      res = text(http::status::ok, req.version(), std::move(body), "application/json");
    } else if (!read) {
      res = text(http::status::method_not_allowed, req.version(),
                 webex_error_body("Use GET here; DELETE /cache/... or POST /purge to purge.", new_tracking_id()),
                 "application/json");
      res.set(http::field::allow, "GET, HEAD, DELETE, POST");
    } else if (path == "/healthz") {
      res = text(http::status::ok, req.version(), "ok\n");
    } else if (path == "/readyz") {
      const bool ready = ctx.state.listening.load() && !ctx.state.draining.load();
      std::string body = ready ? "ready\n" : (ctx.state.draining.load() ? "draining\n" : "starting\n");
      if (ctx.describe_dependencies) body += ctx.describe_dependencies();
      res = text(ready ? http::status::ok : http::status::service_unavailable, req.version(),
                 std::move(body));
    } else if (path == "/metrics") {
      res = text(http::status::ok, req.version(), ctx.metrics.render(),
                 "text/plain; version=0.0.4; charset=utf-8");
    } else {
      res = text(http::status::not_found, req.version(),
                 webex_error_body("No such admin endpoint.", new_tracking_id()),
                 "application/json");
    }
    if (req.method() == http::verb::head) {
      const auto size = res.body().size();
      res.body().clear();
      res.content_length(size);
    }
    res.keep_alive(req.keep_alive());
    stream.expires_after(std::chrono::seconds(30));
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    if (wec || !res.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace wcp::proxy
