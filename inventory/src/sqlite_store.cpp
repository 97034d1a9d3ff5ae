// SQLite backend of inventory::Store. Schema and rules: docs/store.md.
//
// Everything SQLite-specific (PRAGMAs, error codes, the open flags) stays in
// this file. The SQL itself is kept to what PostgreSQL also accepts
// (INSERT ... ON CONFLICT ... DO UPDATE, CASE instead of the two-argument
// MAX(), LIKE ... ESCAPE instead of GLOB) so that a PostgreSQL backend can
// start from the same statements.
#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "common/time.h"
#include "inventory/store.h"

namespace inventory {
namespace {

using common::Status;
using common::StatusOr;

// Bumped whenever the schema changes; each step in kMigrations moves the
// database from version i to i+1, so an old store is upgraded in place.
constexpr int kSchemaVersion = 3;

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

// Version 1. Per-device child tables are keyed by (device_id, position) rather
// than by name: package databases legitimately hold one name several times
// (multi-arch, parallel kernels), and keeping the reported order costs nothing.
constexpr const char* kSchemaV1[] = {
    R"sql(CREATE TABLE devices (
      device_id        TEXT PRIMARY KEY,
      hostname         TEXT NOT NULL DEFAULT '',
      os               TEXT NOT NULL DEFAULT '',
      last_seen        INTEGER NOT NULL DEFAULT 0,
      via              TEXT NOT NULL DEFAULT '',
      checkin_at       INTEGER NOT NULL DEFAULT 0,
      client_version   TEXT NOT NULL DEFAULT '',
      policy_revision  INTEGER NOT NULL DEFAULT 0,
      outbox_depth     INTEGER NOT NULL DEFAULT 0,
      peer             TEXT NOT NULL DEFAULT '',
      inventory_at     INTEGER NOT NULL DEFAULT 0,
      inventory_upload TEXT
    ))sql",
    "CREATE INDEX devices_by_hostname ON devices (hostname, device_id)",
    R"sql(CREATE TABLE uploads (
      upload_id   TEXT PRIMARY KEY,
      device_id   TEXT NOT NULL REFERENCES devices (device_id),
      kind        TEXT NOT NULL,
      sha256      TEXT NOT NULL,
      size        INTEGER NOT NULL,
      received_at INTEGER NOT NULL,
      via         TEXT NOT NULL,
      imported_at INTEGER NOT NULL
    ))sql",
    "CREATE INDEX uploads_by_device ON uploads (device_id, received_at)",
    R"sql(CREATE TABLE blobs (
      upload_id TEXT PRIMARY KEY REFERENCES uploads (upload_id),
      body      BLOB NOT NULL
    ))sql",
    R"sql(CREATE TABLE os (
      device_id   TEXT PRIMARY KEY REFERENCES devices (device_id) ON DELETE CASCADE,
      name        TEXT NOT NULL,
      os_id       TEXT NOT NULL,
      version     TEXT NOT NULL,
      version_id  TEXT NOT NULL,
      pretty_name TEXT NOT NULL,
      kernel      TEXT NOT NULL,
      arch        TEXT NOT NULL,
      hostname    TEXT NOT NULL
    ))sql",
    R"sql(CREATE TABLE hardware (
      device_id    TEXT PRIMARY KEY REFERENCES devices (device_id) ON DELETE CASCADE,
      vendor       TEXT NOT NULL,
      model        TEXT NOT NULL,
      serial       TEXT NOT NULL,
      cpu_model    TEXT NOT NULL,
      cpu_cores    INTEGER NOT NULL,
      memory_bytes INTEGER NOT NULL
    ))sql",
    R"sql(CREATE TABLE disks (
      device_id  TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      position   INTEGER NOT NULL,
      name       TEXT NOT NULL,
      model      TEXT NOT NULL,
      size_bytes INTEGER NOT NULL,
      PRIMARY KEY (device_id, position)
    ))sql",
    R"sql(CREATE TABLE interfaces (
      device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      position  INTEGER NOT NULL,
      name      TEXT NOT NULL,
      mac       TEXT NOT NULL,
      PRIMARY KEY (device_id, position)
    ))sql",
    R"sql(CREATE TABLE addresses (
      device_id          TEXT NOT NULL,
      interface_position INTEGER NOT NULL,
      position           INTEGER NOT NULL,
      address            TEXT NOT NULL,
      PRIMARY KEY (device_id, interface_position, position),
      FOREIGN KEY (device_id, interface_position)
        REFERENCES interfaces (device_id, position) ON DELETE CASCADE
    ))sql",
    R"sql(CREATE TABLE packages (
      device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      position  INTEGER NOT NULL,
      name      TEXT NOT NULL,
      version   TEXT NOT NULL,
      arch      TEXT NOT NULL,
      source    TEXT NOT NULL,
      PRIMARY KEY (device_id, position)
    ))sql",
    "CREATE INDEX packages_by_name ON packages (name)",
};

// Version 2: file evidence and usage.
constexpr const char* kSchemaV2[] = {
    R"sql(CREATE TABLE usage (
      upload_id  TEXT NOT NULL REFERENCES uploads (upload_id),
      device_id  TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      program    TEXT NOT NULL,
      samples    INTEGER NOT NULL,
      seconds    INTEGER NOT NULL,
      first_seen INTEGER NOT NULL,
      last_seen  INTEGER NOT NULL,
      PRIMARY KEY (upload_id, program)
    ))sql",
    "CREATE INDEX usage_by_device ON usage (device_id)",
    R"sql(CREATE TABLE files (
      device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      position  INTEGER NOT NULL,
      path      TEXT NOT NULL,
      size      INTEGER NOT NULL,
      modified  INTEGER NOT NULL,
      sha256    TEXT NOT NULL,
      PRIMARY KEY (device_id, position)
    ))sql",
};

