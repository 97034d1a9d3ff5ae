#include "policy/manifest.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "common/protocol.h"
#include "common/sha256.h"
#include "common/time.h"
#include "common/uuid.h"
#include "common/xml.h"

namespace policy {

using common::Status;
using common::StatusOr;

bool IsPolicyFileName(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  });
}

namespace {

constexpr size_t kMaxActions = 100;

// One <action id kind expires/>; `ids` are those read so far.
Status ReadAction(const common::xml::Element& a, std::set<std::string>* ids, std::vector<ManifestAction>* out) {
  RETURN_IF_ERROR(a.Attributes({"id", "kind", "expires"}));
  RETURN_IF_ERROR(a.Children({}).status());
  if (out->size() == kMaxActions) return a.Error("more than 100 actions in <manifest>");
  ManifestAction action;
  action.id = a.Value("id");
  action.kind = a.Value("kind");
  if (!common::IsUuid(action.id)) return a.ValueError("id", "is not a lower-case UUID");
  if (!common::protocol::IsActionKind(action.kind)) {
    return a.ValueError("kind", "is not an action kind (inventory, logs, policy, diagnose)");
  }
  std::string text;
  RETURN_IF_ERROR(a.Time("expires", &text, &action.expires_at));
  if (action.expires_at < 0) return a.ValueError("expires", "is before 1970");
  if (!ids->insert(action.id).second) return a.Error("action '" + action.id + "' is listed twice");
  out->push_back(std::move(action));
  return Status::Ok();
}

}  // namespace

std::string ToXml(const Manifest& m) {
  std::ostringstream out;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<manifest version=\"1\" revision=\"" << m.revision << "\" device=\"" << m.device << "\"";
  // The signature covers this document without the signature attribute
  // (policy/signing.h), so it is written last and only when present.
  if (!m.signature.empty()) out << " signature=\"" << m.signature << "\"";
  out << ">\n";
  for (const auto& f : m.files) {
    // Names and digests are validated to a character set that needs no escaping.
    out << "  <file name=\"" << f.name << "\" sha256=\"" << f.sha256 << "\" size=\"" << f.size
        << "\"/>\n";
  }
  // Actions follow the files, sorted by id, so that the signed form is
  // canonical; a manifest without actions is byte for byte what it was
  // before actions existed (its signature and ETag stay the same). Ids and
  // kinds are validated to characters that need no escaping.
  std::vector<ManifestAction> actions = m.actions;
  std::sort(actions.begin(), actions.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  for (const auto& a : actions) {
    out << "  <action id=\"" << a.id << "\" kind=\"" << a.kind << "\" expires=\""
        << common::FormatRfc3339(std::max<int64_t>(a.expires_at, 0)) << "\"/>\n";
  }
  out << "</manifest>\n";
  return out.str();
}

std::string ManifestEtag(const std::string& xml) {
  return "\"" + common::Sha256Hex(xml).substr(0, 32) + "\"";
}

StatusOr<Manifest> ParseManifestXml(const std::string& xml, const std::string& source) {
  // A manifest names a handful of files; the reader's default limits (1 MiB,
  // 100,000 elements) are far above any real one.
  ASSIGN_OR_RETURN(common::xml::Document doc, common::xml::Document::Parse(xml, source, "manifest"));
  common::xml::Element root = doc.root();
  RETURN_IF_ERROR(root.Attributes({"version", "revision", "device"}, {"signature"}));
  RETURN_IF_ERROR(root.Expect("version", "1"));
  Manifest m;
  RETURN_IF_ERROR(root.Decimal("revision", &m.revision));
  m.device = root.Value("device");
  if (!common::IsUuid(m.device)) return root.ValueError("device", "is not a lower-case UUID");
  if (root.Has("signature")) {
    m.signature = root.Value("signature");
    bool base64 = !m.signature.empty() && m.signature.size() <= 256 &&
                  std::all_of(m.signature.begin(), m.signature.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=';
                  });
    if (!base64) return root.ValueError("signature", "is not base64 (at most 256 characters)");
  }
  ASSIGN_OR_RETURN(auto children, root.Children({"file", "action"}));
  std::set<std::string> names;
  std::set<std::string> action_ids;
  for (const common::xml::Element& f : children) {
    if (f.name() == "action") {
      RETURN_IF_ERROR(ReadAction(f, &action_ids, &m.actions));
      continue;
    }
    RETURN_IF_ERROR(f.Attributes({"name", "sha256", "size"}));
    RETURN_IF_ERROR(f.Children({}).status());
    ManifestFile mf;
    mf.name = f.Value("name");
    mf.sha256 = f.Value("sha256");
    if (!IsPolicyFileName(mf.name)) return f.ValueError("name", "is not a policy file name");
    if (!common::IsHexDigest(mf.sha256)) return f.ValueError("sha256", "is not 64 lower-case hex digits");
    RETURN_IF_ERROR(f.Decimal("size", &mf.size));
    if (!names.insert(mf.name).second) return f.Error("file '" + mf.name + "' is listed twice");
    m.files.push_back(std::move(mf));
  }
  std::sort(m.files.begin(), m.files.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::sort(m.actions.begin(), m.actions.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return m;
}

}  // namespace policy
