// beaconctl: the administrator's command line on the central.
//
// software, usage, files and the estate commands (estate_cmd.h) read the
// store; they open it read-only, so beaconctl can run beside the importer
// (WAL lets readers and the one writer proceed without blocking each other)
// and can never change what is stored. policy edits, validates and publishes
// policy (policy_cmd.h); identity_cmd.h and action_cmd.h write. Every listing
// prints through output.h (--json, --csv). Exit codes: 0 success, 1 runtime
// error (or a refused edit or publish), 2 usage error.
//
// Everything printed from the store was reported by devices and is therefore
// untrusted; control characters are replaced before they reach a terminal.
#include <CLI/CLI.hpp>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "inventory/store.h"
#include "common/text.h"
#include "action_cmd.h"
#include "changes_cmd.h"
#include "estate_cmd.h"
#include "identity_cmd.h"
#include "output.h"
#include "policy_cmd.h"
#include "table.h"
#include "token_cmd.h"

#ifndef BEACON_VERSION
#define BEACON_VERSION "0.0.0-dev"  // standalone builds outside CMake
#endif

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

constexpr char kDefaultDataDir[] = "/var/lib/beacon";

// What the top-level --help lists after the options: every command with its
// operands, including policy's subcommands.
constexpr char kCommands[] =
    "Commands (every listing takes --json or --csv; field names in docs/beaconctl.md):\n"
    "  status                   devices per status and condition, beacons online and\n"
    "                           offline, open health errors and warnings\n"
    "  devices [--status S] [--os GLOB] [--name GLOB] [--condition C]\n"
    "                           devices with status, conditions and policy sync\n"
    "  device show DEVICE_ID    one device: status and why, check-ins, inventory, policy,\n"
    "                           outbox, certificate, health, uploads, pending actions\n"
    "  beacons                  beacons: online or offline and why, spool, upstream\n"
    "  changes [--since TIME] [--device ID]\n"
    "                           packages installed, removed or upgraded and hardware or\n"
    "                           system items changed, oldest first; TIME RFC 3339 or\n"
    "                           YYYY-MM-DD; --device alone: that device's time line\n"
    "  health [--device ID] [--beacon NAME] [--open] [--limit N]\n"
    "                           health messages from clients and beacons, newest first\n"
    "  action create KIND (--device ID | --group NAME) [--expires DURATION]\n"
    "                           queue work: KIND inventory, logs, policy or diagnose;\n"
    "                           DURATION 1s..30d (default 24h); a group gets one\n"
    "                           action per device in it now\n"
    "  action list [--device ID] [--state STATE] | show ID | cancel ID\n"
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
    "  token create --name NAME [--role read|admin]\n"
    "                           an API token for the REST API and the dashboard,\n"
    "                           printed once (read: every GET; admin: also actions)\n"
    "  token list | revoke ID|NAME\n"
    "  ca init [--name NAME]    create the estate CA and the trust bundle (DATA_DIR/ca)\n"
    "  ca show                  CAs, revocation lists, certificates issued\n"
    "  ca rollover              introduce a new CA beside the current one\n"
    "  ca retire [--force]      end a rollover: the old CA leaves the trust bundle\n"
    "  beacon issue NAME --host HOST... [--out DIR]\n"
    "                           a key and certificate for a beacon\n"
    "  beacon revoke NAME       revoke a beacon's certificates\n"
    "  device issue DEVICE_ID [--out DIR]\n"
    "                           a key and certificate for a device provisioned offline\n"
    "  device revoke DEVICE_ID  revoke a device's certificates; it cannot enroll again\n"
    "  enroll secret create [--uses N] [--expires DURATION] [--label LABEL]\n"
    "                           a new enrollment secret, printed once\n"
    "  enroll secret list|revoke ID\n"
    "  enroll list [--state STATE] | pending | approve REQUEST | deny REQUEST | clones\n"
    "                           enrollment and renewal requests\n"
    "\n"
    "Every command takes --help. Exit codes: 0 success, 1 error (or a refused edit or\n"
    "publish), 2 usage error.\n";

