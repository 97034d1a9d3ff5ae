#include "policy_cmd.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <filesystem>
#include <ostream>

#include "beacon/resolve.h"
#include "common/config.h"
#include "common/fs.h"
#include "common/text.h"
#include "common/uuid.h"
#include "inventory/store.h"
#include "policy/repository.h"
#include "policy/targeting.h"
#include "output.h"
#include "table.h"

namespace beaconctl {

using common::Status;
using common::StatusOr;

namespace {

Status Usage(const std::string& why) { return common::InvalidArgument("usage: " + why); }

// The login name recorded with a revision: the administrator behind sudo
// when there is one.
std::string Publisher() {
  for (const char* var : {"SUDO_USER", "USER", "LOGNAME"}) {
    const char* v = ::getenv(var);
    if (v != nullptr && common::IsToken(v)) return v;
  }
  struct passwd* pw = ::getpwuid(::getuid());
  if (pw != nullptr && common::IsToken(pw->pw_name)) return pw->pw_name;
  return "uid-" + std::to_string(::getuid());
}

StatusOr<int64_t> RevisionNumber(const std::string& s) {
  int64_t n = 0;
  if (!common::ParseDecimal(s, &n) || n <= 0) return Usage("'" + s + "' is not a revision number");
  return n;
}

// A temporary folder, removed with everything in it unless kept.
class TempDir {
 public:
  static StatusOr<TempDir> Make() {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::temp_directory_path(ec);
    std::string tmpl = (ec ? std::string("/tmp") : base.string()) + "/beaconctl-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return common::ErrnoStatus("create a temporary folder", errno);
    return TempDir(tmpl);
  }
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)), keep_(o.keep_) { o.path_.clear(); }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty() && !keep_) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  void Keep() { keep_ = true; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
  bool keep_ = false;
};

Status WriteTree(const policy::TreeFiles& files, const std::string& dir) {
  for (const auto& [path, data] : files) {
    std::string file = dir + "/" + path;
    RETURN_IF_ERROR(common::MakeDirs(file.substr(0, file.rfind('/')), 0755));
    RETURN_IF_ERROR(common::WriteFileAtomic(file, data));
  }
  return Status::Ok();
}

// The folder's tree; an absent folder is an empty tree.
StatusOr<policy::TreeFiles> ReadFolder(const std::string& folder) {
  auto tree = policy::ReadTreeFolder(folder);
  if (!tree.ok() && tree.status().code() == common::Code::kNotFound) return policy::TreeFiles{};
  return tree;
}

StatusOr<policy::TreeFiles> RevisionFiles(const policy::PolicyRepository& repo, int64_t number) {
  ASSIGN_OR_RETURN(policy::Revision rev, repo.Get(number));
  return repo.Files(rev);
}

// What a new file starts as in the editor.
std::string Template(const std::string& name) {
  if (name == policy::kGroupFile) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<!-- Members: any of <device id=\"UUID\"/> <hostname glob=\"web-*\"/> <os glob=\"Debian*\"/>\n"
           "     <subnet cidr=\"10.1.0.0/16\"/> <everyone/>. Lower priority values win. -->\n"
           "<group version=\"1\" priority=\"100\">\n</group>\n";
  }
  for (const char* root : {"policy", "schedule", "failover"}) {
    if (name == std::string(root) + ".xml") {
      return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<" + std::string(root) + " version=\"1\">\n</" + root +
             ">\n";
    }
  }
  return "";
}

// Runs argv (argv[0] looked up in PATH) in `dir` ("" = here) and waits.
// With `out`, the child's standard output is copied there; otherwise it keeps
// the terminal. Returns the exit status, 128 + signal for a killed child.
StatusOr<int> Spawn(std::vector<std::string> argv, const std::string& dir, std::ostream* out) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  int fds[2] = {-1, -1};
  if (out != nullptr && ::pipe2(fds, O_CLOEXEC) != 0) return common::ErrnoStatus("pipe", errno);
  pid_t pid = ::fork();
  if (pid < 0) return common::ErrnoStatus("start " + argv[0], errno);
  if (pid == 0) {
    if (out != nullptr) ::dup2(fds[1], 1);
    if (!dir.empty() && ::chdir(dir.c_str()) != 0) ::_exit(127);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  if (out != nullptr) {
    ::close(fds[1]);
    char buf[8192];
    ssize_t n = 0;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) out->write(buf, n);
    }
    ::close(fds[0]);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return common::ErrnoStatus("wait for " + argv[0], errno);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs $VISUAL, $EDITOR or vi on the files, on the administrator's terminal.
