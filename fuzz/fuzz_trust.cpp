#include <cstdint>
#include <string>

#include "common/pki.h"

namespace {

// The bundle a receiver holds: one CA and its CRL number 7
// (tests/data/common/pki/trust/trust.pem; rollover.pem there is that CA's
// rollover bundle, which this bundle accepts).
constexpr char kTrusted[] = R"(-----BEGIN CERTIFICATE-----
MIIBeDCCAR2gAwIBAgIQIhlrOmPJOVnYAVqiz0dm3DAKBggqhkjOPQQDAjAZMRcw
FQYDVQQDDA5GdXp6IEVzdGF0ZSBDQTAgFw0yNjExMzAxNDU2MTRaGA8yMDU2MTEy
MjE1MDExNFowGTEXMBUGA1UEAwwORnV6eiBFc3RhdGUgQ0EwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAAR2pVzm+XQEStGl3fOsauhwHOiJfCYXFzADeRHtjC4Ykiy7
AWPPFzM8NDJM8sCfYspoIQVouLjFOmL0t9+itDvro0UwQzASBgNVHRMBAf8ECDAG
AQH/AgEBMA4GA1UdDwEB/wQEAwIBBjAdBgNVHQ4EFgQU7yGO5B6jFKGzgHboiSyU
ktQAko8wCgYIKoZIzj0EAwIDSQAwRgIhALRWbYAyOH/nl3QsF5fl2slCUqX5lwMc
Vsd0jofS9G77AiEAz+C9p5CPJa5MEKj6ZF+Z+0FWXPblhDOrinkDUnIJbgs=
-----END CERTIFICATE-----
-----BEGIN X509 CRL-----
MIIBBDCBqgIBATAKBggqhkjOPQQDAjAZMRcwFQYDVQQDDA5GdXp6IEVzdGF0ZSBD
QRcNMjYxMTMwMTUwMTE0WhgPMjA1NTExMjMxNTAxMTRaMC0wEgIBHxcNMjYxMTMw
MTUwMTE0WjAXAgYAq83vASMXDTI2MTEzMDE1MDExNFqgLzAtMAoGA1UdFAQDAgEH
MB8GA1UdIwQYMBaAFO8hjuQeoxShs4B26IkslJLUAJKPMAoGCCqGSM49BAMCA0kA
MEYCIQD0PbLfBhpb1ZBSl3IXR8Dd182gdZxWHiaFinbfmKkSmwIhAJ9ryJQvg3q6
qa6YGLJkUVzL0qLfSacXNewObFK79F/U
-----END X509 CRL-----
)";

const common::pki::TrustBundle& Trusted() {
  static const common::pki::TrustBundle trusted = [] {
    auto b = common::pki::ParseTrustBundle(kTrusted);
    if (!b.ok()) __builtin_trap();
    return std::move(b).value();
  }();
  return trusted;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = common::pki::ParseTrustBundle(text);
  // Whatever parses is written back as PEM that parses to the same PEM.
  if (parsed.ok()) {
    auto again = common::pki::ParseTrustBundle(parsed->ToPem());
    if (!again.ok() || again->ToPem() != parsed->ToPem()) __builtin_trap();
  }
  auto accepted = common::pki::AcceptTrustBundle(text, Trusted());
  if (accepted.ok()) {
    // Accepted means parsed, and the accepted bundle, served again, is accepted again.
    if (!parsed.ok() || accepted->ToPem() != parsed->ToPem()) __builtin_trap();
    if (!common::pki::AcceptTrustBundle(accepted->ToPem(), Trusted()).ok()) __builtin_trap();
    if (!common::pki::AcceptTrustBundle(accepted->ToPem(), *accepted).ok()) __builtin_trap();
  }
  return 0;
}