// The command line, parsed with CLI11 (libcli11-dev). Global options come
// before the command; each command owns the rest.
struct CommandLine {
  CommandLine() {
    app_.name("beaconctl");
    app_.description("The administrator's command line on the central beacon.");
    // Before any subcommand: they inherit the help flag.
    app_.set_help_flag("-h,--help", "show this help and exit");
    app_.set_version_flag("--version", std::string("beaconctl ") + BEACON_VERSION,
                          "show the version and exit");
    auto not_empty = [](const std::string& s) {
      return s.empty() ? std::string("must not be empty") : std::string();
    };
    CLI::Option* data_dir = app_.add_option("--data-dir", data_dir_,
                                            "the central's data directory (default "
                                            "/var/lib/beacon): the store is DIR/store.sqlite, "
                                            "published revisions DIR/policy-state")
                                ->type_name("DIR")
                                ->take_last()
                                ->check(not_empty);
    app_.add_option("--store", store_, "the store file itself")
        ->type_name("FILE")
        ->take_last()
        ->check(not_empty)
        ->excludes(data_dir);
    // From the environment too, so that a password in it need not show in
    // the process list (libpq also reads PGPASSWORD and ~/.pgpass).
    app_.add_option("--store-conninfo", store_conninfo_,
                    "a PostgreSQL store instead of the SQLite file: the central's store_conninfo "
                    "(libpq connection string)")
        ->type_name("CONNINFO")
        ->envname("BEACON_STORE_CONNINFO")
        ->take_last()
        ->check(not_empty);
    app_.add_option("--policy-dir", policy_dir_, "the policy folder (default DATA_DIR/policy)")
        ->type_name("DIR")
        ->take_last()
        ->check(not_empty);
    app_.require_subcommand(1);
    software_ = app_.add_subcommand(
        "software", "list one device's packages, or matching packages on any device");
    CLI::Option* device =
        software_->add_option("DEVICE_ID", device_, "the device")->check(not_empty);
    software_
        ->add_option("--match", match_,
                     "'*' any run of characters, '?' one character, case ignored")
        ->type_name("PATTERN")
        ->excludes(device);
    usage_ = app_.add_subcommand("usage", "programs by running time, on every device or one");
    usage_->add_option("DEVICE_ID", device_, "the device (default: every device)")
        ->check(not_empty);
    files_ = app_.add_subcommand("files", "list the file evidence of one device");
    files_->add_option("DEVICE_ID", device_, "the device")->required()->check(not_empty);
    // One command runs per invocation, so the listings share one --json/--csv.
    for (CLI::App* listing : {software_, usage_, files_}) format_.AddTo(*listing);
    policy_ = std::make_unique<beaconctl::PolicyCommand>(app_);
    identity_ = std::make_unique<beaconctl::IdentityCommand>(app_);
    estate_ = std::make_unique<beaconctl::EstateCommand>(app_, *app_.get_subcommand("device"));
    action_ = std::make_unique<beaconctl::ActionCommand>(app_);
    token_ = std::make_unique<beaconctl::TokenCommand>(app_);
    changes_ = std::make_unique<beaconctl::ChangesCommand>(app_);
    // The commands are listed in full by kCommands instead.
    for (CLI::App* sub : app_.get_subcommands([](CLI::App*) { return true; })) sub->group("");
    app_.footer(kCommands);
  }

  // Exit code and messages for help, version and usage errors; -1 to go on.
  int Parse(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    // CLI11 takes the arguments last first.
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
      app_.parse(reversed);
      if (software_->parsed() && device_.empty() && match_.empty()) {
        throw CLI::ValidationError("software", "needs DEVICE_ID or --match PATTERN");
      }
    } catch (const CLI::CallForHelp&) {
      out << app_.help();
      return kExitOk;
    } catch (const CLI::CallForVersion&) {
      out << "beaconctl " << BEACON_VERSION << '\n';
      return kExitOk;
    } catch (const CLI::ParseError& e) {
      err << "beaconctl: " << e.what() << "\n(try 'beaconctl --help')\n";
      return kExitUsage;
    }
    return -1;
  }

  std::string DataDir() const { return data_dir_.empty() ? kDefaultDataDir : data_dir_; }
  std::string StorePath() const { return store_.empty() ? DataDir() + "/store.sqlite" : store_; }
  inventory::StoreLocation Store() const {
    if (!store_conninfo_.empty()) return {"postgresql", "", store_conninfo_};
    return {"sqlite", StorePath(), ""};
  }
  std::string PolicyDir() const {
    return policy_dir_.empty() ? DataDir() + "/policy" : policy_dir_;
  }

  CLI::App app_;
  std::unique_ptr<beaconctl::PolicyCommand> policy_;
  std::unique_ptr<beaconctl::IdentityCommand> identity_;
  std::unique_ptr<beaconctl::EstateCommand> estate_;
  std::unique_ptr<beaconctl::ActionCommand> action_;
  std::unique_ptr<beaconctl::TokenCommand> token_;
  std::unique_ptr<beaconctl::ChangesCommand> changes_;
  CLI::App* software_ = nullptr;
  CLI::App* usage_ = nullptr;
  CLI::App* files_ = nullptr;
  std::string data_dir_, store_, store_conninfo_, policy_dir_;
  std::string device_, match_;
  beaconctl::FormatFlags format_;
};

