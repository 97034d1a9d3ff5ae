#include "client/client.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>

#include "common/delivery.h"
#include "common/fs.h"
#include "common/http_client.h"
#include "common/log.h"
#include "common/process.h"
#include "common/protocol.h"
#include "common/retry.h"
#include "common/spool.h"
#include "common/uuid.h"
#include "inventory/collect.h"
#include "inventory/inventory.h"
#include "inventory/pack.h"
#include "inventory/usage.h"
#include "policy/manifest.h"
#include "policy/documents.h"
#include "policy/object_store.h"
#include "policy/schedule.h"
#include "policy/signing.h"

namespace client {

using common::Code;
using common::Status;
using common::StatusOr;
namespace proto = common::protocol;

namespace {

// The small key=value file behind `status`.
class StateFile {
 public:
  explicit StateFile(std::string path) : path_(std::move(path)) {
    auto text = common::ReadFile(path_, 1 << 16);
    if (!text.ok()) return;
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      size_t eq = line.find('=');
      if (eq != std::string::npos) values_[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  std::string Get(const std::string& k) const {
    auto it = values_.find(k);
    return it == values_.end() ? "" : it->second;
  }
  int64_t GetInt(const std::string& k) const {
    int64_t v = 0;
    return common::ParseDecimal(Get(k), &v) ? v : 0;
  }
  void Set(const std::string& k, const std::string& v) {
    std::string clean = v;
    std::replace(clean.begin(), clean.end(), '\n', ' ');
    values_[k] = clean;
  }
  Status Save() const {
    std::string out;
    for (const auto& [k, v] : values_) out += k + "=" + v + "\n";
    return common::WriteFileAtomic(path_, out, 0600);
  }

 private:
  std::string path_;
  std::map<std::string, std::string> values_;
};

std::string When(int64_t t) { return t == 0 ? "never" : common::FormatRfc3339(t); }
int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace

struct Client::Impl {
  ClientSettings settings;
  std::string state_dir;
  std::string device;
  std::unique_ptr<common::Spool> outbox;
  std::unique_ptr<policy::ObjectStore> files;
  std::unique_ptr<policy::ManifestVerifier> verifier;
  std::unique_ptr<StateFile> state;
  std::unique_ptr<common::HttpClient> http;
  common::ClientOptions http_options;
  int retry_after_s = 0;

  // The beacons to try, most preferred first: the applied failover.xml
  // (beacons for another site or subnet left out), then the configured server.
  std::vector<std::string> Beacons() const {
    std::vector<std::string> urls;
    if (applied_failover) {
      std::vector<policy::FailoverBeacon> list = applied_failover->beacons;
      std::stable_sort(list.begin(), list.end(),
                       [](const auto& a, const auto& b) { return a.priority < b.priority; });
      for (const auto& b : list) {
        if (!b.site.empty() && b.site != settings.site) continue;
        if (!b.subnet.empty() && !HasAddressIn(b.subnet)) continue;
        urls.push_back(b.url);
      }
    }
    if (std::find(urls.begin(), urls.end(), settings.server) == urls.end()) urls.push_back(settings.server);
    return urls;
  }

  // A connection to the beacon in use. After failing over, the preferred
  // beacon is tried again once failover_return_after has passed.
  StatusOr<common::HttpClient*> Http(bool may_return_to_preferred) {
    std::vector<std::string> urls = Beacons();
    std::string current = state->Get("beacon");
    auto it = std::find(urls.begin(), urls.end(), current);
    bool back_to_preferred = may_return_to_preferred && it != urls.begin() &&
                             Now() - state->GetInt("beacon_since") >= settings.failover_return_after.count();
    if (it == urls.end() || back_to_preferred) {
      UseBeacon(urls.front(), it == urls.end() ? "preferred beacon" : "returning to the preferred beacon");
    }
    if (!http) {
      common::ClientOptions o = http_options;
      o.url = state->Get("beacon");
      SetProxy(&o);
      ASSIGN_OR_RETURN(http, common::HttpClient::Create(o));
    }
    return http.get();
  }

  // The local configuration's proxy, else the applied policy.xml's, else none.
  void SetProxy(common::ClientOptions* o) const {
    if (!settings.proxy.empty()) {
      o->proxy_url = settings.proxy;
      o->proxy_username = settings.proxy_username;
      o->proxy_password = settings.proxy_password;
      return;
    }
    if (applied_policy && applied_policy->proxy) {
      o->proxy_url = applied_policy->proxy->url;
      o->proxy_username = applied_policy->proxy->username;
      o->proxy_password = applied_policy->proxy->password;
    }
  }

  void UseBeacon(const std::string& url, const std::string& why) {
    if (state->Get("beacon") != url) http.reset();
    state->Set("beacon", url);
    state->Set("beacon_since", std::to_string(Now()));
    state->Set("beacon_why", why);
  }

  // Runs `op` against the beacon in use; if the beacon cannot be reached (a
  // retryable failure), moves to the next one in failover order and tries
  // again, each beacon at most once per call. The working beacon is kept.
  Status WithFailover(const std::function<Status(common::HttpClient&)>& op) {
    std::vector<std::string> urls = Beacons();
    Status st;
    for (size_t attempt = 0; attempt < urls.size(); ++attempt) {
      // Going back to the preferred beacon is tried first, never in the
      // middle of failing over.
      ASSIGN_OR_RETURN(common::HttpClient * cli, Http(attempt == 0));
      st = op(*cli);
      if (common::Classify(st) != common::Outcome::kRetry) return st;
      http.reset();
      std::string failed = state->Get("beacon");
      auto it = std::find(urls.begin(), urls.end(), failed);
      size_t next = it == urls.end() ? 0 : static_cast<size_t>(it - urls.begin() + 1) % urls.size();
      common::LogWarn("beacon " + failed + " failed (" + st.ToString() + "); trying " + urls[next]);
      UseBeacon(urls[next], "failed over: " + failed + " " + st.message());
    }
    return st;
  }

  static bool HasAddressIn(const std::string& cidr) {
    struct ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return false;
    bool found = false;
    for (auto* a = list; a != nullptr && !found; a = a->ifa_next) {
      if (a->ifa_addr == nullptr) continue;
      int family = a->ifa_addr->sa_family;
      if (family != AF_INET && family != AF_INET6) continue;
      const void* addr = family == AF_INET
                             ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr)
                             : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr);
      char text[INET6_ADDRSTRLEN] = {};
      found = inet_ntop(family, addr, text, sizeof(text)) != nullptr && policy::SubnetContains(cidr, text);
    }
    freeifaddrs(list);
    return found;
  }

