#include "uploads.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <map>
#include <sstream>

#include "common/fs.h"
#include "common/log.h"
#include "common/uuid.h"
#include "inventory/collect.h"
#include "inventory/inventory.h"
#include "inventory/pack.h"
#include "inventory/usage.h"

namespace client {

using common::Status;

namespace {
int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }
}  // namespace

Uploads::Uploads(const ClientSettings& settings, std::string device, common::Spool* outbox,
                 const AppliedPolicy* applied, StateFile* state)
    : settings_(settings),
      device_(std::move(device)),
      outbox_(outbox),
      applied_(applied),
      state_(state) {}

Status Uploads::CollectInventory(bool full) {
  inventory::CollectOptions opts;
  opts.hardware = settings_.collect_hardware;
  opts.software = settings_.collect_software;
  // The applied policy.xml, when there is one, decides over the local defaults.
  const policy::ClientPolicy& pol = applied_->Policy();
  if (applied_->HasPolicyXml()) {
    opts.hardware = pol.hardware;
    opts.software = pol.software;
  }
  for (const auto& r : pol.file_rules)
    opts.file_rules.push_back({r.include, r.exclude, r.patterns});
  ASSIGN_OR_RETURN(inventory::Inventory inv, inventory::Collect(device_, opts));
  // The store keeps the newest inventory by this number, never by the
  // device's clock (DESIGN.md "Order comes from the device's own sequence").
  inv.sequence = state_->GetInt("inventory_sequence") + 1;
  const std::map<std::string, std::string> digests = inventory::PartDigests(inv);
  const std::string digests_path = InventoryDigestsPath(settings_.state_dir);
  LastSent last = ReadLastSent(digests_path);
  const bool whole = full || last.base == 0 || last.deltas + 1 >= pol.inventory_full_every;
  inventory::Inventory doc = whole ? inv : inventory::MakeDelta(inv, last.digests, last.base);
  ASSIGN_OR_RETURN(std::string gz, inventory::Gzip(inventory::ToXml(doc)));
  // The policy's upload limit: a beacon would refuse the body anyway, and
  // an outbox must not fill with uploads that can never leave.
  if (gz.size() > pol.max_upload_bytes) {
    return common::ResourceExhausted("inventory of " + std::to_string(gz.size()) +
                                     " bytes compressed is over the policy's upload limit of " +
                                     std::to_string(pol.max_upload_bytes) + " bytes; not queued");
  }
  // Durable before the upload exists: after a crash the counter is never
  // behind a queued inventory, so no number is used twice. A number whose
  // upload then fails to queue is skipped; gaps are harmless.
  state_->SetInt("inventory_sequence", inv.sequence);
  RETURN_IF_ERROR(state_->Save().WithContext("save the inventory sequence"));
  const std::string id = common::NewUuid();
  RETURN_IF_ERROR(Queue("inventory", id, gz));
  // After queueing: a crash before this write makes the next inventory a
  // delta against an older one, which the central cannot apply; it then
  // asks for a full inventory (docs/inventory.md#deltas).
  WriteLastSent(digests_path, {inv.sequence, whole ? 0 : last.deltas + 1, digests});
  common::LogInfo("inventory collected: #" + std::to_string(inv.sequence) +
                  (whole ? " (full), " : " (delta on #" + std::to_string(doc.base) + ": " +
                                             std::to_string(doc.parts.size()) + " parts changed), ") +
                  std::to_string(inv.software.size()) + " packages, " + std::to_string(inv.files.size()) +
                  " evidence files, " + std::to_string(gz.size()) + " bytes compressed, queued as " + id);
  return Status::Ok();
}

Uploads::LastSent Uploads::ReadLastSent(const std::string& path) const {
  // "base N\ndeltas N\n" then "part<TAB>digest" lines. Anything unreadable
  // means no usable previous inventory: the next one is sent whole.
  LastSent last;
  auto text = common::ReadFile(path, 1u << 20, settings_.env);
  if (!text.ok()) return last;
  std::istringstream in(*text);
  std::string word;
  int64_t base = 0;
  int64_t deltas = 0;
  if (!(in >> word) || word != "base" || !(in >> base) || !(in >> word) || word != "deltas" || !(in >> deltas)) {
    return last;
  }
  std::string part;
  std::string digest;
  while (in >> part >> digest) last.digests[part] = digest;
  if (last.digests.empty()) return last;
  last.base = base;
  last.deltas = deltas;
  return last;
}

void Uploads::WriteLastSent(const std::string& path, const LastSent& last) const {
  std::string text = "base " + std::to_string(last.base) + "\ndeltas " + std::to_string(last.deltas) + "\n";
  for (const auto& [part, digest] : last.digests) text += part + "\t" + digest + "\n";
  Status st = common::MakeDirs(path.substr(0, path.rfind('/')), 0700, settings_.env);
  if (st.ok()) st = common::WriteFileAtomic(path, text, 0600, settings_.env);
  // Not fatal: the next inventory is then sent whole.
  if (!st.ok()) common::LogWarn("inventory digests: " + st.ToString() + "; the next inventory is sent whole");
}

Status Uploads::Queue(const std::string& kind, const std::string& id, const std::string& body) {
  common::SpoolMeta meta;
  meta.id = id;
  meta.device = device_;
  meta.kind = kind;
  meta.client_version = BEACON_VERSION;
  meta.policy_revision = applied_->Revision();
  return outbox_->Put(meta, body);
}

