// Identity end to end (docs/identity.md), with the real executables:
// enrollment through a relay, mutual TLS on the agent endpoints,
// revocation down a chain of relays, renewal, a CA rollover with a client
// that was offline, and clones. Outcomes are read where they land: the
// central's store, the beacons' logs, the HTTP statuses, the client's files.
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <ctime>
#include <filesystem>
#include <optional>
#include <regex>
#include <sstream>

#include "common/identity.h"
#include "common/pki.h"
#include "common/protocol.h"
#include "common/sha256.h"
#include "common/uuid.h"
#include "integration/harness.h"
#include "support/tls_raw.h"

using harness::Estate;
using harness::ReadText;
using harness::WaitUntil;
using harness::WriteText;
using std::chrono::seconds;
namespace fs = std::filesystem;
namespace proto = common::protocol;
using testing_support::TlsConn;

namespace {

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Whether one line of `text` holds every one of `parts`.
bool HasLine(const std::string& text, const std::vector<std::string>& parts) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    bool all = true;
    for (const auto& p : parts) all = all && Contains(line, p);
    if (all) return true;
  }
  return false;
}

bool LogHasLine(const std::string& log, const std::vector<std::string>& parts) {
  return HasLine(ReadText(log), parts);
}

// A child process whose output goes to a file and whose exit status is
// kept (harness::Process reaps it in Running() and loses the status).
// Used for clients that must wait while the test does something else.
class Child {
 public:
  Child(const std::vector<std::string>& argv, std::string log) : log_(std::move(log)) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~Child() {
    if (!code_ && pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The exit code once it has ended (-1 for a signal).
  std::optional<int> Exited() {
    if (!code_) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    return code_;
  }
  // Waits for the end; the exit code, or nullopt after `timeout`.
  std::optional<int> Wait(seconds timeout) {
    WaitUntil([&] { return Exited().has_value(); }, timeout);
    return Exited();
  }
  std::string Output() const { return ReadText(log_); }

 private:
  pid_t pid_ = -1;
  std::string log_;
  std::optional<int> code_;
};

// A client configuration for state folder dir/NAME talking to `port`.
// `secret` "" leaves enroll_secret out (approval mode). The CA file is a
// copy of the estate's bundle as it is now (what an installer ships):
// later `beaconctl ... --out pki` runs rewrite pki/ca.pem. Backoff is short
// so that waiting for an answer costs seconds, not minutes.
std::string ClientConf(Estate& e, const std::string& name, int port, const std::string& secret,
                       const std::string& enroll_wait = "60s") {
  const std::string ca = e.dir + "/" + name + "-ca.pem";
  WriteText(ca, ReadText(e.pki + "/ca.pem"));
  const std::string path = e.dir + "/" + name + ".conf";
  WriteText(path, "server = https://127.0.0.1:" + std::to_string(port) + "\nca_file = " + ca + "\nstate_dir = " +
                      e.dir + "/" + name + "\nconnect_timeout = 3s\nrequest_timeout = 10s\npolicy_public_key = " +
                      e.certs + "/policy.pub\n" + (secret.empty() ? "" : "enroll_secret = " + secret + "\n") +
                      "enroll_wait = " + enroll_wait + "\nbackoff_base = 1s\nbackoff_cap = 2s\n");
  return path;
}

std::unique_ptr<Child> StartClient(Estate& e, const std::string& conf, const std::string& name) {
  return std::make_unique<Child>(std::vector<std::string>{CLIENT_BIN, "--config", conf, "run", "--once"},
                                 e.dir + "/" + name + ".out");
}

// The certificate the client with state folder NAME holds.
std::string CertFile(const Estate& e, const std::string& name) { return e.dir + "/" + name + "/identity/cert.pem"; }
std::string KeyFile(const Estate& e, const std::string& name) { return e.dir + "/" + name + "/identity/key.pem"; }

common::PeerIdentity CertOf(const std::string& pem_file) {
  auto id = common::IdentityFromPem(ReadText(pem_file));
  REQUIRE(id.ok());
  return *id;
}

std::vector<inventory::Enrollment> EnrollmentsOf(Estate& e, const std::string& device) {
  auto all = e.Store()->ListEnrollments("");
  REQUIRE(all.ok());
  std::vector<inventory::Enrollment> out;
  for (auto& r : *all) {
    if (r.device_id == device) out.push_back(r);
  }
  return out;
}

// The one request of `device` in `state` (and of `kind`), or a default
// Enrollment (empty request_id) when there is not exactly one.
inventory::Enrollment OneEnrollment(const std::vector<inventory::Enrollment>& rows, const std::string& state,
                                    const std::string& kind = "") {
  inventory::Enrollment found;
  int n = 0;
  for (const auto& r : rows) {
    if (r.state == state && (kind.empty() || r.kind == kind)) {
      found = r;
      ++n;
    }
  }
  return n == 1 ? found : inventory::Enrollment{};
}


std::vector<inventory::IssuedCertRow> CertificatesOf(Estate& e, const std::string& subject) {
  auto all = e.Store()->ListCertificates();
  REQUIRE(all.ok());
  std::vector<inventory::IssuedCertRow> out;
  for (auto& c : *all) {
    if (c.subject == subject) out.push_back(c);
  }
  return out;
}

// The store's record of the secret "<id>.<random>".
inventory::EnrollSecret SecretRow(Estate& e, const std::string& secret) {
  auto list = e.Store()->ListEnrollSecrets();
  REQUIRE(list.ok());
  for (const auto& s : *list) {
    if (secret.rfind(s.id + ".", 0) == 0) return s;
  }
  FAIL("no secret " << secret.substr(0, secret.find('.')));
  return {};
}

std::string QueuedUploadId(const std::string& output) {
  std::smatch m;
  if (std::regex_search(output, m, std::regex("queued as ([0-9a-f-]{36})"))) return m[1];
  return "";
}

bool Imported(Estate& e, const std::string& device, const std::string& upload_id) {
  auto s = inventory::OpenSqliteStore(e.dir + "/central/store.sqlite", true);
  if (!s.ok()) return false;
  auto has = (*s)->HasUpload(device, upload_id);
  return has.ok() && *has;
}

// A refused device left nothing but its refusal: no device, no key, no
// certificate.
void CheckNothingStoredFor(Estate& e, const std::string& device) {
  INFO("device " << device);
  CHECK(e.Store()->GetDevice(device).status().code() == common::Code::kNotFound);
  CHECK(e.Store()->GetDeviceKey(device).status().code() == common::Code::kNotFound);
  CHECK(CertificatesOf(e, device).empty());
  CHECK_FALSE(Contains(e.Ctl({"ca", "show"}).output, device));
}

// ---- raw requests ---------------------------------------------------------

struct Answer {
  int status = 0;
  std::string data;  // the whole response
};

TlsConn::Options WithCert(const std::string& cert, const std::string& key) {
  TlsConn::Options o;
  o.cert_file = cert;
  o.key_file = key;
  return o;
}

Answer Ask(int port, const TlsConn::Options& o, const std::string& request) {
  auto r = testing_support::TlsExchange(port, o, request);
  return {testing_support::FirstStatus(r.data), r.data};
}

std::string GetRequest(const std::string& path, const std::string& device) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Beacon-Device: " + device + "\r\nConnection: close\r\n\r\n";
}

std::string PutRequest(const std::string& device, const std::string& kind, const std::string& upload,
                       const std::string& body, const std::string& extra_headers = "") {
  return "PUT " + proto::UploadPath(device, kind, upload) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Beacon-Device: " +
         device + "\r\nX-Beacon-Content-SHA256: " + common::Sha256Hex(body) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n" + extra_headers +
         "\r\n" + body;
}

size_t SpoolFiles(const Estate& e, const std::string& beacon) {
  return harness::CountFiles(e.dir + "/" + beacon + "/spool/ready") +
         harness::CountFiles(e.dir + "/" + beacon + "/spool/incoming");
}

// Spool entries of one device's uploads (a beacon's own check-in batches,
// which it may spool at any moment, are entries of the beacon's id).
size_t SpoolFilesOf(const Estate& e, const std::string& beacon, const std::string& device) {
  size_t n = 0;
  for (const char* part : {"/spool/ready", "/spool/incoming"}) {
    const std::string dir = e.dir + "/" + beacon + part;
    if (!fs::exists(dir)) continue;
    for (const auto& f : fs::directory_iterator(dir)) n += f.path().filename().string().rfind(device, 0) == 0;
  }
  return n;
}

// A device certificate signed by the estate CA as if issued at `issued_at`
// (in the past: expired; in the future: not yet valid). Not recorded in the
// store: only its dates matter.
Estate::Cert DatedDeviceCert(Estate& e, const std::string& name, int64_t issued_at, seconds validity) {
  auto ca = common::pki::CertAuthority::Load(e.dir + "/central/ca");
  REQUIRE(ca.ok());
  auto key = common::pki::NewKeyPem();
  REQUIRE(key.ok());
  const std::string device = common::NewUuid();
  auto csr = common::pki::MakeCsr(*key, device);
  REQUIRE(csr.ok());
  auto info = common::pki::ParseCsr(*csr);
  REQUIRE(info.ok());
  auto cert = (*ca)->Issue(info->public_key_der, common::PeerKind::kDevice, device, {}, validity, issued_at);
  REQUIRE(cert.ok());
  Estate::Cert out{e.pki + "/" + name + ".pem", e.pki + "/" + name + ".key"};
  WriteText(out.cert, cert->pem);
  WriteText(out.key, *key);
  return out;
}

// A client certificate the estate CA signed that names nothing: no estate
// policy, no estate URI (made with the openssl tool, as a mistaken
// administrator would).
Estate::Cert PlainCert(Estate& e) {
  Estate::Cert out{e.pki + "/plain.pem", e.pki + "/plain.key"};
  const std::string csr = e.pki + "/plain.csr", ext = e.pki + "/plain.ext";
  WriteText(ext, "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
  auto req = harness::Run({"/usr/bin/openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                           "-nodes", "-subj", "/CN=plain", "-keyout", out.key, "-out", csr});
  INFO(req.output);
  REQUIRE(req.exit_code == 0);
  auto sign = harness::Run({"/usr/bin/openssl", "x509", "-req", "-in", csr, "-CA", e.dir + "/central/ca/ca.pem",
                            "-CAkey", e.dir + "/central/ca/ca.key", "-set_serial", "0x5eed", "-days", "2", "-sha256",
                            "-extfile", ext, "-out", out.cert});
  INFO(sign.output);
  REQUIRE(sign.exit_code == 0);
  return out;
}

// A relay whose upstream is `upstream_port` (a chain: client -> NAME ->
// upstream), with its own beacon certificate, configured as the DMZ relay.
struct ChainRelay {
  int port = 0;
  std::string log;
  std::string data_dir;
  std::unique_ptr<harness::Process> process;
};

ChainRelay StartChainRelay(Estate& e, const std::string& name, int upstream_port) {
  Estate::Cert cert = e.IssueBeacon(name);
  ChainRelay r;
  r.port = harness::FreePort();
  r.log = e.dir + "/" + name + ".log";
  r.data_dir = e.dir + "/" + name;
  const std::string ca = e.dir + "/" + name + "-ca.pem";
  WriteText(ca, ReadText(e.pki + "/ca.pem"));
  const std::string conf = e.dir + "/" + name + ".conf";
  WriteText(conf, "name = " + name + "\nlisten_host = 127.0.0.1\nlisten_port = " + std::to_string(r.port) +
                      "\ntls_cert = " + cert.cert + "\ntls_key = " + cert.key + "\nca_file = " + ca +
                      "\nadmin_listen_port = 0\ndata_dir = " + r.data_dir + "\nupstream = https://127.0.0.1:" + std::to_string(upstream_port) +
                      "\ncheckin_flush_interval = 1s\npolicy_cache_ttl = 0s\nrelay_backoff_base = 1s\n"
                      "relay_backoff_cap = 2s\nworkers = 4\nspool_min_free = 0\nkeep_alive_timeout = 2s\n"
                      "trust_refresh_interval = 1s\n");
  r.process = std::make_unique<harness::Process>(std::vector<std::string>{BEACON_BIN, "--config", conf}, r.log);
  REQUIRE(harness::WaitForBeacon(r.port));
  return r;
}

size_t BundleCas(const std::string& path) {
  auto b = common::pki::ParseTrustBundle(ReadText(path));
  return b.ok() ? b->ca_pems.size() : 0;
}

// uploads.received_at of one upload in the central's store (0 if absent).
int64_t ReceivedAt(const Estate& e, const std::string& device, const std::string& upload, std::string* via) {
  sqlite3* db = nullptr;
  int64_t at = 0;
  if (sqlite3_open_v2((e.dir + "/central/store.sqlite").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT received_at, via FROM uploads WHERE device_id = ?1 AND upload_id = ?2", -1,
                           &st, nullptr) == SQLITE_OK) {
      sqlite3_bind_text(st, 1, device.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 2, upload.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(st) == SQLITE_ROW) {
        at = sqlite3_column_int64(st, 0);
        *via = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
      }
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return at;
}

}  // namespace

// ---- enrollment -----------------------------------------------------------

TEST_CASE("enrollment: a client enrolls through the relay, is recorded as issued, and reports") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  const std::string conf = ClientConf(e, "client", e.dmz_port, e.enroll_secret);
  auto run = e.Client(conf, {"run", "--once"});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const std::string device = e.DeviceOf("client");

  // The device holds its key (private) and a certificate naming it.
  REQUIRE(fs::exists(CertFile(e, "client")));
  const fs::perms key_mode = fs::status(KeyFile(e, "client")).permissions() & fs::perms::all;
  CHECK(key_mode == (fs::perms::owner_read | fs::perms::owner_write));
  CHECK_FALSE(fs::exists(e.dir + "/client/identity/request"));
  const common::PeerIdentity cert = CertOf(CertFile(e, "client"));
  CHECK(cert.is_device());
  CHECK(cert.id == device);

  // The central recorded the decision, the certificate and the device's key.
  auto enrollments = EnrollmentsOf(e, device);
  REQUIRE(enrollments.size() == 1);
  CHECK(enrollments[0].kind == "enroll");
  CHECK(enrollments[0].state == "issued");
  CHECK(enrollments[0].serial == cert.serial);
  CHECK(enrollments[0].via == "dmz");
  CHECK(enrollments[0].secret_id == e.enroll_secret.substr(0, e.enroll_secret.find('.')));
  auto key = e.Store()->GetDeviceKey(device);
  REQUIRE(key.ok());
  CHECK(key->key_sha256 == cert.key_sha256);
  CHECK(HasLine(e.Ctl({"enroll", "list"}).output, {device, "enroll", "issued", cert.serial}));
  CHECK(HasLine(e.Ctl({"ca", "show"}).output, {cert.serial, "device", device}));
  CHECK(LogHasLine(e.dir + "/central.log", {"enroll request", device, "issued certificate " + cert.serial}));

  // It reports with its certificate: the inventory reaches the store.
  const std::string upload = QueuedUploadId(run.output);
  REQUIRE(common::IsUuid(upload));
  REQUIRE(WaitUntil([&] { return Imported(e, device, upload); }, seconds(20)));
  CHECK(e.Store()->GetDevice(device).ok());

  // A second round works with the same certificate and asks for nothing
  // (a 90-day certificate is not due for renewal).
  auto again = e.Client(conf, {"run", "--once"});
  INFO(again.output);
  CHECK(again.exit_code == 0);
  CHECK(CertOf(CertFile(e, "client")).serial == cert.serial);
  CHECK(EnrollmentsOf(e, device).size() == 1);
}

TEST_CASE("enrollment: a wrong, expired, revoked or used-up secret is refused with its reason, nothing else stored") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  auto secret = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"enroll", "secret", "create"});
    std::string s = e.Ctl(args).output;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  };
  const std::string expired = secret({"--expires", "1s"});
  const std::string revoked = secret({});
  const std::string once = secret({"--uses", "1"});
  e.Ctl({"enroll", "secret", "revoke", revoked.substr(0, revoked.find('.'))});
  // The estate secret's id with another random part.
  const std::string wrong = e.enroll_secret.substr(0, e.enroll_secret.find('.') + 1) + std::string(32, '0');
  REQUIRE(wrong != e.enroll_secret);
  // Wait until the expiring secret has expired by the clock.
  const int64_t expires_at = SecretRow(e, expired).expires_at;
  REQUIRE(expires_at > 0);
  REQUIRE(WaitUntil([&] { return Now() > expires_at; }, seconds(10)));

  struct Case {
    std::string name, secret, reason;
    std::unique_ptr<Child> child;
  };
  std::vector<Case> cases;
  cases.push_back({"wrong", wrong, "unknown enrollment secret", nullptr});
  cases.push_back({"expired", expired, "enrollment secret expired", nullptr});
  cases.push_back({"revoked", revoked, "enrollment secret revoked", nullptr});
  cases.push_back({"first", once, "", nullptr});  // takes the one use
  for (auto& c : cases) c.child = StartClient(e, ClientConf(e, c.name, e.dmz_port, c.secret), c.name);
  for (auto& c : cases) REQUIRE(c.child->Wait(seconds(60)).has_value());
  // Only now, so that the single use is taken.
  cases.push_back({"second", once, "enrollment secret used up", nullptr});
  cases.back().child = StartClient(e, ClientConf(e, "second", e.dmz_port, once), "second");
  REQUIRE(cases.back().child->Wait(seconds(60)).has_value());

  const std::string refused_list = e.Ctl({"enroll", "list", "--state", "refused"}).output;
  for (auto& c : cases) {
    INFO(c.name << ": " << c.child->Output());
    const std::string device = e.DeviceOf(c.name);
    REQUIRE(common::IsUuid(device));
    auto enrollments = EnrollmentsOf(e, device);
    REQUIRE(enrollments.size() == 1);
    if (c.reason.empty()) {
      CHECK(*c.child->Exited() == 0);
      CHECK(enrollments[0].state == "issued");
      CHECK(fs::exists(CertFile(e, c.name)));
      continue;
    }
    // Refused: exit 1 with the reason, the reason recorded, the client keeps
    // no certificate and no request (the next attempt is a new request).
    CHECK(*c.child->Exited() == 1);
    CHECK(Contains(c.child->Output(), "enrollment refused: " + c.reason));
    CHECK(enrollments[0].state == "refused");
    CHECK(enrollments[0].reason == c.reason);
    CHECK(HasLine(refused_list, {device, "refused", c.reason}));
    CHECK(LogHasLine(e.dir + "/central.log", {"enroll request", device, "refused: " + c.reason}));
    CHECK_FALSE(fs::exists(CertFile(e, c.name)));
    CHECK_FALSE(fs::exists(e.dir + "/" + c.name + "/identity/request"));
    CheckNothingStoredFor(e, device);
  }
  // The single-use secret counts its one use.
  CHECK(SecretRow(e, once).uses == 1);
  CHECK(SecretRow(e, once).max_uses == 1);
}

