#include "pg_schema.h"

#include <cstddef>
#include <string>

#include "sql_store.h"
#include "sqlite_schema.h"

namespace inventory::pg {

using common::Status;
using common::StatusOr;

namespace {

// The newest schema at the time the PostgreSQL backend was written
// (SQLite's version 6), in PostgreSQL types: INTEGER -> BIGINT, BLOB ->
// BYTEA, TEXT -> TEXT. Column meanings are documented in docs/store.md.
constexpr int kBaseVersion = 6;
constexpr const char* kBaseSchema[] = {
    R"sql(CREATE TABLE devices (
      device_id          TEXT PRIMARY KEY,
      hostname           TEXT NOT NULL DEFAULT '',
      os                 TEXT NOT NULL DEFAULT '',
      last_seen          BIGINT NOT NULL DEFAULT 0,
      via                TEXT NOT NULL DEFAULT '',
      checkin_at         BIGINT NOT NULL DEFAULT 0,
      client_version     TEXT NOT NULL DEFAULT '',
      policy_revision    BIGINT NOT NULL DEFAULT 0,
      outbox_depth       BIGINT NOT NULL DEFAULT 0,
      peer               TEXT NOT NULL DEFAULT '',
      inventory_at       BIGINT NOT NULL DEFAULT 0,
      inventory_upload   TEXT,
      inventory_sequence BIGINT NOT NULL DEFAULT 0,
      first_seen         BIGINT NOT NULL DEFAULT 0,
      check_interval     BIGINT NOT NULL DEFAULT 0
    ))sql",
    "CREATE INDEX devices_by_hostname ON devices (hostname, device_id)",
    R"sql(CREATE TABLE uploads (
      device_id   TEXT NOT NULL REFERENCES devices (device_id),
      upload_id   TEXT NOT NULL,
      kind        TEXT NOT NULL,
      sha256      TEXT NOT NULL,
      size        BIGINT NOT NULL,
      received_at BIGINT NOT NULL,
      via         TEXT NOT NULL,
      imported_at BIGINT NOT NULL,
      PRIMARY KEY (device_id, upload_id)
    ))sql",
    "CREATE INDEX uploads_by_device ON uploads (device_id, received_at)",
    R"sql(CREATE TABLE blobs (
      device_id TEXT NOT NULL,
      upload_id TEXT NOT NULL,
      body      BYTEA NOT NULL,
      PRIMARY KEY (device_id, upload_id),
      FOREIGN KEY (device_id, upload_id) REFERENCES uploads (device_id, upload_id)
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
      cpu_cores    BIGINT NOT NULL,
      memory_bytes BIGINT NOT NULL
    ))sql",
    R"sql(CREATE TABLE disks (
      device_id  TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      position   BIGINT NOT NULL,
      name       TEXT NOT NULL,
      model      TEXT NOT NULL,
      size_bytes BIGINT NOT NULL,
      PRIMARY KEY (device_id, position)
    ))sql",
    R"sql(CREATE TABLE interfaces (
      device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      position  BIGINT NOT NULL,
      name      TEXT NOT NULL,
      mac       TEXT NOT NULL,
      virtual   BIGINT NOT NULL DEFAULT 0,
      PRIMARY KEY (device_id, position)
    ))sql",
    R"sql(CREATE TABLE addresses (
      device_id          TEXT NOT NULL,
      interface_position BIGINT NOT NULL,
      position           BIGINT NOT NULL,
      address            TEXT NOT NULL,
      PRIMARY KEY (device_id, interface_position, position),
      FOREIGN KEY (device_id, interface_position)
        REFERENCES interfaces (device_id, position) ON DELETE CASCADE
    ))sql",
    R"sql(CREATE TABLE packages (
      device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      position  BIGINT NOT NULL,
      name      TEXT NOT NULL,
      version   TEXT NOT NULL,
      arch      TEXT NOT NULL,
      source    TEXT NOT NULL,
      PRIMARY KEY (device_id, position)
    ))sql",
    "CREATE INDEX packages_by_name ON packages (name)",
    R"sql(CREATE TABLE usage (
      device_id  TEXT NOT NULL,
      upload_id  TEXT NOT NULL,
      program    TEXT NOT NULL,
      samples    BIGINT NOT NULL,
      seconds    BIGINT NOT NULL,
      first_seen BIGINT NOT NULL,
      last_seen  BIGINT NOT NULL,
      PRIMARY KEY (device_id, upload_id, program),
      FOREIGN KEY (device_id, upload_id) REFERENCES uploads (device_id, upload_id)
    ))sql",
    R"sql(CREATE TABLE files (
      device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      position  BIGINT NOT NULL,
      path      TEXT NOT NULL,
      size      BIGINT NOT NULL,
      modified  BIGINT NOT NULL,
      sha256    TEXT NOT NULL,
      PRIMARY KEY (device_id, position)
    ))sql",
    R"sql(CREATE TABLE enroll_secrets (
      id         TEXT PRIMARY KEY,
      sha256     TEXT NOT NULL,
      label      TEXT NOT NULL DEFAULT '',
      created_at BIGINT NOT NULL,
      expires_at BIGINT NOT NULL DEFAULT 0,
      max_uses   BIGINT NOT NULL DEFAULT 0,
      uses       BIGINT NOT NULL DEFAULT 0,
      revoked_at BIGINT NOT NULL DEFAULT 0
    ))sql",
    R"sql(CREATE TABLE certificates (
      serial        TEXT PRIMARY KEY,
      kind          TEXT NOT NULL,
      subject       TEXT NOT NULL,
      key_sha256    TEXT NOT NULL,
      issuer_sha256 TEXT NOT NULL,
      issued_at     BIGINT NOT NULL,
      not_after     BIGINT NOT NULL,
      revoked_at    BIGINT NOT NULL DEFAULT 0
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
      received_at BIGINT NOT NULL,
      decided_at  BIGINT NOT NULL DEFAULT 0,
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
      enrolled_at      BIGINT NOT NULL,
      revoked_at       BIGINT NOT NULL DEFAULT 0,
      clone_reports    BIGINT NOT NULL DEFAULT 0,
      clone_last_at    BIGINT NOT NULL DEFAULT 0,
      clone_key_sha256 TEXT NOT NULL DEFAULT ''
    ))sql",
    R"sql(CREATE TABLE estate_rules (
      id                     BIGINT PRIMARY KEY CHECK (id = 1),
      disconnect_after       BIGINT NOT NULL,
      default_check_interval BIGINT NOT NULL,
      outbox_backlog         BIGINT NOT NULL,
      cert_warn_before       BIGINT NOT NULL,
      beacon_offline_after   BIGINT NOT NULL,
      policy_revision        BIGINT NOT NULL,
      policy_since           BIGINT NOT NULL
    ))sql",
    R"sql(CREATE TABLE health_messages (
      source_kind TEXT NOT NULL,
      source      TEXT NOT NULL,
      id          TEXT NOT NULL,
      first_seen  BIGINT NOT NULL,
      component   TEXT NOT NULL,
      type        TEXT NOT NULL,
      priority    BIGINT NOT NULL,
      text        TEXT NOT NULL,
      last_seen   BIGINT NOT NULL,
      count       BIGINT NOT NULL,
      cleared_at  BIGINT NOT NULL DEFAULT 0,
      received_at BIGINT NOT NULL,
      PRIMARY KEY (source_kind, source, id, first_seen)
    ))sql",
    "CREATE INDEX health_open ON health_messages (source_kind, cleared_at, source)",
    "CREATE INDEX health_by_received ON health_messages (received_at)",
    R"sql(CREATE TABLE health_sources (
      source_kind   TEXT NOT NULL,
      source        TEXT NOT NULL,
      last_sequence BIGINT NOT NULL,
      applied_at    BIGINT NOT NULL,
      PRIMARY KEY (source_kind, source)
    ))sql",
    R"sql(CREATE TABLE beacon_uploads (
      device_id   TEXT NOT NULL,
      upload_id   TEXT NOT NULL,
      kind        TEXT NOT NULL,
      sha256      TEXT NOT NULL,
      size        BIGINT NOT NULL,
      received_at BIGINT NOT NULL,
      via         TEXT NOT NULL,
      imported_at BIGINT NOT NULL,
      PRIMARY KEY (device_id, upload_id)
    ))sql",
    R"sql(CREATE TABLE beacons (
      name            TEXT PRIMARY KEY,
      last_contact    BIGINT NOT NULL DEFAULT 0,
      version         TEXT NOT NULL DEFAULT '',
      report_interval BIGINT NOT NULL DEFAULT 0,
      central         BIGINT NOT NULL DEFAULT 0,
      spool_files     BIGINT NOT NULL DEFAULT 0,
      spool_bytes     BIGINT NOT NULL DEFAULT 0,
      spool_oldest    BIGINT NOT NULL DEFAULT 0,
      rejected_files  BIGINT NOT NULL DEFAULT 0,
      disk_free       BIGINT NOT NULL DEFAULT 0,
      upstream_ok     BIGINT NOT NULL DEFAULT 1,
      upstream_since  BIGINT NOT NULL DEFAULT 0,
      cert_not_after  BIGINT NOT NULL DEFAULT 0
    ))sql",
    R"sql(CREATE TABLE actions (
      id           TEXT PRIMARY KEY,
      kind         TEXT NOT NULL,
      device_id    TEXT NOT NULL,
      group_name   TEXT NOT NULL DEFAULT '',
      created_at   BIGINT NOT NULL,
      expires_at   BIGINT NOT NULL,
      state        TEXT NOT NULL,
      delivered_at BIGINT NOT NULL DEFAULT 0,
      finished_at  BIGINT NOT NULL DEFAULT 0,
      result       TEXT NOT NULL DEFAULT ''
    ))sql",
    "CREATE INDEX actions_by_device ON actions (device_id)",
    "CREATE INDEX actions_by_state ON actions (state, expires_at)",
    R"sql(CREATE TABLE device_vias (
      device_id TEXT NOT NULL,
      via       TEXT NOT NULL,
      last_seen BIGINT NOT NULL,
      PRIMARY KEY (device_id, via)
    ))sql",
};

