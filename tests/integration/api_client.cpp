#include "api_client.h"

#include <catch2/catch.hpp>
#include <cctype>
#include <regex>

#include <ctime>

#include "common/sha256.h"
#include "harness.h"
#include "inventory/store.h"
#include "support/tls_raw.h"

namespace harness {

using common::Status;

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Splits a raw HTTP/1.1 answer (one, with Content-Length) into an ApiAnswer.
ApiAnswer ParseRaw(const std::string& data) {
  ApiAnswer a;
  a.status = testing_support::FirstStatus(data);
  const size_t end = data.find("\r\n\r\n");
  if (end == std::string::npos) return a;
  const std::string head = data.substr(0, end);
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos < head.size()) {
    size_t next = head.find("\r\n", pos + 2);
    std::string line =
        head.substr(pos + 2, (next == std::string::npos ? head.size() : next) - pos - 2);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = Lower(line.substr(0, colon)), value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (name == "content-type") a.content_type = value;
      if (name == "cache-control") a.cache_control = value;
      if (name == "x-content-type-options") a.nosniff = value;
      if (name == "allow") a.allow = value;
      if (name == "www-authenticate") a.www_authenticate = value;
    }
    pos = next;
  }
  a.raw = data.substr(end + 4);
  a.body = nlohmann::json::parse(a.raw, nullptr, false);
  return a;
}

}  // namespace

ApiClient::ApiClient(int port, const std::string& ca_file) : port_(port) {
  common::ClientOptions o;
  o.url = "https://127.0.0.1:" + std::to_string(port);
  o.ca_file = ca_file;
  o.read_timeout_s = 60;
  auto c = common::HttpClient::Create(o);
  REQUIRE(c.ok());
  client_ = std::move(*c);
}

ApiClient::~ApiClient() = default;

ApiAnswer ApiClient::Get(const std::string& target, const std::string& token) {
  common::HeaderList headers;
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  auto r = client_->Get(target, headers, 64u << 20);
  INFO(target << ": " << (r.ok() ? "" : r.status().ToString()));
  REQUIRE(r.ok());
  ApiAnswer a;
  a.status = r->status;
  a.raw = r->body;
  a.body = nlohmann::json::parse(r->body, nullptr, false);
  a.content_type = r->Header("content-type");
  a.cache_control = r->Header("cache-control");
  a.nosniff = r->Header("x-content-type-options");
  a.allow = r->Header("allow");
  a.www_authenticate = r->Header("www-authenticate");
  return a;
}

ApiAnswer ApiClient::Post(const std::string& target, const std::string& token,
                          const std::string& body, const std::string& content_type) {
  std::string head = "POST " + target + " HTTP/1.1";
  if (!token.empty()) head += "\r\nAuthorization: Bearer " + token;
  if (!content_type.empty()) head += "\r\nContent-Type: " + content_type;
  head += "\r\nContent-Length: " + std::to_string(body.size());
  return Raw(head, body);
}

ApiAnswer ApiClient::Raw(const std::string& head, const std::string& body) {
  const std::string request = head + "\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" + body;
  testing_support::RawExchange ex = testing_support::TlsExchange(port_, request, 5000);
  return ParseRaw(ex.data);
}

std::string SeededId(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "bbbbbbbb-0000-4000-8000-%012d", n);
  return buf;
}

namespace {

void Seed(inventory::Store& s, const std::string& id, const std::string& host, int n, int64_t now) {
  inventory::Inventory inv;
  inv.device_id = id;
  inv.collected_at = "2026-11-22T16:00:00Z";
  inv.sequence = 1;
  inv.os.hostname = host;
  inv.os.pretty_name = n % 2 == 0 ? "Debian GNU/Linux 12 (bookworm)" : "Ubuntu 22.04.4 LTS";
  inv.software = {{"bash", "5.2.15-2+b2", "amd64"},
                  {"openssl", n % 2 == 0 ? "3.0.11-1~deb12u2" : "3.0.13-1~deb12u1", "amd64"}};
  const bool gone = n % 5 == 0;  // disconnected: last heard of 5 days ago, expected hourly
  inventory::UploadInfo u;
  u.upload_id = common::Sha256Hex(id).substr(0, 32);
  u.device_id = id;
  u.kind = "inventory";
  u.sha256 = std::string(64, 'a');
  u.size = 512;
  u.received_at = now - (gone ? 5 * 86400 : 60);
  u.via = n % 3 == 0 ? "dmz-2" : "dmz-1";
  Status st = s.ImportInventory(u, inv);
  INFO(st.ToString());
  REQUIRE(st.ok());
  inventory::Checkin c;
  c.device_id = id;
  c.seen_at = u.received_at;
  c.via = u.via;
  c.client_version = "1.4.0";
  c.policy_revision = 1;
  c.check_interval = 3600;
  REQUIRE(s.RecordCheckins({c}).ok());
}

}  // namespace

ApiEstate::ApiEstate(int count) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  {
    auto store = inventory::OpenSqliteStore(e.dir + "/central/store.sqlite");
    REQUIRE(store.ok());
    for (int n = 1; n <= count; ++n) {
      char host[16];
      std::snprintf(host, sizeof host, "api-%03d", n);
      Seed(**store, SeededId(n), host, n, now);
      seeded.push_back(SeededId(n));
    }
  }
  admin_port = FreePort();
  e.StartCentral("admin_listen_port = " + std::to_string(admin_port) + "\n");
  REQUIRE(WaitForBeacon(admin_port));
  const std::string conf = e.ClientConfig(e.central_port, e.pki + "/ca.pem");
  CommandResult run = e.Client(conf, {"run", "--once"});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  client_device = e.DeviceOf("client");
  // Its inventory is imported once the central's spool is empty.
  REQUIRE(WaitUntil(
      [&] {
        return CountFiles(e.dir + "/central/spool/ready") == 0 &&
               e.Store()->GetDevice(client_device).ok() &&
               e.Store()->GetDevice(client_device)->inventory_at > 0;
      },
      std::chrono::seconds(60)));
  admin_token = CreateToken(e.CtlArgs(), "ops", "admin");
  read_token = CreateToken(e.CtlArgs(), "viewer", "read");
  api = std::make_unique<ApiClient>(admin_port, e.pki + "/ca.pem");
}

void ApiEstate::AddDevice(const std::string& id, const std::string& host) {
  auto store = inventory::OpenSqliteStore(e.dir + "/central/store.sqlite");
  REQUIRE(store.ok());
  Seed(**store, id, host, 1, static_cast<int64_t>(std::time(nullptr)));
}

std::string CreateToken(const std::vector<std::string>& ctl_args, const std::string& name,
                        const std::string& role) {
  std::vector<std::string> argv = ctl_args;
  argv.insert(argv.end(), {"token", "create", "--name", name, "--role", role});
  CommandResult r = Run(argv);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  std::smatch m;
  const std::regex token("bkt_[0-9a-f]{64}");
  REQUIRE(std::regex_search(r.output, m, token));
  return m.str();
}

}  // namespace harness