TEST_CASE("enrollment: in approval mode a request waits for the administrator, and a denied one stays denied") {
  Estate e;
  e.StartCentral("enroll_approval = true\n");
  e.StartDmz();
  auto pending_of = [&](const std::string& name) -> std::string {
    if (!fs::exists(e.dir + "/" + name + "/device-id")) return "";
    for (const auto& r : EnrollmentsOf(e, e.DeviceOf(name))) {
      if (r.state == "pending") return r.request_id;
    }
    return "";
  };

  // Approved: the waiting client gets its certificate and carries on.
  auto approved = StartClient(e, ClientConf(e, "approved", e.dmz_port, ""), "approved");
  std::string request;
  REQUIRE(WaitUntil([&] { return !(request = pending_of("approved")).empty(); }, seconds(30)));
  const std::string device = e.DeviceOf("approved");
  CHECK(HasLine(e.Ctl({"enroll", "pending"}).output, {request, device, "pending"}));
  CHECK(LogHasLine(e.dir + "/central.log", {request, "waiting for an administrator"}));
  CHECK_FALSE(approved->Exited().has_value());  // still waiting
  CHECK(CertificatesOf(e, device).empty());
  e.Ctl({"enroll", "approve", request});
  auto code = approved->Wait(seconds(60));
  INFO(approved->Output());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  const common::PeerIdentity cert = CertOf(CertFile(e, "approved"));
  CHECK(cert.id == device);
  auto decided = EnrollmentsOf(e, device);
  REQUIRE(decided.size() == 1);
  CHECK(decided[0].state == "issued");
  CHECK(decided[0].serial == cert.serial);
  CHECK(decided[0].secret_id.empty());
  const std::string upload = QueuedUploadId(approved->Output());
  REQUIRE(common::IsUuid(upload));
  CHECK(WaitUntil([&] { return Imported(e, device, upload); }, seconds(20)));

  // Denied: the client is told so, and approving afterwards fails.
  auto denied = StartClient(e, ClientConf(e, "denied", e.dmz_port, ""), "denied");
  std::string request2;
  REQUIRE(WaitUntil([&] { return !(request2 = pending_of("denied")).empty(); }, seconds(30)));
  e.Ctl({"enroll", "deny", request2});
  auto code2 = denied->Wait(seconds(60));
  INFO(denied->Output());
  REQUIRE(code2.has_value());
  CHECK(*code2 == 1);
  CHECK(Contains(denied->Output(), "enrollment refused: denied by an administrator"));
  auto late = harness::Run({BEACONCTL_BIN, "--data-dir", e.dir + "/central", "enroll", "approve", request2});
  INFO(late.output);
  CHECK(late.exit_code != 0);
  const std::string device2 = e.DeviceOf("denied");
  auto rows = EnrollmentsOf(e, device2);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].state == "denied");
  CHECK(rows[0].reason == "denied by an administrator");
  CHECK_FALSE(fs::exists(CertFile(e, "denied")));
  CheckNothingStoredFor(e, device2);
}

