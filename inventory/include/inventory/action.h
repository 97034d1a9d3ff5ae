// The result of an action (docs/actions.md): which action a device ran, how
// it ended and what it says about it, uploaded as kind "action". The
// central moves the action to done or failed when it imports the result.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace inventory {

struct ActionResult {
  std::string device_id;   // lower-case UUID: the uploader
  std::string action_id;   // lower-case UUID, as in the manifest
  std::string kind;        // common::protocol::IsActionKind
  bool ok = false;         // done (true) or failed
  int64_t started_at = 0;  // the device's clock, for display only
  int64_t finished_at = 0;
  // One paragraph for the administrator, at most 4,000 bytes of UTF-8: what
  // was done ("inventory 42 queued", "bundle uploaded as logs <id>") or why
  // it failed.
  std::string text;
  bool operator==(const ActionResult&) const = default;
};

std::string ToXml(const ActionResult& result);
// Strict (common/xml.h): "source:line:column: message".
common::StatusOr<ActionResult> ParseActionResultXml(const std::string& xml, const std::string& source);

}  // namespace inventory
