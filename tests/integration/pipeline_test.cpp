// End to end, with the real executables: client -> DMZ relay beacon ->
// central -> SQLite, over TLS on loopback.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>
#include <thread>

#include "common/http_client.h"
#include "common/protocol.h"
#include "common/sha256.h"
#include "common/uuid.h"
#include "integration/harness.h"
#include "support/tls_raw.h"

using harness::CountFiles;
using harness::Estate;
using harness::WaitUntil;
using std::chrono::seconds;
namespace proto = common::protocol;

namespace {


std::string QueuedUploadId(const std::string& output) {
  std::smatch m;
  if (std::regex_search(output, m, std::regex("queued as ([0-9a-f-]{36})"))) return m[1];
  return "";
}

// A connection as the device (or beacon) `cert` names.
std::unique_ptr<common::HttpClient> Http(int port, const std::string& ca, const Estate::Cert& cert) {
  common::ClientOptions o;
  o.url = "https://127.0.0.1:" + std::to_string(port);
  o.ca_file = ca;
  o.cert_file = cert.cert;
  o.key_file = cert.key;
  auto c = common::HttpClient::Create(o);
  REQUIRE(c.ok());
  return std::move(c).value();
}

bool Imported(Estate& e, const std::string& device, const std::string& upload_id) {
  auto s = inventory::OpenSqliteStore(e.dir + "/central/store.sqlite", true);
  if (!s.ok()) return false;
  auto has = (*s)->HasUpload(device, upload_id);
  return has.ok() && *has;
}

std::string Hostname() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

TEST_CASE("a client's inventory reaches the central store through a relay beacon") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  std::string conf = e.ClientConfig(e.dmz_port, e.pki + "/ca.pem");
  auto run = e.Client(conf, {"run", "--once"});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  std::string device = e.DeviceOf("client");
  REQUIRE(common::IsUuid(device));
  std::string upload = QueuedUploadId(run.output);
  REQUIRE(common::IsUuid(upload));
  CHECK(run.output.find("applied policy revision 1") != std::string::npos);

  REQUIRE(WaitUntil([&] { return Imported(e, device, upload); }, seconds(20)));
  // Check-ins travel as batches from the relay; wait for the first one.
  REQUIRE(WaitUntil([&] { return e.Store()->GetDevice(device).ok() && e.Store()->GetDevice(device)->last_seen > 0 &&
                                 e.Store()->GetDevice(device)->policy_revision == 1; },
                    seconds(20)));
  auto row = e.Store()->GetDevice(device);
  REQUIRE(row.ok());
  CHECK(row->hostname == Hostname());
  CHECK(row->via == "dmz");
  CHECK(row->client_version == BEACON_VERSION);
  CHECK(row->inventory_at > 0);
  if (std::filesystem::exists("/var/lib/dpkg/status")) {
    CHECK(row->packages > 10);
    auto libc = e.Store()->FindSoftware("libc6");
    REQUIRE(libc.ok());
    CHECK_FALSE(libc->empty());
  }
  // The client's outbox is empty and the relay's spool too.
  CHECK(CountFiles(e.dir + "/client/outbox/ready") == 0);
  REQUIRE(WaitUntil([&] { return CountFiles(e.dir + "/dmz/spool/ready") == 0; }, seconds(10)));

  auto ctl = harness::Run({BEACONCTL_BIN, "--data-dir", e.dir + "/central", "devices"});
  CHECK(ctl.exit_code == 0);
  CHECK(ctl.output.find(device) != std::string::npos);
  CHECK(ctl.output.find("dmz") != std::string::npos);
  auto sw = harness::Run({BEACONCTL_BIN, "--data-dir", e.dir + "/central", "software", device});
  CHECK(sw.exit_code == 0);

  auto status = e.Client(conf, {"status"});
  CHECK(status.exit_code == 0);
  CHECK(status.output.find(device) != std::string::npos);
  CHECK(status.output.find("policy revision:  1") != std::string::npos);
  CHECK(status.output.find("outbox:           0 uploads waiting") != std::string::npos);
  CHECK(std::regex_search(status.output, std::regex("inventory:\\s+20[0-9-]+T\\S+ \\(ok\\), #1\n")));
  // The applied schedule.xml (conf/policy/schedule.xml) decides the next runs.
  CHECK(std::regex_search(status.output, std::regex("next policy check: 20[0-9-]+T")));
  CHECK(std::regex_search(status.output, std::regex("next inventory:\\s+20[0-9-]+T")));
}

