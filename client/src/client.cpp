// The Client facade: builds the parts (state file, applied policy, beacon
// selection, periodic uploads, outbox delivery), records each event's result
// for `status`, and runs the schedule.
#include "client/client.h"

#include <algorithm>
#include <ctime>
#include <functional>
#include <sstream>
#include <thread>

#include "actions.h"
#include "applied_policy.h"
#include "beacons.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/time.h"
#include "common/protocol.h"
#include "common/retry.h"
#include "common/service.h"
#include "common/spool.h"
#include "common/uuid.h"
#include "health_checks.h"
#include "identity.h"
#include "outbox.h"
#include "state_file.h"
#include "uploads.h"

namespace client {

using common::Status;
using common::StatusOr;
namespace proto = common::protocol;

namespace {

std::string When(int64_t t) { return t == 0 ? "never" : common::FormatRfc3339(t); }
int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

// The scheduled events, in the order a round runs them, with the state key
// ("<key>_at") of their last run.
struct ScheduledEvent {
  policy::EventKind kind;
  const char* key;
  const char* title;  // for status
  Status (Client::*run)();
};
constexpr ScheduledEvent kEvents[] = {
    {policy::EventKind::kPolicyCheck, "policy_check", "policy check", &Client::CheckPolicy},
    {policy::EventKind::kInventory, "inventory", "inventory", &Client::CollectInventory},
    {policy::EventKind::kUsageUpload, "usage_upload", "usage upload", &Client::UploadUsage},
    {policy::EventKind::kLogUpload, "log_upload", "log upload", &Client::UploadLogs},
};

}  // namespace

// Declared in this order so that each part is destroyed before what it uses.
struct Client::Impl {
  ClientSettings settings;
  std::unique_ptr<StateLock> lock;  // held while this process works on the state folder
  std::string device;
  std::unique_ptr<common::Spool> outbox;
  std::unique_ptr<StateFile> state;
  std::unique_ptr<AppliedPolicy> applied;
  std::unique_ptr<DeviceIdentity> identity;
  std::unique_ptr<BeaconSelector> beacons;
  std::unique_ptr<Uploads> uploads;
  std::unique_ptr<OutboxDelivery> delivery;
  std::unique_ptr<HealthChecks> health;
  std::unique_ptr<Actions> actions;
  // The daemon's enrollment retries (Enroll() has its own).
  std::unique_ptr<common::Backoff> enroll_backoff;

  // Every request tells the beacon the client's version, applied revision,
  // outbox depth and expected check interval (DESIGN.md "Check-ins carry status").
  common::HeaderList CheckInHeaders() const {
    return proto::CheckInHeaders(device, BEACON_VERSION, applied->Revision(), outbox->Count(),
                                 applied->CheckInterval());
  }

  Status Queue(const std::string& kind, const std::string& id, const std::string& body) {
    return uploads->Queue(kind, id, body);
  }

  // (Re)reads the health book and the action ledger: at start-up, and when
  // the state folder is taken again (another process may have changed them).
  Status OpenBooks() {
    ASSIGN_OR_RETURN(health, HealthChecks::Open(settings.state_dir, device, settings.env));
    ASSIGN_OR_RETURN(actions, Actions::Open(
                                  settings.state_dir, device, [this](auto&... a) { return Queue(a...); }, settings.env));
    return Status::Ok();
  }

  // Once a round, after its events: the conditions found by looking (the
  // others are judged where they happen), then the health report when due.
  void CheckHealth() {
    const int64_t now = Now();
    health->Outbox(outbox->Bytes(), settings.outbox_max_size, now);
    common::Env* env = settings.env != nullptr ? settings.env : common::Env::Default();
    auto free = env->FreeBytes(settings.state_dir);
    if (free.ok()) health->Disk(*free, settings.outbox_max_size, now);
    health->Certificate(identity->Enrolled() ? std::optional<int64_t>(identity->certificate().not_after)
                                             : std::nullopt,
                        now);
    Status st = health->ReportIfDue([this](auto&... a) { return Queue(a...); }, now);
    if (!st.ok()) common::LogWarn("health: " + st.ToString());
  }

