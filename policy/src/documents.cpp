#include "policy/documents.h"

#include <arpa/inet.h>
#include <pugixml.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "common/config.h"
#include "common/text.h"
#include "common/uuid.h"
#include "policy/manifest.h"

namespace policy {

using common::InvalidArgument;
using common::Status;
using common::StatusOr;

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "?";
}

const char* EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kPolicyCheck: return "policy-check";
    case EventKind::kInventory: return "inventory";
    case EventKind::kUsageUpload: return "usage-upload";
    case EventKind::kLogUpload: return "log-upload";
  }
  return "?";
}

const char* CatchUpName(CatchUp catch_up) {
  switch (catch_up) {
    case CatchUp::kAlways: return "always";
    case CatchUp::kNever: return "never";
    case CatchUp::kOnce: return "once";
  }
  return "?";
}

const char* MemberKindName(MemberKind kind) {
  switch (kind) {
    case MemberKind::kDevice: return "device";
    case MemberKind::kHostname: return "hostname";
    case MemberKind::kOs: return "os";
    case MemberKind::kSubnet: return "subnet";
    case MemberKind::kEveryone: return "everyone";
  }
  return "?";
}

const ScheduleEvent* Schedule::Find(EventKind kind) const {
  for (const auto& e : events) {
    if (e.kind == kind) return &e;
  }
  return nullptr;
}

namespace {

using Attrs = std::map<std::string, std::string>;
using Node = pugi::xml_node;

constexpr int64_t kMinute = 60;
constexpr int64_t kDay = 86400;

// ------------------------------------------------------------ value checks

// A decimal without sign or leading zeros (so that every value has exactly
// one spelling), at most `max`.
bool ParseCanonicalInt(const std::string& s, int64_t max, int64_t* out) {
  if (s.size() > 1 && s[0] == '0') return false;
  return common::ParseDecimal(s, out, max);
}

// Free text (paths, globs, credentials): UTF-8 without control characters,
// which XML attribute normalisation would otherwise silently turn into spaces.
bool IsCleanText(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return false;
  }
  return common::IsValidUtf8(s);
}

// "/..." or a drive path "C:\..." / "C:/...".
bool IsAbsolutePath(const std::string& s) {
  if (!IsCleanText(s, 4096)) return false;
  if (s[0] == '/') return true;
  return s.size() >= 3 && std::isalpha(static_cast<unsigned char>(s[0])) && s[1] == ':' &&
         (s[2] == '\\' || s[2] == '/');
}

bool IsGlob(const std::string& s) {
  return IsCleanText(s, 255) && s.find_first_of("/\\") == std::string::npos;
}