using beaconctl::Column;
using beaconctl::Format;
using beaconctl::Listing;
using beaconctl::Value;

common::Status CmdDeviceSoftware(inventory::Store& store, const std::string& device_id, Format format,
                                 std::ostream& out) {
  ASSIGN_OR_RETURN(auto packages, store.DeviceSoftware(device_id));
  Listing l;
  l.columns = {{.field = "name", .header = "NAME"},
               {.field = "version", .header = "VERSION"},
               {.field = "arch", .header = "ARCH"}};
  for (const auto& p : packages) {
    l.rows.push_back({Value::Untrusted(p.name), Value::Untrusted(p.version), Value::Untrusted(p.arch)});
  }
  beaconctl::Print(out, format, l);
  return common::Status::Ok();
}

common::Status CmdDeviceFiles(inventory::Store& store, const std::string& device_id, Format format,
                              std::ostream& out) {
  ASSIGN_OR_RETURN(auto files, store.DeviceFiles(device_id));
  Listing l;
  l.columns = {{.field = "path", .header = "PATH"},
               {.field = "size", .header = "SIZE", .right = true},
               {.field = "modified", .header = "MODIFIED", .time = true},
               {.field = "sha256", .header = "SHA256"}};
  for (const auto& f : files) {
    l.rows.push_back({Value::Untrusted(f.path), Value::Int(static_cast<int64_t>(f.size)), Value::Time(f.modified),
                      Value::Untrusted(f.sha256)});
  }
  beaconctl::Print(out, format, l);
  return common::Status::Ok();
}

// Running time as "12h 05m", the resolution sampling allows.
std::string FormatDuration(int64_t seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lldh %02lldm", static_cast<long long>(seconds / 3600),
                static_cast<long long>(seconds % 3600 / 60));
  return buf;
}

common::Status CmdUsage(inventory::Store& store, const std::string& device_id, Format format, std::ostream& out) {
  ASSIGN_OR_RETURN(auto rows, store.UsageSummary(device_id));
  Listing l;
  l.columns = {{.field = "program", .header = "PROGRAM"},
               {.field = "devices", .header = "DEVICES", .right = true},
               {.field = "seconds", .header = "RUNNING", .right = true},
               {.field = "launches", .header = "LAUNCHES", .right = true},
               {.field = "last_seen", .header = "LAST SEEN", .time = true}};
  for (const auto& r : rows) {
    l.rows.push_back({Value::Untrusted(r.program), Value::Int(static_cast<int64_t>(r.devices)),
                      Value::Int(r.seconds).Shown(FormatDuration(r.seconds)),
                      Value::Int(static_cast<int64_t>(r.launches)), Value::Time(r.last_seen)});
  }
  beaconctl::Print(out, format, l);
  return common::Status::Ok();
}

common::Status CmdFindSoftware(inventory::Store& store, const std::string& pattern, Format format,
                               std::ostream& out) {
  ASSIGN_OR_RETURN(auto packages, store.FindSoftware(pattern));
  Listing l;
  l.columns = {{.field = "device_id", .header = "DEVICE"},
               {.field = "hostname", .header = "HOSTNAME"},
               {.field = "name", .header = "NAME"},
               {.field = "version", .header = "VERSION"},
               {.field = "arch", .header = "ARCH"}};
  for (const auto& p : packages) {
    l.rows.push_back({Value::Untrusted(p.device_id), Value::Untrusted(p.hostname), Value::Untrusted(p.name),
                      Value::Untrusted(p.version), Value::Untrusted(p.arch)});
  }
  beaconctl::Print(out, format, l);
  return common::Status::Ok();
}

