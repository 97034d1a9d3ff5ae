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

// Names from a file system (paths, executables) are bytes, not necessarily
// UTF-8. EscapeBytes gives UTF-8 text that keeps them exactly: a backslash
// becomes \\ and each byte that is not part of a valid UTF-8 sequence, or is
// part of a character the documents refuse (C0 and C1 controls, DEL,
// U+FFFE, U+FFFF), becomes \xHH (two lower-case hex digits). Valid UTF-8
// without backslashes or such characters is unchanged. UnescapeBytes reverses
// it exactly; it returns false (leaving *out unspecified) for text
// EscapeBytes cannot have produced: a lone backslash, \x without two
// lower-case hex digits, any other escape. Format: docs/inventory.md.
std::string EscapeBytes(std::string_view bytes);
bool UnescapeBytes(std::string_view text, std::string* out);

}  // namespace common