Status RunEditor(const std::vector<std::string>& files) {
  std::vector<std::string> argv = {"sh", "-c", "exec ${VISUAL:-${EDITOR:-vi}} \"$@\"", "sh"};
  argv.insert(argv.end(), files.begin(), files.end());
  ASSIGN_OR_RETURN(int status, Spawn(argv, "", nullptr));
  if (status != 0) {
    return common::FailedPrecondition("the editor failed (exit status " + std::to_string(status) +
                                      "); nothing changed");
  }
  return Status::Ok();
}

bool IsBlank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

Status Validate(const std::string& folder, std::ostream& out) {
  ASSIGN_OR_RETURN(policy::TreeFiles tree, policy::ReadTreeFolder(folder));
  RETURN_IF_ERROR(policy::PolicyTree::FromFiles(tree, folder).status());
  out << "ok: " << folder << " (" << tree.size() << " files) is valid and can be published\n";
  return Status::Ok();
}

Status Edit(const PolicyPaths& paths, const std::string& group, std::vector<std::string> names,
            std::ostream& out) {
  if (!policy::IsGroupName(group)) return Usage("'" + group + "' is not a group name (1..64 of [a-z0-9_-])");
  for (const auto& n : names) {
    if (!policy::IsPolicyFileName(n)) return Usage("'" + n + "' is not a policy file name");
  }
  ASSIGN_OR_RETURN(policy::TreeFiles tree, ReadFolder(paths.folder));
  const std::string prefix = group + "/";
  if (names.empty()) {
    for (auto it = tree.lower_bound(prefix); it != tree.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      names.push_back(it->first.substr(prefix.size()));
    }
  }
  if (names.empty()) {
    names = group == policy::kDefaultGroup ? std::vector<std::string>{"policy.xml"}
                                           : std::vector<std::string>{policy::kGroupFile, "policy.xml"};
  }
  ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make());
  RETURN_IF_ERROR(common::MakeDirs(tmp.path() + "/" + group, 0700));
  std::vector<std::string> copies;
  for (const auto& n : names) {
    auto it = tree.find(prefix + n);
    copies.push_back(tmp.path() + "/" + group + "/" + n);
    RETURN_IF_ERROR(common::WriteFileAtomic(copies.back(), it != tree.end() ? it->second : Template(n), 0600));
  }
  RETURN_IF_ERROR(RunEditor(copies));

  policy::TreeFiles edited = tree;
  for (size_t i = 0; i < names.size(); ++i) {
    ASSIGN_OR_RETURN(std::string data, common::ReadFile(copies[i], policy::kMaxPolicyFileBytes));
    const std::string key = prefix + names[i];
    if (IsBlank(data)) {
      edited.erase(key);  // an emptied file is removed from the group
    } else if (tree.count(key) != 0 || data != Template(names[i])) {
      edited[key] = std::move(data);  // a new file left as its template is not created
    }
  }
  if (edited == tree) {
    out << "nothing changed\n";
    return Status::Ok();
  }
  // Someone else (another administrator, a git pull) may have changed the
  // folder while the editor was open: writing now would undo that.
  ASSIGN_OR_RETURN(policy::TreeFiles now, ReadFolder(paths.folder));
  if (now != tree) {
    tmp.Keep();
    return common::FailedPrecondition(paths.folder + " changed while the editor was open; nothing changed, your copy is in " +
                                      tmp.path() + "/" + group);
  }
  Status valid = policy::PolicyTree::FromFiles(edited, paths.folder).status();
  if (!valid.ok()) {
    tmp.Keep();
    return common::InvalidArgument(valid.message() + "\nthe edit is refused and nothing changed; your copy is in " +
                                   tmp.path() + "/" + group);
  }
  for (const auto& n : names) {
    const std::string key = prefix + n, file = paths.folder + "/" + key;
    auto before = tree.find(key);
    auto after = edited.find(key);
    if (after == edited.end()) {
      if (before == tree.end()) continue;
      if (::unlink(file.c_str()) != 0) return common::ErrnoStatus("remove " + file, errno);
      RETURN_IF_ERROR(common::SyncDir(paths.folder + "/" + group));
      out << "removed " << key << '\n';
    } else if (before == tree.end() || before->second != after->second) {
      RETURN_IF_ERROR(common::MakeDirs(paths.folder + "/" + group, 0755));
      RETURN_IF_ERROR(common::WriteFileAtomic(file, after->second));
      out << (before == tree.end() ? "created " : "changed ") << key << '\n';
    }
  }
  out << "valid; run 'beaconctl policy publish' to put it in service\n";
  return Status::Ok();
}