// Root may not work on a central's folder that another user owns (the
// packaged /var/lib/beacon belongs to the service user `beacon`): what it
// created there (a CA key, a published revision, the store's -wal and -shm
// files) would be root's, and the service could no longer read or write
// it. Names that user and how to run as it; Ok when the folder is absent.
common::Status CheckRunAsOwner(const std::string& dir) {
  struct stat st {};
  if (::geteuid() != 0 || ::stat(dir.c_str(), &st) != 0 || st.st_uid == 0) return common::Status::Ok();
  const struct passwd* pw = ::getpwuid(st.st_uid);
  const std::string user = pw != nullptr ? pw->pw_name : std::to_string(st.st_uid);
  return common::FailedPrecondition(
      dir + " belongs to the user '" + user + "': run beaconctl as that user (sudo -u " + user +
      " beaconctl ..., or setpriv --reuid=" + user + " --regid=" + user +
      " --init-groups beaconctl ...); files root made there would be unusable to the service");
}

// The exit code of a command's Status: "usage: " errors are usage errors.
int Finish(const common::Status& st, std::ostream& out, std::ostream& err) {
  out.flush();
  if (!st.ok()) {
    err << "beaconctl: " << st.message() << '\n';
    return st.message().rfind("usage: ", 0) == 0 ? kExitUsage : kExitRuntime;
  }
  if (!out) {
    err << "beaconctl: error writing output\n";
    return kExitRuntime;
  }
  return kExitOk;
}

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CommandLine cl;
  if (int code = cl.Parse(args, out, err); code >= 0) return code;
  const std::filesystem::path store_dir = std::filesystem::path(cl.store_).parent_path();
  const std::string folder = cl.store_.empty() ? cl.DataDir() : store_dir.empty() ? "." : store_dir.string();
  if (common::Status st = CheckRunAsOwner(folder); !st.ok()) {
    err << "beaconctl: " << st.message() << '\n';
    return kExitUsage;
  }

  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (cl.token_->Chosen()) return Finish(cl.token_->Run(cl.Store(), now, out), out, err);
  if (cl.action_->Chosen()) {
    return Finish(cl.action_->Run(cl.Store(), cl.DataDir() + "/policy-state", now, out), out, err);
  }

  if (cl.policy_->Chosen()) {
    common::Status st =
        cl.policy_->Run({cl.PolicyDir(), cl.DataDir() + "/policy-state", cl.Store()}, out);
    out.flush();
    if (!st.ok()) {
      err << "beaconctl: " << st.message() << '\n';
      if (st.message().rfind("usage: ", 0) == 0) {
        err << "(try 'beaconctl policy --help')\n";
        return kExitUsage;
      }
      return kExitRuntime;
    }
    return kExitOk;
  }

  if (cl.identity_->Chosen()) return Finish(cl.identity_->Run(cl.DataDir(), cl.Store(), out), out, err);

  auto store = inventory::OpenStore(cl.Store(), /*read_only=*/true);
  if (!store.ok()) {
    err << "beaconctl: cannot open store: " << store.status().ToString() << '\n';
    return kExitRuntime;
  }
  if (cl.estate_->Chosen()) return Finish(cl.estate_->Run(**store, now, out), out, err);
  if (cl.changes_->Chosen()) return Finish(cl.changes_->Run(**store, out), out, err);
  common::Status st;
  if (cl.files_->parsed()) {
    st = CmdDeviceFiles(**store, cl.device_, cl.format_.Get(), out);
  } else if (cl.usage_->parsed()) {
    st = CmdUsage(**store, cl.device_, cl.format_.Get(), out);
  } else if (!cl.match_.empty()) {
    st = CmdFindSoftware(**store, cl.match_, cl.format_.Get(), out);
  } else {
    st = CmdDeviceSoftware(**store, cl.device_, cl.format_.Get(), out);
  }
  return Finish(st, out, err);
}

}  // namespace

int main(int argc, char** argv) {
  return Run(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
