// Seeing the estate (DESIGN.md): each device's status and conditions, the
// beacons' status, health messages and actions, as the central keeps them.
//
// Part of the store (inventory/store.h: Store derives from EstateStore), in
// the same database as the devices. Status is not stored: it depends on the
// time, so readers compute it with DeviceStatusOf from what is stored
// (DeviceState) and the estate's rules (EstateRules, which the central
// records at start-up and when it serves a new policy revision), so every
// reader (beaconctl, the API) sees the same status at the same time.
//
// Thread safety: as Store. Writers are serialized; readers never wait.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "inventory/action.h"
#include "inventory/health.h"

namespace inventory {

struct UploadInfo;  // inventory/store.h

// The rules every reader applies; one row, written by the central.
struct EstateRules {
  // A device is disconnected after this many of its expected check
  // intervals without a check-in (central.conf disconnect_after).
  int64_t disconnect_after = 3;
  // The expected interval of a device that has not told its own
  // (DeviceState::check_interval 0): one hour.
  int64_t default_check_interval = 3600;
  // Outbox depth from which a device has condition "outbox-backlog".
  int64_t outbox_backlog = 100;
  // A device certificate expiring within this many seconds has condition
  // "certificate-expiring" (central.conf cert_warn_before).
  int64_t cert_warn_before = 30 * 86400;
  // A beacon is offline after this many of its report intervals unheard.
  int64_t beacon_offline_after = 3;
  // The policy revision the central serves, and since when (unix seconds);
  // 0 before the first publish.
  int64_t policy_revision = 0;
  int64_t policy_since = 0;
  bool operator==(const EstateRules&) const = default;
};

// One sample of the estate's history (docs/estate.md "History"). Two kinds
// of series: "status:<status name>", how many devices had that status at
// `at`, recorded by the central every history_interval (EstatePoint); and
// "checkins", the check-ins seen in the minute starting at `at` (beacons'
// clocks), counted by RecordCheckins as it stores them, so a late batch
// still counts in its own minute.
struct EstateSample {
  int64_t at = 0;      // unix seconds
  std::string series;  // "status:<status name>" or "checkins"
  int64_t value = 0;
};
inline constexpr int64_t kCheckinBucket = 60;  // seconds per "checkins" sample

// Statuses, in this order: "never-connected" (enrolled, never seen),
// "pending" (seen, no inventory yet), "active", "disconnected".
enum class DeviceStatus { kNeverConnected, kPending, kActive, kDisconnected };
const char* DeviceStatusName(DeviceStatus s);
// Conditions beside the status, by their stable names: "policy-out-of-sync",
// "outbox-backlog", "certificate-expiring", "clone-suspected", "health-errors".
inline constexpr const char* kConditions[] = {"policy-out-of-sync", "outbox-backlog", "certificate-expiring",
                                              "clone-suspected", "health-errors"};

// What the store knows about a device for its status. A device enrolled but
// never seen has only device_id and enrolled_at (and cert_not_after).
struct DeviceState {
  std::string device_id;
  std::string hostname;
  std::string os;
  int64_t enrolled_at = 0;      // 0: never enrolled (a certificate issued offline, or none)
  int64_t first_seen = 0;       // first check-in; 0 = never seen
  int64_t last_seen = 0;
  std::string via;              // the beacon of the last check-in
  std::string client_version;
  int64_t policy_revision = 0;  // applied, as the device said
  int64_t outbox_depth = 0;
  int64_t check_interval = 0;   // seconds, from the device's own schedule; 0 unknown
  bool inventoried = false;     // has a current inventory
  int64_t inventory_at = 0;
  int64_t inventory_sequence = 0;
  int64_t cert_not_after = 0;   // newest unrevoked device certificate; 0 none
  bool clone_suspected = false; // clone reports against its id
  int64_t open_errors = 0;      // open health messages of type error
  int64_t open_warnings = 0;
  int64_t pending_actions = 0;  // pending or delivered
};

struct DeviceVerdict {
  DeviceStatus status = DeviceStatus::kNeverConnected;
  std::string why;  // one line: "no check-in for 3h12m (expected every 1h)", ...
  std::vector<std::string> conditions;  // names from kConditions, in that order
  bool in_sync = false;                 // applied revision >= the served one
};
// Pure: the status and conditions of `d` at `now` under `rules`.
// Disconnected: now - last_seen > disconnect_after * interval, where the
// interval is check_interval (or default_check_interval). Out of sync: the
// applied revision is below rules.policy_revision and the device has had
// the time to take it: its interval since max(policy_since, first_seen).
DeviceVerdict DeviceStatusOf(const DeviceState& d, const EstateRules& rules, int64_t now);

// The status samples of one point of the estate's history at `now`: the
// devices per status, every status (zeros included).
std::vector<EstateSample> EstatePoint(const std::vector<DeviceState>& devices, const EstateRules& rules,
                                      int64_t now);

// A beacon as the central knows it: from its health reports (and for the
// central itself, its own), and from the certificates issued to its name.
struct BeaconState {
  std::string name;
  int64_t last_contact = 0;  // received_at of its newest report; 0 never heard
  HealthBeacon status;       // from its newest report
  int64_t cert_not_after = 0;  // newest unrevoked beacon certificate for the name; 0 none
  bool revoked = false;        // every certificate of the name revoked
  int64_t open_errors = 0;
  int64_t open_warnings = 0;
};
// "online" or "offline" (never heard, or not within beacon_offline_after
// report intervals), and why.
struct BeaconVerdict {
  bool online = false;
  std::string why;
};
BeaconVerdict BeaconStatusOf(const BeaconState& b, const EstateRules& rules, int64_t now);

// A health message as the central keeps it. Open messages have cleared_at 0;
// the history holds every occurrence, open and cleared.
struct HealthRow {
  std::string source_kind;  // "device" or "beacon"
  std::string source;       // device id or beacon name
  HealthMessage message;    // the sender's times (first/last seen, cleared)
  int64_t received_at = 0;  // when the central learnt of its newest state
};
struct HealthFilter {
  std::string device;  // "" any
  std::string beacon;  // "" any
  bool open_only = false;
  int64_t limit = 1000;  // newest first
};

// An action (docs/actions.md). States: "pending", "delivered", "done",
// "failed", "expired", "cancelled".
struct ActionRow {
  std::string id;  // lower-case UUID
  std::string kind;
  std::string device_id;
  std::string group;  // the group it was created for, "" for one device
  int64_t created_at = 0;
  int64_t expires_at = 0;
  std::string state = "pending";
  int64_t delivered_at = 0;   // first served in a manifest
  int64_t finished_at = 0;    // done, failed, expired or cancelled
  std::string result;         // the device's text, or why expired/cancelled
};
struct ActionFilter {
  std::string device;  // "" any
  std::string state;   // "" any
  int64_t limit = 1000;  // newest first
};

// A device's recent upload, for `device show`.
struct UploadRow {
  std::string upload_id;
  std::string kind;
  uint64_t size = 0;
  int64_t received_at = 0;
  std::string via;
};
// A beacon a device's check-ins came through.
struct DeviceVia {
  std::string via;
  int64_t last_seen = 0;
};

class EstateStore {
 public:
  virtual ~EstateStore() = default;

