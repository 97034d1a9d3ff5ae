// The store: where the central keeps what uploads say about the estate.
//
// One interface, so that a PostgreSQL backend can be added beside SQLite
// without touching callers. No backend-specific SQL leaks out.
//
// A Store is also the EstateStore (inventory/estate.h: status, health,
// beacons, actions) and the IdentityStore (inventory/identity_store.h:
// enrollment secrets and decisions, issued certificates, revocations, device
// keys); all live in the same database as the devices, so one backend and
// one transaction boundary serve them all.
//
// Thread safety: a Store may be used from several threads. Writes (Import*,
// RecordCheckins and the IdentityStore writes) are serialized internally.
// Queries (HasUpload and every method below it, and the IdentityStore reads)
// never wait for a write in progress, including its commit: each sees the
// data committed when it started.
//
// Exactly-once import: an upload is keyed by (device id, upload id), because
// clients choose the ids and two devices may choose the same one. Every
// Import* call records that key in the same transaction as its data.
// Importing a key that is already recorded changes nothing and returns
// AlreadyExists; the same upload id from another device is another upload.
//
// Order: a device's inventories are ordered by the device's own counter
// (Inventory::sequence), never by its clock (collected_at), which is recorded
// for display only. See ImportInventory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "inventory/estate.h"
#include "inventory/identity_store.h"
#include "inventory/inventory.h"
#include "inventory/sections.h"
#include "inventory/usage.h"

namespace inventory {

// What the transport knows about an upload, kept beside its data.
struct UploadInfo {
  std::string upload_id;    // client-chosen id (UUID)
  std::string device_id;
  std::string kind;         // common::protocol::IsUploadKind
  std::string sha256;       // hex digest of the body as uploaded
  uint64_t size = 0;        // body bytes as uploaded
  int64_t received_at = 0;  // unix seconds when the first beacon made it durable
  std::string via;          // name of the beacon that received it from the device
};

// One device's latest check-in (a request that reached a beacon).
struct Checkin {
  std::string device_id;
  int64_t seen_at = 0;  // unix seconds
  std::string via;      // beacon that saw the request
  std::string client_version;
  int64_t policy_revision = 0;
  int64_t outbox_depth = 0;
  std::string peer;  // socket peer address as the beacon saw it
  // The device's expected seconds between policy checks, from its own
  // schedule (X-Beacon-Check-Interval); 0 when it did not say.
  int64_t check_interval = 0;
};

struct DeviceRow {
  std::string device_id;
  std::string hostname;
  std::string os;  // PRETTY_NAME or "name version"
  int64_t last_seen = 0;
  std::string via;
  std::string client_version;
  int64_t policy_revision = 0;
  int64_t outbox_depth = 0;
  // collected_at of the current inventory, in unix seconds: the device's own
  // clock, for display only (it orders nothing); 0 if none.
  int64_t inventory_at = 0;
  int64_t inventory_sequence = 0;  // Inventory::sequence of the current inventory
  uint64_t packages = 0;
};

struct SoftwareRow {
  std::string device_id;
  std::string hostname;
  std::string name;
  std::string version;
  std::string arch;
};

struct UsageRow {
  std::string program;
  uint64_t devices = 0;  // devices that ran it
  int64_t seconds = 0;   // run time, summed over devices and processes
  int64_t last_seen = 0;  // unix seconds
  uint64_t launches = 0;  // processes of it seen starting, over devices
};

// One change to a device's inventory (docs/store.md "History").
struct ChangeRow {
  std::string device_id;
  std::string hostname;
  // When the store learnt of it: the arrival (at the first beacon) of the
  // inventory that showed it, never the device's clock.
  int64_t at = 0;
  std::string part;    // "software", or a section name ("pci", "users", ...)
  // A package: "name arch source"; an item: its key.
  std::string key{};
  std::string change{};  // "added", "removed" or "changed"
  // A package's version, or an item's stable fields as a JSON object; ""
  // on the side that does not exist (before an addition, after a removal).
  std::string before{};
  std::string after{};
};

class Store : public IdentityStore, public EstateStore {
 public:
  ~Store() override = default;

  // Records the upload and, if `inv` is newer than the device's current
  // inventory, replaces it (os, hardware, disks, interfaces, packages, files).
  // Newer means a higher inv.sequence than the stored one; when both are 0
  // (clients that do not number their inventories) the later import wins; the
  // first inventory of a device always counts. An older one is recorded as an
  // upload (so a redelivery is still a duplicate) but replaces nothing.
  // collected_at never orders: a device whose clock steps back loses nothing.
  // A delta (inv.base > 0) replaces only the parts it carries, and only when
  // the stored inventory is the one it names (sequence == base); otherwise
  // it is recorded and applies nothing (docs/inventory.md#deltas). Changed
  // packages and section items leave history (Changes).
  // AlreadyExists if (info.device_id, info.upload_id) was imported before
  // (nothing changes). InvalidArgument (nothing written) if `inv` names
  // another device, has a negative sequence or an unparsable collected_at.
  virtual common::Status ImportInventory(const UploadInfo& info, const Inventory& inv) = 0;

  // Records a usage period (inventory/usage.h) with its upload.
  // AlreadyExists for an id imported before; InvalidArgument if the document
  // names another device than the uploader.
  virtual common::Status ImportUsage(const UploadInfo& info, const Usage& usage) = 0;

  // Records an upload whose body is kept as an opaque blob (logs).
  virtual common::Status ImportBlob(const UploadInfo& info, const std::string& body) = 0;

