// The action result document (inventory/action.h), specified in
// docs/health.md#action-results; a change here must change that page too.
// The one strict XML reader (common/xml.h) refuses element text, so the
// result's text is its `text` attribute (line breaks written as &#10;).
#include "inventory/action.h"

#include <algorithm>

#include "common/protocol.h"
#include "common/time.h"
#include "common/uuid.h"
#include "common/xml.h"

namespace inventory {
namespace {

using common::Status;
using common::StatusOr;

constexpr size_t kMaxTextBytes = 4000;
constexpr int64_t kMaxTime = int64_t{1} << 40;
// One element of a few attributes and 4,000 bytes of text.
constexpr common::xml::Limits kLimits{
    .max_bytes = 64u << 10, .max_elements = 16, .max_attributes = 1'000, .max_value_bytes = 16u << 10};

Status ReadTime(const common::xml::Element& el, std::string_view attr, int64_t* out) {
  std::string text;
  RETURN_IF_ERROR(el.Time(attr, &text, out));
  if (*out < 0 || *out > kMaxTime) return el.ValueError(attr, "is outside 1970 .. 36812");
  return Status::Ok();
}

}  // namespace

std::string ToXml(const ActionResult& r) {
  using common::xml::EscapeAttribute;
  using common::xml::SanitizeText;
  auto time = [](int64_t t) { return common::FormatRfc3339(std::clamp<int64_t>(t, 0, kMaxTime)); };
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<action-result version=\"1\" device=\"" +
         EscapeAttribute(SanitizeText(r.device_id, 64)) + "\" action=\"" +
         EscapeAttribute(SanitizeText(r.action_id, 64)) + "\" kind=\"" + EscapeAttribute(SanitizeText(r.kind, 64)) +
         "\" result=\"" + (r.ok ? "done" : "failed") + "\" started-at=\"" + time(r.started_at) +
         "\" finished-at=\"" + time(std::max(r.finished_at, r.started_at)) + "\" text=\"" +
         EscapeAttribute(SanitizeText(r.text, kMaxTextBytes)) + "\"/>\n";
}

StatusOr<ActionResult> ParseActionResultXml(const std::string& xml, const std::string& source) {
  ASSIGN_OR_RETURN(common::xml::Document doc, common::xml::Document::Parse(xml, source, "action-result", kLimits));
  const common::xml::Element root = doc.root();
  RETURN_IF_ERROR(
      root.Attributes({"version", "device", "action", "kind", "result", "started-at", "finished-at", "text"}));
  RETURN_IF_ERROR(root.Expect("version", "1"));
  RETURN_IF_ERROR(root.Children({}).status());
  ActionResult r;
  r.device_id = root.Value("device");
  if (!common::IsUuid(r.device_id)) return root.ValueError("device", "is not a lower-case UUID");
  r.action_id = root.Value("action");
  if (!common::IsUuid(r.action_id)) return root.ValueError("action", "is not a lower-case UUID");
  r.kind = root.Value("kind");
  if (!common::protocol::IsActionKind(r.kind)) {
    return root.ValueError("kind", "is not an action kind (inventory, logs, policy, diagnose)");
  }
  const std::string_view result = root.Value("result");
  if (result != "done" && result != "failed") return root.ValueError("result", "is not done or failed");
  r.ok = result == "done";
  RETURN_IF_ERROR(ReadTime(root, "started-at", &r.started_at));
  RETURN_IF_ERROR(ReadTime(root, "finished-at", &r.finished_at));
  if (r.finished_at < r.started_at) {
    return root.AttributeError("finished-at", "<action-result> 'finished-at' is before 'started-at'");
  }
  RETURN_IF_ERROR(root.String("text", &r.text, {.max_bytes = kMaxTextBytes, .line_breaks = true}));
  return r;
}

}  // namespace inventory