  // The rules (one row). Never written: EstateRules{} (the defaults).
  virtual common::Status SetEstateRules(const EstateRules& rules) = 0;
  virtual common::StatusOr<EstateRules> GetEstateRules() = 0;

  // Every device the store knows: reported (a check-in or an upload) or
  // enrolled; sorted by hostname, then id.
  virtual common::StatusOr<std::vector<DeviceState>> ListDeviceStates() = 0;
  // NotFound for a device neither seen nor enrolled.
  virtual common::StatusOr<DeviceState> GetDeviceState(const std::string& device_id) = 0;
  // The beacons its check-ins came through, most recent first.
  virtual common::StatusOr<std::vector<DeviceVia>> DeviceVias(const std::string& device_id) = 0;
  // Its newest uploads, newest first.
  virtual common::StatusOr<std::vector<UploadRow>> RecentUploads(const std::string& device_id, int64_t limit) = 0;

  // Imports a health document with its upload, exactly once (AlreadyExists
  // for a (device, upload id) imported before). A device's document must
  // name the uploader (info.device_id), a beacon's the beacon that received
  // it (info.via); else InvalidArgument. A document whose sequence is not
  // above the last applied for its source is recorded as an upload and
  // changes nothing else. Otherwise each message is upserted (an occurrence
  // is known by source, id and first_seen), messages open at the central
  // for this source that the document does not carry are cleared at
  // info.received_at, and a beacon's status and last contact are updated.
  // A beacon's upload key is kept apart from devices' (its id is the
  // beacon's own UUID, which must never appear as a device).
  virtual common::Status ImportHealth(const UploadInfo& info, const Health& health) = 0;
  // The central's own report: applied as above, with no upload record.
  virtual common::Status RecordOwnHealth(const Health& health, int64_t now) = 0;
  virtual common::StatusOr<std::vector<HealthRow>> ListHealth(const HealthFilter& filter) = 0;
  // Deletes cleared messages whose clearing the central learnt of
  // (received_at) before `cleared_before`; open messages are never
  // deleted. Returns how many.
  virtual common::StatusOr<int64_t> PurgeHealth(int64_t cleared_before) = 0;

