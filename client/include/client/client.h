// The endpoint client: pulls its policy, collects the inventory of the machine
// it runs on, and uploads it through a durable outbox.
//
// State lives under one folder (state_dir): device-id, identity/ and
// trust.pem (client/src/identity.h), policy/ (the applied,
// verified manifest and its files), outbox/ (the same spool code as the
// beacon's), usage/, log/ and state (times, last results and the inventory
// sequence counter, for `status` and the scheduler).
// A Client is used from one thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "client/settings.h"
#include "common/identity.h"
#include "common/status.h"
#include "common/stop_flag.h"

namespace client {

class Client {
 public:
  // Loads or creates the device id, opens the outbox and the policy folder.
  // InvalidArgument if `settings` do not Validate().
  static common::StatusOr<std::unique_ptr<Client>> Create(const ClientSettings& settings);
  ~Client();

  const std::string& device_id() const;

  // Enrolls this device unless it has a certificate (docs/identity.md
  // "Enrollment"): its key and request, sent to the configured server with
  // enroll_secret, then the answer polled with backoff (the beacon's
  // Retry-After as the floor) for up to `wait`. A request already waiting
  // (an earlier run's) is polled, never made twice. OK once enrolled;
  // PermissionDenied when refused (the reason; the next call makes a new
  // request); Unavailable when `wait` ends first (the request is kept);
  // other errors as they come (a certificate that does not verify, ...).
  common::Status Enroll(std::chrono::seconds wait);
  // The certificate's identity (serial, validity); nullopt before enrollment.
  std::optional<common::PeerIdentity> Certificate() const;

  // Fetches the manifest (If-None-Match), then every file it lacks, verifying
  // each SHA-256; applies the new manifest only when all files are present.
  // A manifest older than the applied one is refused (FailedPrecondition).
  // Once a manifest is applied or confirmed current, runs its actions that
  // were never started (each at most once; results queued as "action"
  // uploads). Once enrolled, then refreshes the trust bundle (GET
  // /v1/trust), which is taken only if it follows from the one held.
  // Returns the policy's failure, else the trust bundle's.
  common::Status CheckPolicy();
  // Collects this machine's inventory, numbers it (the state file's
  // inventory_sequence, saved durably first) and puts it in the outbox, as
  // a delta against the last one unless the policy's every-Nth is due
  // (docs/inventory.md#deltas).
  common::Status CollectInventory();
  // The same, always whole: the inventory action (which the central also
  // creates when it misses an inventory a delta is based on) and
  // `beacon-client inventory`.
  common::Status CollectFullInventory();
  // When policy.xml enables usage tracking: adds a sample of the running
  // programs to the current period (state_dir/usage/current.xml). OK and
  // nothing done otherwise.
  common::Status SampleUsage();
  // Closes the current usage period and puts every closed one in the outbox
  // (kind usage). A closed period keeps its upload id across a crash, so the
  // central stores it once.
  common::Status UploadUsage();
  // Puts the client's own log (state_dir/log/client.log and its rotated
  // predecessor) in the outbox (kind logs), the same way.
  common::Status UploadLogs();
  // Puts `gz` (a gzip'd bundle: `diagnose --upload`'s tar.gz) in the outbox
  // as one logs upload with a new id; Flush() delivers it. ResourceExhausted
  // (nothing queued) over the policy's upload limit or when the outbox is full.
  common::Status QueueLogBundle(const std::string& gz);
  // One pass of the outbox's drain loop (common/drain.h), oldest first. An
  // upload leaves the outbox only after the beacon's 200/201, or into
  // outbox/rejected/ when the beacon proves its bytes bad (422). A beacon
  // that cannot be reached or refuses us ends the pass and starts a backoff
  // (later calls send nothing until it ends); a 413 holds that upload alone.
  // Returns the first failure met (OK if none).
  common::Status Flush();

  // One full cycle: Enroll (enroll_wait) and nothing else unless enrolled,
  // CheckPolicy, CollectInventory, SampleUsage, UploadUsage, UploadLogs, a
  // renewal step (certificate due or renewal pending), the health checks and
  // report (when due), Flush.
  common::Status RunOnce();
  // The daemon loop: until enrolled, enrollment alone (with backoff); then
  // each schedule.xml event when it is due, usage samples at the policy's
  // interval, a renewal step each round, the outbox flushed with backoff,
  // until `stop` is set. While the service manager's watchdog is on
  // (common/service.h), this thread keeps it alive after every step and
  // every watchdog interval while it sleeps, so a step that hangs stops the
  // pings. `between_steps`, if set, is called on the loop's thread at the
  // same points, and at once after a stop.Wake() (SIGHUP's reload); the
  // schedule is unchanged by a Wake().
  void RunLoop(common::StopFlag& stop, const std::function<void()>& between_steps = nullptr);

  // A reloaded configuration (SIGHUP, docs/service.md), on the loop's
  // thread: applies its log_level (or, when the file no longer sets one,
  // the applied policy.xml's) and reads the applied policy again. Nothing
  // else of `next` is used: the caller reports the keys that need a
  // restart. InvalidArgument, with nothing applied, if `next` does not
  // Validate().
  common::Status Reconfigure(const ClientSettings& next);

  // Human-readable state for `beacon-client status`.
  std::string StatusReport() const;

 private:
  Client();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// main(): beacon-client [--config FILE] [--data-dir DIR] run [--once] |
// inventory --now | enroll [--secret S] [--server URL --ca FILE
// [--policy-key FILE]] | status | diagnose [--json]
// [--server URL] [--bundle FILE] [--upload] [--no-upload-test]; --help, --version. Exit codes: 0 success, 1
// runtime error, 2 usage or configuration error.
int ClientMain(int argc, char** argv);

}  // namespace client
