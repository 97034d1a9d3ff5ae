// The SQLite backend of inventory::Store (docs/store.md), shared by its
// source files: sqlite_store.cpp opens the connections, sqlite_imports.cpp
// writes, sqlite_queries.cpp reads, sqlite_identity.cpp keeps the identity
// records (secrets, enrollments, certificates, device keys), and
// sqlite_estate.cpp, sqlite_actions.cpp and sqlite_estate_queries.cpp the
// estate (rules, device states, health, beacons, actions).
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/status.h"
#include "inventory/store.h"
#include "sqlite_util.h"

namespace inventory::sqlite {

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
  common::StatusOr<sqlite3*> Acquire();
  // Returns a connection that Acquire handed out.
  void Release(sqlite3* db);

  // Puts an already opened reader into the pool (the read-only open checks
  // the file with its first connection).
  void Adopt(DbPtr db);

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

  common::Status ImportInventory(const UploadInfo& info, const Inventory& inv) override;
  common::Status ImportBlob(const UploadInfo& info, const std::string& body) override;
  common::Status RecordCheckins(const std::vector<Checkin>& checkins) override;
  common::StatusOr<bool> HasUpload(const std::string& device_id,
                                   const std::string& upload_id) override;
  common::StatusOr<std::vector<DeviceRow>> ListDevices() override;
  common::StatusOr<DeviceRow> GetDevice(const std::string& device_id) override;
  common::StatusOr<std::vector<std::string>> DeviceAddresses(const std::string& device_id) override;
  common::StatusOr<std::vector<FileEvidence>> DeviceFiles(const std::string& device_id) override;
  common::Status ImportUsage(const UploadInfo& info, const Usage& usage) override;
  common::StatusOr<std::vector<UsageRow>> UsageSummary(const std::string& device_id) override;
  common::StatusOr<std::vector<SoftwareRow>> DeviceSoftware(const std::string& device_id) override;
  common::StatusOr<std::vector<SoftwareRow>> FindSoftware(const std::string& pattern) override;

  // IdentityStore (sqlite_identity.cpp).
  common::Status AddEnrollSecret(const EnrollSecret& secret,
                                 const std::string& secret_sha256) override;
  common::StatusOr<std::vector<EnrollSecret>> ListEnrollSecrets() override;
  common::Status RevokeEnrollSecret(const std::string& id, int64_t now) override;
  common::StatusOr<Enrollment> DecideEnrollment(const EnrollmentInput& input, int64_t now,
                                                const IssueFn& issue) override;
  common::StatusOr<Enrollment> GetEnrollment(const std::string& device_id,
                                             const std::string& request_id) override;
  common::StatusOr<std::vector<Enrollment>> ListEnrollments(const std::string& state) override;
  common::StatusOr<Enrollment> ApproveEnrollment(const std::string& request_id, int64_t now,
                                                 const IssueFn& issue) override;
  common::StatusOr<Enrollment> DenyEnrollment(const std::string& request_id, int64_t now) override;
  common::Status RecordCertificate(const IssuedCertRow& row) override;
  common::StatusOr<std::vector<IssuedCertRow>> ListCertificates() override;
  common::StatusOr<int64_t> RevokeSubject(const std::string& kind, const std::string& subject,
                                          int64_t now) override;
  common::StatusOr<std::vector<IssuedCertRow>> RevokedCertificates(const std::string& issuer_sha256,
                                                                   int64_t now) override;
  common::StatusOr<std::vector<IssuedCertRow>> OnlyFromIssuer(const std::string& issuer_sha256,
                                                              int64_t now) override;
  common::StatusOr<DeviceKeyRow> GetDeviceKey(const std::string& device_id) override;
  common::StatusOr<std::vector<DeviceKeyRow>> ListClones() override;

