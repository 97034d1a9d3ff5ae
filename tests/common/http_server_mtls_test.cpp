// Client certificates in the server engine (ServerOptions::client_ca_file):
// identified and open routes, the 401 refusals and their reasons, the admit
// hook on kept-alive connections, refusal before the body, ReloadTls, and
// the client adapter presenting a certificate. Certificates come from
// tests/make-test-certs.sh.
#include <catch2/catch.hpp>
#include <fstream>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <sstream>

#include "common/http_client.h"
#include "common/http_server.h"
#include "common/identity.h"
#include "common/retry.h"
#include "support/temp_dir.h"
#include "support/test_server.h"
#include "support/tls_raw.h"

using testing_support::FirstStatus;
using testing_support::TempDir;
using testing_support::TestServer;
using testing_support::TlsConn;
using testing_support::TlsExchange;

namespace {

const std::string kCerts = TEST_CERT_DIR;
const std::string kDeviceId = "11111111-2222-4333-8444-555555555555";
const std::string kHost = "Host: 127.0.0.1\r\n";

std::string Get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\n" + kHost + "\r\n";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::trunc);
  out << data;
}

// A connection presenting NAME.pem with NAME.key.
TlsConn::Options As(const std::string& name) {
  TlsConn::Options o;
  o.cert_file = kCerts + "/" + name + ".pem";
  o.key_file = kCerts + "/" + name + ".key";
  return o;
}

std::string SerialOf(const std::string& name) {
  auto id = common::IdentityFromPem(ReadFile(kCerts + "/" + name + ".pem"));
  REQUIRE(id.ok());
  return id->serial;
}

// The engine trusting the estate CA from a bundle that also carries a CRL
// block (skipped when the store is built).
struct MtlsServer {
  TempDir dir{"mtls"};
  std::string bundle = dir.path + "/clients.pem";
  std::unique_ptr<TestServer> s;
  explicit MtlsServer(std::function<void(common::ServerOptions&)> tweak = nullptr) {
    WriteFile(bundle, ReadFile(kCerts + "/ca.pem") + ReadFile(kCerts + "/crl.pem"));
    common::ServerOptions o = TestServer::Options();
    o.client_ca_file = bundle;
    if (tweak) tweak(o);
    s = std::make_unique<TestServer>(o);
  }
  int port() { return s->port(); }
};

}  // namespace

TEST_CASE("mtls: an identified route serves a verified device or beacon and shows its identity") {
  MtlsServer m;
  auto device = TlsExchange(m.port(), As("device"), Get("/v1/whoami"));
  CHECK(FirstStatus(device.data) == 200);
  CHECK(device.data.find("device " + kDeviceId + " serial " + SerialOf("device") + "\n") !=
        std::string::npos);

  auto beacon = TlsExchange(m.port(), As("beacon"), Get("/v1/whoami"));
  CHECK(FirstStatus(beacon.data) == 200);
  CHECK(beacon.data.find("beacon dmz serial " + SerialOf("beacon")) != std::string::npos);

  // Leaf, cross-certificate, root: a device of a new CA the estate CA has cross-signed.
  auto crossed = TlsExchange(m.port(), As("device3-chain"), Get("/v1/whoami"));
  CHECK(FirstStatus(crossed.data) == 200);
  CHECK(crossed.data.find("device 33333333-2222-4333-8444-555555555555") != std::string::npos);

  // The identity is there on an open route too.
  auto open = TlsExchange(m.port(), As("device2"), Get("/v1/open"));
  CHECK(open.data.find("device 66666666-7777-4888-9999-aaaaaaaaaaaa") != std::string::npos);
  CHECK(m.s->server.stats().refused_identity == 0);
}

TEST_CASE("mtls: without a certificate an identified route answers 401 and an open one serves") {
  MtlsServer m;
  auto r = TlsExchange(m.port(), Get("/v1/whoami"));
  CHECK(FirstStatus(r.data) == 401);
  CHECK(r.data.find("\r\n\r\nerror: client certificate required\n") != std::string::npos);
  CHECK(r.closed);

  auto open = TlsExchange(m.port(), Get("/v1/open"));
  CHECK(FirstStatus(open.data) == 200);
  CHECK(open.data.find("none: no certificate\n") != std::string::npos);
  CHECK_FALSE(open.closed);
  CHECK(m.s->server.stats().refused_identity == 1);
}

