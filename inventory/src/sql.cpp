#include "sql.h"

#include <limits>
#include <utility>

namespace inventory::sql {

using common::Status;
using common::StatusOr;

Status Stmt::Prepared() const {
  if (impl_ == nullptr) return common::Internal(what_ + ": statement used before it was prepared");
  return Status::Ok();
}

Status Stmt::Prepare(const char* sql) {
  StatusOr<std::unique_ptr<StmtImpl>> impl = db_->Prepare(sql, what_);
  if (!impl.ok()) return impl.status();
  impl_ = std::move(impl).value();
  return Status::Ok();
}

Status Stmt::Bind(int index, std::string_view text) {
  RETURN_IF_ERROR(Prepared());
  return impl_->BindText(index, text);
}

Status Stmt::Bind(int index, int64_t value) {
  RETURN_IF_ERROR(Prepared());
  return impl_->BindInt(index, value);
}

Status Stmt::BindUnsigned(int index, uint64_t value) {
  if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return common::InvalidArgument(what_ + ": value " + std::to_string(value) +
                                   " does not fit a signed 64-bit integer");
  }
  return Bind(index, static_cast<int64_t>(value));
}

Status Stmt::BindBlob(int index, std::string_view bytes) {
  RETURN_IF_ERROR(Prepared());
  return impl_->BindBlob(index, bytes);
}

StatusOr<bool> Stmt::Step() {
  RETURN_IF_ERROR(Prepared());
  return impl_->Step();
}

Status Stmt::Run() {
  ASSIGN_OR_RETURN(bool row, Step());
  (void)row;
  return Status::Ok();
}

Status Stmt::Reset() {
  RETURN_IF_ERROR(Prepared());
  return impl_->Reset();
}

Status Exec(Conn* db, const char* sql, const std::string& what) { return db->Exec(sql, what); }

StatusOr<int64_t> QueryInt(Conn* db, const char* sql, const std::string& what) {
  Stmt stmt(db, what);
  RETURN_IF_ERROR(stmt.Prepare(sql));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return common::Internal(what + ": no result");
  return stmt.Int(0);
}

Status Transaction::Begin() {
  RETURN_IF_ERROR(db_->Begin(kind_));
  active_ = true;
  return Status::Ok();
}

Status Transaction::Commit() {
  // A failed COMMIT has ended the transaction in both backends (SQLite keeps
  // it open only on BUSY, which the destructor's rollback then ends).
  active_ = false;
  Status st = db_->Commit();
  if (!st.ok()) db_->Rollback();
  return st;
}

}  // namespace inventory::sql
