// Errors the proxy makes itself, in the shape Webex uses:
// {"message": "...", "errors": [{"description": "..."}], "trackingId": "..."}
#pragma once

#include <string>
#include <string_view>

namespace wcp::proxy {

std::string webex_error_body(std::string_view message, std::string_view tracking_id);

// A tracking ID for an answer the proxy makes when the caller sent none.
std::string new_tracking_id();

}  // namespace wcp::proxy