  int64_t AppliedRevision() const { return state->GetInt("policy_revision"); }

  // The documents of the applied policy, read when a policy is applied (and
  // at start-up) rather than on every request. Absent: not in the policy.
  std::optional<policy::ClientPolicy> applied_policy;
  std::optional<policy::Schedule> applied_schedule;
  std::optional<policy::Failover> applied_failover;

  void LoadApplied() {
    applied_policy.reset();
    applied_schedule.reset();
    applied_failover.reset();
    auto xml = common::ReadFile(state_dir + "/policy/manifest.xml", 1 << 20);
    if (!xml.ok()) return;  // no policy applied yet
    auto manifest = policy::ParseManifestXml(*xml, "applied manifest");
    if (!manifest.ok()) return common::LogError(manifest.status().message());
    // Each file was verified against its digest when it was fetched.
    auto load = [&](const std::string& name, auto parse, auto* slot) {
      for (const auto& f : manifest->files) {
        if (f.name != name) continue;
        auto text = files->Get(f.sha256);
        if (!text.ok()) return common::LogError(text.status().message());
        auto parsed = parse(*text, "applied " + name);
        if (!parsed.ok()) return common::LogError(parsed.status().message());
        *slot = std::move(parsed).value();
      }
    };
    load("policy.xml", policy::ParsePolicyXml, &applied_policy);
    load("schedule.xml", policy::ParseScheduleXml, &applied_schedule);
    load("failover.xml", policy::ParseFailoverXml, &applied_failover);
    // The policy's log level, unless this machine's configuration sets one.
    if (applied_policy && !settings.log_level_set) {
      (void)common::SetLogLevelFrom(policy::LogLevelName(applied_policy->log_level));
    }
  }

  // The schedule to follow: the applied schedule.xml, or, before the first
  // policy (or if it has none), intervals from the local configuration.
  policy::Schedule EffectiveSchedule() const {
    if (applied_schedule) return *applied_schedule;
    policy::Schedule s;
    for (auto [kind, interval] : {std::pair{policy::EventKind::kPolicyCheck, settings.policy_interval},
                                  std::pair{policy::EventKind::kInventory, settings.inventory_interval}}) {
      policy::ScheduleEvent e;
      e.kind = kind;
      e.interval_seconds = interval.count();  // at least 60 s (ClientSettings::Validate)
      e.start_within_seconds = e.interval_seconds;
      s.events.push_back(e);
    }
    return s;
  }

