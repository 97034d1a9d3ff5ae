// SQLite backend of inventory::Store. Schema and rules: docs/store.md.
//
// Everything SQLite-specific (PRAGMAs, error codes, the open flags) stays in
// the sqlite_* files: sqlite_conn (the seam's connection and statements),
// sqlite_schema (schema and migrations) and this file (opening the writer and
// the readers). The store's logic and SQL are shared with every backend
// (sql_store.h).

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
#include "sql_store.h"
#include "sqlite_conn.h"

namespace inventory {
namespace sqlite {
namespace {

using common::Status;
using common::StatusOr;
using sql::Exec;
using sql::QueryInt;
using sql::Stmt;

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
StatusOr<std::unique_ptr<sql::Conn>> OpenWriter(const std::string& path) {
  ASSIGN_OR_RETURN(
      DbPtr raw, OpenConnection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kBusyTimeoutMs));
  std::unique_ptr<sql::Conn> db = std::make_unique<SqliteConn>(std::move(raw));
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
  // A batch of imports (Store::WriteBatch) dirties thousands of pages; with
  // SQLite's default 2 MiB cache it would spill them to the WAL mid-batch and
  // write many pages several times. The writer may use up to 64 MiB.
  RETURN_IF_ERROR(Exec(db.get(), "PRAGMA cache_size = -65536", path + ": set cache size"));
  // Each write of a batch runs in a savepoint, whose undo journal (the
  // pages as they were before it) lives in memory rather than in a temporary
  // file written page by page: it is dropped at the savepoint's release.
  RETURN_IF_ERROR(Exec(db.get(), "PRAGMA temp_store = MEMORY", path + ": set temp store"));
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
StatusOr<std::unique_ptr<sql::Conn>> OpenReader(const std::string& path) {
  ASSIGN_OR_RETURN(DbPtr raw, OpenConnection(path, SQLITE_OPEN_READONLY, kReaderBusyTimeoutMs));
  std::unique_ptr<sql::Conn> db = std::make_unique<SqliteConn>(std::move(raw));
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

}  // namespace sqlite

common::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, bool read_only) {
  if (path.empty()) return common::InvalidArgument("store path is empty");
  sql::OpenReaderFn open_reader = [path] { return sqlite::OpenReader(path); };
  if (!read_only) {
    ASSIGN_OR_RETURN(std::unique_ptr<sql::Conn> writer, sqlite::OpenWriter(path));
    return std::unique_ptr<Store>(std::make_unique<sql::SqlStore>(
        std::move(writer), path, std::move(open_reader), sqlite::kMaxReaders));
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
  ASSIGN_OR_RETURN(std::unique_ptr<sql::Conn> first, sqlite::OpenReader(path));
  auto store = std::make_unique<sql::SqlStore>(nullptr, path, std::move(open_reader),
                                               sqlite::kMaxReaders);
  store->AdoptReader(std::move(first));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace inventory
