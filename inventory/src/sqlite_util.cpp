#include "sqlite_util.h"

#include <limits>
#include <utility>

#include "common/fs.h"

namespace inventory::sqlite {

using common::Status;
using common::StatusOr;

Status SqliteStatus(sqlite3* db, int rc, const std::string& context) {
  const int primary = rc & 0xff;
  std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string message = context + ": " + detail;
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return common::Unavailable(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return common::DataLoss(message);
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_TOOBIG:
      return common::ResourceExhausted(message);
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_READONLY:
      return common::PermissionDenied(message);
    case SQLITE_CANTOPEN: {
      // The errno says why (missing directory, permissions) better than SQLite.
      const int err = db != nullptr ? sqlite3_system_errno(db) : 0;
      if (err != 0) return common::ErrnoStatus(context, err);
      return common::Internal(message);
    }
    case SQLITE_CONSTRAINT:
      // Duplicates are found by an explicit lookup (RecordUpload). A constraint
      // failure here is a bug, and AlreadyExists would make the importer drop
      // the upload as delivered; Internal keeps it in the spool.
      return common::Internal(message);
    default:
      return common::Internal(message);
  }
}

Status Stmt::Prepare(const char* sql) {
  const int rc = sqlite3_prepare_v2(db_, sql, -1, &stmt_, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, what_);
  return Status::Ok();
}

Status Stmt::Bind(int index, std::string_view text) {
  // SQLITE_TRANSIENT: the caller's string may be a temporary.
  return Check(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

Status Stmt::Bind(int index, int64_t value) {
  return Check(sqlite3_bind_int64(stmt_, index, value));
}

Status Stmt::BindUnsigned(int index, uint64_t value) {
  if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return common::InvalidArgument(what_ + ": value " + std::to_string(value) +
                                   " does not fit a signed 64-bit integer");
  }
  return Bind(index, static_cast<int64_t>(value));
}

Status Stmt::BindBlob(int index, std::string_view bytes) {
  return Check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_STATIC));
}

StatusOr<bool> Stmt::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(db_, rc, what_);
}

Status Stmt::Run() {
  ASSIGN_OR_RETURN(bool row, Step());
  (void)row;
  return Status::Ok();
}

Status Stmt::Reset() {
  const int rc = sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, what_);
  return Status::Ok();
}

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Stmt::Text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (p == nullptr) return std::string();
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::string_view Stmt::Blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  if (p == nullptr) return std::string_view();
  return std::string_view(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

Status Stmt::Check(int rc) {
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, what_);
  return Status::Ok();
}

Status Exec(sqlite3* db, const char* sql, const std::string& what) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db, rc, what);
  return Status::Ok();
}

StatusOr<int64_t> QueryInt(sqlite3* db, const char* sql, const std::string& what) {
  Stmt stmt(db, what);
  RETURN_IF_ERROR(stmt.Prepare(sql));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return common::Internal(what + ": no result");
  return stmt.Int(0);
}

Status Transaction::Begin() {
  RETURN_IF_ERROR(Exec(db_, begin_, "begin transaction"));
  active_ = true;
  return Status::Ok();
}

Status Transaction::Commit() {
  RETURN_IF_ERROR(Exec(db_, "COMMIT", "commit"));
  active_ = false;
  return Status::Ok();
}

StatusOr<DbPtr> OpenConnection(const std::string& path, int flags, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) return SqliteStatus(db.get(), rc, "open store " + path);
  sqlite3_extended_result_codes(db.get(), 1);
  const int brc = sqlite3_busy_timeout(db.get(), busy_timeout_ms);
  if (brc != SQLITE_OK) return SqliteStatus(db.get(), brc, path + ": set busy timeout");
  return db;
}

}  // namespace inventory::sqlite