// Steps after the base: kSteps[i] moves a database from version
// kBaseVersion + i to kBaseVersion + i + 1. Each new SQLite version gets its
// step here, in PostgreSQL types (and, since a fresh database is created as
// the base plus every step, nothing else changes).
struct Step {
  const char* const* statements;
  size_t count;
};

// Version 7 (SQLite's kSchemaV7): the detailed inventory and its history;
// packages keyed by what they are; usage per program per day.
constexpr const char* kStepV7[] = {
    R"sql(CREATE TABLE packages_v7 (
      device_id    TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      name         TEXT NOT NULL,
      arch         TEXT NOT NULL,
      source       TEXT NOT NULL,
      version      TEXT NOT NULL,
      installed_at BIGINT NOT NULL DEFAULT 0,
      size_bytes   BIGINT NOT NULL DEFAULT 0,
      section      TEXT NOT NULL DEFAULT '',
      maintainer   TEXT NOT NULL DEFAULT '',
      summary      TEXT NOT NULL DEFAULT '',
      first_seen   BIGINT NOT NULL DEFAULT 0,
      baseline     BIGINT NOT NULL DEFAULT 1,
      PRIMARY KEY (device_id, name, arch, source, version)
    ))sql",
    R"sql(INSERT INTO packages_v7 (device_id, name, arch, source, version)
      SELECT device_id, name, arch, source, version FROM packages
      ON CONFLICT DO NOTHING)sql",
    "DROP TABLE packages",
    "ALTER TABLE packages_v7 RENAME TO packages",
    "CREATE INDEX packages_by_name ON packages (name, device_id)",
    "ALTER TABLE devices ADD COLUMN inventory_received BIGINT NOT NULL DEFAULT 0",
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
      first_seen BIGINT NOT NULL DEFAULT 0,
      baseline   BIGINT NOT NULL DEFAULT 1,
      PRIMARY KEY (device_id, section, item_key)
    ))sql",
    R"sql(CREATE TABLE history (
      device_id  TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      part       TEXT NOT NULL,
      item_key   TEXT NOT NULL,
      value      TEXT NOT NULL,
      first_seen BIGINT NOT NULL,
      last_seen  BIGINT NOT NULL,
      gone_at    BIGINT NOT NULL,
      baseline   BIGINT NOT NULL
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
      samples    BIGINT NOT NULL,
      seconds    BIGINT NOT NULL,
      first_seen BIGINT NOT NULL,
      last_seen  BIGINT NOT NULL,
      launches   BIGINT NOT NULL DEFAULT 0,
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

