// gzip for stored answers: a cached body is compressed once, when it is stored, and served
// compressed to clients that accept gzip.
#pragma once

#include <string>
#include <string_view>

namespace wcp::cache {

// The body gzip-compressed (RFC 1952, zlib level 6), or "" when that is not worth keeping: a body
// under 256 bytes, or one that does not shrink by a tenth.
std::string gzip_if_smaller(std::string_view body);

// The gzip member's data uncompressed, or "" when it is not gzip (for tests and checks).
std::string gunzip(std::string_view gz);

}  // namespace wcp::cache
