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

#include "client/settings.h"
#include "common/diagnose.h"
#include "common/status.h"

namespace client {

// The report and its steps are shared with `beacon diagnose`
// (common/diagnose.h); a client's report has role "client" and its device
// id as `id`.
using DiagnoseStep = common::DiagnoseStep;
using DiagnoseReport = common::DiagnoseReport;

struct DiagnoseOptions {
  // The beacon to diagnose: "" for the one in use (the state file's), else
  // the configured server.
  std::string server;
  // Send the report as a "logs" upload in the last step (the upload round
  // trip). Off: the step is skipped.
  bool upload = true;
};

// Runs every step against the beacon. Never fails as a whole: each problem
// is a failed step. Reads the state folder without the state lock and
// without changing anything in it (a running daemon is not disturbed).
DiagnoseReport Diagnose(const ClientSettings& settings, const DiagnoseOptions& options);

// The report when the configuration itself cannot be read or does not
// validate: the configuration step fails (D100) with `message`, every
// other step is skipped.
DiagnoseReport DiagnoseBadConfiguration(const std::string& server, const std::string& message);

// Writes the troubleshooting bundle: a tar.gz (libarchive) with report.txt,
// report.json, client.conf with every secret redacted (proxy_password,
// enroll_secret), state.txt (the state file, the certificate's subject,
// serial and expiry, the applied manifest, the outbox's depth) and the
// recent client log (its last 256 KiB). Never a private key or a secret:
// each line of client.conf setting proxy_password or enroll_secret keeps
// its key and loses its value, even a line that would not parse. Written
// to a temporary file beside `path` (0600), then renamed. `config_path` is
// the configuration file read ("" if none).
common::Status WriteBundle(const DiagnoseReport& report, const ClientSettings& settings,
                           const std::string& config_path, const std::string& path);

}  // namespace client