Status Publish(const PolicyPaths& paths, const std::string& message, std::ostream& out) {
  ASSIGN_OR_RETURN(policy::TreeFiles tree, policy::ReadTreeFolder(paths.folder));
  policy::PolicyRepository repo(paths.state);
  RETURN_IF_ERROR(repo.Init());
  auto rev = repo.Publish(tree, paths.folder, Publisher(), message);
  if (!rev.ok() && rev.status().code() == common::Code::kFailedPrecondition) {
    out << rev.status().message() << '\n';
    return Status::Ok();
  }
  RETURN_IF_ERROR(rev.status());
  out << "published revision " << rev->number << " (" << rev->files.size()
      << " files); the central serves it within its policy_refresh_interval\n";
  return Status::Ok();
}

Status History(const PolicyPaths& paths, Format format, std::ostream& out) {
  policy::PolicyRepository repo(paths.state);
  RETURN_IF_ERROR(repo.Init());
  ASSIGN_OR_RETURN(auto revisions, repo.History());
  Listing l;
  l.columns = {{.field = "revision", .header = "REVISION"},
               {.field = "published", .header = "PUBLISHED", .time = true},
               {.field = "author", .header = "BY"},
               {.field = "files", .header = "FILES"},
               {.field = "rollback_of"},
               {.field = "message", .header = "MESSAGE"}};
  for (const auto& r : revisions) {
    std::string shown = r.message;
    if (r.rollback_of != 0) shown = "(rollback to " + std::to_string(r.rollback_of) + ") " + shown;
    l.rows.push_back({Value::Int(r.number), Value::Time(r.published_at), Value::Untrusted(r.author),
                      Value::Int(static_cast<int64_t>(r.files.size())), Value::Int(r.rollback_of),
                      Value::Untrusted(r.message).Shown(common::Printable(shown))});
  }
  Print(out, format, l, "(nothing published yet)");
  return Status::Ok();
}

// Unified diff of two revisions' files, by diff(1) over two temporary copies.
Status Diff(const PolicyPaths& paths, int64_t a, int64_t b, std::ostream& out) {
  policy::PolicyRepository repo(paths.state);
  ASSIGN_OR_RETURN(policy::TreeFiles fa, RevisionFiles(repo, a));
  ASSIGN_OR_RETURN(policy::TreeFiles fb, RevisionFiles(repo, b));
  ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make());
  const std::string ra = "revision-" + std::to_string(a), rb = "revision-" + std::to_string(b);
  RETURN_IF_ERROR(common::MakeDirs(tmp.path() + "/" + ra, 0700));
  RETURN_IF_ERROR(common::MakeDirs(tmp.path() + "/" + rb, 0700));
  RETURN_IF_ERROR(WriteTree(fa, tmp.path() + "/" + ra));
  RETURN_IF_ERROR(WriteTree(fb, tmp.path() + "/" + rb));
  ASSIGN_OR_RETURN(int status, Spawn({"diff", "-ruN", ra, rb}, tmp.path(), &out));
  if (status > 1) return common::Internal("diff failed (exit status " + std::to_string(status) + ")");
  if (status == 0) out << "revisions " << a << " and " << b << " have the same files\n";
  return Status::Ok();
}

Status Rollback(const PolicyPaths& paths, int64_t number, const std::string& message, std::ostream& out) {
  policy::PolicyRepository repo(paths.state);
  RETURN_IF_ERROR(repo.Init());
  ASSIGN_OR_RETURN(policy::TreeFiles target, RevisionFiles(repo, number));
  ASSIGN_OR_RETURN(int64_t latest, repo.Latest());
  ASSIGN_OR_RETURN(policy::TreeFiles newest, RevisionFiles(repo, latest));
  // The folder is made to match the rolled-back revision, so that the next
  // publish does not bring the bad change back; that must lose no edit.
  ASSIGN_OR_RETURN(policy::TreeFiles folder, ReadFolder(paths.folder));
  if (folder != newest) {
    return common::FailedPrecondition(paths.folder + " has changes not yet published; publish or undo them first, "
                                      "so that rolling back loses nothing");
  }
  auto rev = repo.Publish(target, "revision " + std::to_string(number), Publisher(),
                          message.empty() ? "roll back to revision " + std::to_string(number) : message, number);
  if (!rev.ok() && rev.status().code() == common::Code::kFailedPrecondition) {
    out << rev.status().message() << '\n';
    return Status::Ok();
  }
  RETURN_IF_ERROR(rev.status());
  for (const auto& [path, data] : folder) {
    if (target.count(path) != 0) continue;
    std::string file = paths.folder + "/" + path;
    if (::unlink(file.c_str()) != 0) return common::ErrnoStatus("remove " + file, errno);
    ::rmdir(file.substr(0, file.rfind('/')).c_str());  // the group's last file: the group goes too
  }
  RETURN_IF_ERROR(WriteTree(target, paths.folder));
  out << "published revision " << rev->number << " with the files of revision " << number << "; " << paths.folder
      << " holds them again\n";
  return Status::Ok();
}

