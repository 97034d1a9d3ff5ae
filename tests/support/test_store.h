// The store backend the store test suites run against
// (tests/inventory/sqlite_*_test.cpp). The same suites are compiled twice:
// into inventory_test for SQLite, and with STORE_TEST_POSTGRES into
// store_pg_test for PostgreSQL (a real server: support/pg_server.h, one per
// test process). A test names its store by a file path in its own temporary
// folder; under PostgreSQL that path names a database of the shared server,
// created on the first read-write open, so reopening the path reopens the
// same data. Test cases that are about SQLite itself (its file, WAL, its
// migrations) carry the tag [sqlite_only] and are left out of store_pg_test.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "inventory/store.h"

namespace testing_support {

#ifdef STORE_TEST_POSTGRES
inline constexpr bool kPostgresStore = true;
#else
inline constexpr bool kPostgresStore = false;
#endif

// OpenSqliteStore(path) or OpenPostgresStore(database of path).
common::StatusOr<std::unique_ptr<inventory::Store>> OpenTestStore(const std::string& path,
                                                                  bool read_only = false);

// The store's database, bypassing the code under test (SQL both backends
// accept): the first column of the first row as text, "" for none.
common::StatusOr<std::string> QueryTestStore(const std::string& path, const std::string& sql);
// Runs SQL without rows on the store's database, as another process would.
common::Status ExecTestStore(const std::string& path, const std::string& sql);

}  // namespace testing_support