// Version 3: the key of an upload is (device_id, upload_id), not upload_id
// alone: ids are chosen by clients, and two devices may choose the same one.
// Every table that references an upload carries both columns. SQLite cannot
// change a primary key in place, so uploads, blobs and usage are rebuilt
// (create, copy, drop, rename: https://sqlite.org/lang_altertable.html#otheralter)
// with foreign keys off; Migrate checks the references before it commits.
// usage_by_device goes: the new primary key starts with device_id.
// devices gains inventory_sequence, the device's own number of its current
// inventory, which orders inventories instead of the device's clock.
constexpr const char* kSchemaV3[] = {
    "ALTER TABLE devices ADD COLUMN inventory_sequence INTEGER NOT NULL DEFAULT 0",
    R"sql(CREATE TABLE uploads_v3 (
      device_id   TEXT NOT NULL REFERENCES devices (device_id),
      upload_id   TEXT NOT NULL,
      kind        TEXT NOT NULL,
      sha256      TEXT NOT NULL,
      size        INTEGER NOT NULL,
      received_at INTEGER NOT NULL,
      via         TEXT NOT NULL,
      imported_at INTEGER NOT NULL,
      PRIMARY KEY (device_id, upload_id)
    ))sql",
    R"sql(INSERT INTO uploads_v3 (device_id, upload_id, kind, sha256, size, received_at, via,
                            imported_at)
      SELECT device_id, upload_id, kind, sha256, size, received_at, via, imported_at
      FROM uploads)sql",
    R"sql(CREATE TABLE blobs_v3 (
      device_id TEXT NOT NULL,
      upload_id TEXT NOT NULL,
      body      BLOB NOT NULL,
      PRIMARY KEY (device_id, upload_id),
      FOREIGN KEY (device_id, upload_id) REFERENCES uploads (device_id, upload_id)
    ))sql",
    // A blob whose upload row is missing would get a NULL device_id and fail
    // the migration (NOT NULL) rather than be dropped quietly.
    R"sql(INSERT INTO blobs_v3 (device_id, upload_id, body)
      SELECT u.device_id, b.upload_id, b.body
      FROM blobs b LEFT JOIN uploads u ON u.upload_id = b.upload_id)sql",
    R"sql(CREATE TABLE usage_v3 (
      device_id  TEXT NOT NULL,
      upload_id  TEXT NOT NULL,
      program    TEXT NOT NULL,
      samples    INTEGER NOT NULL,
      seconds    INTEGER NOT NULL,
      first_seen INTEGER NOT NULL,
      last_seen  INTEGER NOT NULL,
      PRIMARY KEY (device_id, upload_id, program),
      FOREIGN KEY (device_id, upload_id) REFERENCES uploads (device_id, upload_id)
    ))sql",
    // usage.device_id is the uploader: ImportUsage refused any other.
    R"sql(INSERT INTO usage_v3 (device_id, upload_id, program, samples, seconds, first_seen,
                          last_seen)
      SELECT device_id, upload_id, program, samples, seconds, first_seen, last_seen
      FROM usage)sql",
    "DROP TABLE usage",
    "DROP TABLE blobs",
    "DROP TABLE uploads",
    "ALTER TABLE uploads_v3 RENAME TO uploads",
    "ALTER TABLE blobs_v3 RENAME TO blobs",
    "ALTER TABLE usage_v3 RENAME TO usage",
    "CREATE INDEX uploads_by_device ON uploads (device_id, received_at)",
};

struct Migration {
  const char* const* statements;
  size_t count;
};
constexpr Migration kMigrations[] = {
    {kSchemaV1, sizeof(kSchemaV1) / sizeof(kSchemaV1[0])},
    {kSchemaV2, sizeof(kSchemaV2) / sizeof(kSchemaV2[0])},
    {kSchemaV3, sizeof(kSchemaV3) / sizeof(kSchemaV3[0])},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion,
              "one migration per schema version");

// Maps a SQLite result code to the project's codes, so that callers can decide
// retry/quarantine from the code alone (STYLE.md rule 4).
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

// Owns one prepared statement. Binding and stepping return Status so that
// every SQLite failure carries the statement's purpose as context.
class Stmt {
 public:
  Stmt(sqlite3* db, std::string what) : db_(db), what_(std::move(what)) {}
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Status Prepare(const char* sql) {
    const int rc = sqlite3_prepare_v2(db_, sql, -1, &stmt_, nullptr);
    if (rc != SQLITE_OK) return SqliteStatus(db_, rc, what_);
    return Status::Ok();
  }

  Status Bind(int index, std::string_view text) {
    // SQLITE_TRANSIENT: the caller's string may be a temporary.
    return Check(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                                     SQLITE_UTF8));
  }
  Status Bind(int index, int64_t value) { return Check(sqlite3_bind_int64(stmt_, index, value)); }
  // SQLite integers are signed 64-bit; a larger unsigned value cannot be
  // stored faithfully, and silently wrapping it would store a lie.
  Status BindUnsigned(int index, uint64_t value) {
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return common::InvalidArgument(what_ + ": value " + std::to_string(value) +
                                     " does not fit a signed 64-bit integer");
    }
    return Bind(index, static_cast<int64_t>(value));
  }
  Status BindBlob(int index, std::string_view bytes) {
    return Check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_STATIC));
  }

  // True if a row is available, false when the statement is done.
  StatusOr<bool> Step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteStatus(db_, rc, what_);
  }
  // Runs a statement that returns no rows we care about.
  Status Run() {
    ASSIGN_OR_RETURN(bool row, Step());
    (void)row;
    return Status::Ok();
  }
  // Makes the statement reusable for the next row of a batch.
  Status Reset() {
    const int rc = sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    if (rc != SQLITE_OK) return SqliteStatus(db_, rc, what_);
    return Status::Ok();
  }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    if (p == nullptr) return std::string();
    return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }

 private:
  Status Check(int rc) {
    if (rc != SQLITE_OK) return SqliteStatus(db_, rc, what_);
    return Status::Ok();
  }

  sqlite3* db_;
  std::string what_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Runs SQL without parameters (PRAGMAs, DDL, transaction control).
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

  Status Begin() {
    RETURN_IF_ERROR(Exec(db_, begin_, "begin transaction"));
    active_ = true;
    return Status::Ok();
  }
  Status Commit() {
    RETURN_IF_ERROR(Exec(db_, "COMMIT", "commit"));
    active_ = false;
    return Status::Ok();
  }

 private:
  sqlite3* db_;
  const char* begin_;
  bool active_ = false;
};

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "*" -> "%", "?" -> "_", and the LIKE metacharacters and the escape character
// itself are escaped, so that every other character matches only itself.
std::string GlobToLike(std::string_view glob) {
  std::string like;
  like.reserve(glob.size() + 8);
  for (char c : glob) {
    switch (c) {
      case '*': like += '%'; break;
      case '?': like += '_'; break;
      case '%':
      case '_':
      case '\\':
        like += '\\';
        like += c;
        break;
      default: like += c;
    }
  }
  return like;
}

