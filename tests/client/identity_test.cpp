// The client's identity (client/src/identity.h) against a scripted beacon:
// the request file's life cycle, the enrollment document, the renewal rule
// and its crash-safe installation, refusals, and the trust bundle refresh.
// Certificates come from a real CertAuthority (common/pki.h) in a temp folder.
#include "identity.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <deque>

#include "common/enrollment.h"
#include "common/fs.h"
#include "common/pki.h"
#include "common/protocol.h"
#include "common/sha256.h"
#include "common/uuid.h"
#include "support/temp_dir.h"

namespace {

namespace pki = common::pki;
namespace proto = common::protocol;
using client::DeviceIdentity;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

// A beacon that answers from a script and records every request.
class ScriptedBeacon : public common::Transport {
 public:
  struct Answer {
    Answer(int s, std::string b = "", common::HeaderList h = {})  // NOLINT: {201} reads as an answer
        : status(s), body(std::move(b)), headers(std::move(h)) {}
    int status;
    std::string body;
    common::HeaderList headers;  // response headers, names lower-case
  };
  struct Request {
    std::string method, path, body, content_type;
    common::HeaderList headers;
    std::string Header(const std::string& name) const {
      for (const auto& [k, v] : headers)
        if (k == name) return v;
      return "";
    }
  };
  std::deque<Answer> script;
  std::vector<Request> requests;

  common::StatusOr<common::HttpResult> Get(const std::string& path, const common::HeaderList& headers,
                                           uint64_t) override {
    requests.push_back({"GET", path, "", "", headers});
    return Next();
  }
  common::StatusOr<common::HttpResult> Put(const std::string& path, const common::HeaderList& headers, uint64_t size,
                                           const common::BodySource& source, const std::string& type) override {
    auto body = source(0, size);
    if (!body.ok()) return body.status();
    requests.push_back({"PUT", path, *body, type, headers});
    return Next();
  }
  const std::string& url() const override { return url_; }

  // The CSR of the last PUT, as the beacon would read it.
  pki::CsrInfo LastCsr() const {
    for (auto it = requests.rbegin(); it != requests.rend(); ++it) {
      if (it->method != "PUT") continue;
      pki::CsrInfo info;
      auto parsed = common::ParseEnrollRequest(it->body, "request", &info);
      REQUIRE(parsed.ok());
      return info;
    }
    FAIL("no PUT");
    return {};
  }

 private:
  common::StatusOr<common::HttpResult> Next() {
    if (script.empty()) return common::Unavailable("nothing scripted: connection refused");
    Answer a = script.front();
    script.pop_front();
    common::HttpResult r;
    r.status = a.status;
    r.body = a.body;
    for (auto& [k, v] : a.headers) r.headers.emplace(k, v);
    return r;
  }
  std::string url_ = "https://beacon.test";
};

// A state folder with a device id, an estate CA and its certificate as ca_file.
struct Fixture {
  testing_support::TempDir dir{"identity-test"};
  std::string device = common::NewUuid();
  client::ClientSettings settings;
  std::unique_ptr<client::StateFile> state;
  std::unique_ptr<pki::CertAuthority> ca;
  ScriptedBeacon beacon;