TEST_CASE("enrollment: through a relay while the central is down, completed once the central is back") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  e.StopCentral();
  auto client = StartClient(e, ClientConf(e, "client", e.dmz_port, e.enroll_secret, "90s"), "client");
  // The request waits in the relay's spool; the client waits for its answer.
  REQUIRE(WaitUntil([&] { return harness::CountFiles(e.dir + "/dmz/spool/ready") == 1; }, seconds(30)));
  REQUIRE(WaitUntil([&] { return Contains(client->Output(), "enrollment request"); }, seconds(10)));
  CHECK_FALSE(client->Exited().has_value());
  CHECK_FALSE(fs::exists(CertFile(e, "client")));

  e.StartCentral();
  auto code = client->Wait(seconds(90));
  INFO(client->Output());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  const std::string device = e.DeviceOf("client");
  CHECK(CertOf(CertFile(e, "client")).id == device);
  auto rows = EnrollmentsOf(e, device);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].state == "issued");
  CHECK(rows[0].via == "dmz");
  const std::string upload = QueuedUploadId(client->Output());
  REQUIRE(common::IsUuid(upload));
  CHECK(WaitUntil([&] { return Imported(e, device, upload); }, seconds(20)));
}

// ---- mutual TLS -----------------------------------------------------------

TEST_CASE("mtls: the identified endpoints answer 401 to a peer without a certificate") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  const std::string device = common::NewUuid();
  const std::string body = "anonymous";
  for (int port : {e.dmz_port, e.central_port}) {
    INFO("port " << port);
    const std::vector<std::pair<std::string, std::string>> requests = {
        {"manifest", GetRequest(proto::ManifestPath(device), device)},
        {"upload", PutRequest(device, "inventory", common::NewUuid(), body)},
        {"files", GetRequest(proto::FilePath(common::Sha256Hex("x")), device)},
        {"trust", GetRequest(proto::kTrustPath, device)},
    };
    for (const auto& [what, request] : requests) {
      INFO(what);
      Answer a = Ask(port, {}, request);
      CHECK(a.status == 401);
      CHECK(Contains(a.data, "client certificate required"));
    }
    // Open endpoints stay open.
    CHECK(Ask(port, {}, GetRequest(proto::kPingPath, device)).status == 200);
  }
  CHECK(LogHasLine(e.dir + "/dmz.log", {"refused PUT " + proto::UploadPath(device, "inventory", ""), "no client certificate"}));
  CHECK(LogHasLine(e.dir + "/central.log", {"refused GET /v1/trust", "no client certificate"}));
  CHECK(SpoolFilesOf(e, "dmz", device) == 0);
  CHECK(SpoolFilesOf(e, "central", device) == 0);
}

