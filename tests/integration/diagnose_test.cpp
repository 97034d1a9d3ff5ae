// Staged diagnostics end to end (docs/diagnose.md), with the real
// executables on loopback: `beacon-client diagnose` passes through the DMZ
// relay and fails at the right step with the right code for each broken
// link (name, port, proxy, CA, host name, expiry, revocation, signature,
// a full relay); its bundle holds no key and no secret; `beacon diagnose`
// checks a relay's upstream the same way.
#include <archive.h>
#include <archive_entry.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/http_server.h"
#include "common/identity.h"
#include "common/pki.h"
#include "integration/harness.h"

using harness::Estate;
using harness::ReadText;
using harness::WriteText;
using std::chrono::seconds;
namespace fs = std::filesystem;

namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct Outcome {
  int exit_code = -1;
  nlohmann::json report;
  std::string output;
};

// Runs `beacon-client --config CONF diagnose --json ARGS...` and parses the
// report (the bundle's messages go to stderr, which Run mixes in: the JSON
// is the part from the first '{' to the last '}').
Outcome ClientDiagnose(Estate& e, const std::string& conf, const std::vector<std::string>& args = {}) {
  std::vector<std::string> all = {"diagnose", "--json"};
  all.insert(all.end(), args.begin(), args.end());
  harness::CommandResult r = e.Client(conf, all);
  Outcome o{r.exit_code, nullptr, r.output};
  const size_t begin = r.output.find('{'), end = r.output.rfind('}');
  if (begin != std::string::npos && end != std::string::npos) {
    o.report = nlohmann::json::parse(r.output.substr(begin, end - begin + 1), nullptr, false);
  }
  return o;
}

Outcome BeaconDiagnose(const std::string& conf) {
  harness::CommandResult r = harness::Run({BEACON_BIN, "diagnose", "--config", conf, "--json"});
  return {r.exit_code, nlohmann::json::parse(r.output, nullptr, false), r.output};
}

// The result of step `name` ("" if absent).
std::string ResultOf(const Outcome& o, const std::string& name) {
  if (!o.report.is_object()) return "";
  for (const auto& s : o.report["steps"]) {
    if (s["name"] == name) return s["result"].get<std::string>();
  }
  return "";
}

// Expects the report to fail first at `step` with `code`, every later step
// that needs it skipped.
void ExpectFailure(const Outcome& o, const std::string& step, const std::string& code) {
  INFO(o.output);
  REQUIRE(o.report.is_object());
  CHECK(o.exit_code == 1);
  CHECK(o.report["ok"] == false);
  CHECK(o.report["failed_step"] == step);
  CHECK(o.report["code"] == code);
  bool after = false;
  for (const auto& s : o.report["steps"]) {
    if (after) CHECK(s["result"] == "skip");
    if (s["name"] == step) {
      CHECK(s["result"] == "fail");
      CHECK_FALSE(s["hint"].get<std::string>().empty());
      after = step != "policy";  // upload does not need the policy step
    }
  }
}

void ExpectAllPass(const Outcome& o, const std::vector<std::string>& skipped) {
  INFO(o.output);
  REQUIRE(o.report.is_object());
  CHECK(o.exit_code == 0);
  CHECK(o.report["ok"] == true);
  for (const auto& s : o.report["steps"]) {
    const bool skip = std::find(skipped.begin(), skipped.end(), s["name"].get<std::string>()) != skipped.end();
    CHECK(s["result"] == (skip ? "skip" : "pass"));
  }
}

// Every entry of a tar.gz, read with libarchive.
std::map<std::string, std::string> ReadBundle(const std::string& path, std::map<std::string, int>* modes) {
  std::map<std::string, std::string> entries;
  struct archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  REQUIRE(archive_read_open_filename(a, path.c_str(), 16384) == ARCHIVE_OK);
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string data(static_cast<size_t>(archive_entry_size(e)), '\0');
    REQUIRE(archive_read_data(a, data.data(), data.size()) == static_cast<la_ssize_t>(data.size()));
    (*modes)[archive_entry_pathname(e)] = archive_entry_perm(e);
    entries[archive_entry_pathname(e)] = data;
  }
  archive_read_free(a);
  return entries;
}

