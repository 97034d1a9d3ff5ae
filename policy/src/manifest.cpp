#include "policy/manifest.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "common/sha256.h"
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
  ASSIGN_OR_RETURN(auto files, root.Children({"file"}));
  std::set<std::string> names;
  for (const common::xml::Element& f : files) {
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
  return m;
}

}  // namespace policy
