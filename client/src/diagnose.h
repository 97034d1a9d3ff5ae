// Staged diagnostics (docs/diagnose.md): the path from this client to its
// beacon, checked step by step in the order a request takes it:
// configuration, DNS, TCP, proxy, TLS, HTTP, identity, policy, upload.
//
// Each step passes, fails or is skipped (a step after a failed one it needs).
// A failed step carries a stable code from the table in docs/diagnose.md, a
// plain hint and the command an administrator can run by hand to see the
// same thing (openssl s_client, curl, getent). Diagnose only reads the state
// folder (it never changes the identity, the applied policy or the outbox):
// the upload step sends the report so far directly, as a "logs" upload.
#pragma once

#include <string>
#include <vector>

#include "client/settings.h"
#include "common/status.h"

namespace client {

struct DiagnoseStep {
  std::string name;   // "configuration", "dns", "tcp", "proxy", "tls", "http", "identity", "policy", "upload"
  std::string result;  // "pass", "fail", "skip"
  std::string code;    // stable, e.g. "D200" (docs/diagnose.md); "" for a pass or skip
  std::string detail;  // what was found: addresses, the certificate's subject, issuer and expiry, ...
  std::string hint;    // for a failure: what to check, in plain words
  std::string manual;  // the equivalent command, e.g. "openssl s_client -connect host:443 ..."
};

struct DiagnoseReport {
  std::string device_id;  // "" before the device id exists
  std::string server;     // the beacon diagnosed
  int64_t at = 0;         // unix seconds
  std::vector<DiagnoseStep> steps;
  bool ok() const;  // every step passed
  // The first failed step's code, "" if none.
  std::string FirstFailure() const;
  std::string ToText() const;  // what `diagnose` prints
  std::string ToJson() const;  // `diagnose --json` (field names in docs/diagnose.md)
};

struct DiagnoseOptions {
  // The beacon to diagnose: "" for the one in use (the state file's), else
  // the configured server.
  std::string server;
  // Send the report as a "logs" upload in the last step (the upload round
  // trip). Off: the step is skipped.
  bool upload = true;
};

// Runs every step against the beacon. Never fails as a whole: each problem
// is a failed step.
DiagnoseReport Diagnose(const ClientSettings& settings, const DiagnoseOptions& options);

// Writes the troubleshooting bundle: a tar.gz (libarchive) with report.txt,
// report.json, client.conf with every secret redacted (proxy_password,
// enroll_secret), state.txt (the state file, the certificate's subject,
// serial and expiry, the applied manifest, the outbox's depth) and the
// recent client log. Never a private key or a secret. `config_path` is the
// configuration file read ("" if none).
common::Status WriteBundle(const DiagnoseReport& report, const ClientSettings& settings,
                           const std::string& config_path, const std::string& path);

}  // namespace client
