// Creating actions (docs/actions.md) for an administrator, the same way from
// every front end: `beaconctl action create` and the admin API's
// POST /api/v1/actions both call CreateActions, so a group is expanded, an
// expiry bounded and a device checked by one set of rules.
//
// A group is expanded when the actions are created, by the newest published
// revision's targeting, exactly as the central resolves manifests and
// `beaconctl policy resolve` explains them (beacon/resolve.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "inventory/store.h"

namespace beacon {

inline constexpr const char* kActionKinds[] = {"inventory", "logs", "policy", "diagnose"};
inline constexpr const char* kActionStates[] = {"pending", "delivered", "done",
                                                "failed",  "expired",   "cancelled"};
inline constexpr int64_t kDefaultActionLifetime = 86400;   // 24 h
inline constexpr int64_t kMaxActionLifetime = 30 * 86400;  // 30 days
std::string ActionKindNames();                             // "inventory, logs, policy, diagnose"
std::string ActionStateNames();                            // "pending, delivered, ..."
bool IsActionState(const std::string& state);

// What an administrator asks for: one kind, for one device or one group.
struct ActionRequest {
  std::string kind;
  std::string device;                         // a device id, or ""
  std::string group;                          // a group name, or ""
  int64_t lifetime = kDefaultActionLifetime;  // seconds until it expires
};

// Which part of an ActionRequest is wrong.
enum class ActionField { kNone, kKind, kDevice, kGroup, kLifetime };

// Checks the request's syntax: a known kind, exactly one of device (a
// lower-case UUID) and group (policy::IsGroupName), a lifetime of 1 s to
// 30 days. InvalidArgument naming the value (`*field` says which), else Ok.
common::Status CheckActionRequest(const ActionRequest& request, ActionField* field);

// The devices in `group` now, by the newest revision in `policy_state`:
// every device the store knows for "default". NotFound for a group the
// revision does not have (or any group but "default" before the first
// publish); FailedPrecondition for a group with no devices now.
common::StatusOr<std::vector<std::string>> GroupMembers(inventory::Store& store,
                                                        const std::string& policy_state,
                                                        const std::string& group);

// Checks the request (as CheckActionRequest, InvalidArgument), finds its
// devices (NotFound for a device the store has never heard of; GroupMembers'
// errors for a group) and creates one pending action per device, with new
// ids, all in one store write. Returns them as created.
common::StatusOr<std::vector<inventory::ActionRow>> CreateActions(inventory::Store& store,
                                                                  const std::string& policy_state,
                                                                  const ActionRequest& request,
                                                                  int64_t now);

}  // namespace beacon
