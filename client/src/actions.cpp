#include "actions.h"

#include <algorithm>
#include <optional>
#include <sstream>

#include "common/config.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/time.h"
#include "common/uuid.h"
#include "inventory/action.h"

namespace client {

using common::Status;
using common::StatusOr;

namespace {

// A ledger line, or nullopt when it is not one.
std::optional<Actions::Entry> ParseLine(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> f;
  for (std::string word; in >> word;) f.push_back(word);
  if (f.size() != 5 && f.size() != 6) return std::nullopt;
  Actions::Entry e;
  e.state = f[0];
  e.id = f[1];
  e.kind = f[3];
  const bool finished = e.state == "done" || e.state == "failed";
  if (!(finished ? f.size() == 6 : e.state == "started" && f.size() == 5) || !common::IsUuid(e.id) ||
      !common::protocol::IsActionKind(e.kind) || !common::ParseDecimal(f[2], &e.expires_at) ||
      !common::ParseDecimal(f[4], &e.started_at) || (finished && !common::ParseDecimal(f[5], &e.finished_at))) {
    return std::nullopt;
  }
  return e;
}

}  // namespace

StatusOr<std::unique_ptr<Actions>> Actions::Open(const std::string& state_dir, const std::string& device,
                                                 QueueUpload queue, common::Env* env) {
  if (env == nullptr) env = common::Env::Default();
  std::unique_ptr<Actions> a(new Actions(state_dir + "/actions", device, std::move(queue), env));
  auto text = common::ReadFile(a->path_, 1u << 20, env);
  if (!text.ok() && text.status().code() != common::Code::kNotFound) return text.status();
  std::istringstream lines(text.ok() ? *text : "");
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    auto e = ParseLine(line);
    if (!e) {
      common::LogError(a->path_ + ": dropping a line that is not a ledger entry: " + line.substr(0, 200));
      continue;
    }
    if (std::any_of(a->ledger_.begin(), a->ledger_.end(), [&](const Entry& x) { return x.id == e->id; })) continue;
    if (e->state == "started") a->interrupted_.push_back(e->id);
    a->ledger_.push_back(*e);
  }
  return a;
}

Status Actions::Save() const {
  std::string out;
  for (const Entry& e : ledger_) {
    out += e.state + " " + e.id + " " + std::to_string(e.expires_at) + " " + e.kind + " " +
           std::to_string(e.started_at);
    if (e.state != "started") out += " " + std::to_string(e.finished_at);
    out += "\n";
  }
  return common::WriteFileAtomic(path_, out, 0600, env_).WithContext("save the action ledger");
}

Status Actions::Finish(Entry& e, bool ok, const std::string& text, int64_t now) {
  inventory::ActionResult r;
  r.device_id = device_;
  r.action_id = e.id;
  r.kind = e.kind;
  r.ok = ok;
  r.started_at = e.started_at;
  r.finished_at = std::max(now, e.started_at);
  r.text = text;
  const std::string upload = common::NewUuid();
  // Durable in the outbox first: a crash before the ledger says so reports
  // the action again as interrupted, never loses its result silently.
  RETURN_IF_ERROR(queue_("action", upload, inventory::ToXml(r)).WithContext("queue the result of action " + e.id));
  e.state = ok ? "done" : "failed";
  e.finished_at = r.finished_at;
  common::LogInfo("action " + e.id + " (" + e.kind + ") " + e.state + ": " + text + "; result queued as " + upload);
  return Save();
}

Status Actions::Run(const std::vector<policy::ManifestAction>& actions, const Runners& runners, int64_t now) {
  Status first;
  auto note = [&first](const Status& st) {
    if (!st.ok()) common::LogError(st.ToString());
    if (first.ok()) first = st;
  };
  // Cut short by a restart: the action may have done part of its work; it
  // is not run again.
  for (auto it = interrupted_.begin(); it != interrupted_.end();) {
    auto e = std::find_if(ledger_.begin(), ledger_.end(), [&](const Entry& x) { return x.id == *it; });
    if (e != ledger_.end() && e->state == "started") {
      Status st = Finish(*e, false, "interrupted: the client stopped while the action ran", now);
      if (!st.ok()) {
        note(st);
        ++it;
        continue;
      }
    }
    it = interrupted_.erase(it);
  }
  // Lines a week past their action's expiry: the central has expired or
  // finished the action and no manifest lists it any more.
  const size_t before = ledger_.size();
  std::erase_if(ledger_, [&](const Entry& e) {
    return e.state != "started" && e.expires_at < now - kKeepAfterExpiry;
  });
  if (ledger_.size() != before) note(Save());

  std::vector<policy::ManifestAction> sorted = actions;
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  for (const policy::ManifestAction& a : sorted) {
    if (std::any_of(ledger_.begin(), ledger_.end(), [&](const Entry& e) { return e.id == a.id; })) continue;
    if (a.expires_at < now) {
      common::LogInfo("action " + a.id + " (" + a.kind + ") expired before it could start; not run");
      continue;
    }
    const Runner* runner = a.kind == "inventory" ? &runners.inventory
                           : a.kind == "logs"    ? &runners.logs
                           : a.kind == "policy"  ? &runners.policy
                           : a.kind == "diagnose" ? &runners.diagnose
                                                  : nullptr;
    // Recorded before it runs: whatever happens next, it never runs twice.
    ledger_.push_back({"started", a.id, a.kind, a.expires_at, now, 0});
    Status saved = Save();
    if (!saved.ok()) {
      ledger_.pop_back();
      note(saved.WithContext("action " + a.id + " not started"));
      continue;
    }
    common::LogInfo("action " + a.id + " (" + a.kind + ") started");
    StatusOr<std::string> result = common::FailedPrecondition("this client cannot run actions of kind " + a.kind);
    if (runner != nullptr && *runner) result = (*runner)();
    Entry& e = ledger_.back();
    Status st = result.ok() ? Finish(e, true, *result, now) : Finish(e, false, result.status().ToString(), now);
    if (!st.ok()) {
      // The result could not be queued: reported as interrupted at the
      // next start, like a crash here.
      interrupted_.push_back(e.id);
      note(st);
    }
  }
  return first;
}

std::vector<Actions::Entry> Actions::Recent(size_t n) const {
  std::vector<Entry> recent = ledger_;
  std::stable_sort(recent.begin(), recent.end(),
                   [](const Entry& a, const Entry& b) { return a.started_at > b.started_at; });
  if (recent.size() > n) recent.resize(n);
  return recent;
}

std::string Actions::StatusLines(size_t n) const {
  const std::vector<Entry> recent = Recent(n);
  std::string out = "actions:          " + (recent.empty() ? std::string("none") : "the last " + std::to_string(recent.size())) + "\n";
  for (const Entry& e : recent) {
    out += "  " + e.id + " " + e.kind + " " + e.state + " " +
           common::FormatRfc3339(e.state == "started" ? e.started_at : e.finished_at) + "\n";
  }
  return out;
}

}  // namespace client
