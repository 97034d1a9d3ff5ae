// Random (version 4) UUIDs, used for device ids and upload ids.
#pragma once

#include <string>
#include <string_view>

namespace common {

// A new lower-case canonical v4 UUID from OpenSSL's CSPRNG.
std::string NewUuid();

// `bytes` random bytes from OpenSSL's CSPRNG as 2 * bytes lower-case hex
// digits: the random parts of secrets and tokens.
std::string RandomHex(size_t bytes);

// True for a lower-case canonical UUID (8-4-4-4-12 hex digits). Ids are used
// as file names and in URLs, so nothing else is accepted.
bool IsUuid(std::string_view s);

// True for a short token safe to log and to store: 1..64 characters of
// [A-Za-z0-9._:-]. Used for versions, beacon names and kinds.
bool IsToken(std::string_view s, size_t max_len = 64);

}  // namespace common

#include "common/status.h"

namespace common {

// Reads a UUID kept in `path`, or makes one and writes it durably the first
// time. DataLoss if the file holds something else.
StatusOr<std::string> LoadOrCreateUuidFile(const std::string& path);

}  // namespace common
