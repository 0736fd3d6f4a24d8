// Fuzzes the router: input is "<method> <target>" (split at the first space or newline; no
// separator = empty method). Checks the route's invariants and exercises key()/org_variant().
// The same input goes through the listener's HTTP rules: as a request line, a Host value and a
// request-target.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cache/key.hpp"
#include "fuzz/fuzz_check.hpp"
#include "proxy/http_rules.hpp"
#include "proxy/router.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto sep = input.find_first_of(" \n");
  const std::string_view method = sep == std::string_view::npos ? std::string_view() : input.substr(0, sep);
  const std::string_view target = sep == std::string_view::npos ? input : input.substr(sep + 1);

  {
    namespace p = wcp::proxy;
    const auto line = p::parse_request_line(input);
    FUZZ_CHECK(line.line.has_value() != line.error.has_value());
    if (line.line) {
      FUZZ_CHECK(!line.line->method.empty() && !line.line->target.empty());
      FUZZ_CHECK(line.line->version >= 10 && line.line->version <= 19);
      FUZZ_CHECK(line.line->target.find_first_of(" \r\n\t") == std::string_view::npos);
    } else {
      FUZZ_CHECK(line.error->status == 400 || line.error->status == 505);
    }
    if (const auto host = p::check_host(11, 1, target)) FUZZ_CHECK(host->status == 400);
    const auto form = p::classify_target(target);
    if (form.form == p::target_form::absolute) FUZZ_CHECK(!form.origin.empty() && form.origin[0] == '/');
    (void)p::classify_method(method);
  }

  using wcp::proxy::route_kind;
  const wcp::proxy::route r = wcp::proxy::route_request(method, target);
  {
    // The router's own split of plain targets decides as the URL library's would.
    const wcp::proxy::route u = wcp::proxy::route_request_with_url_library(method, target);
    FUZZ_CHECK(r.kind == u.kind && r.row == u.row && r.error == u.error &&
               r.location_id == u.location_id && r.resource_id == u.resource_id &&
               r.org_id == u.org_id && r.write_location == u.write_location &&
               r.cacheable == u.cacheable && r.resource_key.str() == u.resource_key.str());
  }
  const std::string_view label = wcp::proxy::route_label(r);
  FUZZ_CHECK(!label.empty());

  if (r.kind == route_kind::invalid) {
    FUZZ_CHECK(r.error_status == 400);
    FUZZ_CHECK(!r.error.empty());
    return 0;
  }
  FUZZ_CHECK(r.error_status == 0);
  if (!r.is_resource()) return 0;

  FUZZ_CHECK(r.kind == route_kind::cached_read ? (method == "GET" || method == "HEAD")
                                               : (method == "PUT" || method == "DELETE"));
  FUZZ_CHECK(!r.cacheable || r.kind == route_kind::cached_read);
  FUZZ_CHECK(r.row != nullptr && r.row->kind == r.resource);
  FUZZ_CHECK(r.row->shape != wcp::proxy::route_shape::never);
  FUZZ_CHECK(wcp::cache::is_valid_id(r.location_id));
  const bool item = r.row->shape == wcp::proxy::route_shape::item;
  FUZZ_CHECK(item == !r.resource_id.empty());
  if (item) FUZZ_CHECK(wcp::cache::is_valid_id(r.resource_id));
  FUZZ_CHECK(r.kind == route_kind::cached_read || item);
  if (r.org_id) FUZZ_CHECK(wcp::cache::is_valid_id(*r.org_id));
  FUZZ_CHECK(!r.grant().empty());

  const wcp::cache::resource_key key = r.key();
  FUZZ_CHECK(key.kind == r.resource);
  FUZZ_CHECK(key.location == wcp::cache::normalise_id(r.location_id));
  // The canonical form never holds what separates keys from org forms and bus message fields.
  FUZZ_CHECK(key.id.find_first_of("@|") == std::string::npos);
  if (item) FUZZ_CHECK(key.id.ends_with(wcp::cache::normalise_id(r.resource_id)));
  const std::string org = r.org_variant();
  FUZZ_CHECK(r.org_id || org.empty());
  const wcp::cache::variant_key variant{key, org};
  const std::string s = variant.str();
  FUZZ_CHECK(s.size() == key.str().size() + 1 + org.size());
  (void)wcp::cache::resource_key_hash{}(key);
  return 0;
}