// A loopback HTTP proxy that answers every request with 407.
class Proxy407 {
 public:
  Proxy407() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Proxy407() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  int requests() const { return requests_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string head;
      char buf[1024];
      while (head.find("\r\n\r\n") == std::string::npos) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 2000) <= 0) break;
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
      }
      if (head.rfind("CONNECT ", 0) == 0) ++requests_;
      const std::string answer =
          "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"tests\"\r\n"
          "Content-Length: 0\r\nConnection: close\r\n\r\n";
      (void)::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// A TLS server on loopback presenting `cert` (it answers /v1/ping), for
// the certificate cases the client must refuse.
class TlsServer {
 public:
  explicit TlsServer(const Estate::Cert& cert) : server_(Options(cert)), listener_(server_.Listen("127.0.0.1", 0)) {
    listener_.Get("/v1/ping", [](const common::HttpRequest&, common::HttpResponse& res) { res.body = "ok\n"; }, nullptr,
                  common::RouteAccess::kOpen);
    REQUIRE(server_.Start().ok());
    thread_ = std::thread([this] { server_.Serve(); });
  }
  ~TlsServer() {
    server_.Stop();
    thread_.join();
  }
  int port() const { return listener_.port(); }

 private:
  static common::ServerOptions Options(const Estate::Cert& cert) {
    common::ServerOptions o;
    o.cert_file = cert.cert;
    o.key_file = cert.key;
    o.io_threads = 1;
    o.workers = 2;
    return o;
  }
  common::HttpServer server_;
  common::HttpServer::Listener& listener_;
  std::thread thread_;
};

// A beacon certificate from the estate CA valid from `issued_at` for `validity`.
Estate::Cert DatedBeaconCert(Estate& e, const std::string& name, int64_t issued_at, seconds validity) {
  auto ca = common::pki::CertAuthority::Load(e.dir + "/central/ca");
  REQUIRE(ca.ok());
  auto key = common::pki::NewKeyPem();
  REQUIRE(key.ok());
  auto info = common::pki::ParseCsr(*common::pki::MakeCsr(*key, name));
  REQUIRE(info.ok());
  auto cert = (*ca)->Issue(info->public_key_der, common::PeerKind::kBeacon, name, {"127.0.0.1"}, validity, issued_at);
  REQUIRE(cert.ok());
  Estate::Cert out{e.pki + "/" + name + ".pem", e.pki + "/" + name + ".key"};
  WriteText(out.cert, cert->pem);
  WriteText(out.key, *key);
  return out;
}

// `conf` with `extra` lines appended, as a new file.
std::string ConfWith(const std::string& conf, const std::string& name, const std::string& extra) {
  const std::string path = fs::path(conf).parent_path().string() + "/" + name + ".conf";
  WriteText(path, ReadText(conf) + extra);
  return path;
}

}  // namespace