TEST_CASE("an unchanged manifest is answered 304, at the relay and at the central") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  std::string device = common::NewUuid();
  const Estate::Cert cert = e.IssueDevice(device);
  common::HeaderList headers{{proto::kDeviceHeader, device}, {proto::kClientVersionHeader, "test-1"}};
  for (int port : {e.dmz_port, e.central_port}) {
    INFO(port);
    auto http = Http(port, e.pki + "/ca.pem", cert);
    auto first = http->Get(proto::ManifestPath(device), headers);
    REQUIRE(first.ok());
    CHECK(first->status == 200);
    std::string etag = first->Header("etag");
    REQUIRE_FALSE(etag.empty());
    CHECK(first->body.find("<manifest version=\"1\" revision=\"1\" device=\"" + device + "\" signature=\"") !=
          std::string::npos);
    auto h2 = headers;
    h2.emplace_back("If-None-Match", etag);
    auto second = http->Get(proto::ManifestPath(device), h2);
    REQUIRE(second.ok());
    CHECK(second->status == 304);
    CHECK(second->body.empty());
    // A device may only ask for its own manifest: the path must match its
    // header (400), and both must name the device of its certificate (403).
    const std::string other_id = common::NewUuid();
    auto other = http->Get(proto::ManifestPath(other_id), headers);
    CHECK(other->status == 400);
    auto as_other = Http(port, e.pki + "/ca.pem", cert)
                        ->Get(proto::ManifestPath(other_id), {{proto::kDeviceHeader, other_id}});
    REQUIRE(as_other.ok());
    CHECK(as_other->status == 403);
    CHECK(as_other->body == "error: this certificate is for another device\n");
  }
  // A relay repairs a cached policy file that rotted on its disk.
  {
    auto manifest = Http(e.dmz_port, e.pki + "/ca.pem", cert)->Get(proto::ManifestPath(device), headers);
    REQUIRE(manifest.ok());
    std::smatch m;
    REQUIRE(std::regex_search(manifest->body, m, std::regex("sha256=\"([0-9a-f]{64})\"")));
    std::string sha = m[1];
    std::string cached = e.dir + "/dmz/policy-cache/files/" + sha;
    REQUIRE(std::filesystem::exists(cached));
    harness::WriteText(cached, "rotten bytes");
    auto file = Http(e.dmz_port, e.pki + "/ca.pem", cert)->Get(proto::FilePath(sha), headers);
    REQUIRE(file.ok());
    CHECK(file->status == 200);
    CHECK(common::Sha256Hex(file->body) == sha);
    CHECK(common::Sha256Hex(harness::ReadText(cached)) == sha);
  }
  // The client's second cycle sees the 304.
  std::string conf = e.ClientConfig(e.dmz_port, e.pki + "/ca.pem");
  REQUIRE(e.Client(conf, {"run", "--once"}).exit_code == 0);
  auto again = e.Client(conf, {"run", "--once"});
  CHECK(again.exit_code == 0);
  CHECK(again.output.find("policy unchanged (revision 1)") != std::string::npos);
  // Numbered by the device, and sent as a delta on the first: only the parts
  // that changed travel (docs/inventory.md#deltas).
  CHECK(again.output.find("inventory collected: #2 (delta on #1: ") != std::string::npos);
}

