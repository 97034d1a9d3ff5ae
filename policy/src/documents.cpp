#include "policy/documents.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <set>
#include <sstream>

#include "common/config.h"
#include "common/uuid.h"
#include "common/xml.h"
#include "document_fields.h"

namespace policy {

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

using namespace fields;  // document_fields.h: the shared checks and readers

// ---------------------------------------------------------------- policy.xml

StatusOr<ClientPolicy> ParsePolicyXml(const std::string& xml, const std::string& source) {
  ASSIGN_OR_RETURN(Document doc, Document::Parse(xml, source, "policy"));
  Element root = doc.root();
  RETURN_IF_ERROR(root.Attributes({"version"}));
  RETURN_IF_ERROR(root.Expect("version", "1"));
  ASSIGN_OR_RETURN(auto sections,
                   root.UniqueChildren({"inventory", "file-evidence", "usage", "upload", "log", "proxy"}));
  ClientPolicy p;
  for (const Element& s : sections) {
    std::string_view name = s.name();
    if (name == "file-evidence") {
      RETURN_IF_ERROR(s.Attributes({}));
      ASSIGN_OR_RETURN(auto rules, s.Children({"rule"}));
      for (const Element& rule : rules) {
        FileRule fr;
        RETURN_IF_ERROR(ParseFileRule(rule, &fr));
        p.file_rules.push_back(std::move(fr));
      }
      continue;
    }
    RETURN_IF_ERROR(s.Children({}).status());
    if (name == "inventory") {
      RETURN_IF_ERROR(s.Attributes({}, {"hardware", "software", "full-every"}));
      RETURN_IF_ERROR(s.Bool("hardware", &p.hardware));
      RETURN_IF_ERROR(s.Bool("software", &p.software));
      RETURN_IF_ERROR(s.Decimal("full-every", &p.inventory_full_every, 1, 1000));
    } else if (name == "usage") {
      RETURN_IF_ERROR(s.Attributes({}, {"enabled", "sample-interval"}));
      RETURN_IF_ERROR(s.Bool("enabled", &p.usage_enabled));
      RETURN_IF_ERROR(ReadDuration(s, "sample-interval", 1, kDay, &p.usage_sample_seconds));
    } else if (name == "upload") {
      RETURN_IF_ERROR(s.Attributes({}, {"max-size"}));
      if (s.Has("max-size")) {
        auto b = common::ParseBytes(std::string(s.Value("max-size")));
        if (!b.ok()) return s.AttributeError("max-size", Where(s, "max-size") + b.status().message());
        if (*b == 0) return s.AttributeError("max-size", Where(s, "max-size") + "must be more than 0");
        p.max_upload_bytes = *b;
      }
    } else if (name == "log") {
      RETURN_IF_ERROR(s.Attributes({}, {"level"}));
      if (s.Has("level")) {
        std::string_view v = s.Value("level");
        bool found = false;
        for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
          if (v == LogLevelName(l)) {
            p.log_level = l;
            found = true;
          }
        }
        if (!found) return s.ValueError("level", "is not debug, info, warn or error");
      }
    } else {  // proxy
      RETURN_IF_ERROR(s.Attributes({"url"}, {"username", "password"}));
      Proxy proxy;
      proxy.url = s.Value("url");
      if (!UrlKey(proxy.url, "http", true, 0)) return s.ValueError("url", "is not http://host:port");
      RETURN_IF_ERROR(ReadText(s, "username", 255, &proxy.username));
      if (proxy.username.find(':') != std::string::npos) {
        return s.ValueError("username", "must not contain ':' (Basic authentication could not tell where it ends)");
      }
      RETURN_IF_ERROR(ReadText(s, "password", 255, &proxy.password));
      if (!proxy.password.empty() && proxy.username.empty()) {
        return s.Error("<proxy> has a 'password' but no 'username'");
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
  ASSIGN_OR_RETURN(Document doc, Document::Parse(xml, source, "schedule"));
  Element root = doc.root();
  RETURN_IF_ERROR(root.Attributes({"version"}));
  RETURN_IF_ERROR(root.Expect("version", "1"));
  ASSIGN_OR_RETURN(auto nodes, root.Children({"event"}));
  Schedule sched;
  for (const Element& n : nodes) {
    RETURN_IF_ERROR(n.Attributes({"name"}, {"interval", "window-start", "window-end", "start-within", "catch-up"}));
    RETURN_IF_ERROR(n.Children({}).status());
    ScheduleEvent e;
    const std::string name(n.Value("name"));
    bool found = false;
    for (EventKind k : {EventKind::kPolicyCheck, EventKind::kInventory, EventKind::kUsageUpload,
                        EventKind::kLogUpload}) {
      if (name == EventKindName(k)) {
        e.kind = k;
        found = true;
      }
    }
    if (!found) {
      return n.AttributeError("name", "unknown event '" + name +
                                          "' (expected policy-check, inventory, usage-upload or log-upload)");
    }
    if (sched.Find(e.kind) != nullptr) return n.Error("event '" + name + "' is listed twice");
    std::string what = "event '" + name + "': ";

    bool has_interval = n.Has("interval");
    bool has_start = n.Has("window-start"), has_end = n.Has("window-end");
    if (has_interval && (has_start || has_end)) return n.Error(what + "has both 'interval' and a window");
    if (!has_interval && !has_start && !has_end) {
      return n.Error(what + "needs 'interval' or 'window-start' and 'window-end'");
    }
    if (has_start != has_end) return n.Error(what + "a window needs both 'window-start' and 'window-end'");
    int64_t span = 0;
    if (has_interval) {
      RETURN_IF_ERROR(ReadDuration(n, "interval", kMinute, 30 * kDay, &e.interval_seconds));
      span = e.interval_seconds;
    } else {
      DailyWindow w;
      const std::string start(n.Value("window-start")), end(n.Value("window-end"));
      if (!ParseClock(start, &w.start_minute)) {
        return n.ValueError("window-start", "is not a time HH:MM (00:00 .. 23:59)");
      }
      if (!ParseClock(end, &w.end_minute)) return n.ValueError("window-end", "is not a time HH:MM (00:00 .. 23:59)");
      if (w.end_minute <= w.start_minute) {
        return n.Error(what + "the window ends at " + end + ", not after it starts at " + start +
                       " (windows lie within one day)");
      }
      e.window = w;
      span = int64_t{w.end_minute - w.start_minute} * kMinute;
    }
    RETURN_IF_ERROR(ReadDuration(n, "start-within", 0, 30 * kDay, &e.start_within_seconds));
    if (e.start_within_seconds > span) {
      return n.AttributeError("start-within", what + "'start-within' " + FormatDuration(e.start_within_seconds) +
                                                  " is longer than the " + (has_interval ? "interval " : "window ") +
                                                  FormatDuration(span));
    }
    if (n.Has("catch-up")) {
      std::string_view v = n.Value("catch-up");
      bool ok = false;
      for (CatchUp c : {CatchUp::kAlways, CatchUp::kNever, CatchUp::kOnce}) {
        if (v == CatchUpName(c)) {
          e.catch_up = c;
          ok = true;
        }
      }
      if (!ok) return n.ValueError("catch-up", "is not always, never or once");
    }
    sched.events.push_back(e);
  }
  if (!part && sched.Find(EventKind::kPolicyCheck) == nullptr) {
    return root.Error("<schedule> lacks the 'policy-check' event");
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
  ASSIGN_OR_RETURN(Document doc, Document::Parse(xml, source, "failover"));
  Element root = doc.root();
  RETURN_IF_ERROR(root.Attributes({"version"}));
  RETURN_IF_ERROR(root.Expect("version", "1"));
  ASSIGN_OR_RETURN(auto nodes, root.Children({"beacon"}));
  Failover f;
  std::set<std::string> keys;
  for (const Element& n : nodes) {
    RETURN_IF_ERROR(n.Attributes({"url", "priority"}, {"site", "subnet"}));
    RETURN_IF_ERROR(n.Children({}).status());
    FailoverBeacon b;
    b.url = n.Value("url");
    auto key = UrlKey(b.url, "https", false, 443);
    if (!key) return n.ValueError("url", "is not https://host[:port]");
    if (!keys.insert(*key).second) return n.Error("beacon '" + b.url + "' is listed twice");
    int64_t prio = 0;
    RETURN_IF_ERROR(n.Decimal("priority", &prio, 0, 65535));
    b.priority = static_cast<int>(prio);
    if (n.Has("site") && n.Has("subnet")) return n.Error("<beacon> has both 'site' and 'subnet'");
    RETURN_IF_ERROR(n.Token("site", &b.site));
    if (n.Has("subnet")) {
      b.subnet = n.Value("subnet");
      if (!IsCidr(b.subnet)) return n.ValueError("subnet", "is not a CIDR block (like 10.1.0.0/16 or fd00::/8)");
    }
    f.beacons.push_back(std::move(b));
  }
  if (f.beacons.empty()) return root.Error("<failover> lists no <beacon>");
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
  ASSIGN_OR_RETURN(Document doc, Document::Parse(xml, source, "group"));
  Element root = doc.root();
  RETURN_IF_ERROR(root.Attributes({"version", "priority"}));
  RETURN_IF_ERROR(root.Expect("version", "1"));
  GroupRules g;
  int64_t prio = 0;
  RETURN_IF_ERROR(root.Decimal("priority", &prio, 1, 65535));
  g.priority = static_cast<int>(prio);
  ASSIGN_OR_RETURN(auto nodes, root.Children({"device", "hostname", "os", "subnet", "everyone"}));
  for (const Element& n : nodes) {
    RETURN_IF_ERROR(n.Children({}).status());
    const std::string_view name = n.name();
    MemberRule rule;
    if (name == "everyone") {
      RETURN_IF_ERROR(n.Attributes({}));
      rule.kind = MemberKind::kEveryone;
    } else if (name == "device") {
      RETURN_IF_ERROR(n.Attributes({"id"}));
      rule.kind = MemberKind::kDevice;
      rule.value = n.Value("id");
      if (!common::IsUuid(rule.value)) return n.ValueError("id", "is not a device id (a lower-case UUID)");
    } else if (name == "subnet") {
      RETURN_IF_ERROR(n.Attributes({"cidr"}));
      rule.kind = MemberKind::kSubnet;
      rule.value = n.Value("cidr");
      if (!IsCidr(rule.value)) return n.ValueError("cidr", "is not a CIDR block (like 10.1.0.0/16 or fd00::/8)");
    } else {
      RETURN_IF_ERROR(n.Attributes({"glob"}));
      rule.kind = name == "hostname" ? MemberKind::kHostname : MemberKind::kOs;
      RETURN_IF_ERROR(ReadText(n, "glob", 255, &rule.value));
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

