#include "integration/harness.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/tls_raw.h"
#include "support/wait.h"

namespace fs = std::filesystem;

namespace harness {

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  char* p = ::mkdtemp(tmpl.data());
  REQUIRE(p != nullptr);
  return p;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

void WriteText(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t CountFiles(const std::string& dir) {
  if (!fs::exists(dir)) return 0;
  size_t n = 0;
  for (auto& e : fs::directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

static std::vector<char*> Argv(const std::vector<std::string>& args) {
  std::vector<char*> v;
  for (const auto& a : args) v.push_back(const_cast<char*>(a.c_str()));
  v.push_back(nullptr);
  return v;
}

Process::Process(const std::vector<std::string>& argv, const std::string& log_path)
    : Process(argv, log_path, {}) {}

Process::Process(const std::vector<std::string>& argv, const std::string& log_path,
                 const std::vector<std::string>& env)
    : log_path_(log_path) {
  auto args = Argv(argv);
  // Built before fork(): the child of a threaded test may not allocate.
  std::vector<std::string> vars = env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string var = *e;
    const std::string name = var.substr(0, var.find('=') + 1);
    if (std::none_of(env.begin(), env.end(), [&](const std::string& v) { return v.rfind(name, 0) == 0; })) {
      vars.push_back(var);
    }
  }
  auto envp = Argv(vars);
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
}

void Process::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

Process::~Process() {
  if (pid_ > 0) Stop();
}

bool Process::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  return ::waitpid(pid_, &status, WNOHANG) == 0;
}

int Process::Stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  if (testing_support::WaitUntil([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, std::chrono::seconds(10))) {
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

void Process::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

CommandResult Run(const std::vector<std::string>& argv) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  auto args = Argv(argv);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  CommandResult r;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) r.output.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool WaitUntil(const std::function<bool()>& pred, std::chrono::seconds timeout) {
  return testing_support::WaitUntil(pred, timeout, std::chrono::milliseconds(100));
}

bool WaitForBeacon(int port, std::chrono::seconds timeout) {
  return WaitUntil(
      [port] {
        auto r = testing_support::TlsExchange(port, "GET /v1/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 500);
        return testing_support::FirstStatus(r.data) == 200;
      },
      timeout);
}

Estate::Estate() : Estate(std::string()) {}

Estate::Estate(const std::string& conninfo)
    : dir(MakeTempDir("estate")), certs(TEST_CERT_DIR), store_conninfo(conninfo), central_port(FreePort()),
      dmz_port(FreePort()) {
  for (const char* name : {"policy.xml", "schedule.xml"}) {
    WriteText(dir + "/central/policy/default/" + name,
              ReadText(std::string(SOURCE_DIR) + "/conf/policy/default/" + name));
  }
  // The sample failover.xml names example hosts; this estate's clients use the DMZ relay.
  WriteText(dir + "/central/policy/default/failover.xml",
            "<failover version=\"1\">\n  <beacon url=\"https://127.0.0.1:" + std::to_string(dmz_port) +
                "\" priority=\"0\"/>\n</failover>\n");
  pki = dir + "/pki";
  Ctl({"ca", "init"});
  Cert central_cert = IssueBeacon("central");
  Cert dmz_cert = IssueBeacon("dmz");
  enroll_secret = Ctl({"enroll", "secret", "create", "--label", "tests"}).output;
  while (!enroll_secret.empty() && enroll_secret.back() == '\n') enroll_secret.pop_back();
  WriteText(dir + "/central.conf",
            "name = central\nlisten_host = 127.0.0.1\nlisten_port = " + std::to_string(central_port) +
                "\ntls_cert = " + central_cert.cert + "\ntls_key = " + central_cert.key + "\n" +
                "data_dir = " + dir + "/central\n" +
                (store_conninfo.empty() ? "store = sqlite\n"
                                        : "store = postgresql\nstore_conninfo = " + store_conninfo + "\n") +
                "checkin_flush_interval = 1s\n" +
                "policy_signing_key = " + certs + "/policy.key\n" +
                "policy_refresh_interval = 1s\nworkers = 8\nadmin_listen_port = 0\nspool_min_free = 0\nkeep_alive_timeout = 2s\n" +
                "health_interval = 5s\nhealth_min_free = 1M\nhistory_interval = 1s\n");
  WriteText(dir + "/dmz.conf",
            "name = dmz\nlisten_host = 127.0.0.1\nlisten_port = " + std::to_string(dmz_port) +
                "\ntls_cert = " + dmz_cert.cert + "\ntls_key = " + dmz_cert.key + "\n" +
                "ca_file = " + pki + "/ca.pem\ndata_dir = " + dir + "/dmz\nupstream = https://127.0.0.1:" +
                std::to_string(central_port) + "\ncheckin_flush_interval = 1s\npolicy_cache_ttl = 0s\n" +
                "relay_backoff_base = 1s\nrelay_backoff_cap = 2s\nmax_upload_size = 1M\nworkers = 8\nspool_min_free = 0\n" +
                "admin_listen_port = 0\nkeep_alive_timeout = 2s\ntrust_refresh_interval = 1s\nhealth_interval = 5s\nhealth_min_free = 1M\n");
  // Only published revisions are served: revision 1 is the folder as written.
  PolicyCommand({"publish", "-m", "first"});
}

std::string Estate::DeviceOf(const std::string& client) const {
  std::string id = ReadText(dir + "/" + client + "/device-id");
  while (!id.empty() && id.back() == '\n') id.pop_back();
  return id;
}

std::vector<std::string> Estate::CtlArgs() const {
  std::vector<std::string> argv = {BEACONCTL_BIN, "--data-dir", dir + "/central"};
  if (!store_conninfo.empty()) argv.insert(argv.end(), {"--store-conninfo", store_conninfo});
  return argv;
}

CommandResult Estate::Ctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = CtlArgs();
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = Run(argv);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  return r;
}

Estate::Cert Estate::IssueBeacon(const std::string& name, const std::string& host) {
  Ctl({"beacon", "issue", name, "--host", host, "--out", pki});
  return {pki + "/" + name + ".pem", pki + "/" + name + ".key"};
}

Estate::Cert Estate::IssueDevice(const std::string& device_id) {
  Cert cert{pki + "/" + device_id + ".pem", pki + "/" + device_id + ".key"};
  if (!fs::exists(cert.cert)) Ctl({"device", "issue", device_id, "--out", pki});
  return cert;
}

CommandResult Estate::PolicyCommand(const std::vector<std::string>& args) {
  std::vector<std::string> argv = CtlArgs();
  argv.push_back("policy");
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = Run(argv);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  return r;
}

Estate::~Estate() {
  dmz.reset();
  central.reset();
  fs::remove_all(dir);
}

// A key may be set once in a file.
void MergeConfig(const std::string& path, const std::string& extra_config) {
  std::istringstream base(ReadText(path)), extra(extra_config);
  std::string line, kept;
  std::vector<std::string> overridden;
  while (std::getline(extra, line)) overridden.push_back(line.substr(0, line.find(' ')));
  while (std::getline(base, line)) {
    if (std::find(overridden.begin(), overridden.end(), line.substr(0, line.find(' '))) == overridden.end()) {
      kept += line + "\n";
    }
  }
  WriteText(path, kept + extra_config);
}

void Estate::StartCentral() {
  central = std::make_unique<Process>(std::vector<std::string>{BEACON_BIN, "--config", dir + "/central.conf"},
                                      dir + "/central.log");
  REQUIRE(WaitForBeacon(central_port));
}

void Estate::StartCentral(const std::string& extra_config) {
  MergeConfig(dir + "/central.conf", extra_config);
  StartCentral();
}

void Estate::StopCentral() {
  CHECK(central->Stop() == 0);
  central.reset();
}

void Estate::StartDmz(const std::string& extra_config) {
  MergeConfig(dir + "/dmz.conf", extra_config);
  dmz = std::make_unique<Process>(std::vector<std::string>{BEACON_BIN, "--config", dir + "/dmz.conf"},
                                  dir + "/dmz.log");
  REQUIRE(WaitForBeacon(dmz_port));
}

void Estate::StopDmz() {
  CHECK(dmz->Stop() == 0);
  dmz.reset();
}

std::string Estate::ClientConfig(int server_port, const std::string& ca_file, const std::string& name) {
  std::string path = dir + "/" + name + ".conf";
  WriteText(path, "server = https://127.0.0.1:" + std::to_string(server_port) + "\nca_file = " + ca_file +
                      "\nstate_dir = " + dir + "/" + name + "\nconnect_timeout = 3s\nrequest_timeout = 10s\n" +
                      "policy_public_key = " + certs + "/policy.pub\nenroll_secret = " + enroll_secret +
                      "\nenroll_wait = 60s\n");
  return path;
}

CommandResult Estate::Client(const std::string& config, const std::vector<std::string>& args) {
  std::vector<std::string> argv{CLIENT_BIN, "--config", config};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv);
}

std::unique_ptr<inventory::Store> Estate::Store() {
  auto s = store_conninfo.empty() ? inventory::OpenSqliteStore(dir + "/central/store.sqlite", true)
                                  : inventory::OpenPostgresStore(store_conninfo, true);
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

std::optional<std::map<UploadKey, StoredUpload>> StoredUploads(const Estate& e) {
  const std::string path = e.dir + "/central/store.sqlite";
  if (!fs::exists(path)) return std::nullopt;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return std::nullopt;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  std::optional<std::map<UploadKey, StoredUpload>> out;
  if (sqlite3_prepare_v2(db,
                         "SELECT device_id, upload_id, COUNT(*), MIN(sha256) FROM uploads "
                         "GROUP BY device_id, upload_id",
                         -1, &st, nullptr) == SQLITE_OK) {
    std::map<UploadKey, StoredUpload> rows;
    int rc;
    auto text = [&](int col) {
      return std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, col)));
    };
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      rows[{text(0), text(1)}] = StoredUpload{sqlite3_column_int(st, 2), text(3)};
    }
    if (rc == SQLITE_DONE) out = std::move(rows);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

int RowsFor(const std::map<UploadKey, StoredUpload>& stored, const UploadKey& key) {
  auto it = stored.find(key);
  return it == stored.end() ? 0 : it->second.rows;
}

}  // namespace harness
