// The store's schema in PostgreSQL (docs/store.md "PostgreSQL"): the same
// tables, columns and keys as the newest SQLite schema, in PostgreSQL types,
// with the version in a one-row schema_version table.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "sql.h"

namespace inventory::pg {

// The same numbers as SQLite's schema versions (sqlite_schema.h): version N
// has the same tables in both backends.
extern const int kSchemaVersion;

// The version recorded in the database; 0 when it has no schema yet.
common::StatusOr<int64_t> ReadSchemaVersion(sql::Conn* db, const std::string& name);

// Brings the schema to kSchemaVersion, in one transaction under a
// transaction-level advisory lock, so that centrals starting together
// migrate one after the other (the second finds the work done). A fresh
// database gets the newest schema at once; an older one takes the steps
// after its version, one per version. FailedPrecondition for a database
// newer than this program.
common::Status Migrate(sql::Conn* db, const std::string& name);

}  // namespace inventory::pg
