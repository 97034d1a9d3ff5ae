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

Status RowInserter::Add(std::vector<Value> row) {
  if (static_cast<int>(row.size()) != columns_) {
    return common::Internal(what_ + ": a row of " + std::to_string(row.size()) + " values for " +
                            std::to_string(columns_) + " columns");
  }
  rows_.push_back(std::move(row));
  if (rows_.size() < kMaxRows) return Status::Ok();
  return Flush();
}

Status RowInserter::Flush() {
  size_t done = 0;
  while (done < rows_.size()) {
    size_t count = kMaxRows;
    while (count > rows_.size() - done) count /= 2;
    RETURN_IF_ERROR(Write(done, count));
    done += count;
  }
  rows_.clear();
  return Status::Ok();
}

Status RowInserter::Write(size_t first, size_t count) {
  std::unique_ptr<Stmt>& stmt = statements_[count];
  if (stmt == nullptr) {
    std::string sql = head_ + " VALUES ";
    int n = 0;
    for (size_t r = 0; r < count; ++r) {
      sql += r == 0 ? "(" : ", (";
      for (int c = 0; c < columns_; ++c) sql += (c == 0 ? "?" : ", ?") + std::to_string(++n);
      sql += ")";
    }
    sql += " " + tail_;
    auto prepared = std::make_unique<Stmt>(db_, what_);
    RETURN_IF_ERROR(prepared->Prepare(sql.c_str()));
    stmt = std::move(prepared);
  }
  int index = 0;
  for (size_t r = first; r < first + count; ++r) {
    for (const Value& v : rows_[r]) {
      ++index;
      RETURN_IF_ERROR(std::holds_alternative<int64_t>(v) ? stmt->Bind(index, std::get<int64_t>(v))
                                                         : stmt->Bind(index, std::get<std::string>(v)));
    }
  }
  RETURN_IF_ERROR(stmt->Run());
  return stmt->Reset();
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
