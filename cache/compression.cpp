#include "cache/compression.hpp"

#include <zlib.h>

namespace wcp::cache {

namespace {

// One compressor per thread, reset between bodies: its window and tables (about 256 KiB) are
// allocated once, not for every stored entry.
struct deflater {
  z_stream zs{};
  bool ready = false;
  deflater() {
    // 15 window bits + 16: a gzip header and trailer around the deflate data.
    ready = deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~deflater() {
    if (ready) deflateEnd(&zs);
  }
};

}  // namespace

std::string gzip_if_smaller(std::string_view body) {
  constexpr std::size_t min_size = 256;
  if (body.size() < min_size || body.size() > (1u << 30)) return {};
  thread_local deflater d;
  if (!d.ready || deflateReset(&d.zs) != Z_OK) return {};
  auto& zs = d.zs;
  // Worth keeping only when at least a tenth smaller: no room beyond that is needed.
  std::string out(body.size() - body.size() / 10, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  zs.avail_in = static_cast<uInt>(body.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  if (rc != Z_STREAM_END) return {};  // it did not fit: not worth it
  out.resize(zs.total_out);
  out.shrink_to_fit();
  return out;
}

std::string gunzip(std::string_view gz) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return {};
  std::string out;
  char chunk[16384];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - zs.avail_out);
  }
  inflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string();
}

}  // namespace wcp::cache
