#include "sqlite_schema.h"

#include <cstddef>

#include "sql.h"
#include "sql_store.h"

namespace inventory::sqlite {

using common::Status;
using sql::Exec;
using sql::QueryInt;
using sql::Stmt;
using sql::Transaction;

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

// Version 5: seeing the estate (inventory/estate.h, docs/store.md). devices
// gains first_seen (its earliest contact; existing rows take the earliest
// contact the store knows of: an upload, the stored check-in, last_seen)
// and check_interval (from its check-ins; 0 unknown). Every other table is
// new. health_messages keeps every occurrence of a message, open and
// cleared: an occurrence is (source_kind, source, id, first_seen), so a
// message cleared and raised again is a second row and the history keeps
// both. beacon_uploads records the exactly-once key of a beacon's own
// uploads (its health documents) apart from uploads, whose rows reference
// devices: a beacon must not become a device row.
constexpr const char* kSchemaV5[] = {
    "ALTER TABLE devices ADD COLUMN first_seen INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE devices ADD COLUMN check_interval INTEGER NOT NULL DEFAULT 0",
    R"sql(UPDATE devices SET first_seen = COALESCE(
      (SELECT MIN(u.received_at) FROM uploads u
       WHERE u.device_id = devices.device_id AND u.received_at > 0), 0))sql",
    R"sql(UPDATE devices SET first_seen = checkin_at
      WHERE checkin_at > 0 AND (first_seen = 0 OR checkin_at < first_seen))sql",
    "UPDATE devices SET first_seen = last_seen WHERE first_seen = 0 AND last_seen > 0",
    R"sql(CREATE TABLE estate_rules (
      id                     INTEGER PRIMARY KEY CHECK (id = 1),
      disconnect_after       INTEGER NOT NULL,
      default_check_interval INTEGER NOT NULL,
      outbox_backlog         INTEGER NOT NULL,
      cert_warn_before       INTEGER NOT NULL,
      beacon_offline_after   INTEGER NOT NULL,
      policy_revision        INTEGER NOT NULL,
      policy_since           INTEGER NOT NULL
    ))sql",
    R"sql(CREATE TABLE health_messages (
      source_kind TEXT NOT NULL,
      source      TEXT NOT NULL,
      id          TEXT NOT NULL,
      first_seen  INTEGER NOT NULL,
      component   TEXT NOT NULL,
      type        TEXT NOT NULL,
      priority    INTEGER NOT NULL,
      text        TEXT NOT NULL,
      last_seen   INTEGER NOT NULL,
      count       INTEGER NOT NULL,
      cleared_at  INTEGER NOT NULL DEFAULT 0,
      received_at INTEGER NOT NULL,
      PRIMARY KEY (source_kind, source, id, first_seen)
    ))sql",
    "CREATE INDEX health_open ON health_messages (source_kind, cleared_at, source)",
    "CREATE INDEX health_by_received ON health_messages (received_at)",
    R"sql(CREATE TABLE health_sources (
      source_kind   TEXT NOT NULL,
      source        TEXT NOT NULL,
      last_sequence INTEGER NOT NULL,
      applied_at    INTEGER NOT NULL,
      PRIMARY KEY (source_kind, source)
    ))sql",
    R"sql(CREATE TABLE beacon_uploads (
      device_id   TEXT NOT NULL,
      upload_id   TEXT NOT NULL,
      kind        TEXT NOT NULL,
      sha256      TEXT NOT NULL,
      size        INTEGER NOT NULL,
      received_at INTEGER NOT NULL,
      via         TEXT NOT NULL,
      imported_at INTEGER NOT NULL,
      PRIMARY KEY (device_id, upload_id)
    ))sql",
    R"sql(CREATE TABLE beacons (
      name            TEXT PRIMARY KEY,
      last_contact    INTEGER NOT NULL DEFAULT 0,
      version         TEXT NOT NULL DEFAULT '',
      report_interval INTEGER NOT NULL DEFAULT 0,
      central         INTEGER NOT NULL DEFAULT 0,
      spool_files     INTEGER NOT NULL DEFAULT 0,
      spool_bytes     INTEGER NOT NULL DEFAULT 0,
      spool_oldest    INTEGER NOT NULL DEFAULT 0,
      rejected_files  INTEGER NOT NULL DEFAULT 0,
      disk_free       INTEGER NOT NULL DEFAULT 0,
      upstream_ok     INTEGER NOT NULL DEFAULT 1,
      upstream_since  INTEGER NOT NULL DEFAULT 0,
      cert_not_after  INTEGER NOT NULL DEFAULT 0
    ))sql",
    R"sql(CREATE TABLE actions (
      id           TEXT PRIMARY KEY,
      kind         TEXT NOT NULL,
      device_id    TEXT NOT NULL,
      group_name   TEXT NOT NULL DEFAULT '',
      created_at   INTEGER NOT NULL,
      expires_at   INTEGER NOT NULL,
      state        TEXT NOT NULL,
      delivered_at INTEGER NOT NULL DEFAULT 0,
      finished_at  INTEGER NOT NULL DEFAULT 0,
      result       TEXT NOT NULL DEFAULT ''
    ))sql",
    "CREATE INDEX actions_by_device ON actions (device_id)",
    "CREATE INDEX actions_by_state ON actions (state, expires_at)",
    R"sql(CREATE TABLE device_vias (
      device_id TEXT NOT NULL,
      via       TEXT NOT NULL,
      last_seen INTEGER NOT NULL,
      PRIMARY KEY (device_id, via)
    ))sql",
    R"sql(INSERT INTO device_vias (device_id, via, last_seen)
      SELECT device_id, via, last_seen FROM devices WHERE via <> '')sql",
};

