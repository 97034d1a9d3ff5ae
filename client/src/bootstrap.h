// `beacon-client enroll --server URL --ca FILE [--policy-key FILE]`: the
// one-command set-up after installing the package (docs/install.md).
//
// WriteBootstrapConfig() checks everything first and writes nothing unless
// all of it is good: the URL must be https (common::ParseHttpsUrl), the CA
// file must parse as a bundle of PEM CA certificates
// (common::pki::ParseTrustBundle), the policy key (given, or the one the
// configuration already names) must parse as an Ed25519 public key. Then it
// copies the CA to ca.pem and the key to policy.pub beside the
// configuration file (mode 0644; the same file given again is left alone)
// and sets `server`, `ca_file` and `policy_public_key` in the configuration,
// keeping every other line of an existing file (comments, other keys) as it
// was, and the file's owner and mode. A missing file is created (0640). The
// result must load and validate as a whole, else nothing is replaced. The
// secret is never written: it is used once, by the enrollment that follows.
#pragma once

#include <string>

#include "common/status.h"

namespace client {

struct BootstrapOptions {
  std::string config_path;  // --config
  std::string server;       // --server
  std::string ca_file;      // --ca
  std::string policy_key;   // --policy-key; empty: keep the configured one
};

common::Status WriteBootstrapConfig(const BootstrapOptions& options);

// After an enrollment run by root: hands the state folder's contents to the
// folder's owner (the package makes /var/lib/beacon-client owned by the
// user `beacon-client`), so the service, which runs as that user, can read
// the key root just wrote. Does nothing when not root or the folder is
// root's.
common::Status HandStateToOwner(const std::string& state_dir);

// `systemctl enable --now beacon-client.service` when run as root on a
// machine booted with systemd, unless BEACON_CLIENT_NO_SERVICE is set (tests,
// installers that start it themselves); otherwise says why not and prints
// the command. Never fails: the enrollment is done either way. Returns what
// to tell the user.
std::string StartService();

}  // namespace client