  // When `kind` is next due, or 0 if the schedule does not run it.
  int64_t NextDue(const policy::Schedule& schedule, policy::EventKind kind, const std::string& last_key,
                  int64_t now) const {
    const policy::ScheduleEvent* e = schedule.Find(kind);
    if (e == nullptr) return 0;
    return policy::NextRun(*e, device, state->GetInt(last_key), now, UtcOffset(now));
  }

  static int64_t UtcOffset(int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    localtime_r(&tt, &tm);
    return tm.tm_gmtoff;
  }

  common::HeaderList Headers() const {
    return {{proto::kDeviceHeader, device},
            {proto::kClientVersionHeader, BEACON_VERSION},
            {proto::kPolicyRevisionHeader, std::to_string(AppliedRevision())},
            {proto::kOutboxDepthHeader, std::to_string(outbox->Count())}};
  }

  void Record(const std::string& what, const Status& st) {
    state->Set(what + "_at", std::to_string(Now()));
    state->Set(what + "_result", st.ok() ? "ok" : st.ToString());
    Status saved = state->Save();
    if (!saved.ok()) common::LogWarn("cannot save state: " + saved.ToString());
  }

  Status CheckPolicy() {
    return WithFailover([this](common::HttpClient& cli) { return CheckPolicyAt(&cli); });
  }

  Status CheckPolicyAt(common::HttpClient* cli) {
    common::HeaderList headers = Headers();
    std::string etag = state->Get("policy_etag");
    if (!etag.empty()) headers.emplace_back("If-None-Match", etag);
    common::LogDebug("GET manifest from " + cli->url() + (etag.empty() ? "" : " if not " + etag));
    auto res = cli->Get(proto::ManifestPath(device), headers, 1 << 20);
    if (!res.ok()) return res.status();
    if (res->status == 304) {
      common::LogInfo("policy unchanged (revision " + std::to_string(AppliedRevision()) + ")");
      return Status::Ok();
    }
    RETURN_IF_ERROR(common::StatusFromHttp(res->status, "GET manifest"));
    ASSIGN_OR_RETURN(policy::Manifest manifest,
                     policy::ParseManifestXml(res->body, "manifest from " + cli->url()));
    // A beacon distributes policy but cannot forge or alter it.
    RETURN_IF_ERROR(verifier->Verify(manifest).WithContext("manifest from " + cli->url()));
    // Targeting gives devices different policies; a beacon must not hand
    // this device another one's.
    if (manifest.device != device) {
      return common::PermissionDenied("manifest from " + cli->url() + " is for device " + manifest.device +
                                      ", not this one");
    }
    if (manifest.revision < AppliedRevision()) {
      return common::FailedPrecondition("refusing policy revision " + std::to_string(manifest.revision) +
                                        ", older than the applied " + std::to_string(AppliedRevision()));
    }
    // A file altered on the way is refused and the last good policy stays applied.
    RETURN_IF_ERROR(policy::FetchMissingFiles(
        manifest, *files, [&](const policy::ManifestFile& f) -> StatusOr<std::string> {
          ASSIGN_OR_RETURN(auto file, cli->Get(proto::FilePath(f.sha256), Headers(), policy::kMaxPolicyFileBytes));
          RETURN_IF_ERROR(common::StatusFromHttp(file.status, "GET policy file " + f.name));
          return std::move(file.body);
        }));
    RETURN_IF_ERROR(common::WriteFileAtomic(state_dir + "/policy/manifest.xml", res->body));
    state->Set("policy_revision", std::to_string(manifest.revision));
    state->Set("policy_etag", policy::ManifestEtag(res->body));
    LoadApplied();
    common::LogInfo("applied policy revision " + std::to_string(manifest.revision) + " (" +
                    std::to_string(manifest.files.size()) + " files)");
    return Status::Ok();
  }