TEST_CASE("mtls: certificates that do not verify or name no one are refused with the reason") {
  MtlsServer m;
  struct Case {
    const char* cert;
    std::string reason;
  };
  std::vector<Case> cases = {
      {"expired", "certificate has expired"},
      {"future", "certificate is not yet valid"},
      {"wrongca", "unknown certificate authority"},
      {"plain",
       "certificate names no estate device or beacon: the certificate has no estate certificate "
       "policy"},
      {"server", "certificate is not for TLS clients"},  // serverAuth only
  };
  for (const auto& c : cases) {
    INFO(c.cert);
    auto r = TlsExchange(m.port(), As(c.cert), Get("/v1/whoami"));
    CHECK(FirstStatus(r.data) == 401);
    CHECK(r.data.find("\r\n\r\nerror: client certificate refused: " + c.reason + "\n") !=
          std::string::npos);
    CHECK(r.closed);
    auto open = TlsExchange(m.port(), As(c.cert), Get("/v1/open"));
    CHECK(FirstStatus(open.data) == 200);
    CHECK(open.data.find("none: " + c.reason + "\n") != std::string::npos);
  }
  CHECK(m.s->get_calls == 0);
  CHECK(m.s->server.stats().refused_identity == cases.size());
}

TEST_CASE("mtls: a resumed TLS session keeps the verdict of its first handshake") {
  MtlsServer m;
  for (const std::string cert : {"device", "expired"}) {
    INFO(cert);
    SSL_SESSION* session = nullptr;
    {
      TlsConn first(m.port(), As(cert));
      REQUIRE(first.ok());
      session = first.TakeSession();
    }
    REQUIRE(session != nullptr);
    TlsConn::Options o;  // no certificate this time: the ticket carries the first one
    o.session = session;
    TlsConn again(m.port(), o);
    REQUIRE(again.ok());
    CHECK(again.resumed());
    REQUIRE(again.Send(Get("/v1/whoami")));
    auto r = again.Read();
    if (cert == "device") {
      CHECK(FirstStatus(r.data) == 200);
      CHECK(r.data.find("device " + kDeviceId) != std::string::npos);
    } else {
      CHECK(FirstStatus(r.data) == 401);
      CHECK(r.data.find("client certificate refused: certificate has expired") !=
            std::string::npos);
    }
    SSL_SESSION_free(session);
  }
}

TEST_CASE(
    "mtls: the admit hook runs for every request, so a revocation reaches a kept-alive "
    "connection") {
  std::shared_mutex mu;
  std::set<std::string> revoked;
  std::atomic<int> calls{0};
  MtlsServer m([&](common::ServerOptions& o) {
    o.admit = [&](const common::PeerIdentity& id) -> std::string {
      ++calls;
      std::shared_lock<std::shared_mutex> lock(mu);
      return revoked.count(id.serial) > 0 ? "revoked" : "";
    };
  });
  TlsConn c(m.port(), As("device"));
  REQUIRE(c.ok());
  REQUIRE(c.Send(Get("/v1/things/a")));
  auto first = c.Read();
  CHECK(FirstStatus(first.data) == 200);
  CHECK_FALSE(first.closed);
  {
    std::unique_lock<std::shared_mutex> lock(mu);
    revoked.insert(SerialOf("device"));
  }
  REQUIRE(c.Send(Get("/v1/things/b")));
  auto second = c.Read();
  CHECK(FirstStatus(second.data) == 403);
  CHECK(second.data.find("\r\n\r\nerror: client certificate refused: revoked\n") !=
        std::string::npos);
  CHECK(second.closed);
  CHECK(m.s->get_calls == 1);  // the refused request reached no handler
  CHECK(calls == 2);

  // Open routes too; a peer without an identity never reaches the hook.
  auto open = TlsExchange(m.port(), As("device"), Get("/v1/open"));
  CHECK(FirstStatus(open.data) == 403);
  auto anonymous = TlsExchange(m.port(), Get("/v1/open"));
  CHECK(FirstStatus(anonymous.data) == 200);
  CHECK(calls == 3);
  auto other = TlsExchange(m.port(), As("device2"), Get("/v1/things/c"));
  CHECK(FirstStatus(other.data) == 200);
  CHECK(m.s->get_calls == 2);
  CHECK(m.s->server.stats().refused_admission == 2);
}

