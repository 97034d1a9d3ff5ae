#include "sqlite_conn.h"

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

namespace {

class SqliteStmt final : public sql::StmtImpl {
 public:
  SqliteStmt(sqlite3* db, sqlite3_stmt* stmt, std::string what)
      : db_(db), stmt_(stmt), what_(std::move(what)) {}
  ~SqliteStmt() override { sqlite3_finalize(stmt_); }

  Status BindText(int index, std::string_view text) override {
    // SQLITE_TRANSIENT: the caller's string may be a temporary.
    return Check(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                                     SQLITE_UTF8));
  }
  Status BindInt(int index, int64_t value) override {
    return Check(sqlite3_bind_int64(stmt_, index, value));
  }
  Status BindBlob(int index, std::string_view bytes) override {
    return Check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT));
  }
  StatusOr<bool> Step() override {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) {
      changes_ = sqlite3_changes64(db_);
      return false;
    }
    return SqliteStatus(db_, rc, what_);
  }
  Status Reset() override {
    const int rc = sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    if (rc != SQLITE_OK) return SqliteStatus(db_, rc, what_);
    return Status::Ok();
  }
  int64_t Int(int col) const override { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) const override {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    if (p == nullptr) return std::string();
    return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  std::string Blob(int col) const override {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    if (p == nullptr) return std::string();
    return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  int64_t Changes() const override { return changes_; }

 private:
  Status Check(int rc) {
    if (rc != SQLITE_OK) return SqliteStatus(db_, rc, what_);
    return Status::Ok();
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string what_;
  int64_t changes_ = 0;
};

}  // namespace

StatusOr<std::unique_ptr<sql::StmtImpl>> SqliteConn::Prepare(const char* sql,
                                                             const std::string& what) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_.get(), sql, -1, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteStatus(db_.get(), rc, what);
  }
  return std::unique_ptr<sql::StmtImpl>(std::make_unique<SqliteStmt>(db_.get(), stmt, what));
}

Status SqliteConn::Exec(const char* sql, const std::string& what) {
  const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_.get(), rc, what);
  return Status::Ok();
}

Status SqliteConn::Begin(sql::TxnKind kind) {
  return Exec(kind == sql::TxnKind::kSnapshot ? "BEGIN" : "BEGIN IMMEDIATE", "begin transaction");
}

Status SqliteConn::Commit() { return Exec("COMMIT", "commit"); }

void SqliteConn::Rollback() {
  // After some errors SQLite has already rolled back on its own; a second
  // ROLLBACK would only fail.
  if (!sqlite3_get_autocommit(db_.get())) {
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
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
