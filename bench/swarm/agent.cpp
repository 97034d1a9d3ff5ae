#include "agent.h"

#include <algorithm>
#include <ctime>
#include <optional>

#include "client/settings.h"
#include "common/delivery.h"
#include "common/protocol.h"
#include "common/sha256.h"
#include "common/time.h"
#include "common/uuid.h"
#include "identities.h"
#include "inventory/inventory.h"
#include "inventory/pack.h"
#include "policy/object_store.h"

namespace swarm {

using common::Status;
using common::StatusOr;
namespace proto = common::protocol;

namespace {

// The client's own defaults (client/settings.h): timeouts and the delivery
// backoff are what a real device would use.
const client::ClientSettings& ClientDefaults() {
  static const client::ClientSettings defaults;
  return defaults;
}

common::ClientOptions ConnectionOptions(const Options& options) {
  common::ClientOptions o;
  o.url = options.server;
  o.ca_file = options.ca_file;
  o.connect_timeout_s = static_cast<int>(ClientDefaults().connect_timeout.count());
  o.read_timeout_s = static_cast<int>(ClientDefaults().request_timeout.count());
  o.write_timeout_s = o.read_timeout_s;
  return o;
}

common::HeaderList CheckInHeaders(const Device& d) {
  return proto::CheckInHeaders(d.Id(), BEACON_VERSION, d.revision, d.HasUpload() ? 1 : 0);
}

template <typename T>
std::string Answer(const StatusOr<T>& res) {
  return res.ok() ? std::to_string(res->status) : common::CodeName(res.status().code());
}

std::chrono::microseconds Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               t);
}

}  // namespace

Status AckLog::Open(const std::string& path) {
  path_ = path;
  out_.open(path, std::ios::out | std::ios::trunc);
  if (!out_) return common::Unavailable("cannot write " + path);
  return Status::Ok();
}

void AckLog::Record(const Device& device, int http_status) {
  std::lock_guard<std::mutex> lock(mu_);
  out_ << device.Id() << '\t' << device.Upload() << '\t' << device.sequence << '\t' << http_status
       << '\n';
  ++count_;
}

uint64_t AckLog::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

Status AckLog::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  out_.close();
  if (out_.fail()) return common::DataLoss("cannot finish writing " + path_);
  return Status::Ok();
}

Agent::Agent(const Shared& shared)
    : shared_(shared),
      client_options_(ConnectionOptions(*shared.options)),
      backoff_(
          shared.options->backoff_base_s > 0 ? std::chrono::seconds(shared.options->backoff_base_s)
                                             : ClientDefaults().backoff_base,
          shared.options->backoff_cap_s > 0 ? std::chrono::seconds(shared.options->backoff_cap_s)
                                            : ClientDefaults().backoff_cap) {}

int64_t Agent::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               shared_.start)
      .count();
}

void Agent::BeginRound() {
  if (shared_.options->fresh_connections) connection_.reset();
}

StatusOr<common::Transport*> Agent::Connection(const Device& device) {
  const std::string id = device.Id();
  if (!connection_ || connection_device_ != id) {
    connection_.reset();
    common::ClientOptions o = client_options_;
    o.cert_file = o.key_file = IdentityPath(shared_.options->identity_dir, device);
    ASSIGN_OR_RETURN(connection_, common::HttpClient::Create(o));
    connection_device_ = id;
  }
  return connection_.get();
}

Status Agent::CheckPolicy(Device& d, PhaseStats& stats) {
  ASSIGN_OR_RETURN(common::Transport * beacon, Connection(d));
  const std::string device = d.Id();
  const common::HeaderList headers = CheckInHeaders(d);
  common::HeaderList manifest_headers = headers;
  const std::string etag = d.Etag();
  if (!etag.empty()) manifest_headers.emplace_back("If-None-Match", etag);
  auto t0 = std::chrono::steady_clock::now();
  auto res = beacon->Get(proto::ManifestPath(device), manifest_headers, 1 << 20);
  stats.Record(Request::kManifest, Since(t0), Answer(res));
  last_retry_after_s_ = res.ok() ? common::ParseRetryAfter(res->Header("retry-after")) : 0;
  if (!res.ok()) return res.status();
  if (res->status == 304) return Status::Ok();
  RETURN_IF_ERROR(common::StatusFromHttp(res->status, "GET manifest"));
  ASSIGN_OR_RETURN(policy::Manifest manifest,
                   policy::AcceptManifest(res->body, "manifest from " + beacon->url(),
                                          *shared_.verifier, device, d.revision));
  // Files the device lacks (those its applied policy does not list), each
  // checked against its digest before anything is applied.
  std::string schedule_sha;
  std::optional<policy::Schedule> schedule;
  for (const policy::ManifestFile& f : manifest.files) {
    if (f.name == "schedule.xml") {
      schedule_sha = f.sha256;
      schedule = shared_.policies->KnownSchedule(f.sha256);
    }
    if (shared_.policies->Has(d.policy, f.sha256)) continue;
    t0 = std::chrono::steady_clock::now();
    auto file = beacon->Get(proto::FilePath(f.sha256), headers, policy::kMaxPolicyFileBytes);
    stats.Record(Request::kFile, Since(t0), Answer(file));
    if (!file.ok()) return file.status();
    RETURN_IF_ERROR(common::StatusFromHttp(file->status, "GET policy file " + f.name));
    if (common::Sha256Hex(file->body) != f.sha256) {
      return common::DataLoss("policy file " + f.name + " does not match its SHA-256");
    }
    if (f.name == "schedule.xml" && !schedule) {
      ASSIGN_OR_RETURN(schedule, policy::ParseScheduleXml(file->body, "schedule.xml " + f.sha256));
    }
  }
  // The client follows defaults without a schedule.xml; the swarm needs one
  // to know when its devices act, and the sample policy always has one.
  if (!schedule)
    return common::FailedPrecondition("the manifest lists no schedule.xml; the swarm follows one");
  ASSIGN_OR_RETURN(d.policy, shared_.policies->Add(manifest.files, schedule_sha, *schedule));
  d.revision = manifest.revision;
  d.SetEtag(policy::ManifestEtag(res->body));
  stats.Count("policies_applied");
  return Status::Ok();
}