// Version 8 (SQLite's kSchemaV8): package versions shared by devices.
constexpr const char* kStepV8[] = {
    R"sql(CREATE TABLE package_versions (
      id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      digest     TEXT NOT NULL UNIQUE,
      name       TEXT NOT NULL,
      arch       TEXT NOT NULL,
      source     TEXT NOT NULL,
      version    TEXT NOT NULL,
      size_bytes BIGINT NOT NULL,
      section    TEXT NOT NULL,
      maintainer TEXT NOT NULL,
      summary    TEXT NOT NULL
    ))sql",
    "CREATE INDEX package_versions_by_name ON package_versions (name)",
    R"sql(CREATE TABLE packages_v8 (
      device_id    TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      version_id   BIGINT NOT NULL REFERENCES package_versions (id),
      installed_at BIGINT NOT NULL,
      first_seen   BIGINT NOT NULL,
      baseline     BIGINT NOT NULL,
      PRIMARY KEY (device_id, version_id)
    ))sql",
    sql::kMovePackagesToVersions,
    "DROP TABLE packages",
    "ALTER TABLE packages_v8 RENAME TO packages",
    "CREATE INDEX packages_by_version ON packages (version_id, device_id)",
    "CREATE INDEX packages_by_first_seen ON packages (first_seen) WHERE baseline = 0",
};