  // The applied manifest's actions, each at most once (actions.h).
  void RunActions(Client& client) {
    Actions::Runners r;
    r.inventory = [&]() -> StatusOr<std::string> {
      RETURN_IF_ERROR(client.CollectFullInventory());
      return "inventory " + std::to_string(state->GetInt("inventory_sequence")) + " queued";
    };
    r.logs = [&]() -> StatusOr<std::string> {
      RETURN_IF_ERROR(client.UploadLogs());
      return std::string("logs queued");
    };
    r.policy = [&]() -> StatusOr<std::string> {
      return "policy revision " + std::to_string(applied->Revision()) + " applied";
    };
    r.diagnose = [this] { return RunDiagnoseAction(settings, [this](auto&... a) { return Queue(a...); }); };
    Status st = actions->Run(applied->Actions(), r, Now());
    if (!st.ok()) common::LogError("actions: " + st.ToString());
  }

  // One enrollment exchange with the configured server: before the first
  // certificate there is no policy, hence no failover list, to choose from.
  StatusOr<DeviceIdentity::Progress> EnrollStep() {
    ASSIGN_OR_RETURN(std::unique_ptr<common::HttpClient> server, beacons->Connect(settings.server));
    auto progress = identity->EnrollStep(*server);
    if (progress.ok() && progress->enrolled) beacons->Reconnect();  // with the certificate from now on
    if (!progress.ok() || progress->enrolled) Record("enroll", progress.ok() ? Status::Ok() : progress.status());
    return progress;
  }

  // One renewal step, when one is due or pending, through the beacon in use.
  void Renew() {
    if (!identity->Enrolled() || (!identity->pending() && !identity->RenewalDue(Now()))) return;
    bool renewed = false;
    Status st = beacons->WithFailover([&](common::Transport& beacon) {
      auto r = identity->RenewStep(beacon, CheckInHeaders(), Now());
      if (!r.ok()) return r.status();
      renewed = *r;
      return Status::Ok();
    });
    if (renewed) beacons->Reconnect();
    if (!st.ok()) common::LogWarn("certificate renewal: " + st.ToString());
  }

  // Reads identity/ again (another process may have enrolled or renewed);
  // a changed certificate means a new connection.
  void ReloadIdentity() {
    const std::string before = identity->Enrolled() ? identity->certificate().serial : "";
    Status st = identity->Load();
    if (!st.ok()) common::LogError("identity: " + st.ToString());
    if ((identity->Enrolled() ? identity->certificate().serial : "") != before) beacons->Reconnect();
  }

  void Record(const std::string& what, const Status& st) {
    state->SetInt(what + "_at", Now());
    state->Set(what + "_result", st.ok() ? "ok" : st.ToString());
    Status saved = state->Save();
    if (!saved.ok()) common::LogWarn("cannot save state: " + saved.ToString());
  }

  int64_t NextDue(const policy::Schedule& schedule, const ScheduledEvent& e, int64_t now) const {
    return applied->NextDue(schedule, e.kind, state->GetInt(std::string(e.key) + "_at"), now);
  }