bool IsToken(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

bool IsHostName(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  bool all_numeric = true;
  size_t start = 0;
  while (true) {
    size_t dot = h.find('.', start);
    std::string label = h.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
      if (!std::isdigit(static_cast<unsigned char>(c))) all_numeric = false;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  // "10.0.0.300" is neither a name nor an address.
  if (all_numeric) {
    in_addr a{};
    return inet_pton(AF_INET, h.c_str(), &a) == 1;
  }
  return true;
}

// scheme "://" host [":" port], nothing else. Returns "host:port" with the
// host lower-cased and the port made explicit, the identity used to find
// duplicates; nullopt if `url` is not of that form.
std::optional<std::string> UrlKey(const std::string& url, const std::string& scheme, bool port_required,
                                  int default_port) {
  std::string prefix = scheme + "://";
  if (url.size() > 2048 || url.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  std::string rest = url.substr(prefix.size());
  std::string host, port;
  bool has_port = false;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return std::nullopt;
    host = rest.substr(1, close - 1);
    in6_addr a{};
    if (inet_pton(AF_INET6, host.c_str(), &a) != 1) return std::nullopt;
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return std::nullopt;
    has_port = !rest.empty();
    if (has_port) port = rest.substr(1);
    host = "[" + host + "]";
  } else {
    size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (!IsHostName(host)) return std::nullopt;
    has_port = colon != std::string::npos;
    if (has_port) port = rest.substr(colon + 1);
  }
  if (port_required && !has_port) return std::nullopt;
  int64_t p = default_port;
  if (has_port && (!ParseCanonicalInt(port, 65535, &p) || p == 0)) return std::nullopt;
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return host + ":" + std::to_string(p);
}

// address "/" prefix, IPv4 or IPv6, with no bits set past the prefix.
struct Cidr {
  int family = AF_INET;
  std::array<unsigned char, 16> bytes{};
  size_t prefix = 0;
};

std::optional<Cidr> ParseCidr(const std::string& s) {
  size_t slash = s.find('/');
  if (slash == std::string::npos || s.size() > 64) return std::nullopt;
  std::string addr = s.substr(0, slash);
  Cidr c;
  bool v6 = addr.find(':') != std::string::npos;
  c.family = v6 ? AF_INET6 : AF_INET;
  if (inet_pton(c.family, addr.c_str(), c.bytes.data()) != 1) return std::nullopt;
  int64_t prefix = 0;
  if (!ParseCanonicalInt(s.substr(slash + 1), v6 ? 128 : 32, &prefix)) return std::nullopt;
  c.prefix = static_cast<size_t>(prefix);
  for (size_t bit = c.prefix; bit < (v6 ? 128u : 32u); ++bit) {
    if (c.bytes[bit / 8] & (0x80 >> (bit % 8))) return std::nullopt;
  }
  return c;
}

bool IsCidr(const std::string& s) { return ParseCidr(s).has_value(); }

// "HH:MM", 00:00 .. 23:59, as minutes after midnight.
bool ParseClock(const std::string& s, int* minutes) {
  if (s.size() != 5 || s[2] != ':') return false;
  for (size_t i : {0, 1, 3, 4}) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return false;
  *minutes = h * 60 + m;
  return true;
}

// ------------------------------------------------------------- formatting

std::string FormatDuration(int64_t s) {
  if (s == 0) return "0s";
  if (s % kDay == 0) return std::to_string(s / kDay) + "d";
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % kMinute == 0) return std::to_string(s / kMinute) + "m";
  return std::to_string(s) + "s";
}

std::string FormatBytes(uint64_t b) {
  if (b != 0 && b % (1ull << 30) == 0) return std::to_string(b >> 30) + "G";
  if (b != 0 && b % (1ull << 20) == 0) return std::to_string(b >> 20) + "M";
  if (b != 0 && b % (1ull << 10) == 0) return std::to_string(b >> 10) + "K";
  return std::to_string(b);
}

std::string FormatClock(int minutes) {
  std::string out = "00:00";
  out[0] = static_cast<char>('0' + minutes / 600);
  out[1] = static_cast<char>('0' + minutes / 60 % 10);
  out[3] = static_cast<char>('0' + minutes % 60 / 10);
  out[4] = static_cast<char>('0' + minutes % 10);
  return out;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

const char* Bool(bool b) { return b ? "true" : "false"; }

// ----------------------------------------------------------------- reading

// The shared strict reader: positions, attribute sets and children.
class Reader {
 public:
  Reader(const std::string& xml, const std::string& source) : xml_(xml), source_(source) {}

  Status ErrorAt(ptrdiff_t offset, const std::string& msg) const {
    int line = 0, col = 0;
    LineColumn(xml_, offset < 0 ? 0 : static_cast<size_t>(offset), &line, &col);
    return InvalidArgument(source_ + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + msg);
  }
  // Element offsets point at the name; report the '<' before it.
  Status Error(const Node& n, const std::string& msg) const {
    ptrdiff_t off = n.offset_debug();
    if (n.type() == pugi::node_element && off > 0) --off;
    return ErrorAt(off, msg);
  }

  // Parses the text and returns its one root element, named `root_name`,
  // with version="1" (its other attributes are left to the caller).
  StatusOr<Node> Load(pugi::xml_document* doc, const std::string& root_name) const {
    pugi::xml_parse_result pr =
        doc->load_buffer(xml_.data(), xml_.size(), pugi::parse_default, pugi::encoding_utf8);
    if (!pr) return ErrorAt(pr.offset, std::string("not well-formed XML: ") + pr.description());
    Node root;
    for (Node n : doc->children()) {
      if (n.type() != pugi::node_element) return Error(n, "text outside the root element");
      if (root) return Error(n, "a second root element <" + std::string(n.name()) + ">");
      root = n;
    }
    if (!root) return ErrorAt(0, "no root element; expected <" + root_name + ">");
    if (root.name() != root_name) return Error(root, "root element must be <" + root_name + ">");
    return root;
  }

  // The attributes of `n`, each one of `allowed` and none repeated.
  StatusOr<Attrs> Attributes(const Node& n, std::initializer_list<const char*> allowed) const {
    Attrs out;
    for (pugi::xml_attribute a : n.attributes()) {
      std::string name = a.name();
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* k) { return name == k; })) {
        return Error(n, "unknown attribute '" + name + "' on <" + n.name() + ">");
      }
      if (!out.emplace(name, a.value()).second) {
        return Error(n, "attribute '" + name + "' is repeated on <" + n.name() + ">");
      }
    }
    return out;
  }

  // The child elements of `n`, each one of `allowed`; text is an error.
  StatusOr<std::vector<Node>> Children(const Node& n, std::initializer_list<const char*> allowed) const {
    std::vector<Node> out;
    for (Node c : n.children()) {
      if (c.type() != pugi::node_element) return Error(c, "unexpected text in <" + std::string(n.name()) + ">");
      std::string name = c.name();
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* k) { return name == k; })) {
        return Error(c, "unknown element <" + name + "> in <" + n.name() + ">");
      }
      out.push_back(c);
    }
    return out;
  }

  // The root's attributes: exactly version="1".
  Status CheckVersion(const Node& root) const {
    ASSIGN_OR_RETURN(Attrs attrs, Attributes(root, {"version"}));
    auto v = attrs.find("version");
    if (v == attrs.end()) return Error(root, "<" + std::string(root.name()) + "> lacks 'version'");
    if (v->second != "1") return Error(root, "unsupported version '" + v->second + "' (expected 1)");
    return Status::Ok();
  }

  Status Bool(const Node& n, const Attrs& attrs, const std::string& key, bool* out) const {
    auto it = attrs.find(key);
    if (it == attrs.end()) return Status::Ok();
    if (it->second == "true") *out = true;
    else if (it->second == "false") *out = false;
    else return Error(n, Where(n, key) + "'" + it->second + "' is not true or false");
    return Status::Ok();
  }

  Status Duration(const Node& n, const Attrs& attrs, const std::string& key, int64_t min, int64_t max,
                  int64_t* out) const {
    auto it = attrs.find(key);
    if (it == attrs.end()) return Status::Ok();
    auto d = common::ParseDuration(it->second);
    if (!d.ok()) return Error(n, Where(n, key) + d.status().message());
    if (*d < min || *d > max) {
      return Error(n, Where(n, key) + "'" + it->second + "' is outside " + FormatDuration(min) + " .. " +
                          FormatDuration(max));
    }
    *out = *d;
    return Status::Ok();
  }

  static std::string Where(const Node& n, const std::string& key) {
    return "<" + std::string(n.name()) + "> '" + key + "': ";
  }

 private:
  const std::string& xml_;
  const std::string& source_;
};

