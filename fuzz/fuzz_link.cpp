// Fuzzes the Link rewriting: input is "<Host value>\n<Link value>". Checks that a value without a
// URI on the upstream's origin comes back unchanged, that what changed names the destination, and
// that destination() agrees with is_plain_host().
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "proxy/link_rewrite.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nl = input.find('\n');
  const std::string_view host = nl == std::string_view::npos ? std::string_view() : input.substr(0, nl);
  const std::string_view value = nl == std::string_view::npos ? input : input.substr(nl + 1);

  namespace p = wcp::proxy;
  static const p::link_rewriter webex(true, "webexapis.com", 443, "", "");
  static const p::link_rewriter based(false, "127.0.0.1", 8080, "/base", "");
  const auto to = webex.destination(false, host);
  FUZZ_CHECK(to.has_value() == p::is_plain_host(host));
  const std::string dest = to ? *to : "http://proxy.example:8080";
  for (const auto* rw : {&webex, &based}) {
    const std::string out = rw->rewrite(value, dest);
    if (value.find('<') == std::string_view::npos) FUZZ_CHECK(out == value);
    if (out != value) {
      FUZZ_CHECK(out.find(dest) != std::string::npos);
      // Each '<' starts at most one URI; each gains at most the destination.
      std::size_t opens = 0;
      for (char ch : value) opens += ch == '<';
      FUZZ_CHECK(out.size() <= value.size() + opens * dest.size());
    }
  }
  return 0;
}
