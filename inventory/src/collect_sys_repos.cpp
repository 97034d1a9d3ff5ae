// The "repositories" section (collect_sys.h): the package sources APT, yum /
// dnf and zypper are configured with, one item per (type, URI, suite).
// Formats: sources.list(5) one-line and deb822 forms, yum.conf(5) /
// zypper .repo ini files. Sources: docs/inventory_system.md.
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "collect_sys.h"

namespace inventory {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// What every form yields; `Add` turns it into an item.
struct Repo {
  std::string type;  // deb, deb-src, yum, zypp
  std::string uri;
  std::string suite;  // APT suite or codename; the repository id for yum/zypp
  std::vector<std::string> components;
  std::string file;  // "/etc/apt/sources.list"
  bool enabled = true;
  std::string signed_by;
  std::string name;      // yum/zypp only
  std::string gpgcheck;  // yum/zypp only, "true"/"false" as written, "" when absent
};

class Builder {
 public:
  explicit Builder(Section* section) : section_(section) {}

  void Add(const Repo& r, const std::string& where) {
    Item item = NewItem(r.type + " " + r.uri + " " + r.suite);
    if (!keys_.insert(item.key).second) {
      // APT warns and uses it once; the first place it is configured wins.
      section_->notes.push_back(where + ": '" + item.key + "' configured again, ignored");
      return;
    }
    item.Add("type", r.type);
    item.Add("uri", r.uri);
    item.Add("suite", r.suite);
    item.Add("components", JoinComma(r.components));
    item.Add("file", r.file);
    item.Add("enabled", r.enabled ? "true" : "false");
    item.Add("signed_by", r.signed_by);
    item.Add("name", r.name);
    item.Add("gpgcheck", r.gpgcheck);
    section_->items.push_back(std::move(item));
  }

  Section* Target() { return section_; }