std::string Get(const Attrs& attrs, const std::string& key) {
  auto it = attrs.find(key);
  return it == attrs.end() ? std::string() : it->second;
}

Status ParseFileRule(const Reader& r, const Node& rule, FileRule* out) {
  RETURN_IF_ERROR(r.Attributes(rule, {}).status());
  ASSIGN_OR_RETURN(auto children, r.Children(rule, {"include", "exclude", "pattern"}));
  for (const Node& c : children) {
    std::string name = c.name();
    bool is_pattern = name == "pattern";
    const char* key = is_pattern ? "glob" : "path";
    ASSIGN_OR_RETURN(Attrs attrs, r.Attributes(c, {key}));
    RETURN_IF_ERROR(r.Children(c, {}).status());
    auto it = attrs.find(key);
    if (it == attrs.end()) return r.Error(c, "<" + name + "> lacks '" + key + "'");
    if (is_pattern) {
      if (!IsGlob(it->second)) return r.Error(c, "<pattern> 'glob' must be 1..255 characters without '/', '\\' or control characters");
      out->patterns.push_back(it->second);
    } else {
      if (!IsAbsolutePath(it->second)) return r.Error(c, "<" + name + "> 'path' must be an absolute path");
      (name == "include" ? out->include : out->exclude).push_back(it->second);
    }
  }
  if (out->include.empty()) return r.Error(rule, "<rule> needs at least one <include>");
  if (out->patterns.empty()) return r.Error(rule, "<rule> needs at least one <pattern>");
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------- policy.xml

StatusOr<ClientPolicy> ParsePolicyXml(const std::string& xml, const std::string& source) {
  Reader r(xml, source);
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(Node root, r.Load(&doc, "policy"));
  RETURN_IF_ERROR(r.CheckVersion(root));
  ASSIGN_OR_RETURN(auto sections,
                   r.Children(root, {"inventory", "file-evidence", "usage", "upload", "log", "proxy"}));
  ClientPolicy p;
  std::set<std::string> seen;
  for (const Node& s : sections) {
    std::string name = s.name();
    if (!seen.insert(name).second) return r.Error(s, "<" + name + "> is given twice");
    if (name == "file-evidence") {
      RETURN_IF_ERROR(r.Attributes(s, {}).status());
      ASSIGN_OR_RETURN(auto rules, r.Children(s, {"rule"}));
      for (const Node& rule : rules) {
        FileRule fr;
        RETURN_IF_ERROR(ParseFileRule(r, rule, &fr));
        p.file_rules.push_back(std::move(fr));
      }
      continue;
    }
    RETURN_IF_ERROR(r.Children(s, {}).status());
    if (name == "inventory") {
      ASSIGN_OR_RETURN(Attrs a, r.Attributes(s, {"hardware", "software"}));
      RETURN_IF_ERROR(r.Bool(s, a, "hardware", &p.hardware));
      RETURN_IF_ERROR(r.Bool(s, a, "software", &p.software));
    } else if (name == "usage") {
      ASSIGN_OR_RETURN(Attrs a, r.Attributes(s, {"enabled", "sample-interval"}));
      RETURN_IF_ERROR(r.Bool(s, a, "enabled", &p.usage_enabled));
      RETURN_IF_ERROR(r.Duration(s, a, "sample-interval", 1, kDay, &p.usage_sample_seconds));
    } else if (name == "upload") {
      ASSIGN_OR_RETURN(Attrs a, r.Attributes(s, {"max-size"}));
      if (a.count("max-size") != 0) {
        auto b = common::ParseBytes(a["max-size"]);
        if (!b.ok()) return r.Error(s, Reader::Where(s, "max-size") + b.status().message());
        if (*b == 0) return r.Error(s, Reader::Where(s, "max-size") + "must be more than 0");
        p.max_upload_bytes = *b;
      }
    } else if (name == "log") {
      ASSIGN_OR_RETURN(Attrs a, r.Attributes(s, {"level"}));
      if (a.count("level") != 0) {
        const std::string& v = a["level"];
        bool found = false;
        for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
          if (v == LogLevelName(l)) {
            p.log_level = l;
            found = true;
          }
        }
        if (!found) return r.Error(s, "<log> 'level': '" + v + "' is not debug, info, warn or error");
      }
    } else {  // proxy
      ASSIGN_OR_RETURN(Attrs a, r.Attributes(s, {"url", "username", "password"}));
      Proxy proxy;
      if (a.count("url") == 0) return r.Error(s, "<proxy> lacks 'url'");
      proxy.url = a["url"];
      if (!UrlKey(proxy.url, "http", true, 0)) {
        return r.Error(s, "<proxy> 'url': '" + proxy.url + "' is not http://host:port");
      }
      proxy.username = Get(a, "username");
      proxy.password = Get(a, "password");
      if (a.count("username") != 0 && (!IsCleanText(proxy.username, 255) || proxy.username.find(':') != std::string::npos)) {
        return r.Error(s, "<proxy> 'username' must be 1..255 characters without ':' or control characters");
      }
      if (a.count("password") != 0 && !IsCleanText(proxy.password, 255)) {
        return r.Error(s, "<proxy> 'password' must be 1..255 characters without control characters");
      }
      if (!proxy.password.empty() && proxy.username.empty()) {
        return r.Error(s, "<proxy> has a 'password' but no 'username'");
      }
      p.proxy = std::move(proxy);
    }
  }
  return p;
}

