// UTF-8 checks and terminal safety shared by the parsers of documents that come from devices or
// administrators.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace common {

// The length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes
// there are not one (overlong forms, surrogates and values above U+10FFFF
// included, as RFC 3629 requires). i must be < s.size().
size_t Utf8SequenceLength(std::string_view s, size_t i);

// True if all of `s` is valid UTF-8.
bool IsValidUtf8(std::string_view s);

// Text that came from devices, made safe for a terminal: control characters
// (C0, DEL, C1) and bidi embeddings, overrides and isolates become '?', so a
// host name with an escape sequence cannot rewrite an administrator's screen.
std::string Printable(std::string_view s);

}  // namespace common
