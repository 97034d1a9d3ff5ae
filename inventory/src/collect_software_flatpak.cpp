// Flatpak's system installation: every deployed app and runtime under
// /var/lib/flatpak/{app,runtime}/<id>/<arch>/<branch>/active. See
// collect_software.h and docs/inventory_software.md#flatpak.
#include <pugixml.hpp>

#include <string>
#include <vector>

#include "collect_software.h"

namespace inventory {
namespace {

// The metadata key file is a few hundred bytes; a metainfo file a few KiB,
// tens with many translations. The caps only stop a damaged or hostile file
// from costing memory: flatpak apps are third-party software, and their
// metainfo is written by the app's author.
constexpr uint64_t kMetadataCap = 64u << 10;
constexpr uint64_t kMetainfoCap = 1u << 20;

// The `name` key of the [Application] or [Runtime] group of a GKeyFile
// ("" when absent).
std::string MetadataName(const std::string& text, const std::string& group) {
  bool in_group = false;
  for (std::string_view line : Lines(text)) {
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '[') {
      in_group = line == "[" + group + "]";
      continue;
    }
    const size_t eq = line.find('=');
    if (in_group && eq != std::string_view::npos && Trim(line.substr(0, eq)) == "name") {
      return std::string(Trim(line.substr(eq + 1)));
    }
  }
  return "";
}

// The untranslated text of the first child `name` of `parent`.
std::string Untranslated(const pugi::xml_node& parent, const char* name) {
  for (pugi::xml_node n = parent.child(name); n; n = n.next_sibling(name)) {
    if (!n.attribute("xml:lang")) return std::string(Trim(n.text().get()));
  }
  return "";
}

// Version, summary and developer from the AppStream metainfo the app ships
// (files/share/metainfo/<id>.metainfo.xml, or the older .appdata.xml names).
// A missing file is normal (most runtimes have none); an unreadable or
// malformed one becomes a note and the package keeps what its path says.
//
// pugixml directly rather than common/xml.h: that reader is for our own
// attribute-only formats and refuses text content, which is where AppStream
// keeps everything. pugixml never loads external entities or a DTD, and the
// file is capped before it is parsed.
void ReadMetainfo(const Root& root, const std::string& files, const std::string& id, Package* pkg,
                  std::vector<std::string>* notes) {
  for (const std::string& rel : {files + "/share/metainfo/" + id + ".metainfo.xml",
                                 files + "/share/metainfo/" + id + ".appdata.xml",
                                 files + "/share/appdata/" + id + ".appdata.xml"}) {
    common::StatusOr<std::string> text = root.Read(rel, kMetainfoCap);
    if (text.status().code() == common::Code::kNotFound) continue;
    if (!text.ok()) {
      notes->push_back(DevicePath(rel) + ": " + Reason(text.status()));
      return;
    }
    pugi::xml_document doc;
    const pugi::xml_parse_result parsed = doc.load_buffer(text->data(), text->size(), pugi::parse_default);
    pugi::xml_node component = doc.child("component");
    if (!parsed || !component) {
      notes->push_back(DevicePath(rel) + ": not an AppStream document (" +
                       (parsed ? std::string("no <component>") : std::string(parsed.description())) + ")");
      return;
    }
    // AppStream lists releases newest first.
    const std::string version = component.child("releases").child("release").attribute("version").as_string();
    if (!version.empty()) pkg->version = version;
    pkg->summary = Untranslated(component, "summary");
    pkg->maintainer = Untranslated(component, "developer_name");
    if (pkg->maintainer.empty()) pkg->maintainer = Untranslated(component.child("developer"), "name");
    return;
  }
}

}  // namespace

SourceReport CollectFlatpak(const Root& root) {
  SourceReport report;
  const std::string base = "var/lib/flatpak";
  if (root.List(base).empty()) return report;
  report.found = true;
  report.database = DevicePath(base);
  for (const char* kind : {"app", "runtime"}) {
    const std::string group = std::string(kind) == "app" ? "Application" : "Runtime";
    const std::string kind_dir = base + "/" + kind;
    for (const std::string& id : root.List(kind_dir)) {
      for (const std::string& arch : root.List(kind_dir + "/" + id)) {
        // app/<id>/current is a link to the default <arch>/<branch>.
        if (arch == "current" || arch.front() == '.') continue;
        for (const std::string& branch : root.List(kind_dir + "/" + id + "/" + arch)) {
          // `active` links to the deployed commit; a branch without one is
          // being installed or removed.
          const std::string active = kind_dir + "/" + id + "/" + arch + "/" + branch + "/active";
          if (root.LinkTarget(active).empty()) continue;
          common::StatusOr<std::string> metadata = root.Read(active + "/metadata", kMetadataCap);
          if (!metadata.ok()) {
            report.notes.push_back(DevicePath(active + "/metadata") + ": " + Reason(metadata.status()) + "; " +
                                   id + " skipped");
            continue;
          }
          Package pkg;
          pkg.name = MetadataName(*metadata, group);
          if (pkg.name.empty()) {
            report.notes.push_back(DevicePath(active + "/metadata") + ": no name in [" + group + "]; " + id +
                                   " skipped");
            continue;
          }
          pkg.arch = arch;
          pkg.section = kind;
          // The branch ("stable", "23.08") stands in for the version until
          // the metainfo gives one: many runtimes ship none, and a package
          // is always reported with a version.
          pkg.version = branch;
          ReadMetainfo(root, active + "/files", pkg.name, &pkg, &report.notes);
          // flatpak writes `deploy` once, when it deploys the commit.
          pkg.installed_at = MtimeOf(root.Path(active + "/deploy"));
          report.packages.push_back(std::move(pkg));
        }
      }
    }
  }
  return report;
}

}  // namespace inventory
