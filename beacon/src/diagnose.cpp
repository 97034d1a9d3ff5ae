#include "diagnose.h"

#include <signal.h>

#include <ctime>
#include <iostream>

#include "beacon/beacon.h"
#include "common/diagnose.h"
#include "common/fs.h"
#include "common/protocol.h"
#include "settings.h"

namespace beacon {

namespace {

const char* const kPathSteps[] = {"dns", "tcp", "proxy", "tls", "http", "identity"};

void SkipOwnSteps(common::DiagnoseReport* r) {
  r->Skip("policy", "a beacon distributes policy and has none of its own");
  r->Skip("upload", "not tested for beacons: their uploads are the spool they relay (see the relay's log)");
}

common::DiagnoseReport Run(const std::string& config_path, const std::string& data_dir) {
  common::DiagnoseReport r;
  r.role = "beacon";
  r.at = static_cast<int64_t>(std::time(nullptr));
  auto config = common::LoadConfig(config_path, &ConfigKeys());
  common::StatusOr<Settings> settings = config.status();
  if (config.ok()) {
    if (!data_dir.empty()) (void)config->Set("data_dir", data_dir, "--data-dir");
    settings = Settings::FromConfig(*config);
  }
  if (!settings.ok()) {
    r.Fail("configuration", "D100", config_path + ": " + settings.status().message(), "beacon --config " + config_path + " --help");
    for (const char* s : kPathSteps) r.Skip(s, "configuration failed");
    SkipOwnSteps(&r);
    return r;
  }
  const Settings& s = *settings;
  r.id = s.name;
  if (s.central) {
    r.Pass("configuration", config_path + ": the central (store = sqlite)", "");
    for (const char* step : kPathSteps) r.Skip(step, "the central has no upstream");
    SkipOwnSteps(&r);
    return r;
  }
  r.server = s.upstream;
  common::DiagnoseTarget t;
  t.url = s.upstream;
  // As the relay does: the bundle it holds, else the configured one.
  const std::string trust = s.data_dir + "/trust.pem";
  t.ca_file = common::FileExists(trust) ? trust : s.ca_file;
  t.connect_timeout_s = 3;
  t.read_timeout_s = 30;
  const common::DiagnoseFinding ca = common::CheckCaBundle(t.ca_file);
  const common::DiagnoseFinding pair =
      common::CheckKeyPair(s.server.cert_file, s.server.key_file, common::PeerKind::kBeacon, "", nullptr);
  if (pair.code.empty()) {
    t.cert_file = s.server.cert_file;
    t.key_file = s.server.key_file;
  }
  const std::string detail = (ca.code.empty() ? "" : ca.code + " ") + ca.detail + "; " +
                             (pair.code.empty() ? "" : pair.code + " ") + pair.detail;
  const std::string manual = "ls -l " + t.ca_file + " " + s.server.cert_file + " " + s.server.key_file;
  if (!ca.code.empty() || !pair.code.empty()) {
    r.Fail("configuration", ca.code.empty() ? pair.code : ca.code, detail, manual);
  } else {
    r.Pass("configuration", detail, manual);
  }
  if (!common::DiagnosePath(t, ca.code.empty(), &r)) {
    r.Skip("identity", "the upstream cannot be reached");
  } else if (!pair.code.empty()) {
    r.Skip("identity", "the certificate or key is not usable (configuration)");
  } else {
    (void)common::DiagnoseIdentity(t, common::protocol::kTrustPath, {}, &r);
  }
  SkipOwnSteps(&r);
  return r;
}

}  // namespace

int DiagnoseMain(const std::string& config_path, const std::string& data_dir, bool json) {
  ::signal(SIGPIPE, SIG_IGN);  // an upstream closing mid-handshake is a finding
  const common::DiagnoseReport r = Run(config_path, data_dir);
  std::cout << (json ? r.ToJson() : r.ToText()) << std::flush;
  return r.ok() ? 0 : 1;
}

}  // namespace beacon
