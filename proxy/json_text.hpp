// Text that leaves the daemon inside JSON or a log line: never a raw byte that is not UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace wcp::proxy {

// Appends the text, with every byte that is not part of well-formed UTF-8 written as the four
// characters \xNN (a client's `\xff` in a TrackingID is shown, never passed on raw).
void append_utf8(std::string& out, std::string_view text);

// Appends the text as a JSON string literal, quotes included: invalid UTF-8 as above, then
// JSON-escaped by Boost.JSON.
void append_json_string(std::string& out, std::string_view text);

}  // namespace wcp::proxy
