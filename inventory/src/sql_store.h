// inventory::Store written once against the SQL seam (sql.h), shared by
// every backend (docs/store.md): store_imports.cpp writes, store_queries.cpp
// reads, store_identity*.cpp keeps the identity records (secrets,
// enrollments, certificates, device keys), and store_estate*.cpp and
// store_actions.cpp the estate (rules, device states, health, beacons,
// actions). A backend (sqlite_store.cpp, pg_store.cpp) opens the writer
// connection and says how to open readers; nothing here knows which one.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/retry.h"
#include "common/status.h"
#include "inventory/store.h"
#include "sql.h"

namespace inventory::sql {

// Opens one more reader connection (read-only, schema checked).
using OpenReaderFn = std::function<common::StatusOr<std::unique_ptr<Conn>>()>;

// Reader connections, so that no query waits for the writer: the writer's
// mutex is held through COMMIT and its fsync, and a manifest request must not
// queue behind an import. A reader sees the last commit before its statement
// (or snapshot transaction) started and is never blocked by the writer (SQLite
// in WAL mode, PostgreSQL's MVCC). A connection serves one caller at a time;
// at most `max` are open, opened when first needed, and a caller who finds
// them all busy waits for another reader to finish, never for the writer.
class ReaderPool {
 public:
  ReaderPool(OpenReaderFn open, size_t max) : open_reader_(std::move(open)), max_(max) {}
  ~ReaderPool() = default;  // every lease has been returned: leases live in a call
  ReaderPool(const ReaderPool&) = delete;
  ReaderPool& operator=(const ReaderPool&) = delete;

  // Takes an idle connection, or opens one if the bound allows.
  common::StatusOr<Conn*> Acquire();
  // Returns a connection that Acquire handed out.
  void Release(Conn* db);

  // Puts an already opened reader into the pool (a read-only open checks
  // the database with its first connection).
  void Adopt(std::unique_ptr<Conn> db);

 private:
  const OpenReaderFn open_reader_;
  const size_t max_;
  std::mutex mu_;  // guards idle_ and open_
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;
  size_t open_ = 0;  // idle plus leased plus being opened
};

class SqlStore final : public Store {
 public:
  // `writer` is null for a read-only store. `name` starts every error
  // message (a file's path, or a PostgreSQL database without its password).
  SqlStore(std::unique_ptr<Conn> writer, std::string name, OpenReaderFn open_reader,
           size_t max_readers)
      : writer_(std::move(writer)), path_(std::move(name)),
        readers_(std::move(open_reader), max_readers) {}

  common::Status ImportInventory(const UploadInfo& info, const Inventory& inv) override;
  common::Status ImportBlob(const UploadInfo& info, const std::string& body) override;
  common::Status RecordCheckins(const std::vector<Checkin>& checkins) override;
  common::StatusOr<bool> HasUpload(const std::string& device_id,
                                   const std::string& upload_id) override;
  common::StatusOr<std::vector<DeviceRow>> ListDevices() override;
  common::StatusOr<DeviceRow> GetDevice(const std::string& device_id) override;
  common::StatusOr<std::vector<std::string>> DeviceAddresses(const std::string& device_id) override;
  common::StatusOr<std::vector<FileEvidence>> DeviceFiles(const std::string& device_id) override;
  common::StatusOr<Hardware> DeviceHardware(const std::string& device_id) override;
  common::StatusOr<std::vector<Section>> DeviceSections(const std::string& device_id) override;
  common::Status ImportUsage(const UploadInfo& info, const Usage& usage) override;
  common::StatusOr<std::vector<UsageRow>> UsageSummary(const std::string& device_id) override;
  common::StatusOr<std::vector<SoftwareRow>> DeviceSoftware(const std::string& device_id) override;
  common::StatusOr<std::vector<SoftwareRow>> FindSoftware(const std::string& pattern) override;
  common::StatusOr<std::vector<ChangeRow>> Changes(int64_t since, const std::string& device_id) override;
  std::vector<common::Status> WriteBatch(size_t count,
                                         const std::function<common::Status(size_t)>& write) override;