TEST_CASE("an upload with a wrong digest is refused and nothing is stored") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  std::string device = common::NewUuid(), upload = common::NewUuid();
  std::string body = "this body does not match its digest";
  const Estate::Cert cert = e.IssueDevice(device);
  auto http = Http(e.dmz_port, e.pki + "/ca.pem", cert);
  common::HeaderList headers{{proto::kDeviceHeader, device},
                             {proto::kContentSha256Header, common::Sha256Hex("something else")}};
  auto source = [&](uint64_t off, uint64_t len) -> common::StatusOr<std::string> { return body.substr(off, len); };
  auto res = http->Put(proto::UploadPath(device, "logs", upload), headers, body.size(), source, "application/octet-stream");
  REQUIRE(res.ok());
  CHECK(res->status == 422);  // the upload itself is bad: the sender quarantines it
  CHECK(res->body.find("SHA-256") != std::string::npos);
  CHECK(CountFiles(e.dir + "/dmz/spool/ready") == 0);
  CHECK(CountFiles(e.dir + "/dmz/spool/incoming") == 0);

  // The same upload with the right digest is stored once, however often sent.
  headers[1].second = common::Sha256Hex(body);
  auto ok = http->Put(proto::UploadPath(device, "logs", upload), headers, body.size(), source, "application/octet-stream");
  REQUIRE(ok.ok());
  CHECK(ok->status == 201);
  REQUIRE(WaitUntil([&] { return Imported(e, device, upload); }, seconds(20)));
  auto dup = http->Put(proto::UploadPath(device, "logs", upload), headers, body.size(), source, "application/octet-stream");
  REQUIRE(dup.ok());
  CHECK((dup->status == 200 || dup->status == 201));
  // Let the relay hand its copy on first: a PUT of an id the central is still
  // receiving would (rightly) get 503.
  REQUIRE(WaitUntil([&] { return CountFiles(e.dir + "/dmz/spool/ready") == 0; }, seconds(10)));
  auto central = Http(e.central_port, e.pki + "/ca.pem", cert);
  auto dup2 = central->Put(proto::UploadPath(device, "logs", upload), headers, body.size(), source, "application/octet-stream");
  REQUIRE(dup2.ok());
  CHECK((dup2->status == 200 || dup2->status == 201));
  // Whatever the duplicates did, the central's spool drains and the store
  // holds the upload once.
  REQUIRE(WaitUntil([&] { return CountFiles(e.dir + "/central/spool/ready") == 0; }, seconds(10)));
  CHECK(Imported(e, device, upload));
  CHECK(harness::ReadText(e.dir + "/central.log").find("already delivered logs " + device + "_" + upload) != std::string::npos);
}

TEST_CASE("the real beacon refuses malformed uploads before reading them and stores nothing") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  std::string device = common::NewUuid();
  const Estate::Cert cert = e.IssueDevice(device);
  testing_support::TlsConn::Options as_device;
  as_device.cert_file = cert.cert;
  as_device.key_file = cert.key;
  std::string path = proto::UploadPath(device, "inventory", common::NewUuid());
  std::string base = "Host: 127.0.0.1\r\nX-Beacon-Device: " + device + "\r\nX-Beacon-Content-SHA256: " +
                     common::Sha256Hex("hello") + "\r\n";
  struct Case {
    const char* name;
    std::string request;
    int status;
  };
  std::vector<Case> cases = {
      {"chunked", "PUT " + path + " HTTP/1.1\r\n" + base + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 411},
      {"Content-Encoding", "PUT " + path + " HTTP/1.1\r\n" + base + "Content-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello", 415},
      {"duplicate Content-Length", "PUT " + path + " HTTP/1.1\r\n" + base + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400},
      {"missing Content-Length", "PUT " + path + " HTTP/1.1\r\n" + base + "\r\n", 411},
      {"over-size", "PUT " + path + " HTTP/1.1\r\n" + base + "Content-Length: 2097152\r\n\r\n" + std::string(4096, 'x'), 413},
      {"body on GET", "GET " + proto::ManifestPath(device) + " HTTP/1.1\r\n" + base + "Content-Length: 5\r\n\r\nhello", 400},
      {"unknown kind", "PUT " + proto::UploadPath(device, "secrets", common::NewUuid()) + " HTTP/1.1\r\n" + base + "Content-Length: 5\r\n\r\nhello", 422},
      {"bad upload id", "PUT " + proto::UploadPath(device, "inventory", "not-a-uuid") + " HTTP/1.1\r\n" + base + "Content-Length: 5\r\n\r\nhello", 422},
      {"encoded traversal", "PUT " + proto::UploadPath(device, "inventory", "..%2F..%2Fetc") + " HTTP/1.1\r\n" + base + "Content-Length: 5\r\n\r\nhello", 404},
      {"check-ins from a device", "PUT " + proto::UploadPath(device, "checkins", common::NewUuid()) + " HTTP/1.1\r\n" + base + "Content-Length: 5\r\n\r\nhello", 403},
      {"device mismatch", "PUT " + proto::UploadPath(common::NewUuid(), "inventory", common::NewUuid()) + " HTTP/1.1\r\n" + base + "Content-Length: 5\r\n\r\nhello", 400},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto r = testing_support::TlsExchange(e.dmz_port, as_device, c.request);
    CHECK(testing_support::FirstStatus(r.data) == c.status);
  }
  CHECK(CountFiles(e.dir + "/dmz/spool/ready") == 0);
  CHECK(CountFiles(e.dir + "/dmz/spool/incoming") == 0);
  CHECK(e.dmz->Running());
}