std::string ToXml(const ClientPolicy& p) {
  std::ostringstream out;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<policy version=\"1\">\n"
      << "  <inventory hardware=\"" << Bool(p.hardware) << "\" software=\"" << Bool(p.software) << "\"/>\n";
  if (!p.file_rules.empty()) {
    out << "  <file-evidence>\n";
    for (const auto& rule : p.file_rules) {
      out << "    <rule>\n";
      for (const auto& path : rule.include) out << "      <include path=\"" << Escape(path) << "\"/>\n";
      for (const auto& path : rule.exclude) out << "      <exclude path=\"" << Escape(path) << "\"/>\n";
      for (const auto& glob : rule.patterns) out << "      <pattern glob=\"" << Escape(glob) << "\"/>\n";
      out << "    </rule>\n";
    }
    out << "  </file-evidence>\n";
  }
  out << "  <usage enabled=\"" << Bool(p.usage_enabled) << "\" sample-interval=\""
      << FormatDuration(p.usage_sample_seconds) << "\"/>\n"
      << "  <upload max-size=\"" << FormatBytes(p.max_upload_bytes) << "\"/>\n"
      << "  <log level=\"" << LogLevelName(p.log_level) << "\"/>\n";
  if (p.proxy) {
    out << "  <proxy url=\"" << Escape(p.proxy->url) << "\"";
    if (!p.proxy->username.empty()) out << " username=\"" << Escape(p.proxy->username) << "\"";
    if (!p.proxy->password.empty()) out << " password=\"" << Escape(p.proxy->password) << "\"";
    out << "/>\n";
  }
  out << "</policy>\n";
  return out.str();
}