  Status CollectInventory() {
    inventory::CollectOptions opts;
    opts.hardware = settings.collect_hardware;
    opts.software = settings.collect_software;
    // The applied policy.xml, when there is one, decides over the local defaults.
    const policy::ClientPolicy& pol = Policy();
    if (applied_policy) {
      opts.hardware = pol.hardware;
      opts.software = pol.software;
    }
    for (const auto& r : pol.file_rules) opts.file_rules.push_back({r.include, r.exclude, r.patterns});
    ASSIGN_OR_RETURN(inventory::Inventory inv, inventory::Collect(device, opts));
    ASSIGN_OR_RETURN(std::string gz, inventory::Gzip(inventory::ToXml(inv)));
    // The policy's upload limit: a beacon would refuse the body anyway, and
    // an outbox must not fill with uploads that can never leave.
    if (gz.size() > pol.max_upload_bytes) {
      return common::ResourceExhausted("inventory of " + std::to_string(gz.size()) +
                                       " bytes compressed is over the policy's upload limit of " +
                                       std::to_string(pol.max_upload_bytes) + " bytes; not queued");
    }
    const std::string id = common::NewUuid();
    RETURN_IF_ERROR(Queue("inventory", id, gz));
    common::LogInfo("inventory collected: " + std::to_string(inv.software.size()) + " packages, " +
                    std::to_string(inv.files.size()) + " evidence files, " +
                    std::to_string(gz.size()) + " bytes compressed, queued as " + id);
    return Status::Ok();
  }

  // Puts an upload of this device in the outbox (AlreadyExists if `id` is
  // there already).
  Status Queue(const std::string& kind, const std::string& id, const std::string& body) {
    common::SpoolMeta meta;
    meta.id = id;
    meta.device = device;
    meta.kind = kind;
    meta.client_version = BEACON_VERSION;
    meta.policy_revision = AppliedRevision();
    return outbox->Put(meta, body);
  }

  // policy.xml in force: the applied one, or the defaults before any.
  const policy::ClientPolicy& Policy() const {
    static const policy::ClientPolicy kDefaults;
    return applied_policy ? *applied_policy : kDefaults;
  }

  std::string UsageDir() const { return state_dir + "/usage"; }
  std::string LogDir() const { return state_dir + "/log"; }

  Status SampleUsage() {
    const policy::ClientPolicy& pol = Policy();
    if (!pol.usage_enabled) return Status::Ok();
    const std::string path = UsageDir() + "/current.xml";
    inventory::Usage usage;
    auto text = common::ReadFile(path, 64u << 20);
    if (text.ok()) {
      auto parsed = inventory::ParseUsageXml(*text, path);
      if (parsed.ok() && parsed->device_id == device) {
        usage = std::move(parsed).value();
      } else {
        // Kept aside for a person to look at, never overwritten.
        common::LogError(path + " is damaged, kept as current.xml.damaged; starting a new usage period");
        if (::rename(path.c_str(), (path + ".damaged").c_str()) != 0) {
          return common::ErrnoStatus("set aside " + path, errno);
        }
      }
    } else if (text.status().code() != common::Code::kNotFound) {
      return text.status();
    }
    if (usage.samples == 0) {
      usage.device_id = device;
      usage.sample_seconds = pol.usage_sample_seconds;
    }
    usage.AddSample(Now(), inventory::RunningPrograms());
    RETURN_IF_ERROR(common::WriteFileAtomic(path, inventory::ToXml(usage), 0600));
    state->Set("usage_sample_at", std::to_string(Now()));
    return Status::Ok();
  }