TEST_CASE("with the central stopped, uploads wait in the beacon and arrive once it is back") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  std::string conf = e.ClientConfig(e.dmz_port, e.pki + "/ca.pem");
  REQUIRE(e.Client(conf, {"run", "--once"}).exit_code == 0);  // policy cached at the relay
  e.StopCentral();

  auto inv = e.Client(conf, {"inventory", "--now"});
  INFO(inv.output);
  REQUIRE(inv.exit_code == 0);
  std::string upload = QueuedUploadId(inv.output);
  REQUIRE(common::IsUuid(upload));
  const std::string entry = e.dir + "/dmz/spool/ready/" + e.DeviceOf("client") + "_" + upload + ".upl";
  CHECK(std::filesystem::exists(entry));

  // The relay keeps serving policy from its cache while upstream is down.
  auto cycle = e.Client(conf, {"run", "--once"});
  CHECK(cycle.exit_code == 0);
  CHECK(cycle.output.find("policy unchanged") != std::string::npos);

  // A restart of the relay keeps what it acknowledged.
  e.StopDmz();
  e.StartDmz();
  CHECK(std::filesystem::exists(entry));

  e.StartCentral();
  const std::string device = e.DeviceOf("client");
  REQUIRE(WaitUntil([&] { return Imported(e, device, upload); }, seconds(30)));
  REQUIRE(WaitUntil([&] { return !std::filesystem::exists(entry); }, seconds(10)));
}

TEST_CASE("a client refuses a beacon whose certificate it cannot verify") {
  Estate e;
  e.StartCentral();
  SECTION("unknown CA") {
    std::string conf = e.ClientConfig(e.central_port, e.certs + "/other-ca/ca.pem");
    auto run = e.Client(conf, {"run", "--once"});
    INFO(run.output);
    CHECK(run.exit_code == 1);
    CHECK(run.output.find("not verified") != std::string::npos);
    // Nothing, not even the enrollment request and its secret, went to a
    // beacon it could not verify; the request waits for a trustworthy one.
    CHECK(run.output.find("enrollment:       waiting since") != std::string::npos);
    CHECK(std::filesystem::exists(e.dir + "/client/identity/request"));
    CHECK(CountFiles(e.dir + "/central/spool/ready") == 0);
    CHECK(harness::ReadText(e.dir + "/central.log").find("stored enroll") == std::string::npos);
  }
  SECTION("wrong host name") {
    int port = harness::FreePort();
    // A beacon certificate of the estate, for another host name.
    const Estate::Cert wrong_cert = e.IssueBeacon("wrong", "wrong.example");
    harness::WriteText(e.dir + "/wrong.conf",
                       "name = wrong\nlisten_host = 127.0.0.1\nlisten_port = " + std::to_string(port) +
                           "\ntls_cert = " + wrong_cert.cert + "\ntls_key = " + wrong_cert.key +
                           "\nca_file = " + e.pki + "/ca.pem\ndata_dir = " + e.dir +
                           "/wrong\nadmin_listen_port = 0\nupstream = https://127.0.0.1:" + std::to_string(e.central_port) + "\nspool_min_free = 0\n");
    harness::Process wrong({BEACON_BIN, "--config", e.dir + "/wrong.conf"}, e.dir + "/wrong.log");
    REQUIRE(harness::WaitForBeacon(port));
    std::string conf = e.ClientConfig(port, e.pki + "/ca.pem");
    auto run = e.Client(conf, {"run", "--once"});
    INFO(run.output);
    CHECK(run.exit_code == 1);
    CHECK(run.output.find("not verified") != std::string::npos);
    CHECK(CountFiles(e.dir + "/wrong/spool/ready") == 0);
  }
}