// -------------------------------------------------------------- schedule.xml

namespace {

StatusOr<Schedule> ParseSchedule(const std::string& xml, const std::string& source, bool part) {
  Reader r(xml, source);
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(Node root, r.Load(&doc, "schedule"));
  RETURN_IF_ERROR(r.CheckVersion(root));
  ASSIGN_OR_RETURN(auto nodes, r.Children(root, {"event"}));
  Schedule sched;
  for (const Node& n : nodes) {
    ASSIGN_OR_RETURN(Attrs a, r.Attributes(n, {"name", "interval", "window-start", "window-end",
                                                 "start-within", "catch-up"}));
    RETURN_IF_ERROR(r.Children(n, {}).status());
    ScheduleEvent e;
    if (a.count("name") == 0) return r.Error(n, "<event> lacks 'name'");
    const std::string& name = a["name"];
    bool found = false;
    for (EventKind k : {EventKind::kPolicyCheck, EventKind::kInventory, EventKind::kUsageUpload,
                        EventKind::kLogUpload}) {
      if (name == EventKindName(k)) {
        e.kind = k;
        found = true;
      }
    }
    if (!found) {
      return r.Error(n, "unknown event '" + name + "' (expected policy-check, inventory, usage-upload or log-upload)");
    }
    if (sched.Find(e.kind) != nullptr) return r.Error(n, "event '" + name + "' is listed twice");
    std::string what = "event '" + name + "': ";

    bool has_interval = a.count("interval") != 0;
    bool has_start = a.count("window-start") != 0, has_end = a.count("window-end") != 0;
    if (has_interval && (has_start || has_end)) return r.Error(n, what + "has both 'interval' and a window");
    if (!has_interval && !has_start && !has_end) {
      return r.Error(n, what + "needs 'interval' or 'window-start' and 'window-end'");
    }
    if (has_start != has_end) return r.Error(n, what + "a window needs both 'window-start' and 'window-end'");
    int64_t span = 0;
    if (has_interval) {
      RETURN_IF_ERROR(r.Duration(n, a, "interval", kMinute, 30 * kDay, &e.interval_seconds));
      span = e.interval_seconds;
    } else {
      DailyWindow w;
      if (!ParseClock(a["window-start"], &w.start_minute)) {
        return r.Error(n, what + "'window-start': '" + a["window-start"] + "' is not a time HH:MM (00:00 .. 23:59)");
      }
      if (!ParseClock(a["window-end"], &w.end_minute)) {
        return r.Error(n, what + "'window-end': '" + a["window-end"] + "' is not a time HH:MM (00:00 .. 23:59)");
      }
      if (w.end_minute <= w.start_minute) {
        return r.Error(n, what + "the window ends at " + a["window-end"] + ", not after it starts at " +
                              a["window-start"] + " (windows lie within one day)");
      }
      e.window = w;
      span = int64_t{w.end_minute - w.start_minute} * kMinute;
    }
    RETURN_IF_ERROR(r.Duration(n, a, "start-within", 0, 30 * kDay, &e.start_within_seconds));
    if (e.start_within_seconds > span) {
      return r.Error(n, what + "'start-within' " + FormatDuration(e.start_within_seconds) + " is longer than the " +
                            (has_interval ? "interval " : "window ") + FormatDuration(span));
    }
    if (a.count("catch-up") != 0) {
      const std::string& v = a["catch-up"];
      bool ok = false;
      for (CatchUp c : {CatchUp::kAlways, CatchUp::kNever, CatchUp::kOnce}) {
        if (v == CatchUpName(c)) {
          e.catch_up = c;
          ok = true;
        }
      }
      if (!ok) return r.Error(n, what + "'catch-up': '" + v + "' is not always, never or once");
    }
    sched.events.push_back(e);
  }
  if (!part && sched.Find(EventKind::kPolicyCheck) == nullptr) {
    return r.Error(root, "<schedule> lacks the 'policy-check' event");
  }
  std::sort(sched.events.begin(), sched.events.end(),
            [](const auto& x, const auto& y) { return x.kind < y.kind; });
  return sched;
}

}  // namespace

