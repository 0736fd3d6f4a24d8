#include "proxy/json_text.hpp"

#include <boost/json/serializer.hpp>
#include <simdjson.h>

namespace wcp::proxy {

namespace {

bool valid_utf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

// The length a lead byte announces, or 0 for a byte that cannot start a character.
std::size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 0;
}

}  // namespace

void append_utf8(std::string& out, std::string_view text) {
  if (valid_utf8(text)) {
    out.append(text);
    return;
  }
  static constexpr char hex[] = "0123456789ABCDEF";
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t n = sequence_length(lead);
    if (n != 0 && i + n <= text.size() && valid_utf8(text.substr(i, n))) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      out += "\\x";
      out += hex[lead >> 4];
      out += hex[lead & 0xF];
      ++i;
    }
  }
}

void append_json_string(std::string& out, std::string_view text) {
  std::string repaired;
  if (!valid_utf8(text)) {
    append_utf8(repaired, text);
    text = repaired;
  }
  boost::json::serializer sr;
  sr.reset(boost::json::string_view(text.data(), text.size()));
  char buf[512];
  while (!sr.done()) {
    const auto part = sr.read(buf, sizeof buf);
    out.append(part.data(), part.size());
  }
}

}  // namespace wcp::proxy
