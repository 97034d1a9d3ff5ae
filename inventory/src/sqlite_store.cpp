// SQLite backend of inventory::Store. Schema and rules: docs/store.md.
//
// Everything SQLite-specific (PRAGMAs, error codes, the open flags) stays in
// the sqlite_* files. The SQL itself is kept to what PostgreSQL also accepts
// (INSERT ... ON CONFLICT ... DO UPDATE, CASE instead of the two-argument
// MAX(), LIKE ... ESCAPE instead of GLOB) so that a PostgreSQL backend can
// start from the same statements.
//
// The backend's files: sqlite_util (statements, transactions, result codes),
// sqlite_schema (schema and migrations), this file (opening the writer and
// the reader pool), sqlite_imports.cpp (writes), sqlite_queries.cpp (reads),
// sqlite_identity.cpp (the identity records).
#include "sqlite_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "common/fs.h"
#include "common/status.h"
#include "inventory/store.h"
#include "sqlite_schema.h"
#include "sqlite_util.h"

namespace inventory {
namespace sqlite {
namespace {

using common::Status;
using common::StatusOr;

// How long the writer waits for another connection's lock before giving up
// with SQLITE_BUSY (-> Unavailable). Readers never block the writer in WAL
// mode, so this only covers a second writer or a checkpoint; 5 s is far longer
// than any single import should hold the lock.
constexpr int kBusyTimeoutMs = 5000;

// The same for reader connections. In WAL mode a reader is not blocked by the
// write lock at all; it waits only while another connection recovers the WAL
// after a crash or rebuilds the shared-memory index, which is brief. A reader
// serves a request (a manifest, beaconctl), so it gives up sooner than the
// importer and its caller answers "retry later" (Unavailable).
constexpr int kReaderBusyTimeoutMs = 2000;

// Reader connections open at most at once. The beacon runs reads on its
// worker threads; more concurrent readers than this queue for a connection
// (never for the writer). Two cores gain nothing from more.
constexpr size_t kMaxReaders = 4;

// The importer's connection: creates the file if needed, sets the journal
// and durability settings and brings the schema up to date.
StatusOr<DbPtr> OpenWriter(const std::string& path) {
  ASSIGN_OR_RETURN(
      DbPtr db, OpenConnection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kBusyTimeoutMs));
  // The first statement reads the header, so a file that is not a database
  // fails here with SQLITE_NOTADB -> DataLoss.
  RETURN_IF_ERROR(
      QueryInt(db.get(), "PRAGMA user_version", path + ": read schema version").status());
  // WAL: readers (admin API, beaconctl, this store's own reader connections)
  // never block the importer and the importer never blocks them. The mode is
  // persistent in the file, but a filesystem without shared memory support can
  // refuse it, so check.
  {
    Stmt s(db.get(), path + ": enable WAL");
    RETURN_IF_ERROR(s.Prepare("PRAGMA journal_mode = WAL"));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row || s.Text(0) != "wal") {
      return common::FailedPrecondition(path + ": cannot enable WAL journal mode (got '" +
                                        (row ? s.Text(0) : std::string()) + "')");
    }
  }
  // FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power
  // loss, yet the importer acknowledges an upload (and its spool copy is
  // deleted) as soon as the commit returns. Losing one would break
  // exactly-once. The cost is one fsync per import transaction.
  RETURN_IF_ERROR(Exec(db.get(), "PRAGMA synchronous = FULL", path + ": set synchronous"));
  // Off while migrating (the PRAGMA is a no-op inside a transaction, so it is
  // set around Migrate, which checks the references itself), on afterwards.
  RETURN_IF_ERROR(Exec(db.get(), "PRAGMA foreign_keys = OFF", path + ": disable foreign keys"));
  RETURN_IF_ERROR(Migrate(db.get(), path));
  RETURN_IF_ERROR(Exec(db.get(), "PRAGMA foreign_keys = ON", path + ": enable foreign keys"));
  return db;
}

// A query connection. It never creates the file and never changes it
// (query_only), and refuses a schema it was not written for: an older one
// has not been migrated yet (only a writer migrates), a newer one is unknown.
StatusOr<DbPtr> OpenReader(const std::string& path) {
  ASSIGN_OR_RETURN(DbPtr db, OpenConnection(path, SQLITE_OPEN_READONLY, kReaderBusyTimeoutMs));
  ASSIGN_OR_RETURN(int64_t version,
                   QueryInt(db.get(), "PRAGMA user_version", path + ": read schema version"));
  if (version == 0) {
    return common::FailedPrecondition(path + ": not an initialized store (schema version 0)");
  }
  if (version != kSchemaVersion) {
    return common::FailedPrecondition(
        VersionMismatch(path, version) +
        (version < kSchemaVersion ? "; open it read-write once (start the central) to upgrade it"
                                  : ""));
  }
  RETURN_IF_ERROR(Exec(db.get(), "PRAGMA query_only = ON", path + ": set query_only"));
  return db;
}

}  // namespace

common::StatusOr<sqlite3*> ReaderPool::Acquire() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < kMaxReaders; });
    if (!idle_.empty()) {
      sqlite3* db = idle_.back().release();
      idle_.pop_back();
      return db;
    }
    ++open_;  // reserve the slot; the open itself runs without the lock
  }
  StatusOr<DbPtr> db = OpenReader(path_);
  if (!db.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    --open_;
    cv_.notify_one();
    return db.status();
  }
  return std::move(db).value().release();
}

void ReaderPool::Release(sqlite3* db) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.emplace_back(db);
  cv_.notify_one();
}

void ReaderPool::Adopt(DbPtr db) {
  std::lock_guard<std::mutex> lock(mu_);
  ++open_;
  idle_.push_back(std::move(db));
}

}  // namespace sqlite

common::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, bool read_only) {
  if (path.empty()) return common::InvalidArgument("store path is empty");
  if (!read_only) {
    ASSIGN_OR_RETURN(sqlite::DbPtr writer, sqlite::OpenWriter(path));
    return std::unique_ptr<Store>(std::make_unique<sqlite::SqliteStore>(std::move(writer), path));
  }
  // SQLITE_OPEN_READONLY already refuses to create the file, but reports a
  // missing one as a generic CANTOPEN; stat gives the caller a NotFound.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return common::NotFound(path + ": store does not exist");
    return common::ErrnoStatus("stat " + path, err);
  }
  // The first reader checks the file now, so a bad path fails the open
  // rather than the first query; it then serves queries like any other.
  ASSIGN_OR_RETURN(sqlite::DbPtr first, sqlite::OpenReader(path));
  auto store = std::make_unique<sqlite::SqliteStore>(nullptr, path);
  store->AdoptReader(std::move(first));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace inventory