std::string OsDisplayName(const OsInfo& os) {
  if (!os.pretty_name.empty()) return os.pretty_name;
  if (os.name.empty()) return os.version;
  if (os.version.empty()) return os.name;
  return os.name + " " + os.version;
}

Status ValidateUpload(const UploadInfo& info) {
  if (info.upload_id.empty()) return common::InvalidArgument("upload has no upload id");
  if (info.device_id.empty()) {
    return common::InvalidArgument("upload " + info.upload_id + " has no device id");
  }
  if (info.kind.empty()) {
    return common::InvalidArgument("upload " + info.upload_id + " has no kind");
  }
  return Status::Ok();
}

// Device columns as DeviceRow wants them. The package count is a correlated
// subquery, so that it reads only this device's rows through the packages
// primary key (device_id, position); devices without an inventory count 0.
constexpr const char* kDeviceSelect = R"sql(
  SELECT d.device_id, d.hostname, d.os, d.last_seen, d.via, d.client_version,
         d.policy_revision, d.outbox_depth, d.inventory_at, d.inventory_sequence,
         (SELECT COUNT(*) FROM packages p WHERE p.device_id = d.device_id)
  FROM devices d)sql";

DeviceRow ReadDeviceRow(const Stmt& s) {
  DeviceRow row;
  row.device_id = s.Text(0);
  row.hostname = s.Text(1);
  row.os = s.Text(2);
  row.last_seen = s.Int(3);
  row.via = s.Text(4);
  row.client_version = s.Text(5);
  row.policy_revision = s.Int(6);
  row.outbox_depth = s.Int(7);
  row.inventory_at = s.Int(8);
  row.inventory_sequence = s.Int(9);
  row.packages = static_cast<uint64_t>(s.Int(10));
  return row;
}

// Whether an inventory numbered `incoming` replaces the device's current one
// (numbered `stored`). The device's own counter orders its inventories; its
// clock does not, because a clock can go back. Unnumbered inventories (0, from
// clients older than the counter) fall back to import order, the best that is
// known about them. Once a device has sent a numbered inventory, an
// unnumbered one never replaces it. An equal number is a re-collection the
// store already has (the first import of it stays).
bool Supersedes(bool has_inventory, int64_t stored, int64_t incoming) {
  if (!has_inventory) return true;
  if (incoming == 0 && stored == 0) return true;
  return incoming > stored;
}

StatusOr<bool> HasUploadOn(sqlite3* db, const std::string& what, const std::string& device_id,
                           const std::string& upload_id) {
  Stmt s(db, what);
  RETURN_IF_ERROR(s.Prepare("SELECT 1 FROM uploads WHERE device_id = ?1 AND upload_id = ?2"));
  RETURN_IF_ERROR(s.Bind(1, device_id));
  RETURN_IF_ERROR(s.Bind(2, upload_id));
  return s.Step();
}

std::string VersionMismatch(const std::string& path, int64_t version) {
  return path + ": schema version " + std::to_string(version) +
         (version > kSchemaVersion ? " is newer than this program's "
                                   : " is older than this program's ") +
         std::to_string(kSchemaVersion);
}

// Brings the schema to kSchemaVersion. Runs in one IMMEDIATE transaction and
// re-reads user_version inside it, so two processes opening a new store at
// once do not both create the tables. Foreign keys must be off (the rebuild
// of version 3 drops referenced tables), so the references are checked here
// before the commit: a store whose rows do not line up is refused, not
// half-migrated.
Status Migrate(sqlite3* db, const std::string& path) {
  Transaction txn(db);
  RETURN_IF_ERROR(txn.Begin());
  ASSIGN_OR_RETURN(int64_t version,
                   QueryInt(db, "PRAGMA user_version", path + ": read schema version"));
  if (version > kSchemaVersion) return common::FailedPrecondition(VersionMismatch(path, version));
  if (version < 0) return common::DataLoss(path + ": negative schema version");
  if (version == kSchemaVersion) return txn.Commit();
  for (int64_t v = version; v < kSchemaVersion; ++v) {
    const Migration& m = kMigrations[v];
    for (size_t i = 0; i < m.count; ++i) {
      RETURN_IF_ERROR(
          Exec(db, m.statements[i], path + ": migrate schema to version " + std::to_string(v + 1)));
    }
  }
  {
    const std::string what = path + ": migrate schema to version " +
                             std::to_string(kSchemaVersion) + ": check references";
    Stmt s(db, what);
    RETURN_IF_ERROR(s.Prepare("PRAGMA foreign_key_check"));
    ASSIGN_OR_RETURN(bool bad, s.Step());
    if (bad) {
      return common::DataLoss(what + ": a row of table '" + s.Text(0) + "' (rowid " +
                              std::to_string(s.Int(1)) + ") references a missing row of '" +
                              s.Text(2) + "'");
    }
  }
  // PRAGMA takes no bound parameters; the value is our own constant.
  const std::string sql = "PRAGMA user_version = " + std::to_string(kSchemaVersion);
  RETURN_IF_ERROR(Exec(db, sql.c_str(), path + ": set schema version"));
  return txn.Commit();
}