  Fixture() {
    settings.server = "https://beacon.test";
    settings.state_dir = dir.path + "/state";
    settings.ca_file = dir.path + "/ca.pem";
    settings.enroll_secret = "ab12cd34.s3cret";
    REQUIRE(common::MakeDirs(settings.state_dir, 0700).ok());
    REQUIRE(pki::CertAuthority::Init(dir.path + "/ca", "test estate", std::chrono::hours(24 * 365)).ok());
    auto loaded = pki::CertAuthority::Load(dir.path + "/ca");
    REQUIRE(loaded.ok());
    ca = std::move(loaded).value();
    REQUIRE(common::WriteFileAtomic(settings.ca_file, ca->cert_pem()).ok());
    auto st = client::StateFile::Open(settings.state_dir + "/state");
    REQUIRE(st.ok());
    state = std::move(st).value();
  }
  std::unique_ptr<DeviceIdentity> Open() {
    auto id = DeviceIdentity::Open(settings, device, state.get());
    REQUIRE(id.ok());
    return std::move(id).value();
  }
  std::string File(const std::string& name) const { return settings.state_dir + "/identity/" + name; }
  std::string Read(const std::string& name) const {
    auto text = common::ReadFile(File(name));
    return text.ok() ? *text : "";
  }
  bool Exists(const std::string& name) const { return common::ReadFile(File(name)).ok(); }
  // A certificate for the key of the last request sent, naming `who`.
  std::string Issue(const std::string& who, std::chrono::seconds validity = std::chrono::hours(24 * 90)) {
    return IssueFor(beacon.LastCsr(), who, validity);
  }
  std::string IssueFor(const pki::CsrInfo& csr, const std::string& who,
                       std::chrono::seconds validity = std::chrono::hours(24 * 90)) {
    auto cert = ca->Issue(csr.public_key_der, common::PeerKind::kDevice, who, {}, validity, Now());
    REQUIRE(cert.ok());
    return cert->pem;
  }
  // Enrolls through the script: PUT 201, GET 202, then GET 200.
  void Enroll(DeviceIdentity& id, std::chrono::seconds validity = std::chrono::hours(24 * 90)) {
    beacon.script = {{201}, {202}};
    REQUIRE(id.EnrollStep(beacon).ok());
    beacon.script = {{200, Issue(device, validity)}};
    auto step = id.EnrollStep(beacon);
    REQUIRE(step.ok());
    REQUIRE(step->enrolled);
  }
};

int Mode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("identity: an enrollment request is saved before it is sent, polled after a restart, sent again after a 404") {
  Fixture f;
  auto id = f.Open();
  CHECK_FALSE(id->Enrolled());
  CHECK_FALSE(id->pending());
  CHECK(id->CaFile() == f.settings.ca_file);

  f.beacon.script = {{201}, {202, "", {{"retry-after", "7"}}}};
  auto step = id->EnrollStep(f.beacon);
  REQUIRE(step.ok());
  CHECK_FALSE(step->enrolled);
  CHECK(step->retry_after == std::chrono::seconds(7));
  REQUIRE(id->pending());
  const std::string request = id->pending()->id;
  CHECK(id->pending()->kind == "enroll");
  CHECK(common::IsUuid(request));
  CHECK(f.Read("request") == "enroll " + request + "\n");
  CHECK(Mode(f.File("key.pem")) == 0600);
  CHECK(Mode(f.File("request")) == 0600);

  // The PUT: the enrollment document with the secret and a request for key.pem.
  REQUIRE(f.beacon.requests.size() == 2);
  const auto& put = f.beacon.requests[0];
  CHECK(put.method == "PUT");
  CHECK(put.path == proto::EnrollPath(f.device, request));
  CHECK(put.content_type == "application/xml");
  CHECK(put.Header(proto::kContentSha256Header) == common::Sha256Hex(put.body));
  CHECK(put.Header(proto::kDeviceHeader).empty());  // no check-in before enrollment
  pki::CsrInfo csr;
  auto doc = common::ParseEnrollRequest(put.body, "enroll", &csr);
  REQUIRE(doc.ok());
  CHECK(doc->secret == "ab12cd34.s3cret");
  CHECK(csr.key_sha256 == *pki::KeySha256(f.Read("key.pem")));
  CHECK(f.beacon.requests[1].method == "GET");
  CHECK(f.beacon.requests[1].path == proto::EnrollPath(f.device, request));

  // A restart polls the same request first; the central never got it (404):
  // the same request again, same key.
  const std::string key = f.Read("key.pem");
  id = f.Open();
  REQUIRE(id->pending());
  CHECK(id->pending()->id == request);
  f.beacon.requests.clear();
  f.beacon.script = {{404}, {201}, {202}};
  step = id->EnrollStep(f.beacon);
  REQUIRE(step.ok());
  CHECK_FALSE(step->enrolled);
  REQUIRE(f.beacon.requests.size() == 3);
  CHECK(f.beacon.requests[0].method == "GET");
  CHECK(f.beacon.requests[1].method == "PUT");
  CHECK(f.beacon.requests[2].method == "GET");
  for (const auto& r : f.beacon.requests) CHECK(r.path == proto::EnrollPath(f.device, request));
  CHECK(f.Read("key.pem") == key);

  // A relay that cannot reach its upstream: still waiting, nothing changed.
  f.beacon.script = {{503, "error: upstream unreachable\n", {{"retry-after", "60"}}}};
  step = id->EnrollStep(f.beacon);
  REQUIRE(step.ok());
  CHECK(step->retry_after == std::chrono::seconds(60));
  CHECK(f.Read("request") == "enroll " + request + "\n");

  // A transport failure is an error to retry; the request stays.
  f.beacon.script.clear();
  CHECK(id->EnrollStep(f.beacon).status().code() == common::Code::kUnavailable);
  CHECK(f.Exists("request"));

  // The certificate: saved, the request removed.
  f.beacon.script = {{200, f.Issue(f.device)}};
  step = id->EnrollStep(f.beacon);
  REQUIRE(step.ok());
  CHECK(step->enrolled);
  CHECK(id->Enrolled());
  CHECK(id->certificate().id == f.device);
  CHECK_FALSE(f.Exists("request"));
  CHECK_FALSE(id->pending());
  CHECK(f.Read("key.pem") == key);
  CHECK(f.Open()->Enrolled());
}

TEST_CASE("identity: a refused enrollment says why, keeps nothing but the key, and the next attempt is a new request") {
  Fixture f;
  f.settings.enroll_secret.clear();  // approval mode
  auto id = f.Open();
  f.beacon.script = {{201}, {202}};
  REQUIRE(id->EnrollStep(f.beacon).ok());
  pki::CsrInfo csr;
  auto doc = common::ParseEnrollRequest(f.beacon.requests[0].body, "enroll", &csr);
  REQUIRE(doc.ok());
  CHECK(doc->secret.empty());
  const std::string first = id->pending()->id;

  f.beacon.script = {{403, "error: denied by an administrator\n"}};
  auto refused = id->EnrollStep(f.beacon);
  CHECK(refused.status().code() == common::Code::kPermissionDenied);
  CHECK(refused.status().message() == "enrollment refused: denied by an administrator");
  CHECK_FALSE(f.Exists("request"));
  CHECK_FALSE(f.Exists("cert.pem"));
  CHECK_FALSE(id->pending());

  f.beacon.requests.clear();
  f.beacon.script = {{201}, {202}};
  REQUIRE(id->EnrollStep(f.beacon).ok());
  REQUIRE(id->pending());
  CHECK(id->pending()->id != first);
  CHECK(f.beacon.requests[0].method == "PUT");
}

TEST_CASE("identity: a certificate naming another device is refused and nothing is stored") {
  Fixture f;
  auto id = f.Open();
  f.beacon.script = {{201}, {202}};
  REQUIRE(id->EnrollStep(f.beacon).ok());
  const std::string other = common::NewUuid();
  f.beacon.script = {{200, f.Issue(other)}};
  auto step = id->EnrollStep(f.beacon);
  CHECK(step.status().code() == common::Code::kFailedPrecondition);
  CHECK(step.status().message().find("names device " + other) != std::string::npos);
  CHECK_FALSE(id->Enrolled());
  CHECK_FALSE(f.Exists("cert.pem"));
  CHECK_FALSE(f.Exists("request"));

  // The same certificate put there by hand: the client refuses to start with it.
  REQUIRE(common::WriteFileAtomic(f.File("cert.pem"), f.Issue(other)).ok());
  auto open = DeviceIdentity::Open(f.settings, f.device, f.state.get());
  CHECK(open.status().code() == common::Code::kFailedPrecondition);
  CHECK(open.status().message().find(f.File("cert.pem")) != std::string::npos);
  CHECK(open.status().message().find("names device " + other) != std::string::npos);

  CHECK(client::DeviceCertificate("not a certificate", f.device).status().code() ==
        common::Code::kInvalidArgument);
}

TEST_CASE("identity: renewal is due with less than a third of the validity left, or after a CA rollover") {
  const int64_t day = 86400;
  CHECK_FALSE(client::RenewalDue(0, 90 * day, true, 1));
  CHECK_FALSE(client::RenewalDue(0, 90 * day, true, 59 * day));
  CHECK_FALSE(client::RenewalDue(0, 90 * day, true, 60 * day));  // exactly a third left
  CHECK(client::RenewalDue(0, 90 * day, true, 60 * day + 1));
  CHECK(client::RenewalDue(0, 90 * day, true, 100 * day));  // expired
  CHECK(client::RenewalDue(0, 90 * day, false, 1));          // issuer is not the newest CA

  Fixture f;
  auto id = f.Open();
  f.Enroll(*id);
  const int64_t now = id->certificate().not_before + 60;
  CHECK_FALSE(id->RenewalDue(now));
  // A rollover: the bundle now ends with a new CA; the certificate is from the old one.
  REQUIRE(f.ca->Rollover("test estate 2", std::chrono::hours(24 * 365), Now()).ok());
  REQUIRE(common::WriteFileAtomic(f.settings.ca_file, f.ca->old_cert_pem() + f.ca->cert_pem()).ok());
  CHECK(id->RenewalDue(now));
  // Renewed onto the new CA: not due. Nor while the bundle held does not
  // know the new CA yet (no renewal onto the same CA round after round).
  REQUIRE(common::WriteFileAtomic(f.File("cert.pem"), f.Issue(f.device)).ok());
  id = f.Open();
  CHECK_FALSE(id->RenewalDue(now));
  REQUIRE(common::WriteFileAtomic(f.settings.ca_file, f.ca->old_cert_pem()).ok());
  CHECK_FALSE(id->RenewalDue(now));
}

TEST_CASE("identity: renewal goes through the upload path, one step per round, and installs key and certificate together") {
  Fixture f;
  auto id = f.Open();
  f.Enroll(*id);
  const std::string old_key = f.Read("key.pem");
  const std::string old_serial = id->certificate().serial;
  const common::HeaderList check_in = proto::CheckInHeaders(f.device, "0.1.0", 3, 1);

  // Not due: nothing sent.
  f.beacon.requests.clear();
  auto r = id->RenewStep(f.beacon, check_in, id->certificate().not_before + 60);
  REQUIRE(r.ok());
  CHECK_FALSE(*r);
  CHECK(f.beacon.requests.empty());

  // Due: a new key and request, PUT as an upload of kind renew.
  const int64_t due = id->certificate().not_after - 60;
  f.beacon.script = {{201}};
  r = id->RenewStep(f.beacon, check_in, due);
  REQUIRE(r.ok());
  CHECK_FALSE(*r);
  REQUIRE(id->pending());
  const std::string request = id->pending()->id;
  CHECK(f.Read("request") == "renew " + request + "\n");
  CHECK(Mode(f.File("key.pem.new")) == 0600);
  CHECK(f.Read("key.pem") == old_key);
  REQUIRE(f.beacon.requests.size() == 1);
  const auto& put = f.beacon.requests[0];
  CHECK(put.path == proto::UploadPath(f.device, "renew", request));
  CHECK(put.Header(proto::kDeviceHeader) == f.device);
  CHECK(put.Header(proto::kContentSha256Header) == common::Sha256Hex(put.body));
  pki::CsrInfo csr;
  auto doc = common::ParseEnrollRequest(put.body, "renew", &csr);
  REQUIRE(doc.ok());
  CHECK(doc->secret.empty());
  CHECK(csr.key_sha256 == *pki::KeySha256(f.Read("key.pem.new")));

  // Next round: one GET, not decided yet.
  const pki::CsrInfo renew_csr = f.beacon.LastCsr();
  f.beacon.requests.clear();
  f.beacon.script = {{202}};
  r = id->RenewStep(f.beacon, check_in, due);
  REQUIRE(r.ok());
  CHECK_FALSE(*r);
  REQUIRE(f.beacon.requests.size() == 1);
  CHECK(f.beacon.requests[0].path == proto::EnrollPath(f.device, request));

  // A restart keeps the renewal pending.
  id = f.Open();
  REQUIRE(id->pending());
  CHECK(id->pending()->kind == "renew");
  CHECK(id->certificate().serial == old_serial);

  // The answer: the new pair in place.
  const std::string new_key = f.Read("key.pem.new");
  f.beacon.script = {{200, f.IssueFor(renew_csr, f.device)}};
  r = id->RenewStep(f.beacon, check_in, due);
  REQUIRE(r.ok());
  CHECK(*r);
  CHECK(id->certificate().serial != old_serial);
  CHECK(f.Read("key.pem") == new_key);
  CHECK(Mode(f.File("key.pem")) == 0600);
  CHECK_FALSE(f.Exists("key.pem.new"));
  CHECK_FALSE(f.Exists("request"));
  CHECK_FALSE(id->pending());
}

TEST_CASE("identity: a renewal cut short between the certificate and the key is completed at start-up") {
  Fixture f;
  auto id = f.Open();
  f.Enroll(*id);
  f.beacon.script = {{201}};
  REQUIRE(id->RenewStep(f.beacon, {}, id->certificate().not_after - 1).ok());
  const std::string new_key = f.Read("key.pem.new");
  // The crash: cert.pem replaced, key.pem.new not yet renamed.
  REQUIRE(common::WriteFileAtomic(f.File("cert.pem"), f.Issue(f.device)).ok());
  id = f.Open();
  REQUIRE(id->Enrolled());
  CHECK(f.Read("key.pem") == new_key);
  CHECK_FALSE(f.Exists("key.pem.new"));
  CHECK_FALSE(id->pending());

  // A certificate matching neither key is never used.
  f.beacon.script = {{201}};
  REQUIRE(id->RenewStep(f.beacon, {}, id->certificate().not_after - 1).ok());
  const std::string stray = f.Issue(f.device);
  REQUIRE(common::WriteFileAtomic(f.File("key.pem.new"), *pki::NewKeyPem()).ok());
  REQUIRE(common::WriteFileAtomic(f.File("cert.pem"), stray).ok());
  CHECK(DeviceIdentity::Open(f.settings, f.device, f.state.get()).status().code() == common::Code::kDataLoss);
}

TEST_CASE("identity: a refused renewal keeps the certificate and waits a day") {
  Fixture f;
  auto id = f.Open();
  f.Enroll(*id);
  const std::string serial = id->certificate().serial;
  const int64_t due = id->certificate().not_after - 60;
  f.beacon.script = {{201}, {403, "error: device revoked\n"}};
  REQUIRE(id->RenewStep(f.beacon, {}, due).ok());
  auto r = id->RenewStep(f.beacon, {}, due);
  CHECK(r.status().code() == common::Code::kPermissionDenied);
  CHECK(id->certificate().serial == serial);
  CHECK_FALSE(f.Exists("key.pem.new"));
  CHECK_FALSE(f.Exists("request"));
  f.beacon.requests.clear();
  r = id->RenewStep(f.beacon, {}, due + 3600);
  REQUIRE(r.ok());
  CHECK(f.beacon.requests.empty());
  f.beacon.script = {{201}};
  REQUIRE(id->RenewStep(f.beacon, {}, due + 86400).ok());
  CHECK(f.beacon.requests.size() == 1);
}

TEST_CASE("identity: the trust bundle is refreshed with If-None-Match and replaced only by one that follows") {
  Fixture f;
  auto id = f.Open();
  auto crl = f.ca->MakeCrl({}, 1, Now(), std::chrono::hours(24 * 7));
  REQUIRE(crl.ok());
  auto bundle = pki::MakeTrustBundle({f.ca->cert_pem()}, {}, {*crl});
  REQUIRE(bundle.ok());
  const std::string pem = bundle->ToPem();

  f.beacon.script = {{200, pem, {{"etag", "\"t1\""}}}};
  auto r = id->RefreshTrust(f.beacon);
  REQUIRE(r.ok());
  CHECK(*r);
  CHECK(id->CaFile() == f.settings.state_dir + "/trust.pem");
  CHECK(*common::ReadFile(id->CaFile()) == pem);
  CHECK(f.state->Get("trust_etag") == "\"t1\"");
  CHECK(f.beacon.requests[0].path == proto::kTrustPath);
  CHECK(f.beacon.requests[0].Header("If-None-Match").empty());

  f.beacon.requests.clear();
  f.beacon.script = {{304}};
  r = id->RefreshTrust(f.beacon);
  REQUIRE(r.ok());
  CHECK_FALSE(*r);
  CHECK(f.beacon.requests[0].Header("If-None-Match") == "\"t1\"");

  // Another estate's bundle: refused, the one held kept.
  testing_support::TempDir other_dir("identity-test-other");
  REQUIRE(pki::CertAuthority::Init(other_dir.path + "/ca", "other", std::chrono::hours(24)).ok());
  auto other = pki::CertAuthority::Load(other_dir.path + "/ca");
  REQUIRE(other.ok());
  auto other_crl = (*other)->MakeCrl({}, 1, Now(), std::chrono::hours(24));
  REQUIRE(other_crl.ok());
  auto forged = pki::MakeTrustBundle({(*other)->cert_pem()}, {}, {*other_crl});
  REQUIRE(forged.ok());
  f.beacon.script = {{200, forged->ToPem(), {{"etag", "\"t2\""}}}};
  r = id->RefreshTrust(f.beacon);
  CHECK(r.status().code() == common::Code::kInvalidArgument);
  CHECK(*common::ReadFile(id->CaFile()) == pem);
  CHECK(f.state->Get("trust_etag") == "\"t1\"");
}
