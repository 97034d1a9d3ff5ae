#include "action_cmd.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <ostream>

#include "beacon/action_requests.h"
#include "common/config.h"
#include "common/protocol.h"
#include "common/text.h"
#include "common/uuid.h"
#include "inventory/store.h"
#include "table.h"

namespace beaconctl {

using common::Status;
using common::StatusOr;

namespace {

Status Usage(const std::string& why) { return common::InvalidArgument("usage: " + why); }

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
  beacon::ActionRequest request{kind, device, group, beacon::kDefaultActionLifetime};
  if (!expires.empty()) {
    // "30m", "24h", "7d" (common::ParseDuration); the range is checked below.
    auto d = common::ParseDuration(expires);
    request.lifetime = d.ok() ? *d : 0;
  }
  beacon::ActionField field = beacon::ActionField::kNone;
  if (Status st = beacon::CheckActionRequest(request, &field); !st.ok()) {
    switch (field) {
      case beacon::ActionField::kKind:
        return Usage("KIND '" + common::Printable(kind) + "' is not one of " + beacon::ActionKindNames());
      case beacon::ActionField::kLifetime:
        return Usage("--expires '" + common::Printable(expires) +
                     "' is not a duration from 1s to 30d, like 30m, 24h or 7d");
      default:
        if (device.empty() == group.empty()) {
          return Usage("action create needs --device ID or --group NAME (one of them)");
        }
        return Usage("--" + st.message());
    }
  }
  ASSIGN_OR_RETURN(auto store, inventory::OpenStore(store_path));
  ASSIGN_OR_RETURN(auto rows, beacon::CreateActions(*store, policy_state, request, now));
  PrintActions(rows, format, out);
  return Status::Ok();
}

}  // namespace

ActionCommand::ActionCommand(CLI::App& app) {
  action_ = app.add_subcommand("action", "work queued for devices: create, list, show, cancel");
  action_->require_subcommand(1);
  create_ = action_->add_subcommand("create", "queue an action for a device, or for every device in a group");
  create_->add_option("KIND", kind_, beacon::ActionKindNames())->required();
  CLI::Option* dev = create_->add_option("--device", device_, "the device")->type_name("DEVICE_ID");
  create_->add_option("--group", group_, "every device in this group now (one action each)")
      ->type_name("NAME")
      ->excludes(dev);
  create_->add_option("--expires", expires_, "how long it may wait for the device: 1s..30d (default 24h)")
      ->type_name("DURATION");
  format_.AddTo(*create_);
  list_ = action_->add_subcommand("list", "actions, newest first");
  list_->add_option("--device", device_, "only this device's")->type_name("DEVICE_ID");
  list_->add_option("--state", state_, "only this state: " + beacon::ActionStateNames())->type_name("STATE");
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
  if (!state_.empty() && !beacon::IsActionState(state_)) {
    return Usage("--state '" + common::Printable(state_) + "' is not one of " + beacon::ActionStateNames());
  }
  inventory::ActionFilter filter;
  filter.device = device_;
  filter.state = state_;
  ASSIGN_OR_RETURN(auto rows, store->ListActions(filter));
  PrintActions(rows, format, out);
  return Status::Ok();
}

}  // namespace beaconctl