// Version 6: an interface says whether it is a virtual link (NetInterface::
// is_virtual); rows imported before are hardware as far as anyone knew.
constexpr const char* kSchemaV6[] = {
    "ALTER TABLE interfaces ADD COLUMN virtual INTEGER NOT NULL DEFAULT 0",
};

// Version 7 (issue 11): the detailed inventory and its history.
// - packages keep their details and when each version was first seen on the
//   device; rows are identified by what they are (name, arch, source,
//   version), no longer by position, so an import changes only what changed.
// - sections/items hold the detailed sections; device_parts the digest of
//   each part of the current inventory (an unchanged part costs nothing).
// - history keeps the spans that ended: a package version or an item state,
//   from first_seen to last_seen, gone at gone_at. The open spans are the
//   current rows. `baseline` marks rows that came with a device's first
//   report of a part: present then, not installed then.
// - usage entries are per program per day, with launches and users.
constexpr const char* kSchemaV7[] = {
    R"sql(CREATE TABLE packages_v7 (
      device_id    TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      name         TEXT NOT NULL,
      arch         TEXT NOT NULL,
      source       TEXT NOT NULL,
      version      TEXT NOT NULL,
      installed_at INTEGER NOT NULL DEFAULT 0,
      size_bytes   INTEGER NOT NULL DEFAULT 0,
      section      TEXT NOT NULL DEFAULT '',
      maintainer   TEXT NOT NULL DEFAULT '',
      summary      TEXT NOT NULL DEFAULT '',
      first_seen   INTEGER NOT NULL DEFAULT 0,
      baseline     INTEGER NOT NULL DEFAULT 1,
      PRIMARY KEY (device_id, name, arch, source, version)
    ))sql",
    R"sql(INSERT OR IGNORE INTO packages_v7 (device_id, name, arch, source, version)
      SELECT device_id, name, arch, source, version FROM packages)sql",
    "DROP TABLE packages",
    "ALTER TABLE packages_v7 RENAME TO packages",
    "CREATE INDEX packages_by_name ON packages (name, device_id)",
    "ALTER TABLE devices ADD COLUMN inventory_received INTEGER NOT NULL DEFAULT 0",
    R"sql(CREATE TABLE device_parts (
      device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      part      TEXT NOT NULL,
      digest    TEXT NOT NULL,
      PRIMARY KEY (device_id, part)
    ))sql",
    R"sql(CREATE TABLE sections (
      device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      name      TEXT NOT NULL,
      notes     TEXT NOT NULL DEFAULT '',
      PRIMARY KEY (device_id, name)
    ))sql",
    R"sql(CREATE TABLE items (
      device_id  TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      section    TEXT NOT NULL,
      item_key   TEXT NOT NULL,
      fields     TEXT NOT NULL,
      stable     TEXT NOT NULL,
      first_seen INTEGER NOT NULL DEFAULT 0,
      baseline   INTEGER NOT NULL DEFAULT 1,
      PRIMARY KEY (device_id, section, item_key)
    ))sql",
    R"sql(CREATE TABLE history (
      device_id  TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      part       TEXT NOT NULL,
      item_key   TEXT NOT NULL,
      value      TEXT NOT NULL,
      first_seen INTEGER NOT NULL,
      last_seen  INTEGER NOT NULL,
      gone_at    INTEGER NOT NULL,
      baseline   INTEGER NOT NULL
    ))sql",
    "CREATE INDEX history_by_device ON history (device_id, gone_at)",
    "CREATE INDEX history_by_time ON history (gone_at)",
    "CREATE INDEX packages_by_first_seen ON packages (first_seen)",
    "CREATE INDEX items_by_first_seen ON items (first_seen)",
    R"sql(CREATE TABLE usage_v7 (
      device_id  TEXT NOT NULL,
      upload_id  TEXT NOT NULL,
      program    TEXT NOT NULL,
      day        TEXT NOT NULL DEFAULT '',
      samples    INTEGER NOT NULL,
      seconds    INTEGER NOT NULL,
      first_seen INTEGER NOT NULL,
      last_seen  INTEGER NOT NULL,
      launches   INTEGER NOT NULL DEFAULT 0,
      users      TEXT NOT NULL DEFAULT '',
      PRIMARY KEY (device_id, upload_id, program, day),
      FOREIGN KEY (device_id, upload_id) REFERENCES uploads (device_id, upload_id)
    ))sql",
    R"sql(INSERT INTO usage_v7 (device_id, upload_id, program, samples, seconds, first_seen, last_seen)
      SELECT device_id, upload_id, program, samples, seconds, first_seen, last_seen FROM usage)sql",
    "DROP TABLE usage",
    "ALTER TABLE usage_v7 RENAME TO usage",
    "CREATE INDEX usage_by_program ON usage (program)",
};

