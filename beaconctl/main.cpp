// beaconctl: the administrator's command line on the central.
//
// devices and software read the store; they open it read-only, so beaconctl
// can run beside the importer (WAL lets readers and the one writer proceed
// without blocking each other) and can never change what is stored. policy
// edits, validates and publishes policy (policy_cmd.h). Exit codes: 0
// success, 1 runtime error (or a refused edit or publish), 2 usage error.
//
// Everything printed from the store was reported by devices and is therefore
// untrusted; control characters are replaced before they reach a terminal.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "inventory/store.h"
#include "common/text.h"
#include "policy_cmd.h"
#include "table.h"

#ifndef BEACON_VERSION
#define BEACON_VERSION "0.0.0-dev"  // standalone builds outside CMake
#endif

namespace {

using beaconctl::FormatTime;
using beaconctl::OrDash;
using beaconctl::PrintTable;

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

constexpr char kDefaultDataDir[] = "/var/lib/beacon";

constexpr char kUsage[] =
    "usage: beaconctl [--data-dir DIR | --store FILE] [--policy-dir DIR] COMMAND\n"
    "\n"
    "The administrator's command line on the central beacon.\n"
    "\n"
    "commands:\n"
    "  devices                  list devices, sorted by hostname\n"
    "  software DEVICE_ID       list the packages installed on one device\n"
    "  software --match PATTERN list packages whose name matches PATTERN on any device;\n"
    "                           '*' matches any run of characters, '?' one character,\n"
    "                           case is ignored (quote the pattern in the shell)\n"
    "  usage [DEVICE_ID]        programs by running time (from usage sampling), on\n"
    "                           every device or one\n"
    "  files DEVICE_ID          list the file evidence of one device (policy.xml\n"
    "                           <file-evidence>): path, size, modified, SHA-256\n"
    "  policy validate [FOLDER] check a policy folder as publishing will\n"
    "  policy edit GROUP [FILE...]\n"
    "                           edit a group's files in $VISUAL or $EDITOR (default: all\n"
    "                           its files); an invalid result is refused and nothing\n"
    "                           changes; an emptied file is removed\n"
    "  policy publish [-m MESSAGE]\n"
    "                           publish the policy folder as the next revision\n"
    "  policy history           list published revisions\n"
    "  policy diff REV REV      show what changed between two revisions\n"
    "  policy rollback REV [-m MESSAGE]\n"
    "                           publish revision REV's files again as a new revision\n"
    "  policy resolve DEVICE_ID show a device's effective policy and which group gave\n"
    "                           each part\n"
    "\n"
    "options:\n"
    "  --data-dir DIR   the central's data directory (default /var/lib/beacon): the store\n"
    "                   is DIR/store.sqlite, published revisions DIR/policy-state\n"
    "  --store FILE     the store file itself\n"
    "  --policy-dir DIR the policy folder (default DATA_DIR/policy)\n"
    "  --help           show this help\n"
    "  --version        show the version\n";

struct Options {
  std::string store_path;
  std::string data_dir;
  std::string policy_dir;
  std::string command;               // "devices", "software", "files", "usage" or "policy"
  std::vector<std::string> operands;  // after the command
};

// Either a request to print help or the version, valid Options, or a usage
// error message for stderr.
struct ParseResult {
  bool ok = false;
  bool help = false;
  bool version = false;
  std::string error;
  Options options;
};

// Accepts "--name VALUE" and "--name=VALUE"; returns false if `arg` is not
// this option. Sets *missing when the value is absent.
bool TakeValue(std::string_view name, const std::vector<std::string>& args, size_t* i,
               std::string* value, bool* missing) {
  const std::string& arg = args[*i];
  if (arg == name) {
    if (*i + 1 >= args.size()) {
      *missing = true;
      return true;
    }
    *value = args[++*i];
    return true;
  }
  if (arg.size() > name.size() && arg.compare(0, name.size(), name) == 0 &&
      arg[name.size()] == '=') {
    *value = arg.substr(name.size() + 1);
    return true;
  }
  return false;
}

ParseResult UsageError(std::string message) {
  ParseResult r;
  r.error = std::move(message);
  return r;
}

ParseResult ParseArgs(const std::vector<std::string>& args) {
  ParseResult r;
  std::string data_dir, store, policy_dir;
  bool have_data_dir = false, have_store = false;
  size_t i = 0;
  // Global options come before the command; the command owns the rest.
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    bool missing = false;
    if (arg == "--help" || arg == "-h") {
      r.help = true;
      r.ok = true;
      return r;
    }
    if (arg == "--version") {
      r.version = true;
      r.ok = true;
      return r;
    }
    if (TakeValue("--data-dir", args, &i, &data_dir, &missing)) {
      if (missing) return UsageError("--data-dir needs a directory");
      have_data_dir = true;
      continue;
    }
    if (TakeValue("--store", args, &i, &store, &missing)) {
      if (missing) return UsageError("--store needs a file");
      have_store = true;
      continue;
    }
    if (TakeValue("--policy-dir", args, &i, &policy_dir, &missing)) {
      if (missing || policy_dir.empty()) return UsageError("--policy-dir needs a directory");
      continue;
    }
    if (arg == "--") {
      ++i;
      break;
    }
    if (!arg.empty() && arg[0] == '-') return UsageError("unknown option '" + arg + "'");
    break;
  }
  if (have_data_dir && have_store) return UsageError("give --data-dir or --store, not both");
  if ((have_data_dir && data_dir.empty()) || (have_store && store.empty())) {
    return UsageError("empty path");
  }
  if (i >= args.size()) return UsageError("no command given");