TEST_CASE("mtls: expired, not yet valid, unknown-CA and identity-less certificates get 401 with the reason") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  const int64_t now = Now();
  struct Case {
    std::string name;
    Estate::Cert cert;
    std::string reason;
  };
  std::vector<Case> cases = {
      {"expired", DatedDeviceCert(e, "expired", now - 2 * 86400, seconds(86400)), "certificate has expired"},
      {"not yet valid", DatedDeviceCert(e, "future", now + 2 * 86400, seconds(86400)), "certificate is not yet valid"},
      // From another CA (tests/make-test-certs.sh): a well-formed device
      // certificate, from a CA this estate does not know.
      {"unknown CA", {e.certs + "/wrongca.pem", e.certs + "/wrongca.key"}, "unknown certificate authority"},
      {"another estate's device", {e.certs + "/device.pem", e.certs + "/device.key"}, "unknown certificate authority"},
      {"no identity", PlainCert(e), "certificate names no estate device or beacon"},
  };
  for (const auto& c : cases) {
    for (auto [beacon, port] : {std::pair<std::string, int>{"dmz", e.dmz_port}, {"central", e.central_port}}) {
      INFO(c.name << " at " << beacon);
      const std::string device = common::NewUuid();
      const std::string upload = common::NewUuid();
      Answer manifest = Ask(port, WithCert(c.cert.cert, c.cert.key), GetRequest(proto::ManifestPath(device), device));
      CHECK(manifest.status == 401);
      CHECK(Contains(manifest.data, "client certificate refused: " + c.reason));
      Answer put = Ask(port, WithCert(c.cert.cert, c.cert.key), PutRequest(device, "inventory", upload, "inventory"));
      CHECK(put.status == 401);
      CHECK(Contains(put.data, "client certificate refused: " + c.reason));
      // The beacon says who was refused and why.
      CHECK(WaitUntil(
          [&] {
            return LogHasLine(e.dir + "/" + beacon + ".log",
                              {"refused PUT " + proto::UploadPath(device, "inventory", upload), c.reason, "serial"});
          },
          seconds(5)));
      CHECK(LogHasLine(e.dir + "/" + beacon + ".log", {"refused GET " + proto::ManifestPath(device), c.reason}));
    }
  }
  CHECK(SpoolFiles(e, "dmz") == 0);
  CHECK(SpoolFiles(e, "central") == 0);
  CHECK(e.dmz->Running());
  CHECK(e.central->Running());
}