  // IdentityStore (store_identity.cpp, store_identity_queries.cpp).
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
  // API tokens and the estate's history: store_admin.cpp.
  common::Status AddApiToken(const ApiToken& token, const std::string& token_sha256) override;
  common::StatusOr<std::vector<ApiToken>> ListApiTokens() override;
  common::StatusOr<ApiToken> FindApiToken(const std::string& token_sha256) override;
  common::StatusOr<ApiToken> RevokeApiToken(const std::string& id_or_name, int64_t now) override;
  common::Status RecordEstateSamples(const std::vector<EstateSample>& samples) override;
  common::StatusOr<std::vector<EstateSample>> EstateHistory(int64_t since) override;
  common::StatusOr<int64_t> PurgeEstateHistory(int64_t before) override;

  // EstateStore: writes in store_estate.cpp (rules, health) and
  // store_actions.cpp (actions), reads in store_estate_queries.cpp.
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

  void AdoptReader(std::unique_ptr<Conn> db) { readers_.Adopt(std::move(db)); }

 private:
  common::Status WritableOrError() const {
    if (writer_ == nullptr) {
      return common::FailedPrecondition(path_ + ": store was opened read-only");
    }
    return common::Status::Ok();
  }

  // Runs fn(db) on a reader connection leased for the call. Never takes
  // write_mu_. When the connection turns out to be lost (a pooled reader
  // whose session the server ended: a restart, a failover, a terminated
  // backend), fn runs once more on a new one: a read has no effects, and
  // otherwise every pooled reader would fail one caller after each restart.
  template <typename Fn>
  std::invoke_result_t<Fn, Conn*> Read(Fn&& fn) {
    common::StatusOr<Conn*> db = readers_.Acquire();
    if (!db.ok()) return db.status();
    struct Lease {
      ReaderPool& pool;
      Conn* db;
      ~Lease() { pool.Release(db); }
    } lease{readers_, *db};
    std::invoke_result_t<Fn, Conn*> result = fn(*db);
    if (StatusOf(result).code() == common::Code::kUnavailable && (*db)->ConnectionLost()) {
      result = fn(*db);
    }
    return result;
  }

  // Runs fn(db) in one write transaction on the writer connection, under
  // write_mu_, and commits it if fn returns OK (rolls it back otherwise).
  // When the backend reports a retryable failure (Unavailable: a
  // serialization failure, a deadlock, a lost connection), the whole
  // transaction runs again, up to the backend's WriteAttempts(), after a
  // short jittered pause; fn must therefore keep its state inside itself and
  // may run more than once (only a committed run has effects).
  //
  // Inside WriteBatch, on its thread, fn runs directly in the batch's
  // transaction (the batch holds write_mu_, gives each write its savepoint
  // and retries the whole batch).
  // `kind` is kWrite, or kMerge for writes that are merges only (sql.h).
  template <typename Fn>
  std::invoke_result_t<Fn, Conn*> Write(Fn&& fn) {
    return Write(TxnKind::kWrite, std::forward<Fn>(fn));
  }
  template <typename Fn>
  std::invoke_result_t<Fn, Conn*> Write(TxnKind kind, Fn&& fn) {
    RETURN_IF_ERROR(WritableOrError());
    if (batch_thread_.load() == std::this_thread::get_id()) return fn(writer());
    std::lock_guard<std::mutex> lock(write_mu_);
    common::Backoff backoff(std::chrono::milliseconds(5), std::chrono::milliseconds(200));
    for (int attempt = 1;; ++attempt) {
      std::invoke_result_t<Fn, Conn*> result = WriteOnce(kind, fn);
      const common::Status& st = StatusOf(result);
      if (st.ok() || st.code() != common::Code::kUnavailable || !writer_->RetryableFailure() ||
          attempt >= writer_->WriteAttempts()) {
        return result;
      }
      std::this_thread::sleep_for(backoff.Next());
    }
  }
  template <typename Fn>
  std::invoke_result_t<Fn, Conn*> WriteOnce(TxnKind kind, Fn& fn) {
    Transaction txn(writer(), kind);
    RETURN_IF_ERROR(txn.Begin());
    std::invoke_result_t<Fn, Conn*> result = fn(writer());
    common::Status committed = StatusOf(result).ok() ? txn.Commit() : StatusOf(result);
    if (committed.ok()) return result;
    // What the transaction added is gone with it (or its fate is unknown).
    ForgetVersionIds();
    return committed;
  }
  static const common::Status& StatusOf(const common::Status& s) { return s; }
  template <typename T>
  static const common::Status& StatusOf(const common::StatusOr<T>& s) {
    return s.status();
  }
  Conn* writer() const { return writer_.get(); }
  // One run of a batch (sql_store.cpp): OK once committed, with each
  // write's status in `out`; otherwise the batch's own failure.
  common::Status WriteBatchOnce(size_t count, const std::function<common::Status(size_t)>& write,
                                std::vector<common::Status>* out);

