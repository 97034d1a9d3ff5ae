#include "bootstrap.h"

#include <ftw.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <vector>

#include "client/settings.h"
#include "common/fs.h"
#include "common/http_client.h"
#include "common/pki.h"
#include "policy/signing.h"

extern char** environ;

namespace client {

namespace {

using common::Status;

constexpr uint64_t kMaxFile = 1 << 20;

// True if `a` and `b` name the same existing file.
bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

// `text` with each key of `values` set: the first uncommented `key = ...`
// line is replaced, later ones are left for the loader to refuse as
// repeated; keys not present are appended. Every other line stays.
std::string SetKeys(const std::string& text, const std::vector<std::pair<std::string, std::string>>& values) {
  std::vector<bool> done(values.size(), false);
  std::ostringstream out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t start = line.find_first_not_of(" \t");
    const size_t eq = line.find('=');
    std::string key;
    if (start != std::string::npos && line[start] != '#' && eq != std::string::npos && eq > start) {
      key = line.substr(start, eq - start);
      key.erase(key.find_last_not_of(" \t") + 1);
    }
    for (size_t i = 0; i < values.size(); ++i) {
      if (!done[i] && key == values[i].first) {
        line = key + " = " + values[i].second;
        done[i] = true;
      }
    }
    out << line << "\n";
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (!done[i]) out << values[i].first << " = " << values[i].second << "\n";
  }
  return out.str();
}

// Copies `from` to `to` (0644) unless they are the same file.
Status CopyPublicFile(const std::string& from, const std::string& contents, const std::string& to) {
  if (SameFile(from, to)) return Status::Ok();
  RETURN_IF_ERROR(common::WriteFileAtomic(to, contents, 0644));
  // WriteFileAtomic's mode is filtered by the umask; these files are public.
  if (::chmod(to.c_str(), 0644) != 0) return common::ErrnoStatus("chmod " + to, errno);
  return Status::Ok();
}

thread_local uid_t g_uid;
thread_local gid_t g_gid;

int ChownEntry(const char* path, const struct stat*, int, struct FTW*) {
  return ::lchown(path, g_uid, g_gid) == 0 ? 0 : errno;
}

}  // namespace

Status WriteBootstrapConfig(const BootstrapOptions& o) {
  // 1. Check every input; nothing is written before all of them pass.
  std::string host;
  int port = 0;
  RETURN_IF_ERROR(common::ParseHttpsUrl(o.server, &host, &port).WithContext("--server '" + o.server + "'"));
  auto ca_pem = common::ReadFile(o.ca_file, kMaxFile);
  if (!ca_pem.ok()) return ca_pem.status().WithContext("--ca " + o.ca_file);
  auto bundle = common::pki::ParseTrustBundle(*ca_pem);
  if (!bundle.ok()) return bundle.status().WithContext("--ca " + o.ca_file + " is not a PEM CA bundle");
  if (bundle->ca_pems.empty()) return common::InvalidArgument("--ca " + o.ca_file + " holds no CA certificate");

  std::string existing;
  const bool exists = common::FileExists(o.config_path);
  if (exists) {
    auto text = common::ReadFile(o.config_path, kMaxFile);
    if (!text.ok()) return text.status();
    existing = *text;
    auto loaded = common::LoadConfig(o.config_path, &ConfigKeys());
    if (!loaded.ok()) return loaded.status().WithContext("the existing configuration (fix it first)");
  }
  auto current = common::ParseConfig(existing, o.config_path, &ConfigKeys());
  if (!current.ok()) return current.status();
  const std::string key_from = o.policy_key.empty() ? current->GetString("policy_public_key") : o.policy_key;
  auto key_pem = common::ReadFile(key_from, kMaxFile);
  if (!key_pem.ok()) {
    return key_pem.status().WithContext("policy public key " + key_from +
                                        (o.policy_key.empty() ? " (give the estate's policy.pub with --policy-key FILE)" : ""));
  }
  auto verifier = policy::ManifestVerifier::FromPemFile(key_from);
  if (!verifier.ok()) return verifier.status().WithContext("policy public key " + key_from);

  // 2. The new configuration, checked as a whole before it replaces the old.
  // The copies' paths are absolute: the service reads them from elsewhere.
  std::string dir = std::filesystem::absolute(common::ParentDir(o.config_path)).lexically_normal().string();
  if (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const std::string ca_to = dir + "/ca.pem";
  const std::string key_to = o.policy_key.empty() ? key_from : dir + "/policy.pub";
  const std::string text = SetKeys(existing, {{"server", o.server}, {"ca_file", ca_to}, {"policy_public_key", key_to}});
  auto next = common::ParseConfig(text, o.config_path, &ConfigKeys());
  if (!next.ok()) return next.status();
  RETURN_IF_ERROR(ClientSettings::FromConfig(*next).status().WithContext(o.config_path));

  // 3. Write: the public files first, so the configuration never names a
  // file that is not there yet.
  RETURN_IF_ERROR(common::MakeDirs(dir, 0755));
  RETURN_IF_ERROR(CopyPublicFile(o.ca_file, *ca_pem, ca_to));
  if (!o.policy_key.empty()) RETURN_IF_ERROR(CopyPublicFile(o.policy_key, *key_pem, key_to));
  struct stat st {};
  const bool keep_owner = exists && ::stat(o.config_path.c_str(), &st) == 0;
  const int mode = keep_owner ? static_cast<int>(st.st_mode & 07777) : 0640;
  RETURN_IF_ERROR(common::WriteFileAtomic(o.config_path, text, mode));
  if (keep_owner && (::chown(o.config_path.c_str(), st.st_uid, st.st_gid) != 0 ||
                     ::chmod(o.config_path.c_str(), st.st_mode & 07777) != 0)) {
    return common::ErrnoStatus("keeping the owner and mode of " + o.config_path, errno);
  }
  return Status::Ok();
}

Status HandStateToOwner(const std::string& state_dir) {
  struct stat st {};
  if (::geteuid() != 0 || ::stat(state_dir.c_str(), &st) != 0 || st.st_uid == 0) return Status::Ok();
  g_uid = st.st_uid;
  g_gid = st.st_gid;
  const int rc = ::nftw(state_dir.c_str(), ChownEntry, 16, FTW_PHYS);
  if (rc != 0) return common::ErrnoStatus("handing " + state_dir + " to its owner", rc > 0 ? rc : errno);
  return Status::Ok();
}

std::string StartService() {
  const std::string command = "systemctl enable --now beacon-client.service";
  std::string why;
  if (const char* no = std::getenv("BEACON_CLIENT_NO_SERVICE"); no != nullptr && *no != '\0') {
    why = "BEACON_CLIENT_NO_SERVICE is set";  // tests, and installers that start it themselves
  } else if (::geteuid() != 0) {
    why = "not running as root";
  } else if (!common::FileExists("/run/systemd/system")) {
    why = "this system is not running systemd";
  } else if (!common::FileExists("/bin/systemctl") && !common::FileExists("/usr/bin/systemctl")) {
    why = "systemctl is not installed";
  }
  if (!why.empty()) return "the service was not started (" + why + "); to start it: " + command;
  const char* argv[] = {"systemctl", "enable", "--now", "beacon-client.service", nullptr};
  pid_t pid = 0;
  int status = 0;
  if (::posix_spawnp(&pid, "systemctl", nullptr, nullptr, const_cast<char**>(argv), environ) != 0 ||
      ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "starting the service failed (see systemctl status beacon-client.service); to retry: " + command;
  }
  return "the service beacon-client.service is enabled and started";
}

}  // namespace client