TEST_CASE("mtls: a device certificate acts only for its own device, with no relay headers and no check-in batches") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  const std::string device = common::NewUuid();
  const std::string other = common::NewUuid();
  Estate::Cert cert = e.IssueDevice(device);
  auto as_device = WithCert(cert.cert, cert.key);
  struct Refused {
    std::string name;
    std::string request;
    std::string upload;  // "" for a manifest
    std::string reason;
  };
  const std::string u1 = common::NewUuid(), u2 = common::NewUuid(), u3 = common::NewUuid(), u4 = common::NewUuid(),
                    u5 = common::NewUuid();
  std::vector<Refused> refused = {
      {"another device's manifest", GetRequest(proto::ManifestPath(other), other), "",
       "this certificate is for another device"},
      {"another device's upload", PutRequest(other, "inventory", u1, "not mine"), u1,
       "this certificate is for another device"},
      {"X-Beacon-Via", PutRequest(device, "logs", u2, "hidden", "X-Beacon-Via: dmz\r\n"), u2,
       "relay headers are accepted from beacons only"},
      {"X-Beacon-Via on a manifest",
       "GET " + proto::ManifestPath(device) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Beacon-Device: " + device +
           "\r\nX-Beacon-Via: dmz\r\nConnection: close\r\n\r\n",
       "", "relay headers are accepted from beacons only"},
      {"X-Beacon-Received-At", PutRequest(device, "logs", u3, "dated", "X-Beacon-Received-At: 1000000000\r\n"), u3,
       "relay headers are accepted from beacons only"},
      {"check-in batch", PutRequest(device, "checkins", u4, "batch"), u4,
       "check-in batches and beacon health come from beacons only"},
      {"beacon health", PutRequest(device, "beacon-health", u5, "<health/>"), u5,
       "check-in batches and beacon health come from beacons only"},
  };
  for (int port : {e.dmz_port, e.central_port}) {
    for (const auto& r : refused) {
      INFO(r.name << " on port " << port);
      Answer a = Ask(port, as_device, r.request);
      CHECK(a.status == 403);
      CHECK(Contains(a.data, r.reason));
    }
  }
  CHECK(SpoolFilesOf(e, "dmz", device) == 0);
  CHECK(SpoolFilesOf(e, "central", device) == 0);

  // What it may do: its own manifest, the trust bundle, its own upload.
  Answer manifest = Ask(e.dmz_port, as_device, GetRequest(proto::ManifestPath(device), device));
  CHECK(manifest.status == 200);
  CHECK(Contains(manifest.data, "device=\"" + device + "\""));
  Answer trust = Ask(e.dmz_port, as_device, GetRequest(proto::kTrustPath, device));
  CHECK(trust.status == 200);
  CHECK(Contains(trust.data, "BEGIN X509 CRL"));
  const std::string mine = common::NewUuid();
  CHECK(Ask(e.dmz_port, as_device, PutRequest(device, "logs", mine, "my own log")).status == 201);
  REQUIRE(WaitUntil([&] { return Imported(e, device, mine); }, seconds(20)));
  // Nothing refused reached the store.
  for (const auto& r : refused) {
    if (r.upload.empty()) continue;
    INFO(r.name);
    CHECK_FALSE(Imported(e, device, r.upload));
    CHECK_FALSE(Imported(e, other, r.upload));
  }
  CHECK(e.Store()->GetDevice(other).status().code() == common::Code::kNotFound);
}

