#include "beacon/action_requests.h"

#include <algorithm>

#include "beacon/facts.h"
#include "beacon/resolve.h"
#include "common/protocol.h"
#include "common/text.h"
#include "common/uuid.h"
#include "policy/targeting.h"

namespace beacon {

using common::Status;
using common::StatusOr;

namespace {

template <size_t N>
std::string Join(const char* const (&names)[N]) {
  std::string s;
  for (const char* n : names) s += std::string(s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

std::string ActionKindNames() { return Join(kActionKinds); }
std::string ActionStateNames() { return Join(kActionStates); }

bool IsActionState(const std::string& state) {
  return std::find(std::begin(kActionStates), std::end(kActionStates), state) !=
         std::end(kActionStates);
}

Status CheckActionRequest(const ActionRequest& r, ActionField* field) {
  auto bad = [field](ActionField f, const std::string& why) {
    *field = f;
    return common::InvalidArgument(why);
  };
  *field = ActionField::kNone;
  if (!common::protocol::IsActionKind(r.kind)) {
    return bad(ActionField::kKind,
               "kind '" + common::Printable(r.kind) + "' is not one of " + ActionKindNames());
  }
  if (r.device.empty() == r.group.empty()) {
    return bad(r.device.empty() ? ActionField::kDevice : ActionField::kGroup,
               "an action is for a device or for a group (one of them)");
  }
  if (!r.device.empty() && !common::IsUuid(r.device)) {
    return bad(ActionField::kDevice, "device '" + common::Printable(r.device) +
                                         "' is not a device id (a lower-case UUID)");
  }
  if (!r.group.empty() && !policy::IsGroupName(r.group)) {
    return bad(ActionField::kGroup,
               "group '" + common::Printable(r.group) + "' is not a group name");
  }
  if (r.lifetime < 1 || r.lifetime > kMaxActionLifetime) {
    return bad(ActionField::kLifetime, "the expiry must be from 1s to 30d");
  }
  return Status::Ok();
}

StatusOr<std::vector<std::string>> GroupMembers(inventory::Store& store,
                                                const std::string& policy_state,
                                                const std::string& group) {
  ASSIGN_OR_RETURN(LatestTree latest, ReadLatestTree(policy_state));
  if (latest.tree != nullptr) {
    const auto& f = latest.tree->files();
    const bool exists = std::any_of(
        f.begin(), f.end(), [&](const auto& kv) { return kv.first.rfind(group + "/", 0) == 0; });
    if (!exists && group != policy::kDefaultGroup) {
      return common::NotFound("no group '" + group + "' in revision " +
                              std::to_string(latest.revision));
    }
  } else if (group != policy::kDefaultGroup) {
    return common::NotFound("nothing has been published yet: the only group is 'default'");
  }
  ASSIGN_OR_RETURN(auto devices, store.ListDeviceStates());
  std::vector<std::string> members;
  for (const auto& d : devices) {
    if (latest.tree == nullptr || group == policy::kDefaultGroup) {
      members.push_back(d.device_id);  // every device is in the default group
      continue;
    }
    auto facts = DeviceFactsFromStore(store, d.device_id);
    if (!facts.ok() && facts.status().code() != common::Code::kNotFound) return facts.status();
    policy::DeviceFacts f = facts.ok() ? *facts : policy::DeviceFacts{};
    f.device_id = d.device_id;
    ASSIGN_OR_RETURN(policy::Resolution r, latest.tree->Resolve(f));
    if (std::find(r.groups.begin(), r.groups.end(), group) != r.groups.end())
      members.push_back(d.device_id);
  }
  if (members.empty()) {
    return common::FailedPrecondition("group '" + group +
                                      "' has no devices now; no action created");
  }
  return members;
}

StatusOr<std::vector<inventory::ActionRow>> CreateActions(inventory::Store& store,
                                                          const std::string& policy_state,
                                                          const ActionRequest& request,
                                                          int64_t now) {
  ActionField field = ActionField::kNone;
  RETURN_IF_ERROR(CheckActionRequest(request, &field));
  std::vector<std::string> devices;
  if (!request.device.empty()) {
    auto known = store.GetDeviceState(request.device);
    if (!known.ok() && known.status().code() == common::Code::kNotFound) {
      return common::NotFound("device " + request.device +
                              " is unknown to the central (never seen, never enrolled)");
    }
    RETURN_IF_ERROR(known.status());
    devices.push_back(request.device);
  } else {
    ASSIGN_OR_RETURN(devices, GroupMembers(store, policy_state, request.group));
  }
  std::vector<inventory::ActionRow> rows;
  rows.reserve(devices.size());
  for (const auto& d : devices) {
    inventory::ActionRow a;
    a.id = common::NewUuid();
    a.kind = request.kind;
    a.device_id = d;
    a.group = request.group;
    a.created_at = now;
    a.expires_at = now + request.lifetime;
    rows.push_back(std::move(a));
  }
  RETURN_IF_ERROR(store.CreateActions(rows));
  return rows;
}

}  // namespace beacon