Status Resolve(const PolicyPaths& paths, const std::string& device, std::ostream& out) {
  if (!common::IsUuid(device)) return Usage("'" + device + "' is not a device id");
  ASSIGN_OR_RETURN(auto store, inventory::OpenStore(paths.store, /*read_only=*/true));
  ASSIGN_OR_RETURN(beacon::DeviceResolution res, beacon::ResolveDevice(*store, paths.state, device));
  const policy::DeviceFacts& d = res.facts;
  const policy::Resolution& r = res.resolution;
  const int64_t latest = res.revision;

  out << "device " << device << '\n';
  if (!res.known) {
    out << "  unknown to the central: it gets the default group until its first inventory\n";
  } else if (!d.inventoried) {
    out << "  no inventory yet: it gets the default group until its first inventory\n";
  } else {
    out << "  host " << common::Printable(d.hostname) << ", os " << common::Printable(d.os) << ", addresses";
    for (const auto& a : d.addresses) out << ' ' << common::Printable(a);
    out << '\n';
  }
  out << "revision " << latest << ", groups:";
  for (const auto& g : r.groups) out << ' ' << g;
  std::vector<std::vector<std::string>> rows;
  for (const auto& o : r.origins) rows.push_back({o.file + (o.part.empty() ? "" : " " + o.part), o.group});
  out << "\n\n";
  PrintTable(out, {"PART", "GROUP"}, rows);
  for (const auto& [name, data] : r.files) {
    out << "\n==> " << name << " <==\n" << data;
    if (!data.empty() && data.back() != '\n') out << '\n';
  }
  return Status::Ok();
}

}  // namespace

PolicyCommand::PolicyCommand(CLI::App& app) {
  policy_ = app.add_subcommand("policy",
                               "edit, validate and publish policy (see 'beaconctl policy --help')");
  policy_->require_subcommand(1);
  validate_ = policy_->add_subcommand("validate", "check a policy folder as publishing will");
  validate_->add_option("FOLDER", folder_, "the folder (default: the policy folder)");
  edit_ = policy_->add_subcommand("edit",
                                  "edit a group's files in $VISUAL or $EDITOR (default: all its "
                                  "files); an invalid result is refused and nothing changes; an "
                                  "emptied file is removed");
  edit_
      ->add_option("GROUP", group_,
                   "the group's folder ('default' holds the policy of every device)")
      ->required();
  edit_->add_option("FILE", files_, "policy.xml, schedule.xml, failover.xml or group.xml");
  publish_ = policy_->add_subcommand("publish", "publish the policy folder as the next revision");
  publish_->add_option("-m,--message", message_, "why, recorded with the revision")
      ->type_name("MESSAGE");
  history_ = policy_->add_subcommand("history", "list published revisions");
  format_.AddTo(*history_);
  diff_ = policy_->add_subcommand("diff", "show what changed between two revisions");
  diff_->add_option("REV", revisions_, "two revision numbers")->required()->expected(2);
  rollback_ =
      policy_->add_subcommand("rollback", "publish revision REV's files again as a new revision");
  rollback_->add_option("REV", revisions_, "the revision to go back to")->required()->expected(1);
  rollback_->add_option("-m,--message", message_, "why, recorded with the revision")
      ->type_name("MESSAGE");
  resolve_ = policy_->add_subcommand(
      "resolve", "show a device's effective policy and which group gave each part");
  resolve_->add_option("DEVICE_ID", device_, "the device")->required();
}

bool PolicyCommand::Chosen() const { return policy_->parsed(); }

Status PolicyCommand::Run(const PolicyPaths& paths, std::ostream& out) const {
  if (validate_->parsed()) return Validate(folder_.empty() ? paths.folder : folder_, out);
  if (edit_->parsed()) return Edit(paths, group_, files_, out);
  if (publish_->parsed()) return Publish(paths, message_, out);
  if (history_->parsed()) return History(paths, format_.Get(), out);
  if (diff_->parsed()) {
    ASSIGN_OR_RETURN(int64_t a, RevisionNumber(revisions_.at(0)));
    ASSIGN_OR_RETURN(int64_t b, RevisionNumber(revisions_.at(1)));
    return Diff(paths, a, b, out);
  }
  if (rollback_->parsed()) {
    ASSIGN_OR_RETURN(int64_t n, RevisionNumber(revisions_.at(0)));
    return Rollback(paths, n, message_, out);
  }
  if (resolve_->parsed()) return Resolve(paths, device_, out);
  return Usage("policy needs a subcommand");
}

}  // namespace beaconctl