// Closes a connection when its owner goes; sqlite3_close_v2 also accepts the
// handle that a failed open returns, and nullptr.
struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, CloseDb>;

// NOMUTEX: each connection is used by one thread at a time (the writer under
// its mutex, a reader while leased from the pool), so SQLite's own
// per-connection mutex would only cost time.
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

// Reader connections, so that no query waits for the writer: the writer's
// mutex is held through COMMIT and its fsync, and a manifest request must not
// queue behind an import. In WAL mode a reader sees the last commit before its
// statement (or read transaction) started and is never blocked by the write
// lock. A connection serves one caller at a time; at most kMaxReaders are
// open, opened when first needed, and a caller who finds them all busy waits
// for another reader to finish, never for the writer.
class ReaderPool {
 public:
  explicit ReaderPool(std::string path) : path_(std::move(path)) {}
  ~ReaderPool() = default;  // every lease has been returned: leases live in a call
  ReaderPool(const ReaderPool&) = delete;
  ReaderPool& operator=(const ReaderPool&) = delete;

  // Takes an idle connection, or opens one if the bound allows.
  StatusOr<sqlite3*> Acquire() {
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

  void Release(sqlite3* db) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.emplace_back(db);
    cv_.notify_one();
  }

  // Puts an already opened reader into the pool (the read-only open checks
  // the file with its first connection).
  void Adopt(DbPtr db) {
    std::lock_guard<std::mutex> lock(mu_);
    ++open_;
    idle_.push_back(std::move(db));
  }

 private:
  const std::string path_;
  std::mutex mu_;  // guards idle_ and open_
  std::condition_variable cv_;
  std::vector<DbPtr> idle_;
  size_t open_ = 0;  // idle plus leased plus being opened
};

class SqliteStore final : public Store {
 public:
  // `writer` is null for a read-only store.
  SqliteStore(DbPtr writer, std::string path)
      : writer_(std::move(writer)), path_(std::move(path)), readers_(path_) {}

  Status ImportInventory(const UploadInfo& info, const Inventory& inv) override;
  Status ImportBlob(const UploadInfo& info, const std::string& body) override;
  Status RecordCheckins(const std::vector<Checkin>& checkins) override;
  StatusOr<bool> HasUpload(const std::string& device_id, const std::string& upload_id) override;
  StatusOr<std::vector<DeviceRow>> ListDevices() override;
  StatusOr<DeviceRow> GetDevice(const std::string& device_id) override;
  StatusOr<std::vector<std::string>> DeviceAddresses(const std::string& device_id) override;
  StatusOr<std::vector<FileEvidence>> DeviceFiles(const std::string& device_id) override;
  Status ImportUsage(const UploadInfo& info, const Usage& usage) override;
  StatusOr<std::vector<UsageRow>> UsageSummary(const std::string& device_id) override;
  StatusOr<std::vector<SoftwareRow>> DeviceSoftware(const std::string& device_id) override;
  StatusOr<std::vector<SoftwareRow>> FindSoftware(const std::string& pattern) override;

  void AdoptReader(DbPtr db) { readers_.Adopt(std::move(db)); }

 private:
  Status WritableOrError() const {
    if (writer_ == nullptr) {
      return common::FailedPrecondition(path_ + ": store was opened read-only");
    }
    return Status::Ok();
  }
  sqlite3* writer() const { return writer_.get(); }

  // Runs fn(db) on a reader connection leased for the call. Never takes
  // write_mu_.
  template <typename Fn>
  std::invoke_result_t<Fn, sqlite3*> Read(Fn&& fn) {
    StatusOr<sqlite3*> db = readers_.Acquire();
    if (!db.ok()) return db.status();
    struct Lease {
      ReaderPool& pool;
      sqlite3* db;
      ~Lease() { pool.Release(db); }
    } lease{readers_, *db};
    return fn(*db);
  }

  // Inside a write transaction: AlreadyExists if (device, upload id) is
  // recorded, then records the upload and brings the device row's
  // last_seen/via up to date.
  Status RecordUpload(const UploadInfo& info);
  Status ReplaceDeviceInventory(const UploadInfo& info, const Inventory& inv, int64_t collected_at);
  StatusOr<std::vector<SoftwareRow>> QuerySoftware(sqlite3* db, const char* sql,
                                                   const std::string& arg, const std::string& what);

  // Declared before readers_ so that the readers close first and the writer,
  // closing last, can checkpoint the WAL into the database.
  std::mutex write_mu_;  // guards writer_: one write transaction at a time
  const DbPtr writer_;
  const std::string path_;
  ReaderPool readers_;
};

