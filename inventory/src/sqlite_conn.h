// SQLite behind the SQL seam (sql.h): result codes -> Status, statements, a
// connection. Nothing here knows the schema.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "sql.h"

namespace inventory::sqlite {

// Maps a SQLite result code to the project's codes, so that callers can decide
// retry/quarantine from the code alone (STYLE.md rule 4).
common::Status SqliteStatus(sqlite3* db, int rc, const std::string& context);

// Closes a connection when its owner goes; sqlite3_close_v2 also accepts the
// handle that a failed open returns, and nullptr.
struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, CloseDb>;

// One SQLite connection as a sql::Conn. Writes use BEGIN IMMEDIATE: it takes
// the write lock up front, so two writers queue on busy_timeout at the start
// instead of one failing with SQLITE_BUSY halfway through when it upgrades a
// read lock. Snapshot reads use a plain (deferred) BEGIN: in WAL mode the
// first SELECT fixes the snapshot and no lock ever blocks the writer.
class SqliteConn final : public sql::Conn {
 public:
  explicit SqliteConn(DbPtr db) : db_(std::move(db)) {}

  common::StatusOr<std::unique_ptr<sql::StmtImpl>> Prepare(const char* sql,
                                                           const std::string& what) override;
  common::Status Exec(const char* sql, const std::string& what) override;
  common::Status Begin(sql::TxnKind kind) override;
  common::Status Commit() override;
  void Rollback() override;
  // One writer per file, which waits on busy_timeout for any other: a BUSY
  // after that is an overloaded store, for the caller's own backoff.
  int WriteAttempts() const override { return 1; }
  bool RetryableFailure() const override { return false; }
  bool ConnectionLost() const override { return false; }

  sqlite3* raw() const { return db_.get(); }

 private:
  DbPtr db_;
};

// NOMUTEX: each connection is used by one thread at a time (the writer under
// its mutex, a reader while leased from the pool), so SQLite's own
// per-connection mutex would only cost time.
common::StatusOr<DbPtr> OpenConnection(const std::string& path, int flags, int busy_timeout_ms);

}  // namespace inventory::sqlite
