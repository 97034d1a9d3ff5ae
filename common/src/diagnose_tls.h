// The TLS step of the diagnostics (common/diagnose.h), with OpenSSL
// directly: the adapter (http_client.h) says only "not verified", while an
// administrator needs to know which check failed, what the chain says and
// which CA of the bundle vouched for it. Private to common/.
#pragma once

#include <string>

namespace common::diagnose_tls {

struct Verdict {
  std::string code;    // "" when the handshake and every check passed; else D500..D506
  std::string detail;  // the chain (subject, issuer, notAfter), the host check, the CA that verified it
};

// A TLS 1.2+ handshake as a client on the connected socket `fd` (which the
// caller keeps and closes), for `host` (a DNS name gets SNI and a name
// check, an IP literal an address check), verifying against the PEM bundle
// `ca_file`. Reads and writes wait at most `timeout_s` seconds each.
Verdict Handshake(int fd, const std::string& host, const std::string& ca_file, int timeout_s);

}  // namespace common::diagnose_tls
