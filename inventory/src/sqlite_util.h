// SQLite plumbing for the store backend (docs/store.md): result codes ->
// Status, a prepared statement, a transaction and a connection, each owned
// by one object. Nothing here knows the schema.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace inventory::sqlite {

// Maps a SQLite result code to the project's codes, so that callers can decide
// retry/quarantine from the code alone (STYLE.md rule 4).
common::Status SqliteStatus(sqlite3* db, int rc, const std::string& context);

// Owns one prepared statement. Binding and stepping return Status so that
// every SQLite failure carries the statement's purpose as context.
class Stmt {
 public:
  Stmt(sqlite3* db, std::string what) : db_(db), what_(std::move(what)) {}
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  common::Status Prepare(const char* sql);

  common::Status Bind(int index, std::string_view text);
  common::Status Bind(int index, int64_t value);
  // SQLite integers are signed 64-bit; a larger unsigned value cannot be
  // stored faithfully, and silently wrapping it would store a lie.
  common::Status BindUnsigned(int index, uint64_t value);
  common::Status BindBlob(int index, std::string_view bytes);

  // True if a row is available, false when the statement is done.
  common::StatusOr<bool> Step();
  // Runs a statement that returns no rows we care about.
  common::Status Run();
  // Makes the statement reusable for the next row of a batch.
  common::Status Reset();

  int64_t Int(int col) const;
  std::string Text(int col) const;
  // The bytes of a BLOB (or TEXT) column; valid until the next Step or Reset.
  std::string_view Blob(int col) const;

 private:
  common::Status Check(int rc);

  sqlite3* db_;
  std::string what_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Runs SQL without parameters (PRAGMAs, DDL, transaction control).
common::Status Exec(sqlite3* db, const char* sql, const std::string& what);

// The first column of the first row of a query that must return one.
common::StatusOr<int64_t> QueryInt(sqlite3* db, const char* sql, const std::string& what);

// A transaction that rolls back unless committed. Writes use BEGIN IMMEDIATE:
// it takes the write lock up front, so two writers queue on busy_timeout at
// the start instead of one failing with SQLITE_BUSY halfway through when it
// upgrades a read lock. Reads that need one snapshot across several
// statements use a plain (deferred) BEGIN: in WAL mode the first SELECT
// fixes the snapshot and no lock ever blocks the writer.
class Transaction {
 public:
  explicit Transaction(sqlite3* db, const char* begin = "BEGIN IMMEDIATE")
      : db_(db), begin_(begin) {}
  ~Transaction() {
    // After some errors SQLite has already rolled back on its own; a second
    // ROLLBACK would only fail.
    if (active_ && !sqlite3_get_autocommit(db_)) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  common::Status Begin();
  common::Status Commit();

 private:
  sqlite3* db_;
  const char* begin_;
  bool active_ = false;
};

// Closes a connection when its owner goes; sqlite3_close_v2 also accepts the
// handle that a failed open returns, and nullptr.
struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, CloseDb>;

// NOMUTEX: each connection is used by one thread at a time (the writer under
// its mutex, a reader while leased from the pool), so SQLite's own
// per-connection mutex would only cost time.
common::StatusOr<DbPtr> OpenConnection(const std::string& path, int flags, int busy_timeout_ms);

}  // namespace inventory::sqlite