  // When usage is next sampled (on the policy's interval, not on
  // schedule.xml), or 0 when usage tracking is off.
  int64_t NextSample() const {
    const policy::ClientPolicy& pol = applied->Policy();
    return pol.usage_enabled ? state->GetInt("usage_sample_at") + pol.usage_sample_seconds
                             : int64_t{0};
  }
};

Client::Client() : impl_(new Impl) {}
Client::~Client() = default;

const std::string& Client::device_id() const { return impl_->device; }

StatusOr<std::unique_ptr<Client>> Client::Create(const ClientSettings& settings) {
  RETURN_IF_ERROR(settings.Validate());
  std::unique_ptr<Client> c(new Client);
  Impl& im = *c->impl_;
  im.settings = settings;
  const std::string& dir = settings.state_dir;
  common::SetLogLevel(settings.log_level);
  RETURN_IF_ERROR(common::MakeDirs(dir, 0700, settings.env));
  ASSIGN_OR_RETURN(im.lock, StateLock::Acquire(dir, std::chrono::seconds(60)));
  ASSIGN_OR_RETURN(im.device, common::LoadOrCreateUuidFile(dir + "/device-id"));
  RETURN_IF_ERROR(common::MakeDirs(UsageDir(dir), 0700, settings.env));
  RETURN_IF_ERROR(common::MakeDirs(LogDir(dir), 0700, settings.env));
  // The client's own log, uploaded at the log-upload event.
  common::SetLogFile(LogDir(dir) + "/client.log", 1u << 20);
  common::Spool::Options so;
  so.dir = dir + "/outbox";
  so.max_bytes = settings.outbox_max_size;
  so.min_free_bytes = 16u << 20;
  so.max_rejected_bytes = settings.outbox_max_size / 4;
  so.env = settings.env;
  ASSIGN_OR_RETURN(im.outbox, common::Spool::Open(so));
  ASSIGN_OR_RETURN(im.state, StateFile::Open(dir + "/state", settings.env));
  ASSIGN_OR_RETURN(im.applied, AppliedPolicy::Open(settings, im.device, im.state.get()));
  ASSIGN_OR_RETURN(im.identity, DeviceIdentity::Open(settings, im.device, im.state.get()));
  im.beacons = std::make_unique<BeaconSelector>(settings, im.state.get(), im.applied.get(), im.identity.get());
  im.enroll_backoff = std::make_unique<common::Backoff>(settings.backoff_base, settings.backoff_cap);
  im.uploads = std::make_unique<Uploads>(settings, im.device, im.outbox.get(), im.applied.get(),
                                         im.state.get());
  im.delivery = std::make_unique<OutboxDelivery>(im.outbox.get(), im.beacons.get(), im.state.get(),
                                                 [&im] { return im.CheckInHeaders(); }, settings.backoff_base,
                                                 settings.backoff_cap);
  RETURN_IF_ERROR(im.OpenBooks());
  im.beacons->SetObserver([&im](const FailoverOutcome& outcome) { im.health->Failover(outcome, Now()); });
  return c;
}

Status Client::CheckPolicy() {
  Impl& im = *impl_;
  Status st = im.beacons->WithFailover(
      [&im](common::Transport& beacon) { return im.applied->Check(beacon, im.CheckInHeaders()); });
  im.Record("policy_check", st);
  im.health->Manifest(im.applied->Refusal(), Now());
  // A manifest applied or confirmed current: its actions, each once.
  if (st.ok()) im.RunActions(*this);
  // The trust bundle travels with policy (GET /v1/trust needs a certificate).
  if (im.identity->Enrolled()) {
    bool changed = false;
    Status trust = im.beacons->WithFailover([&](common::Transport& beacon) {
      auto r = im.identity->RefreshTrust(beacon);
      if (!r.ok()) return r.status();
      changed = *r;
      return Status::Ok();
    });
    if (changed) im.beacons->Reconnect();
    im.Record("trust_refresh", trust);
    if (st.ok()) st = trust;
  }
  return st;
}

Status Client::Enroll(std::chrono::seconds wait) {
  Impl& im = *impl_;
  if (im.identity->Enrolled()) return Status::Ok();
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + wait;
  common::Backoff backoff(im.settings.backoff_base, im.settings.backoff_cap);
  for (;;) {
    auto step = im.EnrollStep();
    if (step.ok() && step->enrolled) return Status::Ok();
    if (!step.ok() && common::Classify(step.status()) != common::Outcome::kRetry) return step.status();
    const std::string why = step.ok() ? step->waiting : step.status().ToString();
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= std::chrono::milliseconds(0)) {
      Status late = common::Unavailable("not enrolled after waiting " + std::to_string(wait.count()) +
                                        "s (enroll_wait): " + why);
      im.Record("enroll", late);
      return late;
    }
    auto delay = backoff.Next(step.ok() ? std::chrono::milliseconds(step->retry_after) : std::chrono::milliseconds(0));
    delay = std::min(delay, left);
    common::LogInfo("enrollment: " + why + "; asking again in " + std::to_string((delay.count() + 999) / 1000) + "s");
    std::this_thread::sleep_for(delay);
  }
}

std::optional<common::PeerIdentity> Client::Certificate() const {
  if (!impl_->identity->Enrolled()) return std::nullopt;
  return impl_->identity->certificate();
}

Status Client::CollectInventory() {
  Status st = impl_->uploads->CollectInventory();
  impl_->Record("inventory", st);
  return st;
}

Status Client::CollectFullInventory() {
  Status st = impl_->uploads->CollectInventory(/*full=*/true);
  impl_->Record("inventory", st);
  return st;
}

Status Client::SampleUsage() { return impl_->uploads->SampleUsage(); }

Status Client::UploadUsage() {
  Status st = impl_->uploads->UploadUsage();
  impl_->Record("usage_upload", st);
  return st;
}

Status Client::UploadLogs() {
  Status st = impl_->uploads->UploadLogs();
  impl_->Record("log_upload", st);
  return st;
}

