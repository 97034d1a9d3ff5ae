#include "policy/manifest.h"

#include <pugixml.hpp>

#include <algorithm>
#include <set>
#include <sstream>

#include "common/config.h"
#include "common/sha256.h"
#include "common/uuid.h"

namespace policy {

using common::InvalidArgument;
using common::Status;
using common::StatusOr;

void LineColumn(const std::string& text, size_t offset, int* line, int* column) {
  *line = 1;
  *column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++*line;
      *column = 1;
    } else {
      ++*column;
    }
  }
}

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

namespace {

bool ParseU64(const char* s, uint64_t* out) {
  int64_t v = 0;
  if (!common::ParseDecimal(s, &v)) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

}  // namespace

StatusOr<Manifest> ParseManifestXml(const std::string& xml, const std::string& source) {
  pugi::xml_document doc;
  pugi::xml_parse_result pr = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  auto err = [&](ptrdiff_t offset, const std::string& msg) {
    int line = 0, col = 0;
    LineColumn(xml, offset < 0 ? 0 : static_cast<size_t>(offset), &line, &col);
    return InvalidArgument(source + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + msg);
  };
  if (!pr) return err(pr.offset, std::string("not well-formed XML: ") + pr.description());
  // Element offsets point at the name; report the '<' before it.
  auto at = [](const pugi::xml_node& n) { return n.offset_debug() > 0 ? n.offset_debug() - 1 : 0; };
  pugi::xml_node root = doc.document_element();
  if (std::string(root.name()) != "manifest") return err(at(root), "root element must be <manifest>");
  Manifest m;
  bool have_version = false, have_revision = false;
  for (pugi::xml_attribute a : root.attributes()) {
    std::string n = a.name();
    if (n == "version") {
      if (std::string(a.value()) != "1") return err(at(root), "unsupported manifest version");
      have_version = true;
    } else if (n == "revision") {
      uint64_t r = 0;
      if (!ParseU64(a.value(), &r) || r > (1ull << 62)) return err(at(root), "revision must be a non-negative integer");
      m.revision = static_cast<int64_t>(r);
      have_revision = true;
    } else if (n == "device") {
      m.device = a.value();
      if (!common::IsUuid(m.device)) return err(at(root), "device must be a lower-case UUID");
    } else if (n == "signature") {
      m.signature = a.value();
      bool base64 = !m.signature.empty() && m.signature.size() <= 256 &&
                    std::all_of(m.signature.begin(), m.signature.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=';
                    });
      if (!base64) return err(at(root), "signature must be base64");
    } else {
      return err(at(root), "unknown attribute '" + n + "' on <manifest>");
    }
  }
  if (!have_version) return err(at(root), "<manifest> lacks 'version'");
  if (!have_revision) return err(at(root), "<manifest> lacks 'revision'");
  if (m.device.empty()) return err(at(root), "<manifest> lacks 'device'");
  std::set<std::string> names;
  for (pugi::xml_node f : root.children()) {
    if (f.type() != pugi::node_element) continue;
    if (std::string(f.name()) != "file") return err(at(f), "unknown element <" + std::string(f.name()) + ">");
    ManifestFile mf;
    bool have_size = false;
    for (pugi::xml_attribute a : f.attributes()) {
      std::string n = a.name();
      if (n == "name") mf.name = a.value();
      else if (n == "sha256") mf.sha256 = a.value();
      else if (n == "size") {
        if (!ParseU64(a.value(), &mf.size)) return err(at(f), "size must be a non-negative integer");
        have_size = true;
      } else {
        return err(at(f), "unknown attribute '" + n + "' on <file>");
      }
    }
    if (!IsPolicyFileName(mf.name)) return err(at(f), "bad or missing file name");
    if (!common::IsHexDigest(mf.sha256)) return err(at(f), "sha256 must be 64 lower-case hex digits");
    if (!have_size) return err(at(f), "<file> lacks 'size'");
    if (!names.insert(mf.name).second) return err(at(f), "file '" + mf.name + "' is listed twice");
    m.files.push_back(std::move(mf));
  }
  std::sort(m.files.begin(), m.files.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return m;
}

}  // namespace policy
