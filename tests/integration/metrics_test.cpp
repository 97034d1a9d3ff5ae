// GET /metrics as an operator uses it (docs/metrics.md): a real relay and a
// real central, one client cycle through the relay, then Debian's
// `prometheus` scraping both administrators' listeners over HTTPS (verified
// against the estate CA) and answering queries on its HTTP API. Everything
// stays on 127.0.0.1.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "harness.h"
#include "support/tls_forwarder.h"

namespace {

using harness::Estate;
using harness::WaitUntil;
using std::chrono::seconds;

constexpr char kPrometheus[] = "/usr/bin/prometheus";  // Debian's prometheus (scripts/install-deps.sh)
constexpr char kUploadRoute[] = "/v1/devices/:device/uploads/:kind/:upload";

// The admin listener's port, from the start-up line "... admin on HOST:PORT".
int AdminPort(const std::string& log_path) {
  static const std::regex line("admin on 127\\.0\\.0\\.1:([0-9]+)");
  int port = 0;
  REQUIRE(WaitUntil(
      [&] {
        const std::string log = harness::ReadText(log_path);
        std::smatch m;
        if (!std::regex_search(log, m, line)) return false;
        port = std::stoi(m[1]);
        return true;
      },
      seconds(10)));
  return port;
}

// GET http://127.0.0.1:port/target (HTTP/1.0: the answer ends with the
// connection). {0, ""} when nothing answers.
std::pair<int, std::string> HttpGet(int port, const std::string& target) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::string data;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buf[16384];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) data.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  std::smatch m;
  static const std::regex status("^HTTP/1\\.[01] ([0-9]{3})");
  if (!std::regex_search(data, m, status)) return {0, ""};
  const size_t body = data.find("\r\n\r\n");
  return {std::stoi(m[1]), body == std::string::npos ? "" : data.substr(body + 4)};
}

std::string UrlEncode(const std::string& s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', hex[c >> 4], hex[c & 15]};
    }
  }
  return out;
}

// An instant query whose answer is one series (wrap it in sum()): its
// value, or nullopt while Prometheus has none.
std::optional<double> Query(int port, const std::string& promql) {
  auto [status, body] = HttpGet(port, "/api/v1/query?query=" + UrlEncode(promql));
  if (status != 200) return std::nullopt;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || j.value("status", "") != "success") return std::nullopt;
  const auto& result = j["data"]["result"];
  if (!result.is_array() || result.size() != 1) return std::nullopt;
  return std::stod(result[0]["value"][1].get<std::string>());
}

// Waits until the query's value satisfies `ok` (Prometheus scrapes every
// second); the last value seen, for the failure message.
bool WaitForValue(int port, const std::string& promql, const std::function<bool(double)>& ok, std::string* last) {
  return WaitUntil(
      [&] {
        auto v = Query(port, promql);
        *last = v ? std::to_string(*v) : "(no value)";
        return v && ok(*v);
      },
      seconds(30));
}