// Version 9 (SQLite's kSchemaV9): API tokens and the estate's history.
constexpr const char* kStepV9[] = {
    R"sql(CREATE TABLE api_tokens (
      id         TEXT PRIMARY KEY,
      name       TEXT NOT NULL,
      role       TEXT NOT NULL,
      sha256     TEXT NOT NULL UNIQUE,
      created_at BIGINT NOT NULL,
      revoked_at BIGINT NOT NULL DEFAULT 0
    ))sql",
    R"sql(CREATE TABLE estate_history (
      at     BIGINT NOT NULL,
      series TEXT NOT NULL,
      value  BIGINT NOT NULL,
      PRIMARY KEY (at, series)
    ))sql",
};

constexpr Step kSteps[] = {
    {kStepV7, sizeof(kStepV7) / sizeof(kStepV7[0])},
    {kStepV8, sizeof(kStepV8) / sizeof(kStepV8[0])},
    {kStepV9, sizeof(kStepV9) / sizeof(kStepV9[0])},
};
constexpr int kStepCount = static_cast<int>(sizeof(kSteps) / sizeof(kSteps[0]));

// Any 64-bit key only this program uses: the lock that orders migrations.
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(7366839457306120001)";

}  // namespace

const int kSchemaVersion = kBaseVersion + kStepCount;
static_assert(kBaseVersion + kStepCount == sqlite::kSchemaVersion,
              "every SQLite schema version needs its PostgreSQL step (pg_schema.cpp kSteps)");

StatusOr<int64_t> ReadSchemaVersion(sql::Conn* db, const std::string& name) {
  // to_regclass is NULL for a missing table: no schema yet.
  ASSIGN_OR_RETURN(int64_t exists,
                   sql::QueryInt(db,
                                 "SELECT CASE WHEN to_regclass('schema_version') IS NULL THEN 0 "
                                 "ELSE 1 END",
                                 name + ": look for the schema"));
  if (exists == 0) return int64_t{0};
  return sql::QueryInt(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version",
                       name + ": read schema version");
}

namespace {

// Inside Migrate's transaction, holding the lock.
Status MigrateLocked(sql::Conn* db, const std::string& name) {
  RETURN_IF_ERROR(sql::Exec(db, kMigrationLock, name + ": lock the schema for migration"));
  ASSIGN_OR_RETURN(int64_t version, ReadSchemaVersion(db, name));
  if (version > kSchemaVersion) {
    return common::FailedPrecondition(name + ": schema version " + std::to_string(version) +
                                      " is newer than this program's " +
                                      std::to_string(kSchemaVersion));
  }
  if (version == kSchemaVersion) return Status::Ok();
  if (version != 0 && version < kBaseVersion) {
    return common::DataLoss(name + ": schema version " + std::to_string(version) +
                            " never existed in PostgreSQL");
  }
  if (version == 0) {
    const std::string what = name + ": create schema version " + std::to_string(kBaseVersion);
    RETURN_IF_ERROR(
        sql::Exec(db, "CREATE TABLE schema_version (version BIGINT NOT NULL)", what));
    RETURN_IF_ERROR(sql::Exec(db, "INSERT INTO schema_version (version) VALUES (0)", what));
    for (const char* statement : kBaseSchema) RETURN_IF_ERROR(sql::Exec(db, statement, what));
    version = kBaseVersion;
  }
  for (int64_t v = version; v < kSchemaVersion; ++v) {
    const Step& step = kSteps[v - kBaseVersion];
    const std::string what = name + ": migrate schema to version " + std::to_string(v + 1);
    for (size_t i = 0; i < step.count; ++i) {
      RETURN_IF_ERROR(sql::RunMigrationStatement(db, step.statements[i], what));
    }
  }
  const std::string set =
      "UPDATE schema_version SET version = " + std::to_string(kSchemaVersion);
  return sql::Exec(db, set.c_str(), name + ": set schema version");
}

}  // namespace

Status Migrate(sql::Conn* db, const std::string& name) {
  // READ COMMITTED (a plain BEGIN), not the store's serializable writes: each
  // statement after the lock must see what the central that held it before
  // committed, and a serializable snapshot would be older than the lock.
  RETURN_IF_ERROR(sql::Exec(db, "BEGIN", name + ": begin migration"));
  Status st = MigrateLocked(db, name);
  if (!st.ok()) {
    db->Rollback();
    return st;
  }
  st = sql::Exec(db, "COMMIT", name + ": commit migration");
  if (!st.ok()) db->Rollback();
  return st;
}

}  // namespace inventory::pg