  // Puts closed files of `dir` (<upload id>.closed) in the outbox as `kind`,
  // then closes each of the `current` files in turn (renamed to a new
  // <upload id>.closed, so the id is fixed before anything is queued) and
  // queues it at once, keeping their order. A crash in between leaves a
  // closed file, queued again under the same id at the next call, which the
  // central stores once. Nothing more is closed while a closed file cannot
  // be queued (outbox full): closed files never pile up.
  Status QueueClosed(const std::string& dir, const std::vector<std::string>& current, const std::string& kind) {
    const std::string suffix = ".closed";
    auto queue = [&](const std::string& id) -> Status {
      const std::string file = dir + "/" + id + suffix;
      ASSIGN_OR_RETURN(std::string body, common::ReadFile(file, 64u << 20));
      ASSIGN_OR_RETURN(std::string gz, inventory::Gzip(body));
      if (gz.size() > Policy().max_upload_bytes) {
        common::LogError(kind + " " + id + " is over the policy's upload limit; dropped");
      } else {
        Status put = Queue(kind, id, gz);
        if (!put.ok() && put.code() != common::Code::kAlreadyExists) return put;
        common::LogInfo(kind + " queued as " + id);
      }
      if (::unlink(file.c_str()) != 0) return common::ErrnoStatus("remove " + file, errno);
      return common::SyncDir(dir);
    };
    ASSIGN_OR_RETURN(auto names, common::ListDir(dir));
    for (const auto& name : names) {
      std::string id = name.substr(0, name.size() > suffix.size() ? name.size() - suffix.size() : 0);
      if (common::IsUuid(id) && name == id + suffix) RETURN_IF_ERROR(queue(id));
    }
    for (const auto& name : current) {
      struct stat sb {};
      if (::stat((dir + "/" + name).c_str(), &sb) != 0 || sb.st_size == 0) continue;
      std::string id = common::NewUuid();
      if (::rename((dir + "/" + name).c_str(), (dir + "/" + id + suffix).c_str()) != 0) {
        return common::ErrnoStatus("close " + dir + "/" + name, errno);
      }
      RETURN_IF_ERROR(common::SyncDir(dir));
      RETURN_IF_ERROR(queue(id));
    }
    return Status::Ok();
  }

  // Also when usage tracking was switched off: what was sampled before is sent.
  Status UploadUsage() { return QueueClosed(UsageDir(), {"current.xml"}, "usage"); }

  // The rotated log first: it holds the older lines.
  Status UploadLogs() { return QueueClosed(LogDir(), {"client.log.1", "client.log"}, "logs"); }

  Status Send(const common::SpoolMeta& meta) {
    return WithFailover([&](common::HttpClient& cli) {
      return common::SendSpoolEntry(cli, *outbox, meta, Headers(), &retry_after_s);
    });
  }