StatusOr<Schedule> ParseScheduleXml(const std::string& xml, const std::string& source) {
  return ParseSchedule(xml, source, /*part=*/false);
}

StatusOr<Schedule> ParseSchedulePartXml(const std::string& xml, const std::string& source) {
  return ParseSchedule(xml, source, /*part=*/true);
}

std::string ToXml(const Schedule& s) {
  std::ostringstream out;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<schedule version=\"1\">\n";
  for (const auto& e : s.events) {
    out << "  <event name=\"" << EventKindName(e.kind) << "\"";
    if (e.window) {
      out << " window-start=\"" << FormatClock(e.window->start_minute) << "\" window-end=\""
          << FormatClock(e.window->end_minute) << "\"";
    } else {
      out << " interval=\"" << FormatDuration(e.interval_seconds) << "\"";
    }
    out << " start-within=\"" << FormatDuration(e.start_within_seconds) << "\" catch-up=\""
        << CatchUpName(e.catch_up) << "\"/>\n";
  }
  out << "</schedule>\n";
  return out.str();
}

// -------------------------------------------------------------- failover.xml

StatusOr<Failover> ParseFailoverXml(const std::string& xml, const std::string& source) {
  Reader r(xml, source);
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(Node root, r.Load(&doc, "failover"));
  RETURN_IF_ERROR(r.CheckVersion(root));
  ASSIGN_OR_RETURN(auto nodes, r.Children(root, {"beacon"}));
  Failover f;
  std::set<std::string> keys;
  for (const Node& n : nodes) {
    ASSIGN_OR_RETURN(Attrs a, r.Attributes(n, {"url", "priority", "site", "subnet"}));
    RETURN_IF_ERROR(r.Children(n, {}).status());
    FailoverBeacon b;
    if (a.count("url") == 0) return r.Error(n, "<beacon> lacks 'url'");
    if (a.count("priority") == 0) return r.Error(n, "<beacon> lacks 'priority'");
    b.url = a["url"];
    auto key = UrlKey(b.url, "https", false, 443);
    if (!key) return r.Error(n, "<beacon> 'url': '" + b.url + "' is not https://host[:port]");
    if (!keys.insert(*key).second) return r.Error(n, "beacon '" + b.url + "' is listed twice");
    int64_t prio = 0;
    if (!ParseCanonicalInt(a["priority"], 65535, &prio)) {
      return r.Error(n, "<beacon> 'priority': '" + a["priority"] + "' is not an integer 0 .. 65535");
    }
    b.priority = static_cast<int>(prio);
    if (a.count("site") != 0 && a.count("subnet") != 0) return r.Error(n, "<beacon> has both 'site' and 'subnet'");
    if (a.count("site") != 0) {
      b.site = a["site"];
      if (!IsToken(b.site)) return r.Error(n, "<beacon> 'site': '" + b.site + "' is not 1..64 of [A-Za-z0-9._-]");
    }
    if (a.count("subnet") != 0) {
      b.subnet = a["subnet"];
      if (!IsCidr(b.subnet)) {
        return r.Error(n, "<beacon> 'subnet': '" + b.subnet + "' is not a CIDR block (like 10.1.0.0/16 or fd00::/8)");
      }
    }
    f.beacons.push_back(std::move(b));
  }
  if (f.beacons.empty()) return r.Error(root, "<failover> lists no <beacon>");
  return f;
}