// Prometheus's view of its targets (GET /api/v1/targets): health by the
// target's `hop` label, and the last scrape errors, for failure messages.
struct Targets {
  std::map<std::string, std::string> health;
  std::string errors;
};
Targets ActiveTargets(int port) {
  Targets out;
  auto [status, body] = HttpGet(port, "/api/v1/targets?state=active");
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (status != 200 || j.is_discarded()) return out;
  for (const auto& t : j["data"]["activeTargets"]) {
    const std::string hop = t["labels"].value("hop", "?");
    out.health[hop] = t.value("health", "");
    out.errors += hop + ": " + t.value("lastError", "") + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("prometheus scrapes a relay and a central over HTTPS and sees what a client cycle did", "[prometheus]") {
  REQUIRE(std::filesystem::exists(kPrometheus));
  Estate e;
  // Devices per status are recomputed at each scrape (not every 15 s).
  e.StartCentral("metrics_refresh_interval = 1s\n");
  e.StartDmz();
  const int central_admin = AdminPort(e.dir + "/central.log");
  const int dmz_admin = AdminPort(e.dir + "/dmz.log");

  // One client cycle through the relay: enroll, policy, inventory.
  const std::string conf = e.ClientConfig(e.dmz_port, e.pki + "/ca.pem");
  auto run = e.Client(conf, {"run", "--once"});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const std::string device = e.DeviceOf("client");
  // Every upload the client sent is in the store, and no spool holds one.
  int uploads = 0;
  REQUIRE(WaitUntil(
      [&] {
        auto rows = e.Store()->RecentUploads(device, 1000);
        uploads = rows.ok() ? static_cast<int>(rows->size()) : 0;
        bool inventory = false;
        for (const auto& r : rows.ok() ? *rows : std::vector<inventory::UploadRow>{}) inventory |= r.kind == "inventory";
        return inventory && harness::CountFiles(e.dir + "/client/outbox/ready") == 0 &&
               harness::CountFiles(e.dir + "/dmz/spool/ready") == 0 &&
               harness::CountFiles(e.dir + "/central/spool/ready") == 0;
      },
      seconds(30)));

  // Prometheus, scraping both admin listeners every second over HTTPS.
  // Debian 12's prometheus (Go 1.19) cannot parse any estate certificate
  // (their role OID has a 128-bit arc: tests/support/tls_forwarder.h), so
  // it scrapes each beacon through a forwarder that verifies the beacon's
  // certificate (estate CA, SAN 127.0.0.1) and presents the test CA's
  // 127.0.0.1 certificate, which Prometheus verifies in turn. The direct
  // target shows the limitation: when it comes up, the forwarders can go.
  const std::string certs = TEST_CERT_DIR;
  auto forward = [&](int port) {
    return std::make_unique<testing_support::TlsForwarder>(testing_support::TlsForwarder::Options{
        certs + "/server.pem", certs + "/server.key", port, e.pki + "/ca.pem"});
  };
  auto central_tls = forward(central_admin);
  auto dmz_tls = forward(dmz_admin);
  const std::string prom_dir = e.dir + "/prometheus";
  const int prom_port = harness::FreePort();
  auto job = [](const std::string& name, const std::string& ca_file,
                const std::vector<std::pair<std::string, int>>& targets) {
    std::string text = "  - job_name: " + name + "\n    scheme: https\n    tls_config:\n      ca_file: " + ca_file +
                       "\n    static_configs:\n";
    for (const auto& [hop, port] : targets) {
      text += "      - targets: ['127.0.0.1:" + std::to_string(port) + "']\n        labels:\n          hop: " + hop + "\n";
    }
    return text;
  };
  harness::WriteText(prom_dir + "/prometheus.yml",
                     "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                     "scrape_configs:\n" +
                         job("beacons", certs + "/ca.pem", {{"central", central_tls->port()}, {"dmz", dmz_tls->port()}}) +
                         job("direct", e.pki + "/ca.pem", {{"central-direct", central_admin}}));
  harness::Process prometheus({kPrometheus, "--config.file=" + prom_dir + "/prometheus.yml",
                               "--storage.tsdb.path=" + prom_dir + "/data",
                               "--web.listen-address=127.0.0.1:" + std::to_string(prom_port), "--log.level=warn"},
                              prom_dir + "/prometheus.log");
  Targets targets;
  const bool up = WaitUntil(
      [&] {
        targets = ActiveTargets(prom_port);
        return targets.health["central"] == "up" && targets.health["dmz"] == "up" &&
               targets.health["central-direct"] == "down";
      },
      seconds(60));
  INFO("targets: " << targets.errors);
  INFO("prometheus log: " << harness::ReadText(prom_dir + "/prometheus.log"));
  REQUIRE(up);
  CHECK(targets.errors.find("central-direct: Get") != std::string::npos);
  CHECK(targets.errors.find("certificate policies") != std::string::npos);
  CHECK(central_tls->verified() >= 1);
  CHECK(central_tls->refused() == 0);
  CHECK(dmz_tls->verified() >= 1);

  std::string last;
  auto check = [&](const std::string& promql, const std::function<bool(double)>& ok) {
    const bool reached = WaitForValue(prom_port, promql, ok, &last);
    INFO(promql << " = " << last);
    CHECK(reached);
  };
  auto equals = [](double want) { return [want](double v) { return v == want; }; };
  auto at_least = [](double want) { return [want](double v) { return v >= want; }; };
  // Each of the client's uploads was answered 201 by the relay, once.
  check(std::string("sum(beacon_http_requests_total{hop=\"dmz\",listener=\"agent\",route=\"") + kUploadRoute +
            "\",method=\"PUT\",status=\"201\"})",
        equals(uploads));
  // ...and relayed (with the relay's own check-ins and health reports).
  check("sum(beacon_relay_deliveries_total{hop=\"dmz\",outcome=\"delivered\"})", at_least(uploads));
  check(std::string("sum(beacon_http_requests_total{hop=\"central\",route=\"") + kUploadRoute +
            "\",status=\"201\"})",
        at_least(uploads));
  // One inventory imported, with its lag observed.
  check("sum(beacon_imports_total{hop=\"central\",kind=\"inventory\",result=\"imported\"})", equals(1));
  check("sum(beacon_import_lag_seconds_count{hop=\"central\"})", at_least(uploads));
  // Both spools empty, the relay's upstream up.
  check("sum(beacon_spool_entries{job=\"beacons\"})", equals(0));
  check("sum(beacon_relay_upstream_up{hop=\"dmz\"})", equals(1));
  // The device is active; nobody else is known.
  check("sum(beacon_devices{hop=\"central\",status=\"active\"})", equals(1));
  check("sum(beacon_devices{hop=\"central\"})", equals(1));
  check("count(beacon_info{role=\"relay\",name=\"dmz\"})", equals(1));
  // The relay answers on TLS with its client certificates verified: no
  // refusals on this quiet estate.
  check("sum(beacon_refusals_total{cause=~\"identity|admission|busy|connection_cap|address_cap\"})", equals(0));
}