  Status Flush() {
    Status refused;
    for (const auto& meta : outbox->List()) {
      Status st = Send(meta);
      switch (common::Classify(st)) {
        case common::Outcome::kDone:
          RETURN_IF_ERROR(outbox->Remove(meta.id));
          state->Set("last_upload_at", std::to_string(Now()));
          common::LogInfo("uploaded " + meta.kind + " " + meta.id);
          break;
        case common::Outcome::kReject:
          common::LogError("upload " + meta.id + " refused, moved to outbox/rejected: " + st.ToString());
          RETURN_IF_ERROR(outbox->Reject(meta.id, st.ToString()));
          if (refused.ok()) refused = st;
          break;
        case common::Outcome::kStop:
        case common::Outcome::kRetry:
          return st;
      }
    }
    return refused;
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
  common::SetLogLevel(settings.log_level);
  im.state_dir = settings.state_dir;
  RETURN_IF_ERROR(common::MakeDirs(im.state_dir, 0700));
  ASSIGN_OR_RETURN(im.device, common::LoadOrCreateUuidFile(im.state_dir + "/device-id"));
  RETURN_IF_ERROR(common::MakeDirs(im.UsageDir(), 0700));
  RETURN_IF_ERROR(common::MakeDirs(im.LogDir(), 0700));
  // The client's own log, uploaded at the log-upload event.
  common::SetLogFile(im.LogDir() + "/client.log", 1u << 20);
  common::Spool::Options so;
  so.dir = im.state_dir + "/outbox";
  so.max_bytes = settings.outbox_max_size;
  so.min_free_bytes = 16u << 20;
  ASSIGN_OR_RETURN(im.outbox, common::Spool::Open(so));
  ASSIGN_OR_RETURN(im.verifier, policy::ManifestVerifier::FromPemFile(settings.policy_public_key));
  im.files = std::make_unique<policy::ObjectStore>(im.state_dir + "/policy/files");
  RETURN_IF_ERROR(im.files->Init());
  im.state = std::make_unique<StateFile>(im.state_dir + "/state");
  im.LoadApplied();
  im.http_options.url = settings.server;
  im.http_options.ca_file = settings.ca_file;
  // Both within 1 s .. 1 h (ClientSettings::Validate), so they fit an int.
  im.http_options.connect_timeout_s = static_cast<int>(settings.connect_timeout.count());
  im.http_options.read_timeout_s = static_cast<int>(settings.request_timeout.count());
  im.http_options.write_timeout_s = im.http_options.read_timeout_s;
  return c;
}

Status Client::CheckPolicy() {
  Status st = impl_->CheckPolicy();
  impl_->Record("policy_check", st);
  return st;
}

Status Client::CollectInventory() {
  Status st = impl_->CollectInventory();
  impl_->Record("inventory", st);
  return st;
}

Status Client::SampleUsage() { return impl_->SampleUsage(); }

Status Client::UploadUsage() {
  Status st = impl_->UploadUsage();
  impl_->Record("usage_upload", st);
  return st;
}

Status Client::UploadLogs() {
  Status st = impl_->UploadLogs();
  impl_->Record("log_upload", st);
  return st;
}

Status Client::Flush() {
  Status st = impl_->Flush();
  impl_->Record("flush", st);
  return st;
}

namespace {

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

Status Client::RunOnce() {
  // Every event the schedule has, once, now; usage is sampled just before
  // its upload. Delivery problems decide the result; a failed event is
  // logged and, if nothing else failed, returned.
  Status first;
  for (const ScheduledEvent& e : kEvents) {
    if (impl_->EffectiveSchedule().Find(e.kind) == nullptr) continue;
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
  Status flush = Flush();
  if (!flush.ok()) return flush;
  return first;
}

void Client::RunLoop(common::StopFlag& stop) {
  Impl& im = *impl_;
  common::Backoff backoff(im.settings.backoff_base, im.settings.backoff_cap,
                          std::hash<std::string>{}(im.device) ^ static_cast<uint64_t>(Now()));
  // Usage is sampled on the policy's interval, not on schedule.xml.
  auto next_sample = [&im] {
    const policy::ClientPolicy& pol = im.Policy();
    return pol.usage_enabled ? im.state->GetInt("usage_sample_at") + pol.usage_sample_seconds : int64_t{0};
  };
  while (!stop.stopped()) {
    for (const ScheduledEvent& e : kEvents) {
      // Re-read for every event: a policy check may have brought a new schedule.
      policy::Schedule schedule = im.EffectiveSchedule();
      int64_t now = Now();
      int64_t due = im.NextDue(schedule, e.kind, std::string(e.key) + "_at", now);
      if (due == 0 || due > now) continue;
      Status st = (this->*e.run)();
      if (!st.ok()) common::LogWarn(std::string(e.title) + " failed: " + st.ToString());
    }
    int64_t sample_due = next_sample();
    if (sample_due != 0 && sample_due <= Now()) {
      Status st = SampleUsage();
      if (!st.ok()) common::LogWarn("usage sample failed: " + st.ToString());
    }
    std::chrono::milliseconds wait{0};
    Status st = Flush();
    // A refused upload is already quarantined: nothing is left to retry.
    if (!st.ok() && common::Classify(st) != common::Outcome::kReject) {
      wait = backoff.Next(std::chrono::seconds(im.retry_after_s));
      common::LogWarn("delivery failed, next try in " + std::to_string(wait.count() / 1000) + "s: " + st.ToString());
    } else {
      backoff.Reset();
      int64_t now = Now();
      int64_t next = now + 3600;
      policy::Schedule schedule = im.EffectiveSchedule();
      for (const ScheduledEvent& e : kEvents) {
        int64_t due = im.NextDue(schedule, e.kind, std::string(e.key) + "_at", now);
        if (due != 0) next = std::min(next, due);
      }
      if (next_sample() != 0) next = std::min(next, next_sample());
      wait = std::chrono::seconds(std::clamp<int64_t>(next - now, 1, 3600));
    }
    if (!stop.SleepFor(wait)) break;
  }
}

std::string Client::StatusReport() const {
  const Impl& im = *impl_;
  std::ostringstream out;
  auto line = [&](const std::string& k, const std::string& v) {
    out << k << std::string(18 - std::min<size_t>(17, k.size()), ' ') << v << "\n";
  };
  line("device:", im.device);
  line("beacon:", (im.state->Get("beacon").empty() ? im.settings.server : im.state->Get("beacon")) +
                      (im.state->Get("beacon_why").empty() ? "" : " (" + im.state->Get("beacon_why") + ")"));
  line("version:", BEACON_VERSION);
  line("policy revision:", std::to_string(im.AppliedRevision()));
  line("policy checked:", When(im.state->GetInt("policy_check_at")) + " (" +
                              (im.state->Get("policy_check_result").empty() ? "-" : im.state->Get("policy_check_result")) + ")");
  line("inventory:", When(im.state->GetInt("inventory_at")) + " (" +
                         (im.state->Get("inventory_result").empty() ? "-" : im.state->Get("inventory_result")) + ")");
  line("last upload:", When(im.state->GetInt("last_upload_at")));
  policy::Schedule schedule = im.EffectiveSchedule();
  int64_t now = Now();
  for (const ScheduledEvent& e : kEvents) {
    int64_t next = im.NextDue(schedule, e.kind, std::string(e.key) + "_at", now);
    line("next " + std::string(e.title) + ":", next == 0 ? "not scheduled" : When(std::max(next, now)));
  }
  const policy::ClientPolicy& pol = im.Policy();
  line("usage tracking:", pol.usage_enabled ? "every " + std::to_string(pol.usage_sample_seconds) + "s, last sample " +
                                                  When(im.state->GetInt("usage_sample_at"))
                                            : "off");
  line("last delivery:", im.state->Get("flush_result").empty() ? "-" : im.state->Get("flush_result"));
  line("outbox:", std::to_string(im.outbox->Count()) + " uploads waiting (" +
                      std::to_string(im.outbox->Bytes()) + " bytes)");
  return out.str();
}

namespace {

void Usage(std::ostream& out) {
  out << "usage: beacon-client [--config FILE] [--data-dir DIR] COMMAND\n\n"
         "commands:\n"
         "  run [--once]      check policy, collect and upload on schedule (--once: one cycle, then exit)\n"
         "  inventory --now   collect the inventory now and upload it\n"
         "  status            print the device id, applied policy and outbox\n\n"
         "The default config file is /etc/beacon-client/client.conf; --data-dir overrides\n"
         "its state_dir (--state-dir is accepted too).\n\n"
         "Configuration keys:\n"
      << common::ConfigHelp(ConfigKeys());
}

}  // namespace

int ClientMain(int argc, char** argv) {
  common::SetLogTag("client");
  std::string config_path = "/etc/beacon-client/client.conf", state_dir, command;
  bool once = false, now = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      Usage(std::cout);
      return 0;
    } else if (a == "--version") {
      std::cout << "beacon-client " << BEACON_VERSION << "\n";
      return 0;
    } else if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if ((a == "--state-dir" || a == "--data-dir") && i + 1 < argc) {
      state_dir = argv[++i];
    } else if (a == "--once" && command == "run") {
      once = true;
    } else if (a == "--now" && command == "inventory") {
      now = true;
    } else if (command.empty() && (a == "run" || a == "inventory" || a == "status")) {
      command = a;
    } else {
      std::cerr << "beacon-client: unknown argument '" << a << "'\n";
      Usage(std::cerr);
      return 2;
    }
  }
  if (command.empty() || (command == "inventory" && !now)) {
    Usage(std::cerr);
    return 2;
  }
  auto config = common::LoadConfig(config_path, &ConfigKeys());
  if (!config.ok()) {
    std::cerr << "beacon-client: " << config.status().message() << "\n";
    return 2;
  }
  if (!state_dir.empty()) (void)config->Set("state_dir", state_dir, "--data-dir");
  auto settings = ClientSettings::FromConfig(*config);
  if (!settings.ok()) {
    std::cerr << "beacon-client: " << config_path << ": " << settings.status().message() << "\n";
    return 2;
  }
  // One-shot commands keep the default signal behaviour (Ctrl-C ends them);
  // the daemon loop stops cleanly between steps.
  ::signal(SIGPIPE, SIG_IGN);
  auto client = Client::Create(*settings);
  if (!client.ok()) {
    std::cerr << "beacon-client: " << client.status().ToString() << "\n";
    return 1;
  }
  Client& c = **client;
  if (command == "status") {
    std::cout << c.StatusReport();
    return 0;
  }
  if (command == "inventory") {
    Status st = c.CollectInventory();
    if (st.ok()) st = c.Flush();
    if (!st.ok()) {
      std::cerr << "beacon-client: " << st.ToString() << "\n";
      return 1;
    }
    std::cout << "inventory of device " << c.device_id() << " delivered\n";
    return 0;
  }
  if (once) {
    Status st = c.RunOnce();
    std::cout << c.StatusReport();
    if (!st.ok()) {
      std::cerr << "beacon-client: " << st.ToString() << "\n";
      return 1;
    }
    return 0;
  }
  // Static: the signal thread may still use it while the process exits.
  static common::StopFlag stop;
  common::StopOnTerminationSignals([] { stop.Stop(); });
  c.RunLoop(stop);
  return 0;
}

}  // namespace client