TEST_CASE("a full spool answers 503, a short disk 507, both with Retry-After") {
  Estate e;  // no central: everything stays in the relay's spool
  e.StartDmz("spool_max_size = 20K\nretry_after = 17s\ncheckin_flush_interval = 1h\nhealth_interval = 1h\n");
  std::string device = common::NewUuid();
  const Estate::Cert cert = e.IssueDevice(device);
  auto http = Http(e.dmz_port, e.pki + "/ca.pem", cert);
  std::string body(8000, 'u');
  auto source = [&](uint64_t off, uint64_t len) -> common::StatusOr<std::string> { return body.substr(off, len); };
  common::HeaderList headers{{proto::kDeviceHeader, device}, {proto::kContentSha256Header, common::Sha256Hex(body)}};
  std::vector<int> statuses;
  std::string retry_after;
  for (int i = 0; i < 3; ++i) {
    auto res = http->Put(proto::UploadPath(device, "usage", common::NewUuid()), headers, body.size(), source,
                         "application/octet-stream");
    REQUIRE(res.ok());
    statuses.push_back(res->status);
    if (res->status == 503) retry_after = res->Header("retry-after");
  }
  CHECK(statuses == std::vector<int>{201, 201, 503});
  CHECK(retry_after == "17");
  // The two uploads, and the relay's own health report made at start-up.
  CHECK(CountFiles(e.dir + "/dmz/spool/ready") == 3);
  CHECK(CountFiles(e.dir + "/dmz/spool/incoming") == 0);

  e.StopDmz();
  e.StartDmz("spool_min_free = 1000000G\nspool_max_size = 1G\n");
  size_t before = CountFiles(e.dir + "/dmz/spool/ready");  // the uploads and any check-in batch
  auto http2 = Http(e.dmz_port, e.pki + "/ca.pem", cert);
  auto short_disk = http2->Put(proto::UploadPath(device, "usage", common::NewUuid()), headers, body.size(), source,
                               "application/octet-stream");
  REQUIRE(short_disk.ok());
  CHECK(short_disk->status == 507);
  CHECK(short_disk->Header("retry-after") == "17");
  CHECK(CountFiles(e.dir + "/dmz/spool/ready") == before);
}

TEST_CASE("too many uploads at once get 503 with Retry-After") {
  Estate e;
  e.StartDmz("max_concurrent_uploads = 1\nretry_after = 9s\ncheckin_flush_interval = 1h\n");
  std::string device = common::NewUuid();
  const Estate::Cert cert = e.IssueDevice(device);
  testing_support::TlsConn::Options as_device;
  as_device.cert_file = cert.cert;
  as_device.key_file = cert.key;
  std::string body(1000, 's');
  std::string head = "PUT " + proto::UploadPath(device, "usage", common::NewUuid()) +
                     " HTTP/1.1\r\nHost: x\r\nX-Beacon-Device: " + device + "\r\nX-Beacon-Content-SHA256: " +
                     common::Sha256Hex(body) + "\r\nContent-Length: 1000\r\n\r\n";
  // A slow sender holds the only upload slot for about two seconds.
  std::vector<std::string> pieces{head};
  for (int i = 0; i < 20; ++i) pieces.push_back(body.substr(i * 50, 50));
  testing_support::RawExchange slow;
  std::thread sender([&] { slow = testing_support::TlsExchange(e.dmz_port, as_device, pieces, 3000); });
  // The slot is taken once the slow body is being written to incoming/.
  REQUIRE(WaitUntil([&] { return CountFiles(e.dir + "/dmz/spool/incoming") == 1; }, seconds(10)));
  auto http = Http(e.dmz_port, e.pki + "/ca.pem", cert);
  auto source = [&](uint64_t off, uint64_t len) -> common::StatusOr<std::string> { return body.substr(off, len); };
  common::HeaderList headers{{proto::kDeviceHeader, device}, {proto::kContentSha256Header, common::Sha256Hex(body)}};
  auto busy = http->Put(proto::UploadPath(device, "usage", common::NewUuid()), headers, body.size(), source,
                        "application/octet-stream");
  sender.join();
  REQUIRE(busy.ok());
  CHECK(busy->status == 503);
  CHECK(busy->Header("retry-after") == "9");
  CHECK(testing_support::FirstStatus(slow.data) == 201);
}

