// `beacon diagnose` (docs/diagnose.md): a relay beacon's way to its
// upstream, checked with the same steps and codes as `beacon-client
// diagnose` (common/diagnose.h): configuration, dns, tcp, tls, http and
// identity (GET /v1/trust with the beacon's certificate). A beacon has no
// proxy setting and no policy of its own, and its uploads are the spool it
// relays: those steps are skipped, saying so. Reads the configuration and
// data_dir/trust.pem only; changes nothing, so it can run beside the beacon.
#pragma once

#include <string>

namespace beacon {

// Prints the report (text, or JSON with `json`) for the configuration at
// `config_path` (`data_dir` overrides its data_dir when not empty). Returns
// the exit status: 0 when every step passed or was skipped, 1 when one
// failed (a configuration that does not validate is a failed step too).
int DiagnoseMain(const std::string& config_path, const std::string& data_dir, bool json);

}  // namespace beacon