Status SqliteStore::RecordUpload(const UploadInfo& info) {
  const std::string ctx = path_ + ": import upload " + info.upload_id;
  ASSIGN_OR_RETURN(bool exists,
                   HasUploadOn(writer(), ctx + ": look up upload", info.device_id, info.upload_id));
  if (exists) return common::AlreadyExists(ctx + ": already imported for device " + info.device_id);

  // The device row must exist before the upload row references it. via moves
  // with the most recent contact only; an upload relayed late must not make
  // the device look as if it last spoke through an older path.
  Stmt dev(writer(), ctx + ": upsert device " + info.device_id);
  RETURN_IF_ERROR(dev.Prepare(R"sql(
    INSERT INTO devices (device_id, last_seen, via) VALUES (?1, ?2, ?3)
    ON CONFLICT (device_id) DO UPDATE SET
      via = CASE WHEN excluded.last_seen >= devices.last_seen AND excluded.via <> ''
                 THEN excluded.via ELSE devices.via END,
      last_seen = CASE WHEN excluded.last_seen > devices.last_seen
                       THEN excluded.last_seen ELSE devices.last_seen END)sql"));
  RETURN_IF_ERROR(dev.Bind(1, info.device_id));
  RETURN_IF_ERROR(dev.Bind(2, info.received_at));
  RETURN_IF_ERROR(dev.Bind(3, info.via));
  RETURN_IF_ERROR(dev.Run());

  Stmt up(writer(), ctx + ": insert upload");
  RETURN_IF_ERROR(up.Prepare(R"sql(
    INSERT INTO uploads (device_id, upload_id, kind, sha256, size, received_at, via, imported_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8))sql"));
  RETURN_IF_ERROR(up.Bind(1, info.device_id));
  RETURN_IF_ERROR(up.Bind(2, info.upload_id));
  RETURN_IF_ERROR(up.Bind(3, info.kind));
  RETURN_IF_ERROR(up.Bind(4, info.sha256));
  RETURN_IF_ERROR(up.BindUnsigned(5, info.size));
  RETURN_IF_ERROR(up.Bind(6, info.received_at));
  RETURN_IF_ERROR(up.Bind(7, info.via));
  RETURN_IF_ERROR(up.Bind(8, NowUnix()));
  return up.Run();
}

Status SqliteStore::ReplaceDeviceInventory(const UploadInfo& info, const Inventory& inv,
                                           int64_t collected_at) {
  const std::string& id = info.device_id;
  const std::string ctx = path_ + ": import upload " + info.upload_id;

  {
    Stmt s(writer(), ctx + ": update device");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      UPDATE devices SET hostname = ?2, os = ?3, inventory_at = ?4, inventory_upload = ?5,
                         inventory_sequence = ?6
      WHERE device_id = ?1)sql"));
    RETURN_IF_ERROR(s.Bind(1, id));
    RETURN_IF_ERROR(s.Bind(2, inv.os.hostname));
    RETURN_IF_ERROR(s.Bind(3, OsDisplayName(inv.os)));
    RETURN_IF_ERROR(s.Bind(4, collected_at));
    RETURN_IF_ERROR(s.Bind(5, info.upload_id));
    RETURN_IF_ERROR(s.Bind(6, inv.sequence));
    RETURN_IF_ERROR(s.Run());
  }

  // Children before parents, explicitly: the result must not depend on
  // whether foreign_keys (and so ON DELETE CASCADE) happens to be on.
  for (const char* table : {"files", "addresses", "interfaces", "disks", "packages", "hardware", "os"}) {
    Stmt s(writer(), ctx + ": clear " + table);
    const std::string sql = std::string("DELETE FROM ") + table + " WHERE device_id = ?1";
    RETURN_IF_ERROR(s.Prepare(sql.c_str()));
    RETURN_IF_ERROR(s.Bind(1, id));
    RETURN_IF_ERROR(s.Run());
  }

  {
    const OsInfo& os = inv.os;
    Stmt s(writer(), ctx + ": insert os");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO os (device_id, name, os_id, version, version_id, pretty_name, kernel, arch,
                      hostname)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9))sql"));
    RETURN_IF_ERROR(s.Bind(1, id));
    RETURN_IF_ERROR(s.Bind(2, os.name));
    RETURN_IF_ERROR(s.Bind(3, os.id));
    RETURN_IF_ERROR(s.Bind(4, os.version));
    RETURN_IF_ERROR(s.Bind(5, os.version_id));
    RETURN_IF_ERROR(s.Bind(6, os.pretty_name));
    RETURN_IF_ERROR(s.Bind(7, os.kernel));
    RETURN_IF_ERROR(s.Bind(8, os.arch));
    RETURN_IF_ERROR(s.Bind(9, os.hostname));
    RETURN_IF_ERROR(s.Run());
  }

  const Hardware& hw = inv.hardware;
  {
    Stmt s(writer(), ctx + ": insert hardware");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO hardware (device_id, vendor, model, serial, cpu_model, cpu_cores, memory_bytes)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7))sql"));
    RETURN_IF_ERROR(s.Bind(1, id));
    RETURN_IF_ERROR(s.Bind(2, hw.vendor));
    RETURN_IF_ERROR(s.Bind(3, hw.model));
    RETURN_IF_ERROR(s.Bind(4, hw.serial));
    RETURN_IF_ERROR(s.Bind(5, hw.cpu_model));
    RETURN_IF_ERROR(s.Bind(6, static_cast<int64_t>(hw.cpu_cores)));
    RETURN_IF_ERROR(s.BindUnsigned(7, hw.memory_bytes));
    RETURN_IF_ERROR(s.Run());
  }

  {
    Stmt s(writer(), ctx + ": insert disk");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO disks (device_id, position, name, model, size_bytes)
      VALUES (?1, ?2, ?3, ?4, ?5))sql"));
    int64_t pos = 0;
    for (const Disk& d : hw.disks) {
      RETURN_IF_ERROR(s.Bind(1, id));
      RETURN_IF_ERROR(s.Bind(2, pos++));
      RETURN_IF_ERROR(s.Bind(3, d.name));
      RETURN_IF_ERROR(s.Bind(4, d.model));
      RETURN_IF_ERROR(s.BindUnsigned(5, d.size_bytes));
      RETURN_IF_ERROR(s.Run());
      RETURN_IF_ERROR(s.Reset());
    }
  }

  {
    Stmt ifs(writer(), ctx + ": insert interface");
    RETURN_IF_ERROR(ifs.Prepare(R"sql(
      INSERT INTO interfaces (device_id, position, name, mac) VALUES (?1, ?2, ?3, ?4))sql"));
    Stmt addr(writer(), ctx + ": insert address");
    RETURN_IF_ERROR(addr.Prepare(R"sql(
      INSERT INTO addresses (device_id, interface_position, position, address)
      VALUES (?1, ?2, ?3, ?4))sql"));
    int64_t pos = 0;
    for (const NetInterface& nic : hw.interfaces) {
      RETURN_IF_ERROR(ifs.Bind(1, id));
      RETURN_IF_ERROR(ifs.Bind(2, pos));
      RETURN_IF_ERROR(ifs.Bind(3, nic.name));
      RETURN_IF_ERROR(ifs.Bind(4, nic.mac));
      RETURN_IF_ERROR(ifs.Run());
      RETURN_IF_ERROR(ifs.Reset());
      int64_t apos = 0;
      for (const std::string& a : nic.addresses) {
        RETURN_IF_ERROR(addr.Bind(1, id));
        RETURN_IF_ERROR(addr.Bind(2, pos));
        RETURN_IF_ERROR(addr.Bind(3, apos++));
        RETURN_IF_ERROR(addr.Bind(4, a));
        RETURN_IF_ERROR(addr.Run());
        RETURN_IF_ERROR(addr.Reset());
      }
      ++pos;
    }
  }

  {
    Stmt s(writer(), ctx + ": insert package");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO packages (device_id, position, name, version, arch, source)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6))sql"));
    int64_t pos = 0;
    for (const Package& p : inv.software) {
      RETURN_IF_ERROR(s.Bind(1, id));
      RETURN_IF_ERROR(s.Bind(2, pos++));
      RETURN_IF_ERROR(s.Bind(3, p.name));
      RETURN_IF_ERROR(s.Bind(4, p.version));
      RETURN_IF_ERROR(s.Bind(5, p.arch));
      RETURN_IF_ERROR(s.Bind(6, p.source));
      RETURN_IF_ERROR(s.Run());
      RETURN_IF_ERROR(s.Reset());
    }
  }

  {
    Stmt s(writer(), ctx + ": insert file");
    RETURN_IF_ERROR(s.Prepare(R"sql(
      INSERT INTO files (device_id, position, path, size, modified, sha256)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6))sql"));
    int64_t pos = 0;
    for (const FileEvidence& f : inv.files) {
      RETURN_IF_ERROR(s.Bind(1, id));
      RETURN_IF_ERROR(s.Bind(2, pos++));
      RETURN_IF_ERROR(s.Bind(3, f.path));
      RETURN_IF_ERROR(s.Bind(4, static_cast<int64_t>(f.size)));
      RETURN_IF_ERROR(s.Bind(5, f.modified));
      RETURN_IF_ERROR(s.Bind(6, f.sha256));
      RETURN_IF_ERROR(s.Run());
      RETURN_IF_ERROR(s.Reset());
    }
  }
  return Status::Ok();
}