TEST_CASE("a client refuses a manifest a relay altered, and an older revision replayed") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  std::string conf = e.ClientConfig(e.dmz_port, e.pki + "/ca.pem");
  REQUIRE(e.Client(conf, {"run", "--once"}).exit_code == 0);
  std::string device = e.DeviceOf("client");
  std::string cached = e.dir + "/dmz/policy-cache/manifests/" + device + ".xml";
  std::string revision1 = harness::ReadText(cached);
  REQUIRE(revision1.find("revision=\"1\"") != std::string::npos);

  // Publish revision 2 and let the client apply it.
  harness::WriteText(e.dir + "/central/policy/default/extra.txt", "a new policy file\n");
  e.PolicyCommand({"publish", "-m", "an extra file"});
  REQUIRE(WaitUntil(
      [&] {
        auto r = e.Client(conf, {"run", "--once"});
        return r.output.find("applied policy revision 2") != std::string::npos;
      },
      seconds(20)));

  // From here the relay serves what is on its disk: the central is down and
  // the relay restarts with an empty memory cache.
  e.StopCentral();
  e.StopDmz();

  SECTION("a byte changed in the manifest") {
    std::string altered = harness::ReadText(cached);
    size_t at = altered.find("size=\"");
    REQUIRE(at != std::string::npos);
    altered.replace(at + 6, 1, "9");  // a different size for the first file
    harness::WriteText(cached, altered);
    e.StartDmz();
    auto run = e.Client(conf, {"run", "--once"});
    INFO(run.output);
    CHECK(run.exit_code == 1);
    CHECK(run.output.find("signature does not verify") != std::string::npos);
    CHECK(run.output.find("policy revision:  2") != std::string::npos);  // the last good policy stays
  }
  SECTION("an older, genuinely signed revision") {
    harness::WriteText(cached, revision1);
    e.StartDmz();
    auto run = e.Client(conf, {"run", "--once"});
    INFO(run.output);
    CHECK(run.exit_code == 1);
    CHECK(run.output.find("refusing policy revision 1, older than the applied 2") != std::string::npos);
    CHECK(run.output.find("policy revision:  2") != std::string::npos);
  }
}

TEST_CASE("a client fails over to the next beacon and returns to the preferred one later") {
  Estate e;
  int preferred_port = harness::FreePort();  // nothing listens here yet
  harness::WriteText(e.dir + "/central/policy/default/failover.xml",
                     "<failover version=\"1\">\n"
                     "  <beacon url=\"https://127.0.0.1:" + std::to_string(preferred_port) + "\" priority=\"0\"/>\n"
                     "  <beacon url=\"https://127.0.0.1:" + std::to_string(e.dmz_port) + "\" priority=\"1\"/>\n"
                     "</failover>\n");
  e.PolicyCommand({"publish"});
  e.StartCentral();
  e.StartDmz();
  std::string conf = e.ClientConfig(e.dmz_port, e.pki + "/ca.pem");
  harness::WriteText(conf, harness::ReadText(conf) + "failover_return_after = 0s\n");
  REQUIRE(e.Client(conf, {"run", "--once"}).exit_code == 0);  // policy (and failover.xml) applied

  auto second = e.Client(conf, {"run", "--once"});
  INFO(second.output);
  CHECK(second.exit_code == 0);
  CHECK(second.output.find("beacon https://127.0.0.1:" + std::to_string(preferred_port) + " failed") != std::string::npos);
  CHECK(second.output.find("beacon:           https://127.0.0.1:" + std::to_string(e.dmz_port) + " (failed over") !=
        std::string::npos);

  // The preferred beacon comes up: the client goes back to it.
  const Estate::Cert preferred_cert = e.IssueBeacon("preferred");
  harness::WriteText(e.dir + "/preferred.conf",
                     "name = preferred\nlisten_host = 127.0.0.1\nlisten_port = " + std::to_string(preferred_port) +
                         "\ntls_cert = " + preferred_cert.cert + "\ntls_key = " + preferred_cert.key + "\nca_file = " +
                         e.pki + "/ca.pem\ndata_dir = " + e.dir + "/preferred\nadmin_listen_port = 0\nupstream = https://127.0.0.1:" +
                         std::to_string(e.central_port) + "\nspool_min_free = 0\nkeep_alive_timeout = 2s\n");
  harness::Process preferred({BEACON_BIN, "--config", e.dir + "/preferred.conf"}, e.dir + "/preferred.log");
  REQUIRE(harness::WaitForBeacon(preferred_port));
  auto third = e.Client(conf, {"run", "--once"});
  INFO(third.output);
  CHECK(third.exit_code == 0);
  CHECK(third.output.find("beacon:           https://127.0.0.1:" + std::to_string(preferred_port) + " (returning") !=
        std::string::npos);
  CHECK(harness::ReadText(e.dir + "/preferred.log").find("stored inventory") != std::string::npos);
}