  // EstateStore: writes in sqlite_estate.cpp (rules, health) and
  // sqlite_actions.cpp (actions), reads in sqlite_estate_queries.cpp.
  common::Status SetEstateRules(const EstateRules& rules) override;
  common::StatusOr<EstateRules> GetEstateRules() override;
  common::StatusOr<std::vector<DeviceState>> ListDeviceStates() override;
  common::StatusOr<DeviceState> GetDeviceState(const std::string& device_id) override;
  common::StatusOr<std::vector<DeviceVia>> DeviceVias(const std::string& device_id) override;
  common::StatusOr<std::vector<UploadRow>> RecentUploads(const std::string& device_id,
                                                         int64_t limit) override;
  common::Status ImportHealth(const UploadInfo& info, const Health& health) override;
  common::Status RecordOwnHealth(const Health& health, int64_t now) override;
  common::StatusOr<std::vector<HealthRow>> ListHealth(const HealthFilter& filter) override;
  common::StatusOr<std::vector<BeaconState>> ListBeacons() override;
  common::Status CreateActions(const std::vector<ActionRow>& rows) override;
  common::StatusOr<std::vector<ActionRow>> ListActions(const ActionFilter& filter) override;
  common::StatusOr<ActionRow> GetAction(const std::string& id) override;
  common::StatusOr<ActionRow> CancelAction(const std::string& id, int64_t now) override;
  common::StatusOr<std::vector<ActionRow>> ActiveActions(int64_t now) override;
  common::Status MarkActionsDelivered(const std::string& device_id,
                                      const std::vector<std::string>& ids, int64_t now) override;
  common::Status ImportActionResult(const UploadInfo& info, const ActionResult& result) override;
  common::StatusOr<std::pair<int64_t, int64_t>> SweepActions(int64_t now,
                                                             int64_t purge_before) override;
  common::StatusOr<int64_t> PurgeHealth(int64_t cleared_before) override;

  void AdoptReader(DbPtr db) { readers_.Adopt(std::move(db)); }

 private:
  common::Status WritableOrError() const {
    if (writer_ == nullptr) {
      return common::FailedPrecondition(path_ + ": store was opened read-only");
    }
    return common::Status::Ok();
  }
  sqlite3* writer() const { return writer_.get(); }

  // Runs fn(db) on a reader connection leased for the call. Never takes
  // write_mu_.
  template <typename Fn>
  std::invoke_result_t<Fn, sqlite3*> Read(Fn&& fn) {
    common::StatusOr<sqlite3*> db = readers_.Acquire();
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
  common::Status RecordUpload(const UploadInfo& info);
  // The same for a beacon's own upload (its health document): the key goes
  // to beacon_uploads, and no device row is created.
  common::Status RecordBeaconUpload(const UploadInfo& info);
  // Device states: all of them, or (device_id not empty) that one; on one
  // snapshot of `db`. Unsorted.
  common::StatusOr<std::vector<DeviceState>> ReadDeviceStates(sqlite3* db,
                                                              const std::string& device_id);
  common::Status ReplaceDeviceInventory(const UploadInfo& info, const Inventory& inv,
                                        int64_t collected_at);
  common::StatusOr<std::vector<SoftwareRow>> QuerySoftware(sqlite3* db, const char* sql,
                                                           const std::string& arg,
                                                           const std::string& what);

  // Declared before readers_ so that the readers close first and the writer,
  // closing last, can checkpoint the WAL into the database.
  std::mutex write_mu_;  // guards writer_: one write transaction at a time
  const DbPtr writer_;
  const std::string path_;
  ReaderPool readers_;
};

// The wall clock, for imported_at (never to order anything).
int64_t NowUnix();

// An upload needs an id, a device and a kind (InvalidArgument otherwise).
common::Status ValidateUpload(const UploadInfo& info);

// Whether `device_id` has recorded an upload `upload_id` (on any connection).
common::StatusOr<bool> HasUploadOn(sqlite3* db, const std::string& what,
                                   const std::string& device_id, const std::string& upload_id);

}  // namespace inventory::sqlite