TEST_CASE("mtls: a received-at a relay asserts later than the receiving beacon's clock is clamped to it") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  Estate::Cert branch = e.IssueBeacon("branch");
  const std::string device = common::NewUuid(), upload = common::NewUuid();
  const int64_t before = Now();
  const int64_t far_future = before + 10 * 365 * 86400;
  Answer a = Ask(e.dmz_port, WithCert(branch.cert, branch.key),
                 PutRequest(device, "logs", upload, "relayed from a branch",
                            "X-Beacon-Via: branch\r\nX-Beacon-Received-At: " + std::to_string(far_future) + "\r\n"));
  INFO(a.data);
  REQUIRE(a.status == 201);
  REQUIRE(WaitUntil([&] { return Imported(e, device, upload); }, seconds(20)));
  const int64_t after = Now();
  std::string via;
  const int64_t received_at = ReceivedAt(e, device, upload, &via);
  CHECK(received_at >= before);
  CHECK(received_at <= after);
  CHECK(via == "branch");  // a beacon's Via is honoured
}

// ---- revocation -----------------------------------------------------------

TEST_CASE("revocation: a revoked device is refused by the central and down a chain of relays, and cannot enroll again") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  ChainRelay branch = StartChainRelay(e, "branch", e.dmz_port);
  const std::string conf = ClientConf(e, "client", e.dmz_port, e.enroll_secret);
  auto run = e.Client(conf, {"run", "--once"});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const std::string device = e.DeviceOf("client");
  const common::PeerIdentity cert = CertOf(CertFile(e, "client"));
  auto as_device = WithCert(CertFile(e, "client"), KeyFile(e, "client"));
  const std::string manifest = GetRequest(proto::ManifestPath(device), device);
  for (int port : {e.central_port, e.dmz_port, branch.port}) {
    INFO("port " << port);
    CHECK(Ask(port, as_device, manifest).status == 200);
  }

  // A connection kept alive across the revocation (checked per request).
  TlsConn kept(e.central_port, as_device);
  REQUIRE(kept.ok());
  const std::string keep_alive = "GET " + proto::ManifestPath(device) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Beacon-Device: " +
                                 device + "\r\n\r\n";
  REQUIRE(kept.Send(keep_alive));
  REQUIRE(testing_support::FirstStatus(kept.Read(300).data) == 200);

  auto revoke = e.Ctl({"device", "revoke", device});
  CHECK(Contains(revoke.output, "revoked 1 certificate(s) of device " + device));
  CHECK(WaitUntil(
      [&] {
        if (!kept.Send(keep_alive)) return false;
        auto r = kept.Read(300);
        return testing_support::FirstStatus(r.data) == 403 && Contains(r.data, "certificate revoked");
      },
      seconds(10)));
  auto revoked_row = CertificatesOf(e, device);
  REQUIRE(revoked_row.size() == 1);
  CHECK(revoked_row[0].revoked_at > 0);
  // Each hop refuses it once it holds the new revocation list.
  for (auto [name, port] : {std::pair<std::string, int>{"central", e.central_port}, {"dmz", e.dmz_port},
                            {"branch", branch.port}}) {
    INFO(name);
    Answer a;
    CHECK(WaitUntil(
        [&] {
          a = Ask(port, as_device, manifest);
          return a.status == 403;
        },
        seconds(20)));
    CHECK(Contains(a.data, "certificate revoked"));
    CHECK(LogHasLine(e.dir + "/" + name + ".log", {"refused GET " + proto::ManifestPath(device), cert.serial,
                                                   "certificate revoked"}));
    // An upload is refused the same way, before its body.
    Answer put = Ask(port, as_device, PutRequest(device, "logs", common::NewUuid(), "after revocation"));
    CHECK(put.status == 403);
  }
  CHECK(SpoolFilesOf(e, "branch", device) == 0);
  CHECK(Contains(ReadText(branch.data_dir + "/trust.pem"), "X509 CRL"));

  // The same device id from a fresh state folder (a new key) is refused.
  fs::create_directories(e.dir + "/again");
  fs::copy_file(e.dir + "/client/device-id", e.dir + "/again/device-id");
  auto again = e.Client(ClientConf(e, "again", e.dmz_port, e.enroll_secret), {"run", "--once"});
  INFO(again.output);
  CHECK(again.exit_code == 1);
  CHECK(Contains(again.output, "enrollment refused: device revoked"));
  auto rows = EnrollmentsOf(e, device);
  REQUIRE(rows.size() == 2);
  CHECK(OneEnrollment(rows, "issued").request_id != "");
  CHECK(OneEnrollment(rows, "refused").reason == "device revoked");
  CHECK_FALSE(fs::exists(CertFile(e, "again")));
  CHECK(CertificatesOf(e, device).size() == 1);
}