Status Client::QueueLogBundle(const std::string& gz) { return impl_->uploads->QueueLogBundle(gz); }

Status Client::Flush() {
  Status st = impl_->delivery->Flush();
  impl_->Record("flush", st);
  return st;
}

Status Client::RunOnce() {
  // Nothing is done before the device has a certificate (beacons refuse
  // anonymous requests but enrollment).
  RETURN_IF_ERROR(Enroll(impl_->settings.enroll_wait));
  // Every event the schedule has, once, now; usage is sampled just before
  // its upload. Delivery problems decide the result; a failed event is
  // logged and, if nothing else failed, returned.
  Status first;
  for (const ScheduledEvent& e : kEvents) {
    if (impl_->applied->EffectiveSchedule().Find(e.kind) == nullptr) continue;
    if (e.kind == policy::EventKind::kUsageUpload) {
      Status st = SampleUsage();
      if (!st.ok()) common::LogError("usage sample failed: " + st.ToString());
    }
    Status st = (this->*e.run)();
    if (!st.ok()) {
      common::LogError(std::string(e.title) + " failed: " + st.ToString());
      if (first.ok()) first = st;
    }
  }
  impl_->Renew();
  impl_->CheckHealth();
  Status flush = Flush();
  if (!flush.ok()) return flush;
  return first;
}

Status Client::Reconfigure(const ClientSettings& next) {
  Impl& im = *impl_;
  RETURN_IF_ERROR(next.Validate());
  common::SetLogLevel(next.log_level);
  im.applied->set_log_level_configured(next.log_level_set);
  im.applied->Load();  // the policy's level, unless the file sets one
  return Status::Ok();
}

void Client::RunLoop(common::StopFlag& stop, const std::function<void()>& between_steps) {
  Impl& im = *impl_;
  // Proof of progress for the watchdog, and the caller's chance to reload.
  auto step_done = [&] {
    common::service::KeepAlive();
    if (between_steps) between_steps();
  };
  const auto keep_alive = common::service::KeepAliveInterval();
  // Sleeps `d` as the schedule says, waking for the watchdog (this thread
  // pings it itself, so a hang anywhere in the loop still stops the pings)
  // and for a Wake(); false once stopped.
  auto sleep = [&](std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    for (;;) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return true;
      if (!stop.SleepFor(keep_alive.count() > 0 ? std::min(left, keep_alive) : left)) return false;
      step_done();
    }
  };
  bool first = true;
  while (!stop.stopped()) {
    step_done();
    // The state folder is held only while a round works, so that
    // `inventory --now` or `status` can run between rounds; after taking it
    // again, everything another process may have changed is read anew.
    if (!first) {
      auto lock = StateLock::Acquire(im.settings.state_dir, std::chrono::minutes(10));
      if (!lock.ok()) {
        common::LogWarn(lock.status().ToString());
        continue;
      }
      im.lock = std::move(lock).value();
      Status reloaded = im.state->Reload();
      if (reloaded.ok()) reloaded = im.outbox->Reload();
      if (reloaded.ok()) reloaded = im.OpenBooks();
      if (!reloaded.ok()) {
        common::LogError("cannot read the state folder again: " + reloaded.ToString());
        im.lock.reset();
        if (!sleep(std::chrono::minutes(1))) break;
        continue;
      }
      im.applied->Load();
      im.ReloadIdentity();
    }
    first = false;
    // Until the device is enrolled, enrollment is all it does: one exchange
    // per round, with backoff (Retry-After as the floor; a refusal jumps to
    // the cap, and the next exchange is a new request).
    if (!im.identity->Enrolled()) {
      auto step = im.EnrollStep();
      if (!step.ok() || !step->enrolled) {
        std::chrono::milliseconds floor(0);
        if (step.ok()) {
          floor = step->retry_after;
          common::LogInfo("enrollment: " + step->waiting);
        } else {
          common::LogWarn("enrollment: " + step.status().ToString());
          if (common::Classify(step.status()) != common::Outcome::kRetry) im.enroll_backoff->Saturate();
        }
        auto wait = im.enroll_backoff->Next(floor);
        im.lock.reset();
        if (!sleep(wait)) break;
        continue;
      }
      im.enroll_backoff->Reset();
    }
    for (const ScheduledEvent& e : kEvents) {
      // Re-read for every event: a policy check may have brought a new schedule.
      policy::Schedule schedule = im.applied->EffectiveSchedule();
      int64_t now = Now();
      int64_t due = im.NextDue(schedule, e, now);
      if (due == 0 || due > now) continue;
      Status st = (this->*e.run)();
      if (!st.ok()) common::LogWarn(std::string(e.title) + " failed: " + st.ToString());
      step_done();
    }
    int64_t sample_due = im.NextSample();
    if (sample_due != 0 && sample_due <= Now()) {
      Status st = SampleUsage();
      if (!st.ok()) common::LogWarn("usage sample failed: " + st.ToString());
    }
    im.Renew();
    im.CheckHealth();
    step_done();
    // The drain loop logs its own failures and backs off (a quarantined
    // upload leaves nothing to retry). The next round is when the next
    // event is due or the backoff ends, whichever comes first.
    (void)Flush();
    int64_t now = Now();
    int64_t next = now + 3600;
    policy::Schedule schedule = im.applied->EffectiveSchedule();
    for (const ScheduledEvent& e : kEvents) {
      int64_t due = im.NextDue(schedule, e, now);
      if (due != 0) next = std::min(next, due);
    }
    if (im.NextSample() != 0) next = std::min(next, im.NextSample());
    auto wait = std::chrono::milliseconds(std::clamp<int64_t>(next - now, 1, 3600) * 1000);
    auto until_retry = im.delivery->RetryAt() - common::Drain::Clock::now();
    if (until_retry > std::chrono::milliseconds(0) && im.outbox->Count() > 0) {
      wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(until_retry));
    }
    im.lock.reset();
    if (!sleep(wait)) break;
  }
}

