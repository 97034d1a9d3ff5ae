// gzip compression of upload bodies, through libarchive's raw format.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace inventory {

// gzip-compresses `data`.
common::StatusOr<std::string> Gzip(std::string_view data);

// Decompresses a gzip stream. InvalidArgument if it is not gzip or is corrupt;
// ResourceExhausted if the output would exceed max_output (a decompression
// bomb is refused without being inflated past the cap).
common::StatusOr<std::string> Gunzip(std::string_view data, uint64_t max_output = 64u << 20);

}  // namespace inventory