TEST_CASE("revocation: a revoked relay's uploads are refused by the central and stay in its spool") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  const std::string conf = ClientConf(e, "client", e.dmz_port, e.enroll_secret);
  REQUIRE(e.Client(conf, {"run", "--once"}).exit_code == 0);
  const std::string device = e.DeviceOf("client");
  const std::string dmz_serial = CertOf(e.pki + "/dmz.pem").serial;

  auto revoke = e.Ctl({"beacon", "revoke", "dmz"});
  CHECK(Contains(revoke.output, "revoked 1 certificate(s) of beacon dmz"));
  // The central enforces it at its next refresh: the relay's own requests
  // (trust refreshes, every second) are refused from then on.
  REQUIRE(WaitUntil([&] { return LogHasLine(e.dir + "/central.log", {"(beacon dmz, serial " + dmz_serial, "certificate revoked"}); },
                    seconds(20)));

  // The device still reaches the relay, which keeps what it accepted.
  auto inv = e.Client(conf, {"inventory", "--now"});
  INFO(inv.output);
  REQUIRE(inv.exit_code == 0);
  const std::string upload = QueuedUploadId(inv.output);
  REQUIRE(common::IsUuid(upload));
  const std::string entry = e.dir + "/dmz/spool/ready/" + device + "_" + upload + ".upl";
  // The relay keeps trying and is refused: a 403 on its uploads after it
  // stored this one (the drain stops at the first refusal of a pass, which
  // may be the check-in batch queued ahead of the inventory).
  const bool refused = WaitUntil(
      [&] {
        const std::string log = ReadText(e.dir + "/dmz.log");
        const size_t stored = log.find("stored inventory " + upload);
        return stored != std::string::npos && HasLine(log.substr(stored), {"relay: ", "PUT ", "HTTP 403"});
      },
      seconds(20));
  INFO(ReadText(e.dir + "/dmz.log"));
  CHECK(refused);
  CHECK(fs::exists(entry));
  CHECK(harness::CountFiles(e.dir + "/dmz/spool/rejected") == 0);
  CHECK_FALSE(Imported(e, device, upload));
  CHECK(e.dmz->Running());
}

// ---- renewal --------------------------------------------------------------

// device_cert_validity is the 60-s minimum. The CA backdates notBefore for
// clock skew by at most a tenth of the validity (6 s here), so the
// certificate's period is 66 s and it is due for renewal 44 s after issue.
TEST_CASE("renewal: a client renews when a third of its validity is left, and keeps working", "[slow]") {
  Estate e;
  e.StartCentral("device_cert_validity = 60s\n");
  e.StartDmz();
  const std::string conf = ClientConf(e, "client", e.dmz_port, e.enroll_secret);
  auto first = e.Client(conf, {"run", "--once"});
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  const std::string device = e.DeviceOf("client");
  const common::PeerIdentity old_cert = CertOf(CertFile(e, "client"));
  CHECK(old_cert.not_after - old_cert.not_before == 60 + 6);
  const std::string old_key = ReadText(KeyFile(e, "client"));
  WriteText(e.dir + "/old.pem", ReadText(CertFile(e, "client")));
  WriteText(e.dir + "/old.key", old_key);
  // Not due yet: the first round asked for nothing more.
  CHECK(EnrollmentsOf(e, device).size() == 1);

  REQUIRE(WaitUntil([&] { return 3 * (old_cert.not_after - Now()) < old_cert.not_after - old_cert.not_before; },
                    seconds(60)));
  // One step per round: the request, then its answer.
  std::string last;
  REQUIRE(WaitUntil(
      [&] {
        auto r = e.Client(conf, {"run", "--once"});
        last = r.output;
        return r.exit_code == 0 && CertOf(CertFile(e, "client")).serial != old_cert.serial;
      },
      seconds(60)));
  INFO(last);
  const common::PeerIdentity new_cert = CertOf(CertFile(e, "client"));
  CHECK(new_cert.id == device);
  CHECK(new_cert.key_sha256 != old_cert.key_sha256);
  CHECK(ReadText(KeyFile(e, "client")) != old_key);
  CHECK_FALSE(fs::exists(e.dir + "/client/identity/key.pem.new"));
  CHECK_FALSE(fs::exists(e.dir + "/client/identity/request"));
  auto rows = EnrollmentsOf(e, device);
  REQUIRE(rows.size() == 2);
  CHECK(OneEnrollment(rows, "issued", "renew").serial == new_cert.serial);
  CHECK(OneEnrollment(rows, "issued", "enroll").serial == old_cert.serial);
  CHECK(HasLine(e.Ctl({"enroll", "list"}).output, {device, "renew", "issued", new_cert.serial}));
  CHECK(HasLine(e.Ctl({"ca", "show"}).output, {new_cert.serial, "device", device}));
  auto key = e.Store()->GetDeviceKey(device);
  REQUIRE(key.ok());
  CHECK(key->key_sha256 == new_cert.key_sha256);

  // It keeps working with the new certificate; the old one stays valid
  // until it expires.
  auto after = e.Client(conf, {"run", "--once"});
  INFO(after.output);
  CHECK(after.exit_code == 0);
  const std::string upload = QueuedUploadId(after.output);
  REQUIRE(common::IsUuid(upload));
  CHECK(WaitUntil([&] { return Imported(e, device, upload); }, seconds(20)));
  CHECK(Ask(e.dmz_port, WithCert(e.dir + "/old.pem", e.dir + "/old.key"),
            GetRequest(proto::ManifestPath(device), device))
            .status == 200);
}

// ---- CA rollover ----------------------------------------------------------

