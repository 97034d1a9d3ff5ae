// Reader of one rpm header blob, as rpm stores it in the Packages table of
// rpmdb.sqlite (the header without its 8-byte magic). Grammar and tags:
// docs/inventory_software.md#rpm-header. Private to inventory/; a fuzz
// target (fuzz/fuzz_rpm_header.cpp) and the tests call it directly.
//
// The blob comes from a file any package manager, or an attacker, may have
// written, so every count, offset and length is checked before it is used;
// no input makes it read outside `blob`, allocate more than a few times
// blob.size(), or throw.
#pragma once

#include <string_view>

#include "common/status.h"
#include "inventory/inventory.h"

namespace inventory {

// Limits rpm itself enforces on a header (hdrchkTags, hdrchkData).
constexpr uint32_t kRpmMaxIndexEntries = 0xffff;
constexpr uint32_t kRpmMaxDataBytes = 0x0fffffff;

// Returns the package the header describes, with source "rpm": name,
// version "[epoch:]version[-release]", arch, installed_at (INSTALLTIME),
// size_bytes (LONGSIZE, else SIZE), section (GROUP), maintainer (VENDOR,
// else PACKAGER), summary (SUMMARY). Tags the package lacks stay empty/0.
//
// Errors, all InvalidArgument "rpm header: <what>": a blob shorter than its
// preamble or not exactly 8 + 16 * entries + data bytes long; more entries or
// data than the limits above; an entry we read whose type is not the one its
// tag needs, whose offset or count reaches outside the data store, or whose
// string is not NUL-terminated inside it; no NAME or no VERSION.
common::StatusOr<Package> ParseRpmHeader(std::string_view blob);

}  // namespace inventory
