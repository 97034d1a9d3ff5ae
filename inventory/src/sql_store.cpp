// SqlStore's reader pool (sql_store.h); the store's statements live in the
// store_*.cpp files.
#include "sql_store.h"

#include <memory>
#include <mutex>
#include <utility>

namespace inventory::sql {

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