int64_t Agent::CheckRetryAtMs() {
  backoff_.set_attempt(0);
  return NowMs() + backoff_.Next(std::chrono::seconds(last_retry_after_s_)).count();
}

void Agent::QueueInventory(Device& d) {
  ++d.sequence;
  d.collected_at = static_cast<int64_t>(std::time(nullptr));
  d.SetUpload(common::NewUuid());
  d.attempts = 0;
  d.retry_at_ms = 0;
}

StatusOr<std::string> Agent::InventoryBody(const Device& d) const {
  const Options& o = *shared_.options;
  const bool server = d.IsServer(o.servers_percent);
  const std::string id = d.Id();
  inventory::Inventory inv;
  inv.device_id = id;
  inv.collected_at = common::FormatRfc3339(d.collected_at);
  inv.sequence = d.sequence;
  inv.os.name = server ? "Debian GNU/Linux" : "Ubuntu";
  inv.os.id = server ? "debian" : "ubuntu";
  inv.os.version = server ? "12 (bookworm)" : "22.04.4 LTS (Jammy Jellyfish)";
  inv.os.version_id = server ? "12" : "22.04";
  inv.os.pretty_name = server ? "Debian GNU/Linux 12 (bookworm)" : "Ubuntu 22.04.4 LTS";
  inv.os.kernel = server ? "6.1.0-18-amd64" : "6.5.0-35-generic";
  inv.os.arch = "x86_64";
  inv.os.hostname = d.Hostname(o.servers_percent);
  inv.hardware.vendor = "Swarm";
  inv.hardware.model = server ? "Rack 1U" : "Laptop 14";
  inv.hardware.cpu_model = "Simulated CPU";
  inv.hardware.cpu_cores = server ? 16 : 4;
  inv.hardware.memory_bytes = (server ? uint64_t{64} : uint64_t{16}) << 30;
  inv.hardware.disks.push_back({"vda", "Simulated disk", uint64_t{512} << 30});
  const std::string mac = "02:" + id.substr(0, 2) + ":" + id.substr(2, 2) + ":" + id.substr(4, 2) +
                          ":" + id.substr(6, 2) + ":" + id.substr(9, 2);
  inv.hardware.interfaces.push_back(
      {"eth0",
       mac,
       {std::string(server ? "10.20." : "10.40.") +
        std::to_string(std::stoi(id.substr(0, 2), nullptr, 16)) + "." +
        std::to_string(std::stoi(id.substr(2, 2), nullptr, 16)) + "/16"}});
  for (int i = 0; i < o.packages; ++i) {
    // A few versions differ between devices, as in a real estate.
    inv.software.push_back(
        {.name = "swarm-package-" + std::to_string(i),
         .version = "1." + std::to_string(i % 7 == 0 ? d.sequence % 3 : 0) + "." + std::to_string(i),
         .arch = "amd64"});
  }
  return inventory::Gzip(inventory::ToXml(inv));
}

Agent::Sent Agent::SendUpload(Device& d, PhaseStats& stats) {
  auto body = InventoryBody(d);
  if (!body.ok()) {
    stats.Count("inventory_body_failed");
    d.SetUpload("");
    return Sent::kRejected;
  }
  common::Attempt attempt;
  auto beacon = Connection(d);
  auto t0 = std::chrono::steady_clock::now();
  if (beacon.ok()) {
    common::UploadRef up{d.Id(), "inventory", d.Upload(), common::Sha256Hex(*body), body->size()};
    auto source = [&](uint64_t offset, uint64_t len) -> StatusOr<std::string> {
      return body->substr(offset, len);
    };
    attempt = common::PutUpload(**beacon, up, source, CheckInHeaders(d));
  } else {
    attempt.status = beacon.status();
  }
  const std::string answer = attempt.answered ? std::to_string(attempt.http_status)
                                              : common::CodeName(attempt.status.code());
  stats.Record(Request::kUpload, Since(t0), answer);
  switch (common::Classify(attempt.status)) {
    case common::Outcome::kDone:
      shared_.acks->Record(d, attempt.http_status);
      d.SetUpload("");
      d.attempts = 0;
      return Sent::kAcked;
    case common::Outcome::kReject:
      stats.Count("uploads_rejected");
      d.SetUpload("");
      return Sent::kRejected;
    case common::Outcome::kRetry:
    case common::Outcome::kStop: {
      const bool stop = common::Classify(attempt.status) == common::Outcome::kStop;
      backoff_.set_attempt(d.attempts);
      if (stop) backoff_.Saturate();  // the peer refuses us, not this upload: wait long
      auto delay = backoff_.Next(attempt.retry_after);
      d.attempts = static_cast<uint8_t>(std::min(backoff_.attempt(), 255));
      d.retry_at_ms = NowMs() + delay.count();
      stats.Count((stop ? "upload_held_after_" : "upload_retry_after_") + answer);
      if (attempt.retry_after.count() > 0) stats.Count("retry_after_honoured");
      return stop ? Sent::kHeld : Sent::kRetry;
    }
  }
  return Sent::kRetry;
}

}  // namespace swarm