Status SqliteStore::ImportInventory(const UploadInfo& info, const Inventory& inv) {
  RETURN_IF_ERROR(WritableOrError());
  RETURN_IF_ERROR(ValidateUpload(info));
  // The transport authenticated info.device_id; a document naming another
  // device must not overwrite that device's data.
  if (inv.device_id != info.device_id) {
    return common::InvalidArgument("upload " + info.upload_id + ": inventory names device '" +
                                   inv.device_id + "' but was uploaded by '" + info.device_id +
                                   "'");
  }
  if (inv.sequence < 0) {
    return common::InvalidArgument("upload " + info.upload_id + ": inventory sequence " +
                                   std::to_string(inv.sequence) + " is negative");
  }
  // The device's clock is kept for display only; a malformed one still means
  // a malformed document.
  StatusOr<int64_t> collected = common::ParseRfc3339(inv.collected_at);
  if (!collected.ok()) return collected.status().WithContext("upload " + info.upload_id);

  std::lock_guard<std::mutex> lock(write_mu_);
  Transaction txn(writer());
  RETURN_IF_ERROR(txn.Begin());
  RETURN_IF_ERROR(RecordUpload(info));

  // Uploads can arrive out of order (relays, retries); the device's own
  // sequence says which inventory is newer (Supersedes).
  bool has_inventory = false;
  int64_t stored_sequence = 0;
  {
    Stmt cur(writer(), path_ + ": import upload " + info.upload_id + ": read current inventory");
    RETURN_IF_ERROR(
        cur.Prepare("SELECT inventory_sequence, inventory_upload IS NOT NULL FROM devices WHERE "
                    "device_id = ?1"));
    RETURN_IF_ERROR(cur.Bind(1, info.device_id));
    ASSIGN_OR_RETURN(bool found, cur.Step());
    has_inventory = found && cur.Int(1) != 0;
    stored_sequence = found ? cur.Int(0) : 0;
  }
  if (Supersedes(has_inventory, stored_sequence, inv.sequence)) {
    RETURN_IF_ERROR(ReplaceDeviceInventory(info, inv, *collected));
  }
  return txn.Commit();
}

Status SqliteStore::ImportBlob(const UploadInfo& info, const std::string& body) {
  RETURN_IF_ERROR(WritableOrError());
  RETURN_IF_ERROR(ValidateUpload(info));
  std::lock_guard<std::mutex> lock(write_mu_);
  Transaction txn(writer());
  RETURN_IF_ERROR(txn.Begin());
  RETURN_IF_ERROR(RecordUpload(info));
  Stmt s(writer(), path_ + ": import upload " + info.upload_id + ": insert blob");
  RETURN_IF_ERROR(s.Prepare("INSERT INTO blobs (device_id, upload_id, body) VALUES (?1, ?2, ?3)"));
  RETURN_IF_ERROR(s.Bind(1, info.device_id));
  RETURN_IF_ERROR(s.Bind(2, info.upload_id));
  RETURN_IF_ERROR(s.BindBlob(3, body));
  RETURN_IF_ERROR(s.Run());
  return txn.Commit();
}