std::string ToXml(const Failover& f) {
  std::ostringstream out;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<failover version=\"1\">\n";
  for (const auto& b : f.beacons) {
    // Urls, sites and subnets are validated to characters that need no escaping.
    out << "  <beacon url=\"" << b.url << "\" priority=\"" << b.priority << "\"";
    if (!b.site.empty()) out << " site=\"" << b.site << "\"";
    if (!b.subnet.empty()) out << " subnet=\"" << b.subnet << "\"";
    out << "/>\n";
  }
  out << "</failover>\n";
  return out.str();
}

// ----------------------------------------------------------------- group.xml

StatusOr<GroupRules> ParseGroupXml(const std::string& xml, const std::string& source) {
  Reader r(xml, source);
  pugi::xml_document doc;
  ASSIGN_OR_RETURN(Node root, r.Load(&doc, "group"));
  ASSIGN_OR_RETURN(Attrs ra, r.Attributes(root, {"version", "priority"}));
  if (ra.count("version") == 0) return r.Error(root, "<group> lacks 'version'");
  if (ra["version"] != "1") return r.Error(root, "unsupported version '" + ra["version"] + "' (expected 1)");
  GroupRules g;
  int64_t prio = 0;
  if (ra.count("priority") == 0) return r.Error(root, "<group> lacks 'priority'");
  if (!ParseCanonicalInt(ra["priority"], 65535, &prio) || prio == 0) {
    return r.Error(root, "<group> 'priority': '" + ra["priority"] + "' is not an integer 1 .. 65535");
  }
  g.priority = static_cast<int>(prio);
  ASSIGN_OR_RETURN(auto nodes, r.Children(root, {"device", "hostname", "os", "subnet", "everyone"}));
  for (const Node& n : nodes) {
    RETURN_IF_ERROR(r.Children(n, {}).status());
    const std::string name = n.name();
    MemberRule rule;
    if (name == "everyone") {
      RETURN_IF_ERROR(r.Attributes(n, {}).status());
      rule.kind = MemberKind::kEveryone;
    } else if (name == "device") {
      ASSIGN_OR_RETURN(Attrs a, r.Attributes(n, {"id"}));
      rule.kind = MemberKind::kDevice;
      rule.value = a["id"];
      if (!common::IsUuid(rule.value)) {
        return r.Error(n, "<device> 'id': '" + rule.value + "' is not a device id (a lower-case UUID)");
      }
    } else if (name == "subnet") {
      ASSIGN_OR_RETURN(Attrs a, r.Attributes(n, {"cidr"}));
      rule.kind = MemberKind::kSubnet;
      rule.value = a["cidr"];
      if (!IsCidr(rule.value)) {
        return r.Error(n, "<subnet> 'cidr': '" + rule.value + "' is not a CIDR block (like 10.1.0.0/16 or fd00::/8)");
      }
    } else {
      ASSIGN_OR_RETURN(Attrs a, r.Attributes(n, {"glob"}));
      rule.kind = name == "hostname" ? MemberKind::kHostname : MemberKind::kOs;
      rule.value = a["glob"];
      if (!IsCleanText(rule.value, 255)) {
        return r.Error(n, "<" + name + "> 'glob' must be 1..255 characters without control characters");
      }
    }
    g.rules.push_back(std::move(rule));
  }
  return g;
}

bool SubnetContains(const std::string& cidr, const std::string& address) {
  auto net = ParseCidr(cidr);
  if (!net) return false;
  std::string host = address.substr(0, address.find('/'));
  std::array<unsigned char, 16> have{};
  if (inet_pton(net->family, host.c_str(), have.data()) != 1) return false;
  for (size_t bit = 0; bit < net->prefix; ++bit) {
    if ((have[bit / 8] ^ net->bytes[bit / 8]) & (0x80 >> (bit % 8))) return false;
  }
  return true;
}

}  // namespace policy