 private:
  Section* section_;
  std::set<std::string> keys_;
};

std::string Where(const std::string& file, size_t line) {
  return file + ":" + std::to_string(line);
}

// sources.list(5) one-line form:
//   type [ option=value ... ] uri suite [component ...]
void ParseOneLine(const std::string& text, const std::string& file, Builder* out) {
  std::vector<std::string_view> lines = Lines(text);
  for (size_t n = 0; n < lines.size(); ++n) {
    std::string_view line = Trim(lines[n].substr(0, lines[n].find('#')));
    if (line.empty()) continue;
    Repo r;
    r.file = file;
    size_t space = line.find_first_of(" \t");
    r.type = std::string(line.substr(0, space));
    std::string_view rest = space == std::string_view::npos ? "" : Trim(line.substr(space));
    bool ok = r.type == "deb" || r.type == "deb-src";
    if (ok && !rest.empty() && rest.front() == '[') {
      size_t close = rest.find(']');
      ok = close != std::string_view::npos;
      if (ok) {
        for (std::string_view opt : Words(rest.substr(1, close - 1))) {
          if (StartsWith(opt, "signed-by=")) r.signed_by = std::string(opt.substr(10));
        }
        rest = Trim(rest.substr(close + 1));
      }
    }
    // The installer's "cdrom:[Debian GNU/Linux 12.5.0 _Bookworm_ ...]/" URI
    // has spaces inside its brackets: it ends at the first space after ']'.
    std::string_view cdrom;
    if (ok && StartsWith(rest, "cdrom:[")) {
      size_t close = rest.find(']');
      size_t end = close == std::string_view::npos ? close : rest.find_first_of(" \t", close);
      ok = end != std::string_view::npos;
      if (ok) {
        cdrom = rest.substr(0, end);
        rest = rest.substr(end);
      }
    }
    std::vector<std::string_view> w = Words(rest);
    if (!cdrom.empty()) w.insert(w.begin(), cdrom);
    if (!ok || w.size() < 2) {
      out->Target()->notes.push_back(
          Where(file, n + 1) + ": not 'deb|deb-src [options] uri suite [components]', skipped");
      continue;
    }
    r.uri = std::string(w[0]);
    r.suite = std::string(w[1]);
    for (size_t i = 2; i < w.size(); ++i) r.components.emplace_back(w[i]);
    out->Add(r, Where(file, n + 1));
  }
}

// deb822 form: stanzas of "Field: value" lines separated by blank lines,
// continuation lines start with a space or tab, '#' lines are comments,
// field names are case-insensitive. Several types, URIs and suites in one
// stanza make their product.
void ParseDeb822(const std::string& text, const std::string& file, Builder* out) {
  std::vector<std::string_view> lines = Lines(text);
  std::map<std::string, std::string> fields;
  std::string last;
  size_t start = 0;
  auto flush = [&](size_t end_line) {
    if (fields.empty()) return;
    std::vector<std::string_view> types = Words(fields["types"]);
    std::vector<std::string_view> uris = Words(fields["uris"]);
    std::vector<std::string_view> suites = Words(fields["suites"]);
    if (types.empty() || uris.empty() || suites.empty()) {
      out->Target()->notes.push_back(Where(file, start) + "-" + std::to_string(end_line) +
                                     ": stanza without Types, URIs or Suites, skipped");
      fields.clear();
      return;
    }
    Repo r;
    r.file = file;
    r.enabled = Lower(Trim(fields["enabled"])) != "no";
    for (std::string_view c : Words(fields["components"])) r.components.emplace_back(c);
    std::string signed_by(Trim(fields["signed-by"]));
    // An inline key (a multi-line value) is reported as such, not copied.
    r.signed_by = signed_by.find("BEGIN PGP") != std::string::npos ? "embedded key" : signed_by;
    for (std::string_view t : types) {
      for (std::string_view u : uris) {
        for (std::string_view s : suites) {
          r.type = std::string(t);
          r.uri = std::string(u);
          r.suite = std::string(s);
          out->Add(r, Where(file, start));
        }
      }
    }
    fields.clear();
  };
  for (size_t n = 0; n < lines.size(); ++n) {
    std::string_view line = lines[n];
    if (!line.empty() && line[0] == '#') continue;
    if (Trim(line).empty()) {
      flush(n);
      last.clear();
      continue;
    }
    if (fields.empty()) start = n + 1;
    if (line[0] == ' ' || line[0] == '\t') {
      if (!last.empty()) fields[last] += "\n" + std::string(Trim(line));
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      out->Target()->notes.push_back(Where(file, n + 1) + ": not 'Field: value', ignored");
      continue;
    }
    last = Lower(Trim(line.substr(0, colon)));
    fields[last] = std::string(Trim(line.substr(colon + 1)));
  }
  flush(lines.size());
}

std::string Flag(std::string_view v) {
  std::string l = Lower(Trim(v));
  if (l == "1" || l == "yes" || l == "true" || l == "on") return "true";
  if (l == "0" || l == "no" || l == "false" || l == "off") return "false";
  return {};
}

// yum.conf(5) / zypper .repo: "[id]" sections of key=value lines; a line
// starting with whitespace continues the previous value (several baseurls).
void ParseRepoIni(const std::string& text, const std::string& file, const std::string& type,
                  Builder* out) {
  std::vector<std::string_view> lines = Lines(text);
  std::string id;
  size_t id_line = 0;
  std::map<std::string, std::string> kv;
  std::string last;
  auto flush = [&] {
    if (id.empty()) return;
    Repo r;
    r.type = type;
    r.suite = id;
    r.file = file;
    for (const char* key : {"baseurl", "mirrorlist", "metalink"}) {
      std::string urls = kv[key];
      for (char& c : urls) c = c == ',' ? ' ' : c;
      std::vector<std::string_view> w = Words(urls);
      if (!w.empty()) {
        r.uri = std::string(w[0]);
        break;
      }
    }
    if (r.uri.empty()) {
      out->Target()->notes.push_back(Where(file, id_line) + ": [" + id +
                                     "] has no baseurl, mirrorlist or metalink, skipped");
      return;
    }
    r.enabled = Flag(kv["enabled"]) != "false";  // enabled unless it says not
    r.gpgcheck = Flag(kv["gpgcheck"]);
    r.signed_by = std::string(Trim(kv["gpgkey"]));
    r.name = kv["name"];
    out->Add(r, Where(file, id_line));
  };
  for (size_t n = 0; n < lines.size(); ++n) {
    std::string_view line = lines[n];
    std::string_view t = Trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      flush();
      id = std::string(Trim(t.substr(1, t.size() - 2)));
      id_line = n + 1;
      kv.clear();
      last.clear();
      continue;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !last.empty()) {
      kv[last] += " " + std::string(t);
      continue;
    }
    size_t eq = t.find('=');
    if (eq == std::string_view::npos || id.empty()) {
      out->Target()->notes.push_back(Where(file, n + 1) + ": not 'key=value' in a [repo], ignored");
      continue;
    }
    last = Lower(Trim(t.substr(0, eq)));
    kv[last] = std::string(Trim(t.substr(eq + 1)));
  }
  flush();
}

void ReadInto(const Root& root, const std::string& rel, Builder* out,
              void (*parse)(const std::string&, const std::string&, Builder*)) {
  if (std::optional<std::string> text = ReadOrNote(root, rel, out->Target())) {
    parse(*text, "/" + rel, out);
  }
}

}  // namespace

Section CollectRepositories(const Root& root) {
  Section section = NewSection("repositories");
  Builder out(&section);
  // APT reads sources.list, then sources.list.d in name order; only *.list
  // and *.sources are read (APT ignores .save, .disabled and the like).
  ReadInto(root, "etc/apt/sources.list", &out, ParseOneLine);
  for (const std::string& name : root.List("etc/apt/sources.list.d")) {
    std::string rel = "etc/apt/sources.list.d/" + name;
    if (EndsWith(name, ".list")) ReadInto(root, rel, &out, ParseOneLine);
    if (EndsWith(name, ".sources")) ReadInto(root, rel, &out, ParseDeb822);
  }
  for (const auto& [dir, type] : {std::pair<std::string, std::string>{"etc/yum.repos.d", "yum"},
                                  {"etc/zypp/repos.d", "zypp"}}) {
    for (const std::string& name : root.List(dir)) {
      if (!EndsWith(name, ".repo")) continue;
      std::string rel = dir + "/" + name;
      if (std::optional<std::string> text = ReadOrNote(root, rel, &section)) {
        ParseRepoIni(*text, "/" + rel, type, &out);
      }
    }
  }
  section.SortItems();
  return section;
}

}  // namespace inventory