  // Records check-ins (upsert by device; a check-in older than the stored one
  // does not move last_seen back). Creates unknown devices.
  virtual common::Status RecordCheckins(const std::vector<Checkin>& checkins) = 0;

  // True if this device's upload with this id has been imported.
  virtual common::StatusOr<bool> HasUpload(const std::string& device_id,
                                           const std::string& upload_id) = 0;

  virtual common::StatusOr<std::vector<DeviceRow>> ListDevices() = 0;
  virtual common::StatusOr<DeviceRow> GetDevice(const std::string& device_id) = 0;
  // The addresses of the device's interfaces in its current inventory, as
  // reported ("192.0.2.7/24"); empty before its first inventory.
  virtual common::StatusOr<std::vector<std::string>> DeviceAddresses(const std::string& device_id) = 0;

  // The hardware summary of the device's current inventory: vendor, model,
  // serial, CPU, memory, disks and interfaces (with their addresses), in the
  // order reported. All empty before its first inventory. NotFound for a
  // device the store does not know.
  virtual common::StatusOr<Hardware> DeviceHardware(const std::string& device_id) = 0;
  // The detailed sections of the device's current inventory
  // (inventory/sections.h), sorted by name, items by key, each item with
  // every field as last reported (volatile ones included: IsVolatileField
  // tells which) and each section with its notes. Empty before its first
  // inventory. NotFound for a device the store does not know.
  virtual common::StatusOr<std::vector<Section>> DeviceSections(const std::string& device_id) = 0;

  // Programs by estimated running time (samples x interval), most used
  // first, over all stored periods; `device_id` "" for the whole estate.
  virtual common::StatusOr<std::vector<UsageRow>> UsageSummary(const std::string& device_id) = 0;

  // File evidence of one device's current inventory, sorted by path.
  virtual common::StatusOr<std::vector<FileEvidence>> DeviceFiles(const std::string& device_id) = 0;

  // Installed packages of one device, sorted by name.
  virtual common::StatusOr<std::vector<SoftwareRow>> DeviceSoftware(const std::string& device_id) = 0;
  // Packages whose name matches a glob pattern ('*' and '?'), on any device.
  virtual common::StatusOr<std::vector<SoftwareRow>> FindSoftware(const std::string& pattern) = 0;

  // What changed since `since` (unix seconds, inclusive) on every device or
  // (`device_id` not empty) on one: packages installed, removed or changed
  // version, section items added, removed or changed (volatile fields
  // aside), ordered by time. What a device's first report of a part listed
  // is its baseline, not a change. Pass 0 for a device's whole time line.
  virtual common::StatusOr<std::vector<ChangeRow>> Changes(int64_t since, const std::string& device_id) = 0;

  // Runs write(0) .. write(count - 1), each made of this store's write calls
  // (ImportInventory, ImportUsage, ...), in as few transactions as the
  // backend can: in one, with each write(i) in a savepoint of its own, so
  // that a write that fails (its Status, at [i]) is undone alone and the
  // others commit together, with one commit (one fsync) for all. Exactly as
  // if each write had run alone, except that a failure of the batch itself
  // (its commit, or a lost race retried too often) is every write's status.
  // Reads (GetDevice, ...) made inside write(i) do not see the batch's
  // uncommitted writes. The writes run on the calling thread, in order; one
  // batch at a time per store, as for single writes. The default runs each
  // write on its own.
  virtual std::vector<common::Status> WriteBatch(size_t count, const std::function<common::Status(size_t)>& write) {
    std::vector<common::Status> out;
    out.reserve(count);
    for (size_t i = 0; i < count; ++i) out.push_back(write(i));
    return out;
  }
};

// Opens (creating if needed) a SQLite store in WAL mode at `path` and brings
// its schema up to date in place (docs/store.md). Queries run on a small pool
// of read-only connections of their own, so they never wait for the writer's
// connection. read_only opens an existing, up-to-date database for queries
// only (beaconctl): NotFound if the file is missing, FailedPrecondition if its
// schema is older or newer than this program's; write calls then return
// FailedPrecondition.
common::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, bool read_only = false);

// Opens a PostgreSQL store (docs/store.md "PostgreSQL"): `conninfo` is a libpq
// connection string ("host=/run/postgresql dbname=inventory" or
// "postgresql://beacon@db.example/inventory"); the database must exist. A
// read-write open creates or upgrades the schema (under an advisory lock, so
// centrals starting together do not race). Several processes may open the
// same database read-write at once: every write is one SERIALIZABLE
// transaction, retried when it loses a race or its connection, so the
// exactly-once and ordering rules above hold across centrals (a check-in
// batch, whose upserts only merge, is READ COMMITTED). Queries use a small
// pool of their own connections; one whose connection was lost runs once
// more on a new one. read_only: FailedPrecondition for a database without the
// current schema, NotFound for a missing database; write calls then return
// FailedPrecondition. Connection failures are Unavailable. Error messages name
// the database without its password.
common::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const std::string& conninfo,
                                                           bool read_only = false);

// Where a store is, as a central's configuration says it (`store`,
// `store_conninfo`): backend "sqlite" (the file `path`) or "postgresql"
// (`conninfo`).
struct StoreLocation {
  std::string backend = "sqlite";
  std::string path;
  std::string conninfo;
};
// OpenSqliteStore or OpenPostgresStore; InvalidArgument for another backend.
common::StatusOr<std::unique_ptr<Store>> OpenStore(const StoreLocation& where,
                                                   bool read_only = false);

}  // namespace inventory