Status SqliteStore::ImportUsage(const UploadInfo& info, const Usage& usage) {
  RETURN_IF_ERROR(WritableOrError());
  RETURN_IF_ERROR(ValidateUpload(info));
  if (usage.device_id != info.device_id) {
    return common::InvalidArgument("usage names device " + usage.device_id + " but was uploaded by " + info.device_id);
  }
  std::lock_guard<std::mutex> lock(write_mu_);
  Transaction txn(writer());
  RETURN_IF_ERROR(txn.Begin());
  RETURN_IF_ERROR(RecordUpload(info));
  Stmt s(writer(), path_ + ": import upload " + info.upload_id + ": insert usage");
  RETURN_IF_ERROR(s.Prepare(R"sql(
    INSERT INTO usage (device_id, upload_id, program, samples, seconds, first_seen, last_seen)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7))sql"));
  for (const ProgramUsage& p : usage.programs) {
    RETURN_IF_ERROR(s.Bind(1, info.device_id));
    RETURN_IF_ERROR(s.Bind(2, info.upload_id));
    RETURN_IF_ERROR(s.Bind(3, p.program));
    RETURN_IF_ERROR(s.Bind(4, static_cast<int64_t>(p.samples)));
    // Each sample stands for one interval of running time.
    RETURN_IF_ERROR(s.Bind(5, static_cast<int64_t>(p.samples) * usage.sample_seconds));
    RETURN_IF_ERROR(s.Bind(6, p.first_seen));
    RETURN_IF_ERROR(s.Bind(7, p.last_seen));
    RETURN_IF_ERROR(s.Run());
    RETURN_IF_ERROR(s.Reset());
  }
  return txn.Commit();
}

Status SqliteStore::RecordCheckins(const std::vector<Checkin>& checkins) {
  RETURN_IF_ERROR(WritableOrError());
  // Validate the whole batch first: it is applied entirely or not at all.
  for (size_t i = 0; i < checkins.size(); ++i) {
    if (checkins[i].device_id.empty()) {
      return common::InvalidArgument("check-in " + std::to_string(i) + " has no device id");
    }
  }
  if (checkins.empty()) return Status::Ok();

  std::lock_guard<std::mutex> lock(write_mu_);
  Transaction txn(writer());
  RETURN_IF_ERROR(txn.Begin());
  // last_seen covers every contact (check-ins and uploads); checkin_at is the
  // time of the check-in whose client state (version, revision, outbox) is
  // stored, so a late batch can neither move last_seen back nor replace newer
  // client state with older.
  Stmt s(writer(), path_ + ": record check-ins");
  RETURN_IF_ERROR(s.Prepare(R"sql(
    INSERT INTO devices (device_id, last_seen, via, checkin_at, client_version, policy_revision,
                         outbox_depth, peer)
    VALUES (?1, ?2, ?3, ?2, ?4, ?5, ?6, ?7)
    ON CONFLICT (device_id) DO UPDATE SET
      via = CASE WHEN excluded.last_seen >= devices.last_seen AND excluded.via <> ''
                 THEN excluded.via ELSE devices.via END,
      last_seen = CASE WHEN excluded.last_seen > devices.last_seen
                       THEN excluded.last_seen ELSE devices.last_seen END,
      client_version = CASE WHEN excluded.checkin_at >= devices.checkin_at
                            THEN excluded.client_version ELSE devices.client_version END,
      policy_revision = CASE WHEN excluded.checkin_at >= devices.checkin_at
                             THEN excluded.policy_revision ELSE devices.policy_revision END,
      outbox_depth = CASE WHEN excluded.checkin_at >= devices.checkin_at
                          THEN excluded.outbox_depth ELSE devices.outbox_depth END,
      peer = CASE WHEN excluded.checkin_at >= devices.checkin_at
                  THEN excluded.peer ELSE devices.peer END,
      checkin_at = CASE WHEN excluded.checkin_at > devices.checkin_at
                        THEN excluded.checkin_at ELSE devices.checkin_at END)sql"));
  for (const Checkin& c : checkins) {
    RETURN_IF_ERROR(s.Bind(1, c.device_id));
    RETURN_IF_ERROR(s.Bind(2, c.seen_at));
    RETURN_IF_ERROR(s.Bind(3, c.via));
    RETURN_IF_ERROR(s.Bind(4, c.client_version));
    RETURN_IF_ERROR(s.Bind(5, c.policy_revision));
    RETURN_IF_ERROR(s.Bind(6, c.outbox_depth));
    RETURN_IF_ERROR(s.Bind(7, c.peer));
    RETURN_IF_ERROR(s.Run());
    RETURN_IF_ERROR(s.Reset());
  }
  return txn.Commit();
}

// The queries below run on reader connections (Read) and never touch
// writer_ or write_mu_.

StatusOr<bool> SqliteStore::HasUpload(const std::string& device_id, const std::string& upload_id) {
  return Read([&](sqlite3* db) {
    return HasUploadOn(db, path_ + ": look up upload " + upload_id + " of device " + device_id,
                       device_id, upload_id);
  });
}

StatusOr<std::vector<DeviceRow>> SqliteStore::ListDevices() {
  return Read([&](sqlite3* db) -> StatusOr<std::vector<DeviceRow>> {
    Stmt s(db, path_ + ": list devices");
    const std::string sql = std::string(kDeviceSelect) + " ORDER BY d.hostname, d.device_id";
    RETURN_IF_ERROR(s.Prepare(sql.c_str()));
    std::vector<DeviceRow> rows;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      rows.push_back(ReadDeviceRow(s));
    }
    return rows;
  });
}