  // Inside a write transaction: AlreadyExists if (device, upload id) is
  // recorded, then records the upload and brings the device row's
  // last_seen/via up to date.
  common::Status RecordUpload(const UploadInfo& info);
  // The same for a beacon's own upload (its health document): the key goes
  // to beacon_uploads, and no device row is created.
  common::Status RecordBeaconUpload(const UploadInfo& info);
  // Device states: all of them, or (device_id not empty) that one; on one
  // snapshot of `db`. Unsorted.
  common::StatusOr<std::vector<DeviceState>> ReadDeviceStates(Conn* db,
                                                              const std::string& device_id);
  // Applies `inv` (full or delta) to the device's current inventory, part by
  // part, with history (store_parts.cpp).
  common::Status ApplyInventory(const UploadInfo& info, const Inventory& inv, int64_t collected_at);
  struct PartContext {
    const UploadInfo& info;
    std::string ctx;                // error message prefix
    int64_t previous_received = 0;  // when the inventory being replaced arrived
    bool baseline = false;          // the device's first report of this part
  };
  // Deletes the device's rows from each table, children first as listed.
  common::Status ClearDeviceRows(const PartContext& c, std::initializer_list<const char*> tables);
  common::Status ApplyOs(const PartContext& c, const Inventory& inv);
  common::Status ApplyHardware(const PartContext& c, const Inventory& inv);
  common::Status ApplyFiles(const PartContext& c, const Inventory& inv);
  // store_packages.cpp: the device's packages, as references to shared
  // package_versions rows.
  common::Status ApplySoftware(const PartContext& c, const std::vector<Package>& software);
  void ForgetVersionIds();
  common::Status ApplySection(const PartContext& c, const Section& section);
  common::Status InsertHistory(const std::string& device_id, const std::string& part,
                               const std::string& key, const std::string& value, int64_t first_seen,
                               int64_t last_seen, int64_t gone_at, bool baseline);
  // NotFound unless the device is in `db`: reads that list a device's rows
  // call it first, in the same snapshot, so that an unknown id (a typo) is
  // NotFound rather than an empty list that looks like "nothing there".
  common::Status RequireDevice(Conn* db, const std::string& device_id);
  common::StatusOr<std::vector<SoftwareRow>> QuerySoftware(Conn* db, const char* sql,
                                                           const std::string& arg,
                                                           const std::string& what);

  // Declared before readers_ so that the readers close first and the writer,
  // closing last, can checkpoint SQLite's WAL into the database.
  std::mutex write_mu_;  // guards writer_ and version_ids_: one write transaction at a time
  const std::unique_ptr<Conn> writer_;
  // package_versions ids by the version's full description, as the writer
  // has seen them, so that an import of known versions costs no lookups.
  // Rows are never deleted, so an entry stays true once its transaction has
  // committed; after any failed transaction the map is cleared (it may hold
  // ids of rows that were rolled back). Cleared as well when it reaches
  // kMaxCachedVersions entries (about 200 bytes each).
  static constexpr size_t kMaxCachedVersions = 1 << 18;
  std::unordered_map<std::string, int64_t> version_ids_;
  // The thread running WriteBatch (none outside one); its writes join the
  // batch's transaction.
  std::atomic<std::thread::id> batch_thread_{};
  const std::string path_;
  ReaderPool readers_;
};

// Runs one statement of a schema migration (both backends). The statement
// kMovePackagesToVersions is no SQL but the step of schema 8 that moves
// each device's package rows (table packages) to references to shared
// package_versions rows (table packages_v8), which needs SHA-256.
inline constexpr char kMovePackagesToVersions[] =
    "-- move packages rows to package_versions and packages_v8";
common::Status RunMigrationStatement(Conn* db, const char* statement, const std::string& what);

// The wall clock, for imported_at (never to order anything).
int64_t NowUnix();

// An upload needs an id, a device and a kind (InvalidArgument otherwise).
common::Status ValidateUpload(const UploadInfo& info);

// Whether `device_id` has recorded an upload `upload_id` (on any connection).
common::StatusOr<bool> HasUploadOn(Conn* db, const std::string& what,
                                   const std::string& device_id, const std::string& upload_id);

}  // namespace inventory::sql