  Options& o = r.options;
  o.store_path = have_store ? store : (have_data_dir ? data_dir : kDefaultDataDir) +
                                          std::string("/store.sqlite");
  o.data_dir = have_data_dir ? data_dir : kDefaultDataDir;
  o.policy_dir = policy_dir.empty() ? o.data_dir + "/policy" : policy_dir;
  o.command = args[i++];
  o.operands.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());

  if (o.command == "devices") {
    if (!o.operands.empty()) return UsageError("devices takes no arguments");
  } else if (o.command == "software") {
    const auto& ops = o.operands;
    const bool by_device = ops.size() == 1 && ops[0] != "--match" && !ops[0].empty() &&
                           ops[0][0] != '-';
    const bool by_match = ops.size() == 2 && ops[0] == "--match";
    if (!by_device && !by_match) {
      return UsageError("software needs DEVICE_ID or --match PATTERN");
    }
  } else if (o.command == "usage") {
    if (o.operands.size() > 1 || (o.operands.size() == 1 && (o.operands[0].empty() || o.operands[0][0] == '-'))) {
      return UsageError("usage takes at most a DEVICE_ID");
    }
  } else if (o.command == "files") {
    if (o.operands.size() != 1 || o.operands[0].empty() || o.operands[0][0] == '-') {
      return UsageError("files needs DEVICE_ID");
    }
  } else if (o.command != "policy") {  // policy checks its own operands
    return UsageError("unknown command '" + o.command + "'");
  }
  r.ok = true;
  return r;
}

common::Status CmdDevices(inventory::Store& store, std::ostream& out) {
  ASSIGN_OR_RETURN(auto devices, store.ListDevices());
  std::vector<std::vector<std::string>> rows;
  rows.reserve(devices.size());
  for (const auto& d : devices) {
    rows.push_back({common::Printable(d.device_id), OrDash(d.hostname), OrDash(d.os),
                    FormatTime(d.last_seen), OrDash(d.via), std::to_string(d.policy_revision),
                    std::to_string(d.packages)});
  }
  PrintTable(out, {"DEVICE", "HOSTNAME", "OS", "LAST SEEN", "VIA", "REVISION", "PACKAGES"}, rows,
             {false, false, false, false, false, true, true});
  return common::Status::Ok();
}

common::Status CmdDeviceSoftware(inventory::Store& store, const std::string& device_id,
                                 std::ostream& out) {
  ASSIGN_OR_RETURN(auto packages, store.DeviceSoftware(device_id));
  std::vector<std::vector<std::string>> rows;
  rows.reserve(packages.size());
  for (const auto& p : packages) {
    rows.push_back({common::Printable(p.name), OrDash(p.version), OrDash(p.arch)});
  }
  PrintTable(out, {"NAME", "VERSION", "ARCH"}, rows);
  return common::Status::Ok();
}

