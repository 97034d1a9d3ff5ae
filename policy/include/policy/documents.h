// The policy documents a client applies: policy.xml (what to collect),
// schedule.xml (when to act) and failover.xml (which beacons to talk to).
//
// This header is the document model only: plain structs with documented
// defaults, a strict parser and a canonical writer for each. Nothing here
// touches the network, the clock or the disk. Formats in
// docs/policy_format.md; complete commented examples in conf/policy/.
//
// Every parser is strict, through the one XML reader (common/xml.h, which
// lists what every document refuses): malformed XML, a root other than the
// expected one, a `version` other than "1", unknown elements or attributes, a
// repeated attribute or element, missing required attributes, bad values and
// impossible combinations are InvalidArgument "source:line:column: message",
// where line:column is the '<' of the offending element (for an attribute,
// of the element that carries it; for a bad character, that character).
// Comments are allowed; non-blank text, DTDs and processing instructions are
// not. ToXml writes a document its parser accepts and reads back equal
// (Parse(ToXml(x)) == x for every parsed x).
//
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace policy {

// ---------------------------------------------------------------- policy.xml

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// One file-evidence rule: files under any `include` folder, not under any
// `exclude` folder, whose base name matches any of `patterns`.
struct FileRule {
  std::vector<std::string> include;   // absolute paths ("/opt", "C:\\Program Files"); at least one
  std::vector<std::string> exclude;   // absolute paths; may be empty
  std::vector<std::string> patterns;  // globs on the base name ("*.exe"), no '/' or '\\'; at least one
  bool operator==(const FileRule&) const = default;
};

// An HTTP proxy for the client's requests. Credentials, when present, are
// sent as Basic auth; a password requires a username.
struct Proxy {
  std::string url;       // "http://host:port", port required, no path
  std::string username;  // "" = no credentials; never contains ':'
  std::string password;  // "" = none; a non-empty password requires a username
  bool operator==(const Proxy&) const = default;
};

// What the client collects and how it behaves (policy.xml).
struct ClientPolicy {
  bool hardware = true;                     // <inventory hardware=>
  bool software = true;                     // <inventory software=>
  // <inventory full-every=>: every Nth inventory is sent whole, the others
  // as deltas (only the parts that changed); 1 sends every one whole.
  int64_t inventory_full_every = 10;
  std::vector<FileRule> file_rules;         // <file-evidence>; empty = no file evidence
  bool usage_enabled = false;               // <usage enabled=>
  int64_t usage_sample_seconds = 300;       // <usage sample-interval=>, 1 s .. 1 d
  uint64_t max_upload_bytes = 64ull << 20;  // <upload max-size=>, 1 .. 2^62
  LogLevel log_level = LogLevel::kInfo;     // <log level=>
  std::optional<Proxy> proxy;               // <proxy>; absent = direct connections
  bool operator==(const ClientPolicy&) const = default;
};

common::StatusOr<ClientPolicy> ParsePolicyXml(const std::string& xml, const std::string& source);
std::string ToXml(const ClientPolicy& policy);

// -------------------------------------------------------------- schedule.xml

enum class EventKind { kPolicyCheck, kInventory, kUsageUpload, kLogUpload };
// What to do about runs missed while the client was off or asleep.
enum class CatchUp {
  kAlways,  // run once for every missed occurrence (coalesced by the runner)
  kNever,   // skip them; wait for the next occurrence
  kOnce,    // run once as soon as possible, however many were missed
};

// A daily window in local time, minutes after midnight; start < end, same day.
struct DailyWindow {
  int start_minute = 0;  // 0 .. 1438
  int end_minute = 0;    // start_minute+1 .. 1439
  bool operator==(const DailyWindow&) const = default;
};

// One scheduled event: exactly one of `interval_seconds` (> 0) and `window`.
struct ScheduleEvent {
  EventKind kind = EventKind::kPolicyCheck;
  int64_t interval_seconds = 0;       // 1 min .. 30 d, or 0 when `window` is set
  std::optional<DailyWindow> window;  // run once a day, at a point inside the window
  // Random delay added to each run so that devices do not all start at once:
  // 0 .. interval, or 0 .. the window's length.
  int64_t start_within_seconds = 0;
  CatchUp catch_up = CatchUp::kOnce;
  bool operator==(const ScheduleEvent&) const = default;
};

// When the client acts (schedule.xml). `events` is sorted by kind, each kind
// at most once, and always contains kPolicyCheck: without it a client could
// never learn a new schedule. An absent kind does not run.
struct Schedule {
  std::vector<ScheduleEvent> events;
  // The event of `kind`, or nullptr if it is not scheduled.
  const ScheduleEvent* Find(EventKind kind) const;
  bool operator==(const Schedule&) const = default;
};

common::StatusOr<Schedule> ParseScheduleXml(const std::string& xml, const std::string& source);
// The schedule.xml of a group other than the default (policy/targeting.h):
// it sets only some events, so it may leave out policy-check.
common::StatusOr<Schedule> ParseSchedulePartXml(const std::string& xml, const std::string& source);
std::string ToXml(const Schedule& schedule);

// -------------------------------------------------------------- failover.xml

// One beacon a client may report to. At most one of `site` and `subnet`.
struct FailoverBeacon {
  std::string url;     // "https://host[:port]", no path; unique (host compared case-insensitively, :443 implied)
  int priority = 0;    // 0 .. 65535; lower is tried first, ties in document order
  std::string site;    // "" or a token of 1..64 [A-Za-z0-9._-]
  std::string subnet;  // "" or CIDR, IPv4 or IPv6, host bits zero ("10.1.0.0/16", "fd00::/8")
  bool operator==(const FailoverBeacon&) const = default;
};

// Where the client reports (failover.xml): at least one beacon, in document order.
struct Failover {
  std::vector<FailoverBeacon> beacons;
  bool operator==(const Failover&) const = default;
};

common::StatusOr<Failover> ParseFailoverXml(const std::string& xml, const std::string& source);
std::string ToXml(const Failover& failover);

// ----------------------------------------------------------------- group.xml

// Who belongs to a targeting group (policy/targeting.h). A device is a member
// when any one rule matches it.
enum class MemberKind {
  kDevice,    // value: a device id (UUID, lower case)
  kHostname,  // value: a glob on the host name, case ignored
  kOs,        // value: a glob on the OS name ("Debian GNU/Linux 12 (bookworm)"), case ignored
  kSubnet,    // value: a CIDR block holding one of the device's addresses
  kEveryone,  // value: ""
};
struct MemberRule {
  MemberKind kind = MemberKind::kEveryone;
  std::string value;
  bool operator==(const MemberRule&) const = default;
};
struct GroupRules {
  int priority = 0;  // 1 .. 65535; lower wins, as in failover.xml; unique in a tree
  std::vector<MemberRule> rules;  // document order; empty = no members
  bool operator==(const GroupRules&) const = default;
};

common::StatusOr<GroupRules> ParseGroupXml(const std::string& xml, const std::string& source);

// ------------------------------------------------------------------ helpers

// True if `address` ("192.0.2.7", or "192.0.2.7/24" as inventories report
// it; the prefix is ignored) lies in the CIDR block `cidr`. False for
// anything malformed and across address families.
bool SubnetContains(const std::string& cidr, const std::string& address);

// Names as written in the documents ("warn", "usage-upload", "once").
const char* LogLevelName(LogLevel level);
const char* EventKindName(EventKind kind);
const char* CatchUpName(CatchUp catch_up);
const char* MemberKindName(MemberKind kind);

}  // namespace policy
