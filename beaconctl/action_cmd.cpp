#include "action_cmd.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <ostream>

#include "beacon/facts.h"
#include "common/config.h"
#include "common/protocol.h"
#include "common/text.h"
#include "common/uuid.h"
#include "inventory/store.h"
#include "policy/repository.h"
#include "policy/targeting.h"
#include "table.h"

namespace beaconctl {

using common::Status;
using common::StatusOr;

namespace {

constexpr const char* kKinds[] = {"inventory", "logs", "policy", "diagnose"};
constexpr const char* kStates[] = {"pending", "delivered", "done", "failed", "expired", "cancelled"};
constexpr int64_t kMaxExpiry = 30 * 86400;

Status Usage(const std::string& why) { return common::InvalidArgument("usage: " + why); }

template <size_t N>
std::string OneOf(const char* const (&names)[N]) {
  std::string s;
  for (const char* n : names) s += std::string(s.empty() ? "" : ", ") + n;
  return s;
}

// "30m", "24h", "7d" (common::ParseDuration), from one minute to 30 days.
StatusOr<int64_t> Expiry(const std::string& text) {
  auto d = common::ParseDuration(text);
  if (!d.ok() || *d < 1 || *d > kMaxExpiry) {
    return Usage("--expires '" + common::Printable(text) + "' is not a duration from 1s to 30d, like 30m, 24h or 7d");
  }
  return *d;
}

// The devices in `group` now: every device the store knows, placed in groups
// by the newest published revision exactly as the central resolves its
// manifest (and `policy resolve` explains it).
StatusOr<std::vector<std::string>> GroupMembers(inventory::Store& store, const std::string& policy_state,
                                                const std::string& group) {
  if (!policy::IsGroupName(group)) return Usage("--group '" + common::Printable(group) + "' is not a group name");
  policy::PolicyRepository repo(policy_state);
  ASSIGN_OR_RETURN(int64_t latest, repo.Latest());
  std::shared_ptr<const policy::PolicyTree> tree;
  if (latest > 0) {
    ASSIGN_OR_RETURN(policy::Revision rev, repo.Get(latest));
    ASSIGN_OR_RETURN(policy::TreeFiles files, repo.Files(rev));
    ASSIGN_OR_RETURN(tree, policy::PolicyTree::FromFiles(files, "revision " + std::to_string(latest)));
    const auto& f = tree->files();
    const bool exists = std::any_of(f.begin(), f.end(), [&](const auto& kv) { return kv.first.rfind(group + "/", 0) == 0; });
    if (!exists && group != policy::kDefaultGroup) {
      return common::NotFound("no group '" + group + "' in revision " + std::to_string(latest));
    }
  } else if (group != policy::kDefaultGroup) {
    return common::NotFound("nothing has been published yet: the only group is 'default'");
  }
  ASSIGN_OR_RETURN(auto devices, store.ListDeviceStates());
  std::vector<std::string> members;
  for (const auto& d : devices) {
    if (tree == nullptr || group == policy::kDefaultGroup) {
      members.push_back(d.device_id);  // every device is in the default group
      continue;
    }
    auto facts = beacon::DeviceFactsFromStore(store, d.device_id);
    if (!facts.ok() && facts.status().code() != common::Code::kNotFound) return facts.status();
    policy::DeviceFacts f = facts.ok() ? *facts : policy::DeviceFacts{};
    f.device_id = d.device_id;
    ASSIGN_OR_RETURN(policy::Resolution r, tree->Resolve(f));
    if (std::find(r.groups.begin(), r.groups.end(), group) != r.groups.end()) members.push_back(d.device_id);
  }
  if (members.empty()) {
    return common::FailedPrecondition("group '" + group + "' has no devices now; no action created");
  }
  return members;
}

std::vector<Column> ActionColumns() {
  return {{.field = "id", .header = "ACTION"},
          {.field = "kind", .header = "KIND"},
          {.field = "device_id", .header = "DEVICE"},
          {.field = "group", .header = "GROUP"},
          {.field = "state", .header = "STATE"},
          {.field = "created", .header = "CREATED", .time = true},
          {.field = "expires", .header = "EXPIRES", .time = true},
          {.field = "delivered", .time = true},
          {.field = "finished", .time = true},
          {.field = "result", .header = "RESULT"}};
}

std::vector<Value> ActionValues(const inventory::ActionRow& a) {
  return {Value::Text(a.id),
          Value::Text(a.kind),
          Value::Untrusted(a.device_id),
          Value::Text(a.group),
          Value::Text(a.state),
          Value::Time(a.created_at),
          Value::Time(a.expires_at),
          Value::Time(a.delivered_at, "-"),
          Value::Time(a.finished_at, "-"),
          Value::Untrusted(a.result)};  // the device's own words
}

void PrintActions(const std::vector<inventory::ActionRow>& rows, Format format, std::ostream& out) {
  Listing l;
  l.columns = ActionColumns();
  for (const auto& a : rows) l.rows.push_back(ActionValues(a));
  Print(out, format, l);
}

// One action: its fields one per line for people, an object in JSON.
void PrintAction(const inventory::ActionRow& a, Format format, std::ostream& out) {
  std::vector<Column> columns = ActionColumns();
  for (Column& c : columns) {
    if (c.header.empty()) c.header = c.field == "delivered" ? "DELIVERED" : "FINISHED";
  }
  if (format == Format::kJson) {
    PrintJson(out, JsonObject(columns, ActionValues(a)));
  } else if (format == Format::kCsv) {
    Print(out, format, Listing{columns, {ActionValues(a)}});
  } else {
    PrintFields(out, columns, ActionValues(a));
  }
}

Status Create(const inventory::StoreLocation& store_path, const std::string& policy_state, const std::string& kind,
              const std::string& device, const std::string& group, const std::string& expires, int64_t now,
              Format format, std::ostream& out) {
  if (!common::protocol::IsActionKind(kind)) {
    return Usage("KIND '" + common::Printable(kind) + "' is not one of " + OneOf(kKinds));
  }
  if (device.empty() == group.empty()) return Usage("action create needs --device ID or --group NAME (one of them)");
  if (!device.empty() && !common::IsUuid(device)) {
    return Usage("--device '" + common::Printable(device) + "' is not a device id (a lower-case UUID)");
  }
  ASSIGN_OR_RETURN(int64_t lifetime, Expiry(expires.empty() ? "24h" : expires));
  ASSIGN_OR_RETURN(auto store, inventory::OpenStore(store_path));
  std::vector<std::string> devices;
  if (!device.empty()) {
    auto known = store->GetDeviceState(device);
    if (!known.ok() && known.status().code() == common::Code::kNotFound) {
      return common::NotFound("device " + device + " is unknown to the central (never seen, never enrolled)");
    }
    RETURN_IF_ERROR(known.status());
    devices.push_back(device);
  } else {
    ASSIGN_OR_RETURN(devices, GroupMembers(*store, policy_state, group));
  }
  std::vector<inventory::ActionRow> rows;
  for (const auto& d : devices) {
    inventory::ActionRow a;
    a.id = common::NewUuid();
    a.kind = kind;
    a.device_id = d;
    a.group = group;
    a.created_at = now;
    a.expires_at = now + lifetime;
    rows.push_back(std::move(a));
  }
  RETURN_IF_ERROR(store->CreateActions(rows));
  PrintActions(rows, format, out);
  return Status::Ok();
}

}  // namespace

ActionCommand::ActionCommand(CLI::App& app) {
  action_ = app.add_subcommand("action", "work queued for devices: create, list, show, cancel");
  action_->require_subcommand(1);
  create_ = action_->add_subcommand("create", "queue an action for a device, or for every device in a group");
  create_->add_option("KIND", kind_, OneOf(kKinds))->required();
  CLI::Option* dev = create_->add_option("--device", device_, "the device")->type_name("DEVICE_ID");
  create_->add_option("--group", group_, "every device in this group now (one action each)")
      ->type_name("NAME")
      ->excludes(dev);
  create_->add_option("--expires", expires_, "how long it may wait for the device: 1s..30d (default 24h)")
      ->type_name("DURATION");
  format_.AddTo(*create_);
  list_ = action_->add_subcommand("list", "actions, newest first");
  list_->add_option("--device", device_, "only this device's")->type_name("DEVICE_ID");
  list_->add_option("--state", state_, "only this state: " + OneOf(kStates))->type_name("STATE");
  format_.AddTo(*list_);
  show_ = action_->add_subcommand("show", "one action and its result");
  show_->add_option("ID", id_, "the action's id")->required();
  format_.AddTo(*show_);
  cancel_ = action_->add_subcommand("cancel", "cancel a pending or delivered action");
  cancel_->add_option("ID", id_, "the action's id")->required();
}

bool ActionCommand::Chosen() const { return action_->parsed(); }

Status ActionCommand::Run(const inventory::StoreLocation& store_path, const std::string& policy_state, int64_t now,
                          std::ostream& out) const {
  const Format format = format_.Get();
  if (create_->parsed()) return Create(store_path, policy_state, kind_, device_, group_, expires_, now, format, out);
  if ((show_->parsed() || cancel_->parsed()) && !common::IsUuid(id_)) {
    return Usage("'" + common::Printable(id_) + "' is not an action id (a lower-case UUID)");
  }
  if (cancel_->parsed()) {
    ASSIGN_OR_RETURN(auto store, inventory::OpenStore(store_path));
    ASSIGN_OR_RETURN(inventory::ActionRow a, store->CancelAction(id_, now));
    out << "cancelled action " << a.id << " (" << a.kind << " for device " << common::Printable(a.device_id) << ")\n";
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(auto store, inventory::OpenStore(store_path, /*read_only=*/true));
  if (show_->parsed()) {
    ASSIGN_OR_RETURN(inventory::ActionRow a, store->GetAction(id_));
    PrintAction(a, format, out);
    return Status::Ok();
  }
  if (!device_.empty() && !common::IsUuid(device_)) {
    return Usage("--device '" + common::Printable(device_) + "' is not a device id (a lower-case UUID)");
  }
  if (!state_.empty() && std::find(std::begin(kStates), std::end(kStates), state_) == std::end(kStates)) {
    return Usage("--state '" + common::Printable(state_) + "' is not one of " + OneOf(kStates));
  }
  inventory::ActionFilter filter;
  filter.device = device_;
  filter.state = state_;
  ASSIGN_OR_RETURN(auto rows, store->ListActions(filter));
  PrintActions(rows, format, out);
  return Status::Ok();
}

}  // namespace beaconctl
