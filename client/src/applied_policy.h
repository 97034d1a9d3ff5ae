// The policy this device follows: the applied, verified manifest and its
// documents (policy.xml, schedule.xml, failover.xml), the schedule that
// follows from them, and the policy check that fetches, verifies and applies
// a newer one.
//
// Files: STATE_DIR/policy/manifest.xml (the applied manifest) and
// STATE_DIR/policy/files/ (documents by SHA-256). The applied revision and the
// manifest's ETag are kept in the state file. Used from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/settings.h"
#include "common/http_client.h"
#include "common/status.h"
#include "policy/documents.h"
#include "policy/manifest.h"
#include "policy/object_store.h"
#include "policy/signing.h"
#include "state_file.h"

namespace client {

class AppliedPolicy {
 public:
  // Opens the policy folder and reads the public key; then Load()s what is
  // applied. `state` must outlive the AppliedPolicy.
  static common::StatusOr<std::unique_ptr<AppliedPolicy>> Open(const ClientSettings& settings,
                                                               const std::string& device,
                                                               StateFile* state);

  // Reads the applied manifest's documents again (at start-up and after a
  // new policy is applied), rather than on every request. A document that
  // cannot be read is logged and treated as absent. Applies policy.xml's log
  // level unless the configuration sets one.
  void Load();
  // A reload (SIGHUP): whether the configuration now sets log_level (then
  // policy.xml's level is ignored) instead of the start-up configuration's
  // say. Takes effect at the next Load().
  void set_log_level_configured(bool configured) { log_level_configured_ = configured; }

  // The applied revision; 0 before the first policy.
  int64_t Revision() const;
  // policy.xml in force: the applied one, or its defaults before any.
  const policy::ClientPolicy& Policy() const;
  // Whether a policy.xml is applied (its hardware/software choices then win
  // over the local configuration's).
  bool HasPolicyXml() const { return policy_.has_value(); }
  const std::optional<policy::Failover>& FailoverXml() const { return failover_; }
  // The applied manifest's actions (docs/health.md#actions); empty before
  // the first policy.
  const std::vector<policy::ManifestAction>& Actions() const { return actions_; }

  // Why the last manifest a beacon sent was refused (its signature, another
  // device's, older than the applied revision, malformed); "" once a
  // manifest is accepted or the applied one is confirmed current (304).
  // Failures that bring no manifest leave it as it was.
  const std::string& Refusal() const { return refusal_; }

  // Seconds this device expects between its policy checks, for the
  // X-Beacon-Check-Interval header: the schedule's policy-check interval
  // plus its start_within spread, or a day plus the window's length for a
  // daily window; 0 if there is none.
  int64_t CheckInterval() const;

  // The schedule to follow: the applied schedule.xml, or, before the first
  // policy (or if it has none), policy_interval and inventory_interval.
  policy::Schedule EffectiveSchedule() const;
  // When `kind` is next due after a run at `last_run`, with this device's
  // spread and the local UTC offset; 0 if the schedule does not run it. A
  // policy check that never ran (last_run 0) is due `now`.
  int64_t NextDue(const policy::Schedule& schedule, policy::EventKind kind, int64_t last_run,
                  int64_t now) const;

  // One policy check against `beacon`: GETs the manifest (If-None-Match with
  // the applied ETag), verifies its signature, that it names this device and
  // is not older than the applied revision, fetches every file it lacks
  // (each verified against its SHA-256), and only then applies it. On any
  // failure the last good policy stays applied. `headers` are the check-in
  // headers sent with every request.
  common::Status Check(common::Transport& beacon, const common::HeaderList& headers);

 private:
  AppliedPolicy(const ClientSettings& settings, std::string device, StateFile* state);

  const ClientSettings settings_;
  bool log_level_configured_;  // settings_.log_level_set until a reload says otherwise
  const std::string device_;
  const std::string dir_;  // STATE_DIR/policy
  StateFile* state_;
  std::unique_ptr<policy::ManifestVerifier> verifier_;
  std::unique_ptr<policy::ObjectStore> files_;
  // Absent: not in the applied policy, or no policy applied yet.
  std::optional<policy::ClientPolicy> policy_;
  std::optional<policy::Schedule> schedule_;
  std::optional<policy::Failover> failover_;
  std::vector<policy::ManifestAction> actions_;
  std::string refusal_;
};

}  // namespace client