Status Uploads::SampleUsage() {
  const policy::ClientPolicy& pol = applied_->Policy();
  if (!pol.usage_enabled) return Status::Ok();
  const std::string path = UsageDir(settings_.state_dir) + "/current.xml";
  inventory::Usage usage;
  auto text = common::ReadFile(path, 64u << 20, settings_.env);
  if (text.ok()) {
    auto parsed = inventory::ParseUsageXml(*text, path);
    if (parsed.ok() && parsed->device_id == device_) {
      usage = std::move(parsed).value();
    } else {
      // Kept aside for a person to look at, never overwritten.
      common::LogError(path +
                       " is damaged, kept as current.xml.damaged; starting a new usage period");
      RETURN_IF_ERROR(Env()->Rename(path, path + ".damaged").WithContext("set aside"));
    }
  } else if (text.status().code() != common::Code::kNotFound) {
    return text.status();
  }
  if (usage.samples == 0) {
    usage.device_id = device_;
    usage.sample_seconds = pol.usage_sample_seconds;
  }
  // The processes of the previous sample, kept across restarts so that a
  // restart neither counts running processes as launched again nor credits
  // their time twice. A damaged table costs one interval's figures only.
  const std::string table_path = UsageDir(settings_.state_dir) + "/processes";
  inventory::ProcessTable table;
  if (auto t = common::ReadFile(table_path, 64u << 20, settings_.env); t.ok()) {
    auto parsed = inventory::ParseProcessTable(*t, table_path);
    if (parsed.ok()) {
      table = std::move(parsed).value();
    } else {
      common::LogWarn(parsed.status().ToString() + "; starting a new process table");
    }
  }
  usage.AddSample(Now(), inventory::RunningProcesses(), &table);
  // The table first: a crash between the two writes loses one interval's
  // credit rather than counting it twice at the next sample.
  RETURN_IF_ERROR(common::WriteFileAtomic(table_path, inventory::SerializeProcessTable(table), 0600,
                                          settings_.env));
  RETURN_IF_ERROR(common::WriteFileAtomic(path, inventory::ToXml(usage), 0600, settings_.env));
  state_->SetInt("usage_sample_at", Now());
  return Status::Ok();
}

// Puts closed files of `dir` (<upload id>.closed) in the outbox as `kind`,
// then closes each of the `current` files in turn (renamed to a new
// <upload id>.closed, so the id is fixed before anything is queued) and
// queues it at once, keeping their order. A crash in between leaves a
// closed file, queued again under the same id at the next call, which the
// central stores once. Nothing more is closed while a closed file cannot
// be queued (outbox full): closed files never pile up.
Status Uploads::QueueClosed(const std::string& dir, const std::vector<std::string>& current,
                            const std::string& kind) {
  const std::string suffix = ".closed";
  auto queue = [&](const std::string& id) -> Status {
    const std::string file = dir + "/" + id + suffix;
    ASSIGN_OR_RETURN(std::string body, common::ReadFile(file, 64u << 20, settings_.env));
    ASSIGN_OR_RETURN(std::string gz, inventory::Gzip(body));
    if (gz.size() > applied_->Policy().max_upload_bytes) {
      common::LogError(kind + " " + id + " is over the policy's upload limit; dropped");
    } else {
      Status put = Queue(kind, id, gz);
      if (!put.ok() && put.code() != common::Code::kAlreadyExists) return put;
      common::LogInfo(kind + " queued as " + id);
    }
    RETURN_IF_ERROR(Env()->Remove(file));
    return Env()->SyncDir(dir);
  };
  ASSIGN_OR_RETURN(auto names, Env()->ListDir(dir));
  for (const auto& name : names) {
    std::string id = name.substr(0, name.size() > suffix.size() ? name.size() - suffix.size() : 0);
    if (common::IsUuid(id) && name == id + suffix) RETURN_IF_ERROR(queue(id));
  }
  for (const auto& name : current) {
    auto size = Env()->FileSize(dir + "/" + name);
    if (!size.ok() || *size == 0) continue;
    std::string id = common::NewUuid();
    RETURN_IF_ERROR(Env()->Rename(dir + "/" + name, dir + "/" + id + suffix).WithContext("close"));
    RETURN_IF_ERROR(Env()->SyncDir(dir));
    RETURN_IF_ERROR(queue(id));
  }
  return Status::Ok();
}

Status Uploads::UploadUsage() {
  return QueueClosed(UsageDir(settings_.state_dir), {"current.xml"}, "usage");
}

// The rotated log first: it holds the older lines.
Status Uploads::UploadLogs() {
  return QueueClosed(LogDir(settings_.state_dir), {"client.log.1", "client.log"}, "logs");
}

Status Uploads::QueueLogBundle(const std::string& gz) {
  if (gz.size() > applied_->Policy().max_upload_bytes) {
    return common::ResourceExhausted("log bundle of " + std::to_string(gz.size()) +
                                     " bytes is over the policy's upload limit; not queued");
  }
  const std::string id = common::NewUuid();
  RETURN_IF_ERROR(Queue("logs", id, gz));
  common::LogInfo("log bundle queued as " + id);
  return Status::Ok();
}

}  // namespace client