// Version 8: package versions are stored once, shared by the devices that
// have them (store_packages.cpp); a device's row refers to one. Changes are
// found through an index of the rows that are not a baseline.
constexpr const char* kSchemaV8[] = {
    R"sql(CREATE TABLE package_versions (
      id         INTEGER PRIMARY KEY,
      digest     TEXT NOT NULL UNIQUE,
      name       TEXT NOT NULL,
      arch       TEXT NOT NULL,
      source     TEXT NOT NULL,
      version    TEXT NOT NULL,
      size_bytes INTEGER NOT NULL,
      section    TEXT NOT NULL,
      maintainer TEXT NOT NULL,
      summary    TEXT NOT NULL
    ))sql",
    "CREATE INDEX package_versions_by_name ON package_versions (name)",
    R"sql(CREATE TABLE packages_v8 (
      device_id    TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      version_id   INTEGER NOT NULL REFERENCES package_versions (id),
      installed_at INTEGER NOT NULL,
      first_seen   INTEGER NOT NULL,
      baseline     INTEGER NOT NULL,
      PRIMARY KEY (device_id, version_id)
    ) WITHOUT ROWID)sql",
    sql::kMovePackagesToVersions,
    "DROP TABLE packages",
    "ALTER TABLE packages_v8 RENAME TO packages",
    "CREATE INDEX packages_by_version ON packages (version_id)",
    "CREATE INDEX packages_by_first_seen ON packages (first_seen) WHERE baseline = 0",
};

// Version 9: administrators' API tokens (their digests) and the estate's
// history of status counts and check-ins.
constexpr const char* kSchemaV9[] = {
    R"sql(CREATE TABLE api_tokens (
      id         TEXT PRIMARY KEY,
      name       TEXT NOT NULL,
      role       TEXT NOT NULL,
      sha256     TEXT NOT NULL UNIQUE,
      created_at INTEGER NOT NULL,
      revoked_at INTEGER NOT NULL DEFAULT 0
    ))sql",
    R"sql(CREATE TABLE estate_history (
      at     INTEGER NOT NULL,
      series TEXT NOT NULL,
      value  INTEGER NOT NULL,
      PRIMARY KEY (at, series)
    ) WITHOUT ROWID)sql",
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
    {kSchemaV5, sizeof(kSchemaV5) / sizeof(kSchemaV5[0])},
    {kSchemaV6, sizeof(kSchemaV6) / sizeof(kSchemaV6[0])},
    {kSchemaV7, sizeof(kSchemaV7) / sizeof(kSchemaV7[0])},
    {kSchemaV8, sizeof(kSchemaV8) / sizeof(kSchemaV8[0])},
    {kSchemaV9, sizeof(kSchemaV9) / sizeof(kSchemaV9[0])},
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

Status Migrate(sql::Conn* db, const std::string& path) {
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
      RETURN_IF_ERROR(sql::RunMigrationStatement(
          db, m.statements[i], path + ": migrate schema to version " + std::to_string(v + 1)));
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
