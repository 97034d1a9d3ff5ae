// SqlStore's reader pool and write batches (sql_store.h); the store's
// statements live in the store_*.cpp files.
#include "sql_store.h"

#include <memory>
#include <mutex>
#include <utility>

namespace inventory::sql {

using common::Status;

std::vector<common::Status> SqlStore::WriteBatch(size_t count,
                                                 const std::function<common::Status(size_t)>& write) {
  if (Status st = WritableOrError(); !st.ok()) return std::vector<common::Status>(count, st);
  std::lock_guard<std::mutex> lock(write_mu_);
  common::Backoff backoff(std::chrono::milliseconds(5), std::chrono::milliseconds(200));
  std::vector<common::Status> out(count);
  for (int attempt = 1;; ++attempt) {
    batch_thread_ = std::this_thread::get_id();
    Status st = WriteBatchOnce(count, write, &out);
    batch_thread_ = std::thread::id();
    if (st.ok()) return out;
    ForgetVersionIds();
    if (st.code() != common::Code::kUnavailable || !writer_->RetryableFailure() ||
        attempt >= writer_->WriteAttempts()) {
      return std::vector<common::Status>(count, st);
    }
    std::this_thread::sleep_for(backoff.Next());
  }
}

Status SqlStore::WriteBatchOnce(size_t count, const std::function<common::Status(size_t)>& write,
                                std::vector<common::Status>* out) {
  Transaction txn(writer());
  RETURN_IF_ERROR(txn.Begin());
  for (size_t i = 0; i < count; ++i) {
    const std::string what = path_ + ": write " + std::to_string(i + 1) + " of a batch of " + std::to_string(count);
    RETURN_IF_ERROR(Exec(writer(), "SAVEPOINT batch_write", what));
    Status st = write(i);
    // A lost race or connection dooms the whole transaction: run it again.
    if (!st.ok() && st.code() == common::Code::kUnavailable && writer_->RetryableFailure()) return st;
    if (!st.ok()) {
      RETURN_IF_ERROR(Exec(writer(), "ROLLBACK TO SAVEPOINT batch_write", what));
      ForgetVersionIds();  // what the write added is gone
    }
    RETURN_IF_ERROR(Exec(writer(), "RELEASE SAVEPOINT batch_write", what));
    (*out)[i] = st;
  }
  return txn.Commit();
}

common::StatusOr<Conn*> ReaderPool::Acquire() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
    if (!idle_.empty()) {
      Conn* db = idle_.back().release();
      idle_.pop_back();
      return db;
    }
    ++open_;  // reserve the slot; the open itself runs without the lock
  }
  common::StatusOr<std::unique_ptr<Conn>> db = open_reader_();
  if (!db.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    --open_;
    cv_.notify_one();
    return db.status();
  }
  return std::move(db).value().release();
}

void ReaderPool::Release(Conn* db) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.emplace_back(db);
  cv_.notify_one();
}

void ReaderPool::Adopt(std::unique_ptr<Conn> db) {
  std::lock_guard<std::mutex> lock(mu_);
  ++open_;
  idle_.push_back(std::move(db));
}

}  // namespace inventory::sql