  // Beacons that reported, and beacon names with certificates; by name.
  virtual common::StatusOr<std::vector<BeaconState>> ListBeacons() = 0;

  // Actions. Create: each row as given (state pending); AlreadyExists for
  // an id in use (nothing created).
  virtual common::Status CreateActions(const std::vector<ActionRow>& rows) = 0;
  virtual common::StatusOr<std::vector<ActionRow>> ListActions(const ActionFilter& filter) = 0;
  // NotFound for an unknown id.
  virtual common::StatusOr<ActionRow> GetAction(const std::string& id) = 0;
  // A pending or delivered action becomes cancelled; FailedPrecondition
  // naming its state for any other.
  virtual common::StatusOr<ActionRow> CancelAction(const std::string& id, int64_t now) = 0;
  // Actions to put in manifests: pending or delivered, not expired at `now`.
  virtual common::StatusOr<std::vector<ActionRow>> ActiveActions(int64_t now) = 0;
  // These actions of the device were served in its manifest: pending ones
  // become delivered (delivered_at = now); others are left alone.
  virtual common::Status MarkActionsDelivered(const std::string& device_id, const std::vector<std::string>& ids,
                                              int64_t now) = 0;
  // Imports a result with its upload, exactly once. A pending or delivered
  // (or expired: the device ran it before it learnt) action of this device
  // becomes done or failed with the result's text; a cancelled one, or an
  // unknown id, is recorded as an upload only. InvalidArgument if the
  // result names another device than the uploader.
  virtual common::Status ImportActionResult(const UploadInfo& info, const ActionResult& result) = 0;
  // Pending or delivered actions past their expiry become expired; then
  // finished actions (done, failed, expired, cancelled) whose finished_at is
  // before `purge_before` are deleted. Returns {expired, purged}.
  virtual common::StatusOr<std::pair<int64_t, int64_t>> SweepActions(int64_t now, int64_t purge_before) = 0;

  // History: records the samples of one point (all with the same `at`, each
  // series once; AlreadyExists, nothing recorded, when one of them is
  // already recorded at that time), reads every sample at or after `since`,
  // oldest first (by time, then series), and deletes samples before
  // `before` (returns how many).
  virtual common::Status RecordEstateSamples(const std::vector<EstateSample>& samples) = 0;
  virtual common::StatusOr<std::vector<EstateSample>> EstateHistory(int64_t since) = 0;
  virtual common::StatusOr<int64_t> PurgeEstateHistory(int64_t before) = 0;
};

}  // namespace inventory