TEST_CASE("mtls: a PUT without an identity is refused before its body is invited") {
  MtlsServer m;
  TlsConn c(m.port());
  REQUIRE(c.ok());
  REQUIRE(c.Send("PUT /v1/up/x HTTP/1.1\r\n" + kHost +
                 "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto r = c.Read();
  CHECK(FirstStatus(r.data) == 401);
  CHECK(r.data.find("100 Continue") == std::string::npos);
  CHECK(r.data.find("error: client certificate required") != std::string::npos);
  // A sender that writes the body anyway gets to read the answer (lingering close).
  auto eager = TlsExchange(m.port(), As("expired"),
                           "PUT /v1/up/x HTTP/1.1\r\n" + kHost + "Content-Length: 5\r\n\r\nhello");
  CHECK(FirstStatus(eager.data) == 401);
  CHECK(eager.closed);
  CHECK(m.s->put_calls == 0);
  CHECK(m.s->put_bytes == 0);

  auto ok =
      TlsExchange(m.port(), As("device"),
                  std::vector<std::string>{"PUT /v1/up/x HTTP/1.1\r\n" + kHost +
                                               "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n",
                                           "hello"});
  CHECK(FirstStatus(ok.data) == 100);
  CHECK(ok.data.find("201 Created") != std::string::npos);
  CHECK(m.s->put_bytes == 5);
}

TEST_CASE("mtls: ReloadTls switches the client CA bundle for new connections only") {
  MtlsServer m;
  common::HttpServer& server = m.s->server;
  TlsConn kept(m.port(), As("device"));
  REQUIRE(kept.ok());
  REQUIRE(kept.Send(Get("/v1/whoami")));
  CHECK(FirstStatus(kept.Read().data) == 200);

  auto before = TlsExchange(m.port(), As("wrongca"), Get("/v1/whoami"));
  CHECK(FirstStatus(before.data) == 401);

  // Rollover: the bundle now holds both CAs.
  WriteFile(m.bundle, ReadFile(kCerts + "/ca.pem") + ReadFile(kCerts + "/other-ca/ca.pem"));
  REQUIRE(server.ReloadTls().ok());
  auto after = TlsExchange(m.port(), As("wrongca"), Get("/v1/whoami"));
  CHECK(FirstStatus(after.data) == 200);
  CHECK(after.data.find("device " + kDeviceId) != std::string::npos);

  // The old CA leaves the bundle: new connections from its devices are
  // refused, the one already open goes on.
  WriteFile(m.bundle, ReadFile(kCerts + "/other-ca/ca.pem"));
  REQUIRE(server.ReloadTls().ok());
  auto dropped = TlsExchange(m.port(), As("device"), Get("/v1/whoami"));
  CHECK(FirstStatus(dropped.data) == 401);
  CHECK(dropped.data.find("unknown certificate authority") != std::string::npos);
  REQUIRE(kept.Send(Get("/v1/whoami")));
  auto still = kept.Read();
  CHECK(FirstStatus(still.data) == 200);
  CHECK_FALSE(still.closed);

  // A bundle that cannot be used leaves the last good context in place.
  WriteFile(m.bundle, ReadFile(kCerts + "/crl.pem"));  // a CRL and no certificate
  auto failed = server.ReloadTls();
  CHECK(failed.code() == common::Code::kInvalidArgument);
  CHECK(failed.message().find("holds no certificate") != std::string::npos);
  auto unchanged = TlsExchange(m.port(), As("wrongca"), Get("/v1/whoami"));
  CHECK(FirstStatus(unchanged.data) == 200);
  CHECK(server.stats().tls_reloads == 2);
}

TEST_CASE("mtls: an unusable client CA bundle fails Start") {
  TempDir dir("mtls");
  common::ServerOptions o = TestServer::Options();
  o.client_ca_file = dir.path + "/missing.pem";
  common::HttpServer missing(o);
  missing.Listen("127.0.0.1", 0);
  CHECK(missing.Start().code() == common::Code::kInvalidArgument);
  o.client_ca_file = kCerts + "/crl.pem";
  common::HttpServer crl_only(o);
  crl_only.Listen("127.0.0.1", 0);
  CHECK(crl_only.Start().code() == common::Code::kInvalidArgument);
}

TEST_CASE("mtls: without client_ca_file no certificate is asked for and every route is open") {
  TestServer s;
  auto anonymous = TlsExchange(s.port(), Get("/v1/whoami"));
  CHECK(FirstStatus(anonymous.data) == 200);
  CHECK(anonymous.data.find("none: \n") != std::string::npos);
  // A client that has a certificate is not asked for it.
  auto device = TlsExchange(s.port(), As("device"), Get("/v1/whoami"));
  CHECK(FirstStatus(device.data) == 200);
  CHECK(device.data.find("none: \n") != std::string::npos);
}

TEST_CASE("mtls: the client adapter presents its certificate") {
  MtlsServer m;
  common::ClientOptions o;
  o.url = "https://127.0.0.1:" + std::to_string(m.port());
  o.ca_file = kCerts + "/ca.pem";
  o.cert_file = kCerts + "/device.pem";
  o.key_file = kCerts + "/device.key";
  auto client = common::HttpClient::Create(o);
  REQUIRE(client.ok());
  for (int i = 0; i < 2; ++i) {  // one kept-alive connection
    auto r = (*client)->Get("/v1/whoami", {});
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->body == "device " + kDeviceId + " serial " + SerialOf("device") + "\n");
  }
  CHECK(m.s->server.stats().connections_accepted == 1);

  // A chain: leaf and cross-certificate.
  o.cert_file = kCerts + "/device3-chain.pem";
  o.key_file = kCerts + "/device3-chain.key";
  auto crossed = common::HttpClient::Create(o);
  REQUIRE(crossed.ok());
  auto c = (*crossed)->Get("/v1/whoami", {});
  REQUIRE(c.ok());
  CHECK(c->status == 200);

  // Without a certificate: a 401 to stop on, not a transport error.
  o.cert_file.clear();
  o.key_file.clear();
  auto anonymous = common::HttpClient::Create(o);
  REQUIRE(anonymous.ok());
  auto r = (*anonymous)->Get("/v1/whoami", {});
  REQUIRE(r.ok());
  CHECK(r->status == 401);
  CHECK(r->body == "error: client certificate required\n");
  CHECK(common::StatusFromHttp(r->status, "GET").code() == common::Code::kUnauthenticated);
}

TEST_CASE(
    "mtls: a client certificate that cannot be loaded is FailedPrecondition naming the file") {
  common::ClientOptions o;
  o.url = "https://127.0.0.1:1";
  o.ca_file = kCerts + "/ca.pem";
  o.cert_file = kCerts + "/missing.pem";
  o.key_file = kCerts + "/device.key";
  auto missing = common::HttpClient::Create(o);
  CHECK(missing.status().code() == common::Code::kFailedPrecondition);
  CHECK(missing.status().message().find("missing.pem") != std::string::npos);

  o.cert_file = kCerts + "/device.pem";
  o.key_file = kCerts + "/device2.key";  // another certificate's key
  auto mismatched = common::HttpClient::Create(o);
  CHECK(mismatched.status().code() == common::Code::kFailedPrecondition);
  CHECK(mismatched.status().message().find("device2.key") != std::string::npos);

  o.key_file.clear();
  CHECK(common::HttpClient::Create(o).status().code() == common::Code::kFailedPrecondition);
}