TEST_CASE("diagnose: through the DMZ relay every step passes, each broken link fails at its step with its code") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  const std::string proxy_password = "pr0xy-pa55word-never-shown";
  const std::string good = ConfWith(e.ClientConfig(e.dmz_port, e.pki + "/ca.pem"), "client-good",
                                    "proxy_username = alice\nproxy_password = " + proxy_password + "\n");

  // Before enrollment the identity step says so.
  ExpectFailure(ClientDiagnose(e, good), "identity", "D700");
  auto enrolled = e.Client(good, {"enroll"});
  INFO(enrolled.output);
  REQUIRE(enrolled.exit_code == 0);
  const std::string device = e.DeviceOf("client");

  const std::string bundle = e.dir + "/bundle.tar.gz";
  Outcome pass = ClientDiagnose(e, good, {"--bundle", bundle});
  ExpectAllPass(pass, {"proxy"});
  CHECK(pass.report["id"] == device);
  CHECK(pass.report["server"] == "https://127.0.0.1:" + std::to_string(e.dmz_port));
  for (const auto& s : pass.report["steps"]) {
    if (s["name"] == "tls") {
      CHECK(Contains(s["detail"], "verified by"));
      CHECK(Contains(s["detail"], "notAfter"));
      CHECK(Contains(s["manual"], "openssl s_client -connect 127.0.0.1:" + std::to_string(e.dmz_port)));
    }
    if (s["name"] == "dns") CHECK(Contains(s["detail"], "127.0.0.1"));
  }
  // The text form says the same.
  auto text = e.Client(good, {"diagnose", "--no-upload-test"});
  CHECK(text.exit_code == 0);
  CHECK(Contains(text.output, "[pass] identity"));
  CHECK(Contains(text.output, "[skip] upload"));
  CHECK(Contains(text.output, "result: all steps passed"));

  {
    INFO("the bundle: the report, the redacted configuration and the state; never a key or a secret");
    // A configuration with a line that does not parse but names the secret:
    // the report is the configuration's failure, the line is kept, its value not.
    const std::string odd = ConfWith(good, "client-odd", "not a valid line enroll_secret " + e.enroll_secret + "\n");
    const std::string second = e.dir + "/bundle2.tar.gz";
    ExpectFailure(ClientDiagnose(e, odd, {"--bundle", second}), "configuration", "D100");
    for (const std::string& path : {bundle, second}) {
      INFO(path);
      CHECK((fs::status(path).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
      std::map<std::string, int> modes;
      auto entries = ReadBundle(path, &modes);
      for (const char* name : {"report.txt", "report.json", "client.conf", "state.txt", "client.log"}) {
        CHECK(entries.count(name) == 1);
        CHECK(modes[name] == 0600);
      }
      for (const auto& [name, data] : entries) {
        INFO(name);
        CHECK_FALSE(Contains(data, "PRIVATE KEY"));
        CHECK_FALSE(Contains(data, e.enroll_secret));
        CHECK_FALSE(Contains(data, proxy_password));
      }
      CHECK(Contains(entries["client.conf"], "proxy_password = <redacted>"));
      CHECK(Contains(entries["client.conf"], "enroll_secret = <redacted>"));
      CHECK(Contains(entries["client.conf"], "proxy_username = alice"));
    }
    std::map<std::string, int> modes;
    auto entries = ReadBundle(bundle, &modes);
    CHECK(Contains(entries["state.txt"], "serial:"));
    CHECK(Contains(entries["state.txt"], "device:          " + device));
    CHECK(nlohmann::json::parse(entries["report.json"])["id"] == device);
    CHECK(Contains(ReadBundle(second, &modes)["client.conf"], "not a valid line enroll_secret <redacted>"));
    CHECK(Contains(ReadText(odd), e.enroll_secret));  // the original is untouched
  }
  {
    INFO("--upload queues the bundle as a logs upload and delivers it");
    auto up = e.Client(good, {"diagnose", "--upload", "--no-upload-test"});
    INFO(up.output);
    CHECK(up.exit_code == 0);
    CHECK(Contains(up.output, "bundle queued as a logs upload; delivery: done"));
    CHECK(harness::CountFiles(e.dir + "/client/outbox/ready") == 0);
  }
  {
    INFO("an unresolvable name, a closed port and a proxy answering 407");
    ExpectFailure(ClientDiagnose(e, good, {"--server", "https://beacon.diagnose.invalid:8443"}), "dns", "D200");
    ExpectFailure(ClientDiagnose(e, good, {"--server", "https://127.0.0.1:" + std::to_string(harness::FreePort())}),
                  "tcp", "D300");
    Proxy407 proxy;
    Outcome o = ClientDiagnose(e, ConfWith(good, "client-proxy", "proxy = http://127.0.0.1:" + std::to_string(proxy.port()) + "\n"));
    ExpectFailure(o, "proxy", "D400");
    CHECK(proxy.requests() == 1);
    CHECK_FALSE(Contains(o.output, proxy_password));
  }
  {
    INFO("a manifest whose signature does not verify with the configured policy key");
    std::string other = ReadText(good);
    const std::string key = e.certs + "/policy.pub";
    other.replace(other.find(key), key.size(), e.certs + "/wrong-host/policy.pub");
    WriteText(e.dir + "/client-otherkey.conf", other);
    Outcome o = ClientDiagnose(e, e.dir + "/client-otherkey.conf");
    ExpectFailure(o, "policy", "D802");
    CHECK(ResultOf(o, "upload") == "pass");  // the upload does not need the policy
  }
  {
    INFO("beacon diagnose: the relay's upstream passes, a closed upstream port fails at tcp");
    ExpectAllPass(BeaconDiagnose(e.dir + "/dmz.conf"), {"proxy", "policy", "upload"});
    std::string closed = ReadText(e.dir + "/dmz.conf");
    const std::string up = "upstream = https://127.0.0.1:" + std::to_string(e.central_port);
    closed.replace(closed.find(up), up.size(), "upstream = https://127.0.0.1:" + std::to_string(harness::FreePort()));
    WriteText(e.dir + "/dmz-closed.conf", closed);
    ExpectFailure(BeaconDiagnose(e.dir + "/dmz-closed.conf"), "tcp", "D300");
  }
  {
    INFO("a relay short of disk refuses the upload (507)");
    e.StopDmz();
    e.StartDmz("spool_min_free = 100000G\n");
    ExpectFailure(ClientDiagnose(e, good), "upload", "D905");
  }
  {
    INFO("a revoked device certificate fails the identity step");
    e.Ctl({"device", "revoke", device});
    Outcome o;
    CHECK(harness::WaitUntil(
        [&] {
          o = ClientDiagnose(e, good);
          return o.report.is_object() && o.report["code"] == "D703";
        },
        seconds(20)));
    ExpectFailure(o, "identity", "D703");
  }
}

TEST_CASE("diagnose: an unknown CA, a wrong host name and an expired beacon certificate fail the tls step") {
  Estate e;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  struct Case {
    std::string name;
    Estate::Cert cert;
    std::string ca;
    std::string code;
    std::string says;
  };
  std::vector<Case> cases = {
      // The client trusts another CA than the one that issued the beacon's certificate.
      {"unknown CA", e.IssueBeacon("good"), e.certs + "/other-ca/ca.pem", "D501", "unable to get local issuer"},
      {"wrong host", e.IssueBeacon("elsewhere", "wrong.example.invalid"), e.pki + "/ca.pem", "D502", "mismatch"},
      {"expired", DatedBeaconCert(e, "expired", now - 3 * 86400, seconds(86400)), e.pki + "/ca.pem", "D503",
       "expired"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    TlsServer server(c.cert);
    const std::string conf = e.ClientConfig(server.port(), c.ca, "client-" + c.code);
    Outcome o = ClientDiagnose(e, conf);
    ExpectFailure(o, "tls", c.code);
    for (const auto& s : o.report["steps"]) {
      if (s["name"] != "tls") continue;
      CHECK(Contains(s["detail"], c.says));
      CHECK(Contains(s["detail"], "certificate subject"));
      CHECK(Contains(s["manual"], "-CAfile " + c.ca));
    }
  }
}

TEST_CASE("diagnose: through squid with Basic authentication every step passes, a wrong password is D400") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  // squid's workers run as its own user: its folder must be open to them.
  const std::string dir = harness::MakeTempDir("diagnose-squid");
  fs::permissions(dir, fs::perms::all);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { fs::remove_all(dir); }
  } cleanup{dir};
  auto hash = harness::Run({"/usr/bin/openssl", "passwd", "-apr1", "squid-pw"});
  REQUIRE(hash.exit_code == 0);
  WriteText(dir + "/passwd", "agent:" + hash.output);
  const int port = harness::FreePort();
  WriteText(dir + "/squid.conf", "http_port 127.0.0.1:" + std::to_string(port) +
                                     "\nauth_param basic program /usr/lib/squid/basic_ncsa_auth " + dir +
                                     "/passwd\nacl authed proxy_auth REQUIRED\nhttp_access allow authed\n"
                                     "http_access deny all\ncache deny all\npid_filename " + dir +
                                     "/squid.pid\naccess_log none\ncache_log " + dir +
                                     "/cache.log\ncache_store_log none\ncoredump_dir " + dir +
                                     "\nshutdown_lifetime 1 seconds\n");
  harness::Process squid({"/usr/sbin/squid", "-N", "-f", dir + "/squid.conf"}, dir + "/squid.out");
  REQUIRE(harness::WaitUntil(
      [&] { return !harness::Run({"/usr/bin/ss", "-Hltn", "sport = :" + std::to_string(port)}).output.empty(); },
      seconds(15)));
  const std::string base = e.ClientConfig(e.dmz_port, e.pki + "/ca.pem");
  const std::string proxy = "proxy = http://127.0.0.1:" + std::to_string(port) + "\nproxy_username = agent\n";
  const std::string good = ConfWith(base, "client-squid", proxy + "proxy_password = squid-pw\n");
  REQUIRE(e.Client(good, {"enroll"}).exit_code == 0);
  Outcome o = ClientDiagnose(e, good);
  ExpectAllPass(o, {});
  for (const auto& s : o.report["steps"]) {
    if (s["name"] == "dns") CHECK(Contains(s["detail"], "the proxy"));
    if (s["name"] == "proxy") CHECK(Contains(s["detail"], "200"));
  }
  Outcome wrong = ClientDiagnose(e, ConfWith(base, "client-squid-wrong", proxy + "proxy_password = wrong-pw\n"));
  ExpectFailure(wrong, "proxy", "D400");
  CHECK_FALSE(Contains(wrong.output, "wrong-pw"));
}
