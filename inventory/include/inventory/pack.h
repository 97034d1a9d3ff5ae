// gzip framing of upload bodies (RFC 1952, one member), through zlib.
// Format and refusals in docs/inventory.md#wire-form.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace inventory {

// gzip-compresses `data`: one member, no file name, mtime 0, so equal input
// gives equal bytes.
common::StatusOr<std::string> Gzip(std::string_view data);

// Decompresses one gzip member. InvalidArgument if it is not gzip, is
// truncated or corrupt (bad deflate data, CRC-32 or length), has bytes after
// the trailer, or holds another gzip stream; ResourceExhausted if the output
// would exceed max_output (a decompression bomb is refused without being
// inflated past the cap plus one 64 KiB chunk).
common::StatusOr<std::string> Gunzip(std::string_view data, uint64_t max_output = 64u << 20);

}  // namespace inventory