common::Status CmdDeviceFiles(inventory::Store& store, const std::string& device_id, std::ostream& out) {
  ASSIGN_OR_RETURN(auto files, store.DeviceFiles(device_id));
  std::vector<std::vector<std::string>> rows;
  rows.reserve(files.size());
  for (const auto& f : files) {
    rows.push_back({common::Printable(f.path), std::to_string(f.size), FormatTime(f.modified), OrDash(f.sha256)});
  }
  PrintTable(out, {"PATH", "SIZE", "MODIFIED", "SHA256"}, rows, {false, true, false, false});
  return common::Status::Ok();
}

// Running time as "12h 05m", the resolution sampling allows.
std::string FormatDuration(int64_t seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lldh %02lldm", static_cast<long long>(seconds / 3600),
                static_cast<long long>(seconds % 3600 / 60));
  return buf;
}

common::Status CmdUsage(inventory::Store& store, const std::string& device_id, std::ostream& out) {
  ASSIGN_OR_RETURN(auto rows, store.UsageSummary(device_id));
  std::vector<std::vector<std::string>> table;
  table.reserve(rows.size());
  for (const auto& r : rows) {
    table.push_back({common::Printable(r.program), std::to_string(r.devices), FormatDuration(r.seconds),
                     FormatTime(r.last_seen)});
  }
  PrintTable(out, {"PROGRAM", "DEVICES", "RUNNING", "LAST SEEN"}, table, {false, true, true, false});
  return common::Status::Ok();
}

common::Status CmdFindSoftware(inventory::Store& store, const std::string& pattern,
                               std::ostream& out) {
  ASSIGN_OR_RETURN(auto packages, store.FindSoftware(pattern));
  std::vector<std::vector<std::string>> rows;
  rows.reserve(packages.size());
  for (const auto& p : packages) {
    rows.push_back({common::Printable(p.device_id), OrDash(p.hostname), common::Printable(p.name),
                    OrDash(p.version), OrDash(p.arch)});
  }
  PrintTable(out, {"DEVICE", "HOSTNAME", "NAME", "VERSION", "ARCH"}, rows);
  return common::Status::Ok();
}

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const ParseResult parsed = ParseArgs(args);
  if (!parsed.ok) {
    err << "beaconctl: " << parsed.error << "\n(try 'beaconctl --help')\n";
    return kExitUsage;
  }
  if (parsed.help) {
    out << kUsage;
    return kExitOk;
  }
  if (parsed.version) {
    out << "beaconctl " << BEACON_VERSION << '\n';
    return kExitOk;
  }
  const Options& o = parsed.options;

  if (o.command == "policy") {
    common::Status st = beaconctl::RunPolicyCommand(
        {o.policy_dir, o.data_dir + "/policy-state", o.store_path}, o.operands, out);
    out.flush();
    if (!st.ok()) {
      err << "beaconctl: " << st.message() << '\n';
      return st.message().rfind("usage: ", 0) == 0 ? kExitUsage : kExitRuntime;
    }
    return kExitOk;
  }

  auto store = inventory::OpenSqliteStore(o.store_path, /*read_only=*/true);
  if (!store.ok()) {
    err << "beaconctl: cannot open store: " << store.status().ToString() << '\n';
    return kExitRuntime;
  }
  common::Status st;
  if (o.command == "devices") {
    st = CmdDevices(**store, out);
  } else if (o.command == "files") {
    st = CmdDeviceFiles(**store, o.operands[0], out);
  } else if (o.command == "usage") {
    st = CmdUsage(**store, o.operands.empty() ? "" : o.operands[0], out);
  } else if (o.operands.size() == 2) {
    st = CmdFindSoftware(**store, o.operands[1], out);
  } else {
    st = CmdDeviceSoftware(**store, o.operands[0], out);
  }
  if (!st.ok()) {
    err << "beaconctl: " << st.ToString() << '\n';
    return kExitRuntime;
  }
  out.flush();
  if (!out) {
    err << "beaconctl: error writing output\n";
    return kExitRuntime;
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  return Run(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
