#include "sqlite_schema.h"

#include <cstddef>

#include "sqlite_util.h"

namespace inventory::sqlite {

using common::Status;

namespace {

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

// Version 4: the identity records (inventory/identity_store.h,
// docs/identity.md). They stand apart from devices on purpose: a device row
// means "this device reported", and a refused enrollment must leave no
// device behind, so nothing here references devices and nothing creates one.
// Enrollments are keyed like uploads, by (device_id, request_id), since
// clients choose request ids; approve and deny name a request id alone and
// find it through enrollments_by_request (refusing one that two devices used).
// An issued enrollment references its certificate; serial is NULL until then.
constexpr const char* kSchemaV4[] = {
    R"sql(CREATE TABLE enroll_secrets (
      id         TEXT PRIMARY KEY,
      sha256     TEXT NOT NULL,
      label      TEXT NOT NULL DEFAULT '',
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL DEFAULT 0,
      max_uses   INTEGER NOT NULL DEFAULT 0,
      uses       INTEGER NOT NULL DEFAULT 0,
      revoked_at INTEGER NOT NULL DEFAULT 0
    ))sql",
    R"sql(CREATE TABLE certificates (
      serial        TEXT PRIMARY KEY,
      kind          TEXT NOT NULL,
      subject       TEXT NOT NULL,
      key_sha256    TEXT NOT NULL,
      issuer_sha256 TEXT NOT NULL,
      issued_at     INTEGER NOT NULL,
      not_after     INTEGER NOT NULL,
      revoked_at    INTEGER NOT NULL DEFAULT 0
    ))sql",
    "CREATE INDEX certificates_by_subject ON certificates (kind, subject)",
    "CREATE INDEX certificates_by_issuer ON certificates (issuer_sha256)",
    R"sql(CREATE TABLE enrollments (
      device_id   TEXT NOT NULL,
      request_id  TEXT NOT NULL,
      kind        TEXT NOT NULL,
      state       TEXT NOT NULL,
      reason      TEXT NOT NULL DEFAULT '',
      host        TEXT NOT NULL DEFAULT '',
      key_sha256  TEXT NOT NULL,
      secret_id   TEXT NOT NULL DEFAULT '',
      via         TEXT NOT NULL DEFAULT '',
      received_at INTEGER NOT NULL,
      decided_at  INTEGER NOT NULL DEFAULT 0,
      serial      TEXT REFERENCES certificates (serial),
      cert_pem    TEXT NOT NULL DEFAULT '',
      csr_pem     TEXT NOT NULL DEFAULT '',
      PRIMARY KEY (device_id, request_id)
    ))sql",
    "CREATE INDEX enrollments_by_request ON enrollments (request_id)",
    "CREATE INDEX enrollments_by_state ON enrollments (state, received_at)",
    R"sql(CREATE TABLE device_keys (
      device_id        TEXT PRIMARY KEY,
      key_sha256       TEXT NOT NULL,
      enrolled_at      INTEGER NOT NULL,
      revoked_at       INTEGER NOT NULL DEFAULT 0,
      clone_reports    INTEGER NOT NULL DEFAULT 0,
      clone_last_at    INTEGER NOT NULL DEFAULT 0,
      clone_key_sha256 TEXT NOT NULL DEFAULT ''
    ))sql",
};

struct Migration {
  const char* const* statements;
  size_t count;
};
constexpr Migration kMigrations[] = {
    {kSchemaV1, sizeof(kSchemaV1) / sizeof(kSchemaV1[0])},
    {kSchemaV2, sizeof(kSchemaV2) / sizeof(kSchemaV2[0])},
    {kSchemaV3, sizeof(kSchemaV3) / sizeof(kSchemaV3[0])},
    {kSchemaV4, sizeof(kSchemaV4) / sizeof(kSchemaV4[0])},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion,
              "one migration per schema version");

}  // namespace

std::string VersionMismatch(const std::string& path, int64_t version) {
  return path + ": schema version " + std::to_string(version) +
         (version > kSchemaVersion ? " is newer than this program's "
                                   : " is older than this program's ") +
         std::to_string(kSchemaVersion);
}

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

}  // namespace inventory::sqlite