StatusOr<DeviceRow> SqliteStore::GetDevice(const std::string& device_id) {
  return Read([&](sqlite3* db) -> StatusOr<DeviceRow> {
    Stmt s(db, path_ + ": get device " + device_id);
    const std::string sql = std::string(kDeviceSelect) + " WHERE d.device_id = ?1";
    RETURN_IF_ERROR(s.Prepare(sql.c_str()));
    RETURN_IF_ERROR(s.Bind(1, device_id));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return common::NotFound(path_ + ": no device '" + device_id + "'");
    return ReadDeviceRow(s);
  });
}

StatusOr<std::vector<std::string>> SqliteStore::DeviceAddresses(const std::string& device_id) {
  return Read([&](sqlite3* db) -> StatusOr<std::vector<std::string>> {
    Stmt s(db, path_ + ": addresses of device " + device_id);
    RETURN_IF_ERROR(
        s.Prepare("SELECT address FROM addresses WHERE device_id = ?1 ORDER BY interface_position, "
                  "position"));
    RETURN_IF_ERROR(s.Bind(1, device_id));
    std::vector<std::string> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(s.Text(0));
    }
    return out;
  });
}

StatusOr<std::vector<FileEvidence>> SqliteStore::DeviceFiles(const std::string& device_id) {
  return Read([&](sqlite3* db) -> StatusOr<std::vector<FileEvidence>> {
    Stmt s(db, path_ + ": files of device " + device_id);
    RETURN_IF_ERROR(s.Prepare(
        "SELECT path, size, modified, sha256 FROM files WHERE device_id = ?1 ORDER BY path"));
    RETURN_IF_ERROR(s.Bind(1, device_id));
    std::vector<FileEvidence> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back({s.Text(0), static_cast<uint64_t>(s.Int(1)), s.Int(2), s.Text(3)});
    }
    return out;
  });
}

StatusOr<std::vector<UsageRow>> SqliteStore::UsageSummary(const std::string& device_id) {
  return Read([&](sqlite3* db) -> StatusOr<std::vector<UsageRow>> {
    Stmt s(db, path_ + ": usage summary");
    // Two statements rather than "?1 = '' OR device_id = ?1", which would
    // keep SQLite from using the primary key for one device.
    if (device_id.empty()) {
      RETURN_IF_ERROR(s.Prepare(R"sql(
        SELECT program, COUNT(DISTINCT device_id), SUM(seconds), MAX(last_seen)
        FROM usage
        GROUP BY program ORDER BY SUM(seconds) DESC, program)sql"));
    } else {
      RETURN_IF_ERROR(s.Prepare(R"sql(
        SELECT program, COUNT(DISTINCT device_id), SUM(seconds), MAX(last_seen)
        FROM usage WHERE device_id = ?1
        GROUP BY program ORDER BY SUM(seconds) DESC, program)sql"));
      RETURN_IF_ERROR(s.Bind(1, device_id));
    }
    std::vector<UsageRow> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back({s.Text(0), static_cast<uint64_t>(s.Int(1)), s.Int(2), s.Int(3)});
    }
    return out;
  });
}

StatusOr<std::vector<SoftwareRow>> SqliteStore::QuerySoftware(sqlite3* db, const char* sql,
                                                              const std::string& arg,
                                                              const std::string& what) {
  Stmt s(db, what);
  RETURN_IF_ERROR(s.Prepare(sql));
  RETURN_IF_ERROR(s.Bind(1, arg));
  std::vector<SoftwareRow> rows;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    rows.push_back(SoftwareRow{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4)});
  }
  return rows;
}

StatusOr<std::vector<SoftwareRow>> SqliteStore::DeviceSoftware(const std::string& device_id) {
  return Read([&](sqlite3* db) -> StatusOr<std::vector<SoftwareRow>> {
    // The existence check and the list must see the same snapshot, or an
    // import committing in between could pair "exists" with another state.
    Transaction snapshot(db, "BEGIN");
    RETURN_IF_ERROR(snapshot.Begin());
    // A separate existence check, so that an unknown id (a typo) is NotFound
    // rather than an empty list that looks like "no packages".
    {
      Stmt s(db, path_ + ": get device " + device_id);
      RETURN_IF_ERROR(s.Prepare("SELECT 1 FROM devices WHERE device_id = ?1"));
      RETURN_IF_ERROR(s.Bind(1, device_id));
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return common::NotFound(path_ + ": no device '" + device_id + "'");
    }
    return QuerySoftware(db, R"sql(
      SELECT p.device_id, d.hostname, p.name, p.version, p.arch
      FROM packages p JOIN devices d ON d.device_id = p.device_id
      WHERE p.device_id = ?1
      ORDER BY p.name, p.version, p.arch, p.position)sql",
                         device_id, path_ + ": software of device " + device_id);
  });
}

StatusOr<std::vector<SoftwareRow>> SqliteStore::FindSoftware(const std::string& pattern) {
  return Read([&](sqlite3* db) {
    // SQLite's LIKE ignores ASCII case; see docs/store.md for what a
    // PostgreSQL backend has to do (ILIKE) to match the same rows.
    return QuerySoftware(db, R"sql(
      SELECT p.device_id, d.hostname, p.name, p.version, p.arch
      FROM packages p JOIN devices d ON d.device_id = p.device_id
      WHERE p.name LIKE ?1 ESCAPE '\'
      ORDER BY p.name, d.hostname, p.device_id, p.version, p.arch)sql",
                         GlobToLike(pattern), path_ + ": find software '" + pattern + "'");
  });
}

}  // namespace

StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, bool read_only) {
  if (path.empty()) return common::InvalidArgument("store path is empty");
  if (!read_only) {
    ASSIGN_OR_RETURN(DbPtr writer, OpenWriter(path));
    return std::unique_ptr<Store>(std::make_unique<SqliteStore>(std::move(writer), path));
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
  ASSIGN_OR_RETURN(DbPtr first, OpenReader(path));
  auto store = std::make_unique<SqliteStore>(nullptr, path);
  store->AdoptReader(std::move(first));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace inventory
