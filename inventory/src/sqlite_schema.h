// The store's schema: its version and the migrations that bring any older
// store up to it (docs/store.md).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "sql.h"

namespace inventory::sqlite {

// Bumped whenever the schema changes; each step in kMigrations moves the
// database from version i to i+1, so an old store is upgraded in place.
inline constexpr int kSchemaVersion = 9;

// "<path>: schema version N is newer/older than this program's M".
std::string VersionMismatch(const std::string& path, int64_t version);

// Brings the schema to kSchemaVersion. Runs in one IMMEDIATE transaction and
// re-reads user_version inside it, so two processes opening a new store at
// once do not both create the tables. Foreign keys must be off (the rebuild
// of version 3 drops referenced tables), so the references are checked here
// before the commit: a store whose rows do not line up is refused, not
// half-migrated.
common::Status Migrate(sql::Conn* db, const std::string& path);

}  // namespace inventory::sqlite
