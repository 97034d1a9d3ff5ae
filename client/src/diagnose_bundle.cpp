// The troubleshooting bundle of `beacon-client diagnose --bundle FILE`
// (docs/diagnose.md "Bundle"): a tar.gz written with libarchive, every entry
// 0600. What it never holds: a private key (identity/ is read for the
// certificate only) and a secret (the configuration's secret values are
// cut from every entry, whatever the entry).
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <ctime>
#include <sstream>
#include <utility>
#include <vector>

#include "common/fs.h"
#include "common/identity.h"
#include "common/time.h"
#include "diagnose.h"
#include "diagnose_local.h"
#include "uploads.h"

namespace client {

using common::Status;

namespace {

namespace local = diagnose_local;

constexpr size_t kLogTail = 256u << 10;
constexpr char kRedacted[] = "<redacted>";
// Configuration keys whose values never leave the machine.
constexpr const char* kSecretKeys[] = {"proxy_password", "enroll_secret"};

// Replaces every occurrence of each secret value in `text`.
std::string Scrub(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) {
    if (s.empty()) continue;
    for (size_t at = text.find(s); at != std::string::npos; at = text.find(s, at + sizeof kRedacted - 1)) {
      text.replace(at, s.size(), kRedacted);
    }
  }
  return text;
}

// client.conf with the value of every secret key replaced. A line naming a
// secret key keeps what precedes the value and loses the rest, whether or
// not it would parse ("enroll_secret: x", "enroll_secret=x y").
std::string RedactConfig(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    for (const char* key : kSecretKeys) {
      const size_t at = line.find(key);
      const size_t comment = line.find('#');
      if (at == std::string::npos || (comment != std::string::npos && comment < at)) continue;
      size_t value = at + std::string(key).size();
      while (value < line.size() && (line[value] == ' ' || line[value] == '\t' || line[value] == '=' ||
                                     line[value] == ':')) {
        ++value;
      }
      if (value < line.size()) line = line.substr(0, value) + kRedacted;
    }
    out += line + "\n";
  }
  return out;
}

std::string CertificateSummary(const std::string& state_dir) {
  auto pem = common::ReadFile(local::CertFile(state_dir), 1 << 20);
  if (!pem.ok()) return "certificate:     none (" + pem.status().message() + ")\n";
  std::string out;
  BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
  X509* cert = bio != nullptr ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  if (cert != nullptr) {
    char subject[512] = {};
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
    char issuer[512] = {};
    X509_NAME_oneline(X509_get_issuer_name(cert), issuer, sizeof issuer);
    out += "certificate:     subject " + std::string(subject) + ", issuer " + issuer + "\n";
    X509_free(cert);
  }
  BIO_free(bio);
  auto id = common::IdentityFromPem(*pem);
  if (!id.ok()) return out + "certificate:     " + id.status().message() + "\n";
  return out + "serial:          " + id->serial + "\nnotBefore:       " + common::FormatRfc3339(id->not_before) +
         "\nnotAfter:        " + common::FormatRfc3339(id->not_after) + "\n";
}

std::string StateSummary(const ClientSettings& s) {
  const std::string& dir = s.state_dir;
  std::string out = "state_dir:       " + dir + "\ndevice:          " + local::DeviceId(dir) + "\n";
  out += CertificateSummary(dir);
  out += "trust bundle:    " + local::CaFile(s) + "\n";
  if (auto m = local::AppliedManifest(dir)) {
    out += "applied policy:  revision " + std::to_string(m->revision) + "\n";
    for (const auto& f : m->files) out += "  " + f.name + " " + f.sha256 + " " + std::to_string(f.size) + "\n";
  } else {
    out += "applied policy:  none\n";
  }
  out += "outbox:          " + std::to_string(local::OutboxDepth(dir)) + " uploads waiting\n";
  auto state = common::ReadFile(dir + "/state", 1 << 20);
  out += "\n# " + dir + "/state\n" + (state.ok() ? *state : "(" + state.status().message() + ")\n");
  return out;
}

// The end of the client's log: the rotated file, then the current one.
std::string LogTail(const std::string& state_dir) {
  std::string text;
  for (const char* name : {"client.log.1", "client.log"}) {
    auto part = common::ReadFile(LogDir(state_dir) + "/" + name, 64u << 20);
    if (part.ok()) text += *part;
  }
  if (text.size() > kLogTail) text = text.substr(text.size() - kLogTail);
  return text;
}

Status AddEntry(struct archive* a, const std::string& name, const std::string& data, int64_t now) {
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0600);
  archive_entry_set_mtime(e, static_cast<time_t>(now), 0);
  bool ok = archive_write_header(a, e) == ARCHIVE_OK &&
            archive_write_data(a, data.data(), data.size()) == static_cast<la_ssize_t>(data.size());
  archive_entry_free(e);
  if (!ok) return common::Internal("bundle entry " + name + ": " + archive_error_string(a));
  return Status::Ok();
}

}  // namespace

Status WriteBundle(const DiagnoseReport& report, const ClientSettings& settings, const std::string& config_path,
                   const std::string& path) {
  std::vector<std::string> secrets = {settings.proxy_password, settings.enroll_secret};
  if (auto pol = local::AppliedPolicyXml(settings.state_dir); pol && pol->proxy) {
    secrets.push_back(pol->proxy->password);
  }
  std::vector<std::pair<std::string, std::string>> entries = {
      {"report.txt", report.ToText()},
      {"report.json", report.ToJson()},
  };
  if (!config_path.empty()) {
    auto conf = common::ReadFile(config_path, 1 << 20);
    entries.emplace_back("client.conf", conf.ok() ? RedactConfig(*conf) : "# " + conf.status().message() + "\n");
  }
  entries.emplace_back("state.txt", StateSummary(settings));
  entries.emplace_back("client.log", LogTail(settings.state_dir));

  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return common::ErrnoStatus("create " + tmp, errno);
  struct archive* a = archive_write_new();
  Status st;
  if (archive_write_add_filter_gzip(a) != ARCHIVE_OK || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
      archive_write_open_fd(a, fd) != ARCHIVE_OK) {
    st = common::Internal("bundle " + path + ": " + archive_error_string(a));
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& [name, data] : entries) {
    if (st.ok()) st = AddEntry(a, name, Scrub(data, secrets), now);
  }
  if (archive_write_close(a) != ARCHIVE_OK && st.ok()) st = common::Internal("bundle " + path + ": " + archive_error_string(a));
  archive_write_free(a);
  if (st.ok() && ::fsync(fd) != 0) st = common::ErrnoStatus("fsync " + tmp, errno);
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) st = common::ErrnoStatus("rename to " + path, errno);
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
}

}  // namespace client