TEST_CASE("rollover: a client offline during a CA rollover renews onto the new CA, and the old CA retires") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  const std::string conf = ClientConf(e, "client", e.dmz_port, e.enroll_secret);
  REQUIRE(e.Client(conf, {"run", "--once"}).exit_code == 0);
  const std::string device = e.DeviceOf("client");
  const common::PeerIdentity old_cert = CertOf(CertFile(e, "client"));
  CHECK(BundleCas(e.dir + "/client/trust.pem") == 1);

  // The rollover; the central and the relay take the two-CA bundle.
  e.Ctl({"ca", "rollover", "--name", "CA 2"});
  CHECK(BundleCas(e.dir + "/central/ca/trust.pem") == 2);
  REQUIRE(WaitUntil([&] { return LogHasLine(e.dir + "/central.log", {"trust bundle updated: 2 CA(s)"}); }, seconds(20)));
  REQUIRE(WaitUntil([&] { return BundleCas(e.dir + "/dmz/trust.pem") == 2; }, seconds(20)));
  // New beacon certificates, from the new CA, and restarts with them.
  Estate::Cert central_cert = e.IssueBeacon("central");
  Estate::Cert dmz_cert = e.IssueBeacon("dmz");
  auto new_issuer = common::CertKeySha256(ReadText(e.dir + "/central/ca/ca.pem"));
  REQUIRE(new_issuer.ok());
  for (const std::string name : {"central", "dmz"}) {
    auto certs = CertificatesOf(e, name);
    REQUIRE(certs.size() == 2);
    CHECK(std::count_if(certs.begin(), certs.end(), [&](auto& c) { return c.issuer_sha256 == *new_issuer; }) == 1);
  }
  e.StopDmz();
  e.StopCentral();
  e.StartCentral();
  e.StartDmz();

  // The client, offline all along, is the one certificate the old CA alone
  // still stands for: retiring it now is refused and names the device.
  auto early = harness::Run({BEACONCTL_BIN, "--data-dir", e.dir + "/central", "ca", "retire"});
  INFO(early.output);
  CHECK(early.exit_code != 0);
  CHECK(Contains(early.output, "1 certificate(s) still depend on the old CA alone"));
  CHECK(Contains(early.output, "device " + device + " (" + old_cert.serial + ")"));
  CHECK(BundleCas(e.dir + "/central/ca/trust.pem") == 2);

  // The client comes back: it reaches the relay (new certificate, with the
  // cross-certificate it can verify), takes the two-CA bundle and renews
  // onto the new CA, one step per round.
  std::string last;
  REQUIRE(WaitUntil(
      [&] {
        auto r = e.Client(conf, {"run", "--once"});
        last += r.output;
        return r.exit_code == 0 && CertOf(CertFile(e, "client")).serial != old_cert.serial;
      },
      seconds(60)));
  INFO(last);
  CHECK(BundleCas(e.dir + "/client/trust.pem") == 2);
  const common::PeerIdentity new_cert = CertOf(CertFile(e, "client"));
  auto rows = EnrollmentsOf(e, device);
  REQUIRE(rows.size() == 2);
  CHECK(OneEnrollment(rows, "issued", "renew").serial == new_cert.serial);
  auto device_certs = CertificatesOf(e, device);
  CHECK(std::count_if(device_certs.begin(), device_certs.end(),
                      [&](auto& c) { return c.serial == new_cert.serial && c.issuer_sha256 == *new_issuer; }) == 1);

  // Nobody depends on the old CA alone any more: it retires without --force.
  auto retire = e.Ctl({"ca", "retire"});
  CHECK(Contains(retire.output, "the old CA has left the trust bundle"));
  CHECK(BundleCas(e.dir + "/central/ca/trust.pem") == 1);
  REQUIRE(WaitUntil([&] { return BundleCas(e.dir + "/dmz/trust.pem") == 1; }, seconds(20)));

  // And the client still works: it takes the one-CA bundle and reports.
  auto after = e.Client(conf, {"run", "--once"});
  INFO(after.output);
  CHECK(after.exit_code == 0);
  std::string upload = QueuedUploadId(after.output);
  REQUIRE(common::IsUuid(upload));
  CHECK(WaitUntil([&] { return Imported(e, device, upload); }, seconds(20)));
  CHECK(BundleCas(e.dir + "/client/trust.pem") == 1);
  auto again = e.Client(conf, {"run", "--once"});
  INFO(again.output);
  CHECK(again.exit_code == 0);
  upload = QueuedUploadId(again.output);
  REQUIRE(common::IsUuid(upload));
  CHECK(WaitUntil([&] { return Imported(e, device, upload); }, seconds(20)));
}

// ---- clones ---------------------------------------------------------------

TEST_CASE("clone: a second key for an enrolled device id is refused and reported, and the genuine device keeps working") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  const std::string conf = ClientConf(e, "genuine", e.dmz_port, e.enroll_secret);
  REQUIRE(e.Client(conf, {"run", "--once"}).exit_code == 0);
  const std::string device = e.DeviceOf("genuine");
  const common::PeerIdentity cert = CertOf(CertFile(e, "genuine"));

  // A copy of the machine's device id, with a key of its own.
  fs::create_directories(e.dir + "/clone");
  fs::copy_file(e.dir + "/genuine/device-id", e.dir + "/clone/device-id");
  auto clone = e.Client(ClientConf(e, "clone", e.dmz_port, e.enroll_secret), {"run", "--once"});
  INFO(clone.output);
  CHECK(clone.exit_code == 1);
  CHECK(Contains(clone.output, "enrollment refused: device id already enrolled with another key"));
  CHECK_FALSE(fs::exists(CertFile(e, "clone")));
  auto clone_key = common::pki::KeySha256(ReadText(KeyFile(e, "clone")));
  REQUIRE(clone_key.ok());

  auto rows = EnrollmentsOf(e, device);
  REQUIRE(rows.size() == 2);
  const inventory::Enrollment refused = OneEnrollment(rows, "refused");
  CHECK(refused.reason == "device id already enrolled with another key");
  CHECK(refused.key_sha256 == *clone_key);
  CHECK(OneEnrollment(rows, "issued").key_sha256 == cert.key_sha256);
  auto clones = e.Store()->ListClones();
  REQUIRE(clones.ok());
  REQUIRE(clones->size() == 1);
  CHECK((*clones)[0].device_id == device);
  CHECK((*clones)[0].clone_reports == 1);
  CHECK((*clones)[0].key_sha256 == cert.key_sha256);  // the genuine key stays the device's
  CHECK((*clones)[0].clone_key_sha256 == *clone_key);
  CHECK(HasLine(e.Ctl({"enroll", "clones"}).output, {device, cert.key_sha256.substr(0, 16), " 1 "}));
  CHECK(LogHasLine(e.dir + "/central.log", {device, "clone suspected", clone_key->substr(0, 16)}));
  CHECK(CertificatesOf(e, device).size() == 1);

  auto genuine = e.Client(conf, {"run", "--once"});
  INFO(genuine.output);
  CHECK(genuine.exit_code == 0);
  const std::string upload = QueuedUploadId(genuine.output);
  REQUIRE(common::IsUuid(upload));
  CHECK(WaitUntil([&] { return Imported(e, device, upload); }, seconds(20)));
  CHECK(CertOf(CertFile(e, "genuine")).serial == cert.serial);
}
