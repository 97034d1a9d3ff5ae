// A TLS-terminating forwarder on loopback, for a client that cannot parse
// the estate's certificates: Go before 1.22 (Debian 12's prometheus 2.42 is
// built with Go 1.19) refuses any certificate whose certificatePolicies
// holds an OID arc wider than 31 bits ("x509: invalid certificate
// policies", golang/go#60665), and every estate certificate carries the
// role OID 2.25.<UUID>.1.x (common/identity.h). See docs/metrics.md.
//
// It accepts TLS on a free 127.0.0.1 port with `cert_file` (a certificate
// such a client can parse), and forwards each connection over a new TLS
// connection to 127.0.0.1:upstream_port, verifying the upstream's chain
// against `upstream_ca_file` and its IP address SAN 127.0.0.1 (a failure
// closes the client's connection). Bytes pass through unchanged both ways.
//
// Thread-safe; the destructor closes every connection and joins its threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace testing_support {

class TlsForwarder {
 public:
  struct Options {
    std::string cert_file;  // PEM chain presented to clients
    std::string key_file;
    int upstream_port = 0;
    std::string upstream_ca_file;  // the upstream must chain to one of these
  };
  // Listens at once; fails the test if it cannot.
  explicit TlsForwarder(const Options& options);
  ~TlsForwarder();
  TlsForwarder(const TlsForwarder&) = delete;
  TlsForwarder& operator=(const TlsForwarder&) = delete;

  int port() const;
  // Upstream connections whose certificate verified, and those that did not.
  uint64_t verified() const;
  uint64_t refused() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace testing_support