TEST_CASE("a client reaches its beacon through squid with Basic authentication") {
  Estate e;
  e.StartCentral();
  e.StartDmz();
  // squid's workers run as its own user: they must reach and write this
  // folder, which the estate's private temp folder would not allow.
  std::string dir = harness::MakeTempDir("squid");
  std::filesystem::permissions(dir, std::filesystem::perms::all);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{dir};
  auto hash = harness::Run({"/usr/bin/openssl", "passwd", "-apr1", "s3cret"});
  REQUIRE(hash.exit_code == 0);
  harness::WriteText(dir + "/passwd", "agent:" + hash.output);
  int port = harness::FreePort();
  harness::WriteText(dir + "/squid.conf",
                     "http_port 127.0.0.1:" + std::to_string(port) + "\n"
                     "auth_param basic program /usr/lib/squid/basic_ncsa_auth " + dir + "/passwd\n"
                     "auth_param basic realm beacon-test\n"
                     "acl authed proxy_auth REQUIRED\n"
                     "http_access allow authed\n"
                     "http_access deny all\n"
                     "cache deny all\n"
                     "buffered_logs off\n"
                     "pid_filename " + dir + "/squid.pid\n"
                     "access_log stdio:" + dir + "/access.log\n"
                     "cache_log " + dir + "/cache.log\n"
                     "cache_store_log none\n"
                     "coredump_dir " + dir + "\n"
                     "shutdown_lifetime 1 seconds\n");
  harness::Process squid({"/usr/sbin/squid", "-N", "-f", dir + "/squid.conf"}, dir + "/squid.out");
  REQUIRE(WaitUntil([&] { return harness::Run({"/usr/bin/ss", "-Hltn", "sport = :" + std::to_string(port)}).output.size() > 0; },
                    seconds(15)));

  std::string conf = e.ClientConfig(e.dmz_port, e.pki + "/ca.pem");
  std::string base = harness::ReadText(conf) + "proxy = http://127.0.0.1:" + std::to_string(port) +
                     "\nproxy_username = agent\n";
  harness::WriteText(conf, base + "proxy_password = s3cret\n");
  auto run = e.Client(conf, {"run", "--once"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  // squid writes its access log when a tunnel closes, and may buffer it.
  std::string tunnel = "TCP_TUNNEL/200";
  std::string connect = "CONNECT 127.0.0.1:" + std::to_string(e.dmz_port) + " agent";
  CHECK(WaitUntil([&] {
    std::string log = harness::ReadText(dir + "/access.log");
    return log.find(tunnel) != std::string::npos && log.find(connect) != std::string::npos;
  }, seconds(10)));

  // Wrong credentials: the proxy says 407, the upload stays in the outbox.
  harness::WriteText(conf, base + "proxy_password = wrong\n");
  auto refused = e.Client(conf, {"inventory", "--now"});
  INFO(refused.output);
  CHECK(refused.exit_code == 1);
  CHECK(refused.output.find("HTTP 407") != std::string::npos);
  CHECK(CountFiles(e.dir + "/client/outbox/ready") == 1);
}
