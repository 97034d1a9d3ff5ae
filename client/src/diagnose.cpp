// beacon-client diagnose (docs/diagnose.md): the client's configuration
// step, the shared path steps (common/diagnose.h), then the steps only a
// device has: its policy and an upload round trip.
#include "diagnose.h"

#include <ctime>

#include "common/delivery.h"
#include "common/fs.h"
#include "common/protocol.h"
#include "common/sha256.h"
#include "common/uuid.h"
#include "diagnose_local.h"
#include "inventory/pack.h"
#include "policy/object_store.h"
#include "policy/signing.h"
#include "state_file.h"

namespace client {

namespace proto = common::protocol;
using common::DiagnoseTarget;

namespace diagnose_local {

std::string DeviceId(const std::string& state_dir) {
  auto text = common::ReadFile(state_dir + "/device-id", 4096);
  if (!text.ok()) return "";
  std::string id = *text;
  while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
  return common::IsUuid(id) ? id : "";
}

std::string CaFile(const ClientSettings& s) {
  const std::string trust = s.state_dir + "/trust.pem";
  return common::FileExists(trust) ? trust : s.ca_file;
}

std::string CertFile(const std::string& state_dir) { return state_dir + "/identity/cert.pem"; }
std::string KeyFile(const std::string& state_dir) { return state_dir + "/identity/key.pem"; }

size_t OutboxDepth(const std::string& state_dir) {
  auto names = common::ListDir(state_dir + "/outbox/ready");
  if (!names.ok()) return 0;
  size_t n = 0;
  for (const auto& name : *names) n += name.size() > 4 && name.substr(name.size() - 4) == ".upl" ? 1 : 0;
  return n;
}

std::optional<policy::Manifest> AppliedManifest(const std::string& state_dir) {
  auto xml = common::ReadFile(state_dir + "/policy/manifest.xml", 1 << 20);
  if (!xml.ok()) return std::nullopt;
  auto manifest = policy::ParseManifestXml(*xml, "applied manifest");
  if (!manifest.ok()) return std::nullopt;
  return std::move(manifest).value();
}

std::optional<policy::ClientPolicy> AppliedPolicyXml(const std::string& state_dir) {
  auto manifest = AppliedManifest(state_dir);
  if (!manifest) return std::nullopt;
  // Read only: the store is not Init()ed (that would create its folder).
  const policy::ObjectStore files(state_dir + "/policy/files");
  for (const auto& f : manifest->files) {
    if (f.name != "policy.xml") continue;
    auto text = files.Get(f.sha256);
    if (!text.ok()) return std::nullopt;
    auto parsed = policy::ParsePolicyXml(*text, "applied policy.xml");
    if (!parsed.ok()) return std::nullopt;
    return std::move(parsed).value();
  }
  return std::nullopt;
}

}  // namespace diagnose_local

namespace {

namespace local = diagnose_local;

const char* const kAfterConfiguration[] = {"dns", "tcp", "proxy", "tls", "http", "identity", "policy", "upload"};

std::string CodeOfManifestError(const common::Status& st) {
  switch (st.code()) {
    case common::Code::kInvalidArgument: return "D801";
    case common::Code::kDataLoss: return "D802";
    case common::Code::kPermissionDenied: return "D803";
    case common::Code::kFailedPrecondition: return "D804";
    default: return "D800";
  }
}

// The policy step: the manifest as the beacon serves it now, verified as a
// policy check would, and every file it names fetched and hashed. Nothing
// is stored.
void PolicyStep(const DiagnoseTarget& t, const ClientSettings& s, const std::string& device, int64_t applied,
                const common::HeaderList& headers, DiagnoseReport* r) {
  const std::string path = proto::ManifestPath(device);
  const std::string curl = common::ManualCurl(t, path, true);
  auto verifier = policy::ManifestVerifier::FromPemFile(s.policy_public_key);
  if (!verifier.ok()) return r->Skip("policy", "policy_public_key is not usable (configuration)");
  auto cli = common::DiagnoseConnect(t, true);
  if (!cli.ok()) return r->Fail("policy", "D800", cli.status().ToString(), curl);
  auto res = (*cli)->Get(path, headers, 1 << 20);
  if (!res.ok()) return r->Fail("policy", "D800", "GET " + path + ": " + res.status().ToString(), curl);
  if (res->status != 200) {
    return r->Fail("policy", "D800", "GET " + path + " answered " + std::to_string(res->status) + ": " +
                                         res->body.substr(0, 200), curl);
  }
  auto manifest = policy::AcceptManifest(res->body, "manifest from " + t.url, **verifier, device, applied);
  if (!manifest.ok()) {
    return r->Fail("policy", CodeOfManifestError(manifest.status()),
                   manifest.status().message() + " (policy_public_key " + s.policy_public_key + ")", curl);
  }
  for (const auto& f : manifest->files) {
    const std::string file_path = proto::FilePath(f.sha256);
    const std::string file_curl = common::ManualCurl(t, file_path, true, "-o " + f.name) + " && sha256sum " + f.name;
    auto file = (*cli)->Get(file_path, headers, policy::kMaxPolicyFileBytes);
    if (!file.ok()) return r->Fail("policy", "D805", f.name + ": " + file.status().ToString(), file_curl);
    if (file->status != 200) {
      return r->Fail("policy", "D805", f.name + ": GET " + file_path + " answered " + std::to_string(file->status),
                     file_curl);
    }
    const std::string got = common::Sha256Hex(file->body);
    if (got != f.sha256) {
      return r->Fail("policy", "D806", f.name + ": SHA-256 " + got + ", the manifest says " + f.sha256, file_curl);
    }
  }
  r->Pass("policy", "revision " + std::to_string(manifest->revision) + " (applied: " + std::to_string(applied) +
                        "), signature verifies with " + s.policy_public_key + ", names this device; " +
                        std::to_string(manifest->files.size()) + " file(s) fetched, each matching its SHA-256",
          curl);
}

// The upload step: the report so far, gzip'd, PUT as a "logs" upload with
// a new upload id, exactly as the outbox would send it.
void UploadStep(const DiagnoseTarget& t, const std::string& device, const common::HeaderList& headers,
                DiagnoseReport* r) {
  const std::string id = common::NewUuid();
  const std::string path = proto::UploadPath(device, "logs", id);
  const std::string curl = common::ManualCurl(
      t, proto::UploadPath(device, "logs", "$(uuidgen)"), true,
      "-X PUT --data-binary @FILE -H \"" + std::string(proto::kContentSha256Header) + ": $(sha256sum < FILE | cut -c1-64)\"");
  auto gz = inventory::Gzip(r->ToText());
  if (!gz.ok()) return r->Fail("upload", "D900", gz.status().ToString(), curl);
  auto cli = common::DiagnoseConnect(t, true);
  if (!cli.ok()) return r->Fail("upload", "D900", cli.status().ToString(), curl);
  const std::string body = std::move(gz).value();
  auto source = [&body](uint64_t offset, uint64_t len) -> common::StatusOr<std::string> {
    return body.substr(static_cast<size_t>(offset), static_cast<size_t>(len));
  };
  common::Attempt a = common::PutUpload(
      **cli, common::UploadRef{device, "logs", id, common::Sha256Hex(body), body.size()}, source, headers);
  const std::string what = "PUT " + path + " (" + std::to_string(body.size()) + " bytes)";
  if (!a.answered) return r->Fail("upload", "D900", what + ": " + a.status.ToString(), curl);
  const int s = a.http_status;
  if (s == 200 || s == 201) return r->Pass("upload", what + " answered " + std::to_string(s), curl);
  std::string code = "D906";
  if (s == 401 || s == 403) code = "D901";
  if (s == 413) code = "D902";
  if (s == 422) code = "D903";
  if (s == 503) code = "D904";
  if (s == 507) code = "D905";
  r->Fail("upload", code, what + " answered " + std::to_string(s) +
                              (a.retry_after.count() > 0 ? " (Retry-After " + std::to_string(a.retry_after.count()) + "s)" : ""),
          curl);
}

}  // namespace

DiagnoseReport DiagnoseBadConfiguration(const std::string& server, const std::string& message) {
  DiagnoseReport r;
  r.role = "client";
  r.server = server;
  r.at = static_cast<int64_t>(std::time(nullptr));
  r.Fail("configuration", "D100", message, "beacon-client --config FILE status");
  for (const char* s : kAfterConfiguration) r.Skip(s, "configuration failed");
  return r;
}

DiagnoseReport Diagnose(const ClientSettings& settings, const DiagnoseOptions& options) {
  const std::string& dir = settings.state_dir;
  DiagnoseReport r;
  r.role = "client";
  r.at = static_cast<int64_t>(std::time(nullptr));
  r.id = local::DeviceId(dir);
  auto state = StateFile::Open(dir + "/state", settings.env);
  const std::string in_use = state.ok() ? (*state)->Get("beacon") : "";
  r.server = !options.server.empty() ? options.server : !in_use.empty() ? in_use : settings.server;

  // configuration: every problem is listed; the first one's code is the step's.
  std::vector<common::DiagnoseFinding> problems;
  std::vector<std::string> fine;
  auto note = [&](const common::DiagnoseFinding& f) { (f.code.empty() ? fine.push_back(f.detail) : problems.push_back(f)); };
  common::Status valid = settings.Validate();
  std::string host;
  int port = 0;
  if (valid.ok()) valid = common::ParseHttpsUrl(r.server, &host, &port).WithContext("server " + r.server);
  if (!valid.ok()) note({"D100", valid.message()});
  if (!state.ok()) note({"D105", state.status().message()});
  DiagnoseTarget t;
  t.url = r.server;
  t.ca_file = local::CaFile(settings);
  const common::DiagnoseFinding ca = common::CheckCaBundle(t.ca_file);
  note(ca);
  auto verifier = policy::ManifestVerifier::FromPemFile(settings.policy_public_key);
  note(verifier.ok() ? common::DiagnoseFinding{"", settings.policy_public_key + ": Ed25519 policy key"}
                     : common::DiagnoseFinding{"D102", verifier.status().message()});
  const bool has_cert = common::FileExists(local::CertFile(dir));
  bool pair_ok = false;
  if (has_cert) {
    common::DiagnoseFinding pair = common::CheckKeyPair(local::CertFile(dir), local::KeyFile(dir),
                                                        common::PeerKind::kDevice, r.id, nullptr);
    pair_ok = pair.code.empty();
    note(pair);
  } else {
    fine.push_back(r.id.empty() ? "no device id yet (never run)" : "not enrolled yet (no certificate)");
  }
  // The proxy: the configuration's, else the applied policy.xml's (as BeaconSelector).
  if (!settings.proxy.empty()) {
    t.proxy_url = settings.proxy;
    t.proxy_username = settings.proxy_username;
    t.proxy_password = settings.proxy_password;
  } else if (auto pol = local::AppliedPolicyXml(dir); pol && pol->proxy) {
    t.proxy_url = pol->proxy->url;
    t.proxy_username = pol->proxy->username;
    t.proxy_password = pol->proxy->password;
    fine.push_back("proxy " + t.proxy_url + " from the applied policy.xml");
  }
  if (pair_ok) {
    t.cert_file = local::CertFile(dir);
    t.key_file = local::KeyFile(dir);
  }
  t.connect_timeout_s = static_cast<int>(settings.connect_timeout.count());
  t.read_timeout_s = static_cast<int>(settings.request_timeout.count());
  std::string detail;
  for (const auto& p : problems) detail += (detail.empty() ? "" : "; ") + p.code + " " + p.detail;
  for (const auto& f : fine) detail += (detail.empty() ? "" : "; ") + f;
  const std::string manual = "ls -l " + settings.ca_file + " " + settings.policy_public_key + " " + dir + "/identity";
  if (problems.empty()) {
    r.Pass("configuration", detail, manual);
  } else {
    r.Fail("configuration", problems.front().code, detail, manual);
  }
  if (!valid.ok()) {
    for (const char* s : kAfterConfiguration) r.Skip(s, "configuration failed");
    return r;
  }

  if (!common::DiagnosePath(t, ca.code.empty(), &r)) {
    for (const char* s : {"identity", "policy", "upload"}) r.Skip(s, "the beacon cannot be reached");
    return r;
  }
  const int64_t applied = state.ok() ? (*state)->GetInt("policy_revision") : 0;
  const common::HeaderList headers =
      proto::CheckInHeaders(r.id, BEACON_VERSION, applied, local::OutboxDepth(dir));
  if (r.id.empty() || (has_cert && !pair_ok)) {
    if (r.id.empty() || !has_cert) {
      r.Fail("identity", "D700", "no device id or certificate in " + dir, "beacon-client --config FILE status");
    } else {
      r.Skip("identity", "the certificate or key is not usable (configuration)");
    }
    for (const char* s : {"policy", "upload"}) r.Skip(s, "identity did not pass");
    return r;
  }
  if (!common::DiagnoseIdentity(t, proto::ManifestPath(r.id), headers, &r)) {
    for (const char* s : {"policy", "upload"}) r.Skip(s, "identity failed");
    return r;
  }
  PolicyStep(t, settings, r.id, applied, headers, &r);
  if (!options.upload) {
    r.Skip("upload", "not asked for (--no-upload-test)");
  } else {
    UploadStep(t, r.id, headers, &r);
  }
  return r;
}

}  // namespace client
