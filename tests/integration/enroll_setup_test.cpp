// `beacon-client enroll --server URL --ca FILE [--policy-key FILE] --secret S`
// (client/src/bootstrap.h, docs/install.md) with the real executables
// against a central and a relay on loopback: the configuration written,
// the CA and key copied, the device enrolled; bad input refused with nothing
// written. BEACON_CLIENT_NO_SERVICE keeps it from touching this machine's
// systemd.
#include <stdlib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "integration/harness.h"

using harness::Estate;
using harness::ReadText;
using harness::WriteText;
namespace fs = std::filesystem;

namespace {

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

int Mode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<int>(st.st_mode & 07777);
}

// `beacon-client --config CONF --data-dir STATE enroll ARGS...`.
harness::CommandResult Enroll(const std::string& conf, const std::string& state, const std::vector<std::string>& args) {
  ::setenv("BEACON_CLIENT_NO_SERVICE", "1", 1);
  std::vector<std::string> argv = {CLIENT_BIN, "--config", conf, "--data-dir", state, "enroll"};
  argv.insert(argv.end(), args.begin(), args.end());
  return harness::Run(argv);
}

// A central and a relay, and an empty folder for the client's configuration.
struct Setup {
  Setup() {
    e.StartCentral();
    e.StartDmz();
    url = "https://127.0.0.1:" + std::to_string(e.dmz_port);
    fs::create_directories(etc);
  }
  Estate e;
  const std::string etc = e.dir + "/etc";
  const std::string conf = etc + "/client.conf";
  std::string url;  // the relay's
};

}  // namespace

TEST_CASE("enroll --server: writes the configuration, keeps its other lines, copies the CA and key, enrolls") {
  Setup x;
  Estate& e = x.e;
  const std::string& etc = x.etc;
  const std::string& conf = x.conf;
  // An edited configuration: its comment, its other keys and its mode stay.
  WriteText(conf, "# edited by hand\nserver = https://old.example.org:8443\nsite = lab\nenroll_wait = 60s\n"
                  "backoff_base = 1s\nbackoff_cap = 2s\n");
  ::chmod(conf.c_str(), 0600);
  const std::string& url = x.url;
  auto r = Enroll(conf, e.dir + "/state",
                  {"--server", url, "--ca", e.pki + "/ca.pem", "--policy-key", e.certs + "/policy.pub", "--secret",
                   e.enroll_secret});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(Contains(r.output, "configuration written to " + conf));
  CHECK(Contains(r.output, " enrolled: certificate serial "));
  CHECK(Contains(r.output, "the service was not started (BEACON_CLIENT_NO_SERVICE is set); to start it: "
                           "systemctl enable --now beacon-client.service"));

  const std::string text = ReadText(conf);
  CHECK(text == "# edited by hand\nserver = " + url + "\nsite = lab\nenroll_wait = 60s\nbackoff_base = 1s\n"
                "backoff_cap = 2s\nca_file = " + etc + "/ca.pem\npolicy_public_key = " + etc + "/policy.pub\n");
  CHECK_FALSE(Contains(text, e.enroll_secret));
  CHECK(Mode(conf) == 0600);
  CHECK(ReadText(etc + "/ca.pem") == ReadText(e.pki + "/ca.pem"));
  CHECK(Mode(etc + "/ca.pem") == 0644);
  CHECK(ReadText(etc + "/policy.pub") == ReadText(e.certs + "/policy.pub"));
  CHECK(Mode(etc + "/policy.pub") == 0644);
  CHECK(fs::exists(e.dir + "/state/identity"));

  // Run again with the same files: already enrolled, nothing changes.
  auto again = Enroll(conf, e.dir + "/state",
                      {"--server", url, "--ca", etc + "/ca.pem", "--secret", e.enroll_secret});
  INFO(again.output);
  CHECK(again.exit_code == 0);
  CHECK(Contains(again.output, "is already enrolled"));
  CHECK(ReadText(conf) == text);
}

TEST_CASE("enroll --server: a bad URL or CA file is refused before anything is written, a wrong secret says why") {
  Setup x;
  Estate& e = x.e;
  const std::string& etc = x.etc;
  const std::string& conf = x.conf;
  const std::string& url = x.url;
  const std::string key = e.certs + "/policy.pub";
  WriteText(e.dir + "/not-a-ca.pem", "hello\n");

  struct Case {
    std::string name;
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"http URL", {"--server", "http://127.0.0.1:1", "--ca", e.pki + "/ca.pem"}, "--server 'http://127.0.0.1:1'"},
      {"not a URL", {"--server", "beacon.example.org", "--ca", e.pki + "/ca.pem"}, "--server 'beacon.example.org'"},
      {"missing CA", {"--server", url, "--ca", e.dir + "/absent.pem"}, "--ca " + e.dir + "/absent.pem"},
      {"CA not PEM", {"--server", url, "--ca", e.dir + "/not-a-ca.pem"}, "is not a PEM CA bundle"},
      {"a key as CA", {"--server", url, "--ca", key}, "is not a PEM CA bundle"},
      {"no policy key", {"--server", url, "--ca", e.pki + "/ca.pem", "--policy-key", e.dir + "/absent.pub"},
       "policy public key " + e.dir + "/absent.pub"},
      {"--server alone", {"--server", url}, "--server requires --ca"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    if (c.name != "no policy key") args.insert(args.end(), {"--policy-key", key});
    auto r = Enroll(conf, e.dir + "/state", args);
    INFO(c.name << ": " << r.output);
    CHECK(r.exit_code == 2);
    CHECK(Contains(r.output, c.message));
    CHECK_FALSE(fs::exists(conf));
    CHECK_FALSE(fs::exists(etc + "/ca.pem"));
    CHECK_FALSE(fs::exists(e.dir + "/state"));
  }

  // A wrong secret: the configuration is right and stays; the refusal names
  // the reason. (Short retry delays, so the answer is polled within seconds.)
  WriteText(conf, "server = https://old.example.org:8443\nenroll_wait = 60s\nbackoff_base = 1s\nbackoff_cap = 2s\n");
  const std::string wrong = e.enroll_secret.substr(0, e.enroll_secret.find('.') + 1) + std::string(32, '0');
  auto r = Enroll(conf, e.dir + "/state",
                  {"--server", url, "--ca", e.pki + "/ca.pem", "--policy-key", key, "--secret", wrong});
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(Contains(r.output, "enrollment refused: unknown enrollment secret"));
  CHECK(Contains(ReadText(conf), "server = " + url + "\n"));
}
