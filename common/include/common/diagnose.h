// Staged diagnostics (docs/diagnose.md), the part a client and a relay
// beacon share: the report, the table of stable codes, and the steps of the
// path to the next hop (dns, tcp, proxy, tls, http, identity).
//
// A step passes, fails or is skipped. A failed step carries a code from the
// table (D1xx configuration ... D9xx upload), the table's plain hint, what
// was found and the command an administrator can run by hand to see the
// same thing. A step after a failed one it needs is skipped, saying which.
// Nothing here prints or stores a secret: proxy passwords and private keys
// never appear in a detail or a manual command.
// Everything is blocking and used from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/http_client.h"
#include "common/identity.h"
#include "common/status.h"

namespace common {

struct DiagnoseStep {
  std::string name;    // "configuration", "dns", "tcp", "proxy", "tls", "http", "identity", "policy", "upload"
  std::string result;  // "pass", "fail", "skip"
  std::string code;    // stable, e.g. "D200"; "" for a pass or skip
  std::string detail;  // what was found (addresses, certificate subject, issuer and expiry, ...)
  std::string hint;    // for a failure: what to check, in plain words (the code's, from the table)
  std::string manual;  // the equivalent command, e.g. "openssl s_client -connect host:443 ..."
};

struct DiagnoseReport {
  std::string role;    // "client" or "beacon": who ran it
  std::string id;      // the device id ("" before one exists) or the beacon's name
  std::string server;  // the next hop diagnosed (https://host:port)
  int64_t at = 0;      // unix seconds
  std::vector<DiagnoseStep> steps;

  bool ok() const;                   // every step passed or was skipped, none failed
  std::string FirstFailure() const;  // the first failed step's code, "" if none
  std::string ToText() const;        // what `diagnose` prints
  std::string ToJson() const;        // `diagnose --json` (field names in docs/diagnose.md)

  // Appends a step. Fail takes the hint from the code table.
  void Pass(const std::string& name, const std::string& detail, const std::string& manual);
  void Fail(const std::string& name, const std::string& code, const std::string& detail, const std::string& manual);
  void Skip(const std::string& name, const std::string& why);
  // Whether the step `name` passed (false if it failed, was skipped or is absent).
  bool Passed(const std::string& name) const;
};

// The plain hint of a code of the table, "" for an unknown code.
std::string DiagnoseHint(const std::string& code);

// Where and how a hop is reached, as its owner's configuration says.
struct DiagnoseTarget {
  std::string url;      // https://host[:port]
  std::string ca_file;  // the bundle the hop's certificate must chain to
  // The certificate presented in the identity step and after (empty: not
  // enrolled). Only a pair the configuration step found usable is set.
  std::string cert_file;
  std::string key_file;
  std::string proxy_url;  // http://host:port, "" for none
  std::string proxy_username;
  std::string proxy_password;  // used, never shown
  int connect_timeout_s = 10;
  int read_timeout_s = 30;
};

// One configuration check's verdict: `code` "" when fine; `detail` says
// what was found either way.
struct DiagnoseFinding {
  std::string code;
  std::string detail;
};

// The CA bundle at `path` is readable and holds at least one CA
// certificate (D101 otherwise).
DiagnoseFinding CheckCaBundle(const std::string& path);
// The certificate at `cert_file` is an estate certificate of `kind` (and,
// when `id` is not empty, names it), and the key at `key_file` is its key
// (D103, D104). The key's contents are never shown. On success *identity
// (if not null) receives what the certificate says.
DiagnoseFinding CheckKeyPair(const std::string& cert_file, const std::string& key_file, PeerKind kind,
                             const std::string& id, PeerIdentity* identity);

// Runs the steps dns, tcp, proxy, tls and http against `target` and appends
// them to `report`; `ca_usable` false (the configuration step found the
// bundle unusable) skips tls and http. With a proxy, dns and tcp check the
// way to the proxy (it resolves the hop's name itself). Returns true when
// http passed.
bool DiagnosePath(const DiagnoseTarget& target, bool ca_usable, DiagnoseReport* report);

// A connection to the target presenting target.cert_file (when set), for
// the steps after http. Errors as HttpClient::Create.
StatusOr<std::unique_ptr<HttpClient>> DiagnoseConnect(const DiagnoseTarget& target, bool with_certificate);

// The identity step: GET `path` with the target's certificate (D700 when
// there is none); 200 passes, 401 and 403 are told apart by the reason the
// beacon gives. Returns true when it passed.
bool DiagnoseIdentity(const DiagnoseTarget& target, const std::string& path, const HeaderList& headers,
                      DiagnoseReport* report);

// The curl command for `path` on the target, with its CA bundle, its proxy
// (user name only) and, when `with_certificate`, its certificate and key
// file names. `extra` goes before the URL (e.g. "-X PUT ...").
std::string ManualCurl(const DiagnoseTarget& target, const std::string& path, bool with_certificate,
                       const std::string& extra = "");

}  // namespace common
