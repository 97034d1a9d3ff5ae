// gzip framing through zlib: deflate/inflate with the gzip wrapper (window
// bits 15 + 16), which writes and checks the RFC 1952 header and trailer
// (CRC-32 and length) itself.

#include "inventory/pack.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

namespace inventory {

using common::StatusOr;

namespace {

constexpr int kGzipWindowBits = 15 + 16;  // 32 KiB window, gzip wrapper only
constexpr size_t kChunk = 64u << 10;

// zlib's uInt counts are 32-bit: large buffers are fed in slices.
uInt Slice(size_t n) { return static_cast<uInt>(std::min<size_t>(n, UINT_MAX)); }

std::string ZlibError(const z_stream& zs, int ret) {
  if (zs.msg != nullptr) return zs.msg;
  return "zlib error " + std::to_string(ret);
}

// Ends the stream however the function returns.
struct DeflateStream {
  z_stream zs{};
  bool open = false;
  ~DeflateStream() {
    if (open) deflateEnd(&zs);
  }
};
struct InflateStream {
  z_stream zs{};
  bool open = false;
  ~InflateStream() {
    if (open) inflateEnd(&zs);
  }
};

}  // namespace

StatusOr<std::string> Gzip(std::string_view data) {
  DeflateStream d;
  // No deflateSetHeader: zlib then writes no name and mtime 0, so equal input
  // gives equal bytes and a retried upload carries the same SHA-256.
  int ret = deflateInit2(&d.zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY);
  if (ret != Z_OK) return common::Internal("gzip: " + ZlibError(d.zs, ret));
  d.open = true;
  std::string out;
  out.reserve(deflateBound(&d.zs, static_cast<uLong>(data.size())));
  d.zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  size_t left = data.size();
  char buf[kChunk];
  do {
    d.zs.avail_in = Slice(left);
    left -= d.zs.avail_in;
    int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    do {
      d.zs.next_out = reinterpret_cast<Bytef*>(buf);
      d.zs.avail_out = sizeof buf;
      ret = deflate(&d.zs, flush);
      if (ret == Z_STREAM_ERROR) return common::Internal("gzip: " + ZlibError(d.zs, ret));
      out.append(buf, sizeof buf - d.zs.avail_out);
    } while (d.zs.avail_out == 0);
  } while (left != 0);
  if (ret != Z_STREAM_END) return common::Internal("gzip: " + ZlibError(d.zs, ret));
  return out;
}

StatusOr<std::string> Gunzip(std::string_view data, uint64_t max_output) {
  if (data.empty()) return common::InvalidArgument("gunzip: empty input is not gzip");
  // zlib takes a missing magic for a bad header; say it plainly.
  if (data.size() < 2 || static_cast<unsigned char>(data[0]) != 0x1f ||
      static_cast<unsigned char>(data[1]) != 0x8b) {
    return common::InvalidArgument("gunzip: input is not a gzip stream");
  }
  InflateStream s;
  int ret = inflateInit2(&s.zs, kGzipWindowBits);
  if (ret != Z_OK) return common::Internal("gunzip: " + ZlibError(s.zs, ret));
  s.open = true;
  s.zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  size_t left = data.size();
  std::string out;
  char buf[kChunk];
  for (;;) {
    if (s.zs.avail_in == 0 && left != 0) {
      s.zs.avail_in = Slice(left);
      left -= s.zs.avail_in;
    }
    s.zs.next_out = reinterpret_cast<Bytef*>(buf);
    s.zs.avail_out = sizeof buf;
    ret = inflate(&s.zs, Z_NO_FLUSH);
    size_t produced = sizeof buf - s.zs.avail_out;
    // Checked before keeping the bytes: a bomb costs the cap plus one chunk.
    if (out.size() + produced > max_output) {
      return common::ResourceExhausted("gunzip: output exceeds " + std::to_string(max_output) + " bytes");
    }
    out.append(buf, produced);
    if (ret == Z_STREAM_END) break;
    if (ret == Z_BUF_ERROR && s.zs.avail_in == 0 && left == 0) {
      return common::InvalidArgument("gunzip: truncated gzip stream (it ends before its trailer)");
    }
    if (ret == Z_MEM_ERROR) return common::Internal("gunzip: out of memory");
    if (ret != Z_OK && ret != Z_BUF_ERROR) {
      // Z_DATA_ERROR: bad header, bad deflate data, or a CRC-32 or length
      // that does not match the output ("incorrect data check").
      return common::InvalidArgument("gunzip: corrupt gzip stream: " + ZlibError(s.zs, ret));
    }
  }
  // One member with nothing after it, as Gzip and gzip(1) write it: a second
  // member or trailing bytes would be data nobody checked.
  if (s.zs.avail_in != 0 || left != 0) {
    return common::InvalidArgument("gunzip: bytes after the gzip trailer (concatenated members or trailing data)");
  }
  // No upload is wrapped twice; a gzip inside is a sender's mistake, refused
  // rather than handed on as if it were the document.
  if (out.size() >= 2 && static_cast<unsigned char>(out[0]) == 0x1f &&
      static_cast<unsigned char>(out[1]) == 0x8b) {
    return common::InvalidArgument("gunzip: nested gzip streams are not supported");
  }
  return out;
}

}  // namespace inventory