std::string Client::StatusReport() const {
  const Impl& im = *impl_;
  const StateFile& state = *im.state;
  std::ostringstream out;
  auto line = [&](const std::string& k, const std::string& v) {
    out << k << std::string(18 - std::min<size_t>(17, k.size()), ' ') << v << "\n";
  };
  auto result = [&](const std::string& what) {
    return When(state.GetInt(what + "_at")) + " (" +
           (state.Get(what + "_result").empty() ? "-" : state.Get(what + "_result")) + ")";
  };
  line("device:", im.device);
  const DeviceIdentity& id = *im.identity;
  const std::string since = When(state.GetInt("identity_request_at"));
  if (id.Enrolled()) {
    line("certificate:", "serial " + id.certificate().serial + ", expires " + When(id.certificate().not_after) +
                             (id.pending() ? ", renewal waiting since " + since : ""));
  } else if (id.pending()) {
    line("enrollment:", "waiting since " + since + " (request " + id.pending()->id + ")");
  } else {
    line("certificate:", "not enrolled");
  }
  if (!state.Get("enroll_result").empty() && !id.Enrolled()) line("last enrollment:", result("enroll"));
  line("beacon:",
       (state.Get("beacon").empty() ? im.settings.server : state.Get("beacon")) +
           (state.Get("beacon_why").empty() ? "" : " (" + state.Get("beacon_why") + ")"));
  line("version:", BEACON_VERSION);
  line("policy revision:", std::to_string(im.applied->Revision()));
  line("policy checked:", result("policy_check"));
  const int64_t sequence = state.GetInt("inventory_sequence");
  line("inventory:", result("inventory") + (sequence == 0 ? "" : ", #" + std::to_string(sequence)));
  line("last upload:", When(state.GetInt("last_upload_at")));
  policy::Schedule schedule = im.applied->EffectiveSchedule();
  int64_t now = Now();
  for (const ScheduledEvent& e : kEvents) {
    int64_t next = im.NextDue(schedule, e, now);
    line("next " + std::string(e.title) + ":", next == 0 ? "not scheduled" : When(std::max(next, now)));
  }
  const policy::ClientPolicy& pol = im.applied->Policy();
  line("usage tracking:", pol.usage_enabled
                              ? "every " + std::to_string(pol.usage_sample_seconds) +
                                    "s, last sample " + When(state.GetInt("usage_sample_at"))
                              : "off");
  line("last delivery:", state.Get("flush_result").empty() ? "-" : state.Get("flush_result"));
  line("outbox:", std::to_string(im.outbox->Count()) + " uploads waiting (" +
                      std::to_string(im.outbox->Bytes()) + " bytes)");
  out << im.health->StatusLines() << im.actions->StatusLines(5);
  return out.str();
}

}  // namespace client
