#include "applied_policy.h"

#include <ctime>

#include "common/fs.h"
#include "common/log.h"
#include "common/process.h"
#include "common/protocol.h"
#include "common/retry.h"
#include "policy/manifest.h"
#include "policy/schedule.h"

namespace client {

using common::Status;
using common::StatusOr;
namespace proto = common::protocol;

namespace {

int64_t UtcOffset(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  return tm.tm_gmtoff;
}

}  // namespace

AppliedPolicy::AppliedPolicy(const ClientSettings& settings, std::string device, StateFile* state)
    : settings_(settings),
      log_level_configured_(settings.log_level_set),
      device_(std::move(device)),
      dir_(settings.state_dir + "/policy"),
      state_(state) {}

StatusOr<std::unique_ptr<AppliedPolicy>> AppliedPolicy::Open(const ClientSettings& settings,
                                                             const std::string& device,
                                                             StateFile* state) {
  std::unique_ptr<AppliedPolicy> p(new AppliedPolicy(settings, device, state));
  ASSIGN_OR_RETURN(p->verifier_, policy::ManifestVerifier::FromPemFile(settings.policy_public_key));
  p->files_ = std::make_unique<policy::ObjectStore>(p->dir_ + "/files", settings.env);
  RETURN_IF_ERROR(p->files_->Init());
  p->Load();
  return p;
}

void AppliedPolicy::Load() {
  policy_.reset();
  schedule_.reset();
  failover_.reset();
  actions_.clear();
  auto xml = common::ReadFile(dir_ + "/manifest.xml", 1 << 20, settings_.env);
  if (!xml.ok()) return;  // no policy applied yet
  auto manifest = policy::ParseManifestXml(*xml, "applied manifest");
  if (!manifest.ok()) return common::LogError(manifest.status().message());
  actions_ = manifest->actions;
  // Each file was verified against its digest when it was fetched.
  auto load = [&](const std::string& name, auto parse, auto* slot) {
    for (const auto& f : manifest->files) {
      if (f.name != name) continue;
      auto text = files_->Get(f.sha256);
      if (!text.ok()) return common::LogError(text.status().message());
      auto parsed = parse(*text, "applied " + name);
      if (!parsed.ok()) return common::LogError(parsed.status().message());
      *slot = std::move(parsed).value();
    }
  };
  load("policy.xml", policy::ParsePolicyXml, &policy_);
  load("schedule.xml", policy::ParseScheduleXml, &schedule_);
  load("failover.xml", policy::ParseFailoverXml, &failover_);
  // The policy's log level, unless this machine's configuration sets one.
  if (policy_ && !log_level_configured_) {
    (void)common::SetLogLevelFrom(policy::LogLevelName(policy_->log_level));
  }
}

int64_t AppliedPolicy::Revision() const { return state_->GetInt("policy_revision"); }

const policy::ClientPolicy& AppliedPolicy::Policy() const {
  static const policy::ClientPolicy kDefaults;
  return policy_ ? *policy_ : kDefaults;
}

policy::Schedule AppliedPolicy::EffectiveSchedule() const {
  if (schedule_) return *schedule_;
  policy::Schedule s;
  for (auto [kind, interval] :
       {std::pair{policy::EventKind::kPolicyCheck, settings_.policy_interval},
        std::pair{policy::EventKind::kInventory, settings_.inventory_interval}}) {
    policy::ScheduleEvent e;
    e.kind = kind;
    e.interval_seconds = interval.count();  // at least 60 s (ClientSettings)
    e.start_within_seconds = e.interval_seconds;
    s.events.push_back(e);
  }
  return s;
}

int64_t AppliedPolicy::NextDue(const policy::Schedule& schedule, policy::EventKind kind,
                               int64_t last_run, int64_t now) const {
  const policy::ScheduleEvent* e = schedule.Find(kind);
  if (e == nullptr) return 0;
  // The first policy check is at once: until then the device follows only
  // its configuration's defaults, and enrollment, which just happened, is
  // the same one request per device that the spread would only delay.
  if (kind == policy::EventKind::kPolicyCheck && last_run == 0) return now;
  return policy::NextRun(*e, device_, last_run, now, UtcOffset(now));
}

int64_t AppliedPolicy::CheckInterval() const {
  const policy::Schedule schedule = EffectiveSchedule();
  const policy::ScheduleEvent* e = schedule.Find(policy::EventKind::kPolicyCheck);
  if (e == nullptr) return 0;
  if (e->window) return 86400 + (e->window->end_minute - e->window->start_minute) * int64_t{60};
  return e->interval_seconds + e->start_within_seconds;
}

Status AppliedPolicy::Check(common::Transport& beacon, const common::HeaderList& headers) {
  common::HeaderList manifest_headers = headers;
  const std::string etag = state_->Get("policy_etag");
  if (!etag.empty()) manifest_headers.emplace_back("If-None-Match", etag);
  common::LogDebug("GET manifest from " + beacon.url() + (etag.empty() ? "" : " if not " + etag));
  auto res = beacon.Get(proto::ManifestPath(device_), manifest_headers, 1 << 20);
  if (!res.ok()) return res.status();
  if (res->status == 304) {
    common::LogInfo("policy unchanged (revision " + std::to_string(Revision()) + ")");
    refusal_.clear();
    return Status::Ok();
  }
  RETURN_IF_ERROR(common::StatusFromHttp(res->status, "GET manifest"));
  auto accepted = policy::AcceptManifest(res->body, "manifest from " + beacon.url(), *verifier_, device_, Revision());
  if (!accepted.ok()) {
    refusal_ = accepted.status().ToString();
    return accepted.status();
  }
  refusal_.clear();
  const policy::Manifest manifest = std::move(accepted).value();
  // A file altered on the way is refused and the last good policy stays applied.
  RETURN_IF_ERROR(policy::FetchMissingFiles(
      manifest, *files_, [&](const policy::ManifestFile& f) -> StatusOr<std::string> {
        ASSIGN_OR_RETURN(
            auto file, beacon.Get(proto::FilePath(f.sha256), headers, policy::kMaxPolicyFileBytes));
        RETURN_IF_ERROR(common::StatusFromHttp(file.status, "GET policy file " + f.name));
        return std::move(file.body);
      }));
  RETURN_IF_ERROR(common::WriteFileAtomic(dir_ + "/manifest.xml", res->body, 0644, settings_.env));
  state_->SetInt("policy_revision", manifest.revision);
  state_->Set("policy_etag", policy::ManifestEtag(res->body));
  Load();
  common::LogInfo("applied policy revision " + std::to_string(manifest.revision) + " (" +
                  std::to_string(manifest.files.size()) + " files)");
  return Status::Ok();
}

}  // namespace client
