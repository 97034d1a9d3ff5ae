// The store's one SQL seam (docs/store.md "Backends"): a connection and its
// prepared statements, behind which SQLite (sqlite_conn.h) and PostgreSQL
// (pg_conn.h) live. The store's logic (store_*.cpp) is written once against
// this seam; only connections, statements, transactions, schema and pools are
// backend code.
//
// SQL written for the seam is the dialect both backends accept: numbered
// placeholders ?1..?N (each backend translates them once, at prepare),
// INSERT ... ON CONFLICT, CASE instead of two-argument MAX(), LIKE ... ESCAPE,
// CAST where a parameter's type cannot be inferred, 0/1 instead of booleans.
//
// Thread safety: a Conn and its statements are used by one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace inventory::sql {

// What a transaction is for; each backend maps it to its own BEGIN.
//  kWrite     reads and writes that must behave as if they ran alone
//             (SQLite: BEGIN IMMEDIATE; PostgreSQL: SERIALIZABLE).
//  kMerge     writes only, each an upsert whose SQL merges the new values
//             into the row's newest version (INSERT ... ON CONFLICT DO
//             UPDATE keeping the newest of each), so that no snapshot is
//             needed and another writer's commit to the same rows is no
//             conflict (SQLite: BEGIN IMMEDIATE; PostgreSQL: READ COMMITTED,
//             where such a statement waits for the row's lock and then
//             merges into what was committed).
//  kSnapshot  several reads that must see one snapshot (SQLite: BEGIN;
//             PostgreSQL: REPEATABLE READ, READ ONLY).
enum class TxnKind { kWrite, kMerge, kSnapshot };

// One backend's prepared statement. Columns are numbered from 0, parameters
// from 1 (the ?N of the SQL). Errors start with the `what` the statement was
// prepared with.
class StmtImpl {
 public:
  virtual ~StmtImpl() = default;
  virtual common::Status BindText(int index, std::string_view text) = 0;
  virtual common::Status BindInt(int index, int64_t value) = 0;
  virtual common::Status BindBlob(int index, std::string_view bytes) = 0;
  // True if a row is available, false when the statement is done.
  virtual common::StatusOr<bool> Step() = 0;
  // Forgets the result and the bindings, ready to run again.
  virtual common::Status Reset() = 0;
  virtual int64_t Int(int col) const = 0;
  virtual std::string Text(int col) const = 0;
  virtual std::string Blob(int col) const = 0;
  // Rows inserted, updated or deleted by the statement's last run.
  virtual int64_t Changes() const = 0;
};

// A connection to one database.
class Conn {
 public:
  virtual ~Conn() = default;

  // `what` names the statement in errors.
  virtual common::StatusOr<std::unique_ptr<StmtImpl>> Prepare(const char* sql,
                                                              const std::string& what) = 0;
  // Runs SQL without parameters and without rows (DDL, settings).
  virtual common::Status Exec(const char* sql, const std::string& what) = 0;

  virtual common::Status Begin(TxnKind kind) = 0;
  virtual common::Status Commit() = 0;
  // Best effort, for a transaction that is given up (errors are ignored: a
  // connection that cannot roll back is reset or closed by its backend).
  virtual void Rollback() = 0;

  // How often a write transaction is tried in all when it fails with a
  // retryable error: Unavailable from this backend means "the transaction
  // lost a race (serialization failure, deadlock) or the connection; run it
  // again from the start". 1 means never retried (SQLite, whose one writer
  // waits on its busy timeout instead).
  virtual int WriteAttempts() const = 0;
  // Whether the failure that ended the current transaction (since Begin)
  // came from this backend and calls for running the whole transaction
  // again. An Unavailable from elsewhere (the CA called inside a decision)
  // is not retried here: it goes back to the caller.
  virtual bool RetryableFailure() const = 0;
  // Whether the connection itself is lost (the server restarted, or ended
  // this session), so that the next Prepare, Exec or Begin opens a new one.
  // A read that failed that way may simply be made again. Always false for a
  // file (SQLite).
  virtual bool ConnectionLost() const = 0;
};

// Owns one prepared statement. The names and shapes are those the store's
// code uses: Stmt s(db, "what"); s.Prepare(sql); s.Bind(1, x); s.Run();
class Stmt {
 public:
  Stmt(Conn* db, std::string what) : db_(db), what_(std::move(what)) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  common::Status Prepare(const char* sql);

  common::Status Bind(int index, std::string_view text);
  common::Status Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  common::Status Bind(int index, int64_t value);
  // Stored integers are signed 64-bit in both backends; a larger unsigned
  // value cannot be stored faithfully, and silently wrapping it would store
  // a lie (InvalidArgument).
  common::Status BindUnsigned(int index, uint64_t value);
  common::Status BindBlob(int index, std::string_view bytes);

  // True if a row is available, false when the statement is done.
  common::StatusOr<bool> Step();
  // Runs a statement that returns no rows we care about.
  common::Status Run();
  // Makes the statement reusable for the next row of a batch.
  common::Status Reset();

  int64_t Int(int col) const { return impl_->Int(col); }
  std::string Text(int col) const { return impl_->Text(col); }
  std::string Blob(int col) const { return impl_->Blob(col); }
  // Rows changed by the last Run/Step.
  int64_t Changes() const { return impl_->Changes(); }

 private:
  common::Status Prepared() const;

  Conn* db_;
  std::string what_;
  std::unique_ptr<StmtImpl> impl_;
};

// Inserts rows with as few statements (round trips, on PostgreSQL) as it
// can: rows are buffered and written by multi-row INSERTs of 64, 32, ... 1
// rows, each statement prepared once. `head` is "INSERT INTO t (a, b, c)",
// `tail` what follows the VALUES (an ON CONFLICT clause, or empty). Rows of
// one inserter must not conflict with each other. Call Flush() at the end.
class RowInserter {
 public:
  using Value = std::variant<int64_t, std::string>;
  RowInserter(Conn* db, std::string what, std::string head, int columns, std::string tail)
      : db_(db), what_(std::move(what)), head_(std::move(head)), tail_(std::move(tail)), columns_(columns) {}

  // Buffers one row of `columns` values; writes when 64 are buffered.
  common::Status Add(std::vector<Value> row);
  // Writes every buffered row.
  common::Status Flush();

 private:
  static constexpr size_t kMaxRows = 64;
  common::Status Write(size_t first, size_t count);

  Conn* db_;
  std::string what_, head_, tail_;
  int columns_;
  std::vector<std::vector<Value>> rows_;
  std::map<size_t, std::unique_ptr<Stmt>> statements_;  // by row count
};

// Runs SQL without parameters (DDL, settings).
common::Status Exec(Conn* db, const char* sql, const std::string& what);

// The first column of the first row of a query that must return one.
common::StatusOr<int64_t> QueryInt(Conn* db, const char* sql, const std::string& what);

// A transaction that rolls back unless committed.
class Transaction {
 public:
  explicit Transaction(Conn* db, TxnKind kind = TxnKind::kWrite) : db_(db), kind_(kind) {}
  ~Transaction() {
    if (active_) db_->Rollback();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  common::Status Begin();
  common::Status Commit();

 private:
  Conn* db_;
  TxnKind kind_;
  bool active_ = false;
};

}  // namespace inventory::sql
