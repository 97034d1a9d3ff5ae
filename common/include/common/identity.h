// Who is at the other end of a TLS connection, as an estate certificate
// says (docs/identity.md).
//
// Every certificate the estate CA issues names exactly one thing, in two
// places the code checks together:
//   - its kind, as a certificate policy (the certificatePolicies extension):
//     kDevicePolicyOid or kBeaconPolicyOid, exactly one of them;
//   - its id, as the one URI subject alternative name with the matching
//     prefix: "urn:beacon:device:<device id>" (a lower-case UUID) or
//     "urn:beacon:beacon:<beacon name>" (a token, common/uuid.h IsToken).
// The subject CN repeats the id for people reading the certificate; the
// code never looks at it. A certificate without both, or whose two
// disagree, asserts nothing (InvalidArgument).
//
// The OIDs sit under 2.25.<UUID as an integer> (ITU-T X.667), an arc this
// project owns without registration.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace common {

enum class PeerKind { kNone, kDevice, kBeacon };

inline constexpr char kEstateOidArc[] = "2.25.337419849690851785918792908136157759878";
inline constexpr char kDevicePolicyOid[] = "2.25.337419849690851785918792908136157759878.1.1";
inline constexpr char kBeaconPolicyOid[] = "2.25.337419849690851785918792908136157759878.1.2";
inline constexpr char kDeviceUriPrefix[] = "urn:beacon:device:";
inline constexpr char kBeaconUriPrefix[] = "urn:beacon:beacon:";

struct PeerIdentity {
  PeerKind kind = PeerKind::kNone;
  std::string id;          // device id or beacon name
  std::string serial;      // certificate serial number, lower-case hex without leading zeros
  std::string key_sha256;  // SHA-256 of the DER SubjectPublicKeyInfo, lower-case hex
  int64_t not_before = 0;  // unix seconds
  int64_t not_after = 0;
  bool is_device() const { return kind == PeerKind::kDevice; }
  bool is_beacon() const { return kind == PeerKind::kBeacon; }
};

// "device", "beacon" or "none".
const char* PeerKindName(PeerKind kind);

// What the DER certificate asserts. It checks the form only (kind, id,
// key, validity dates read); the chain, the dates against a clock and
// revocation are the verifier's business. InvalidArgument names what is
// missing or wrong.
StatusOr<PeerIdentity> IdentityFromDer(std::string_view der);
// The same for the first certificate of a PEM text.
StatusOr<PeerIdentity> IdentityFromPem(std::string_view pem);

// The serial number of any DER certificate, spelled as PeerIdentity::serial
// (for logs about certificates that assert nothing).
StatusOr<std::string> SerialFromDer(std::string_view der);

// SHA-256 (lower-case hex) of the DER SubjectPublicKeyInfo of the first
// certificate of a PEM text, any certificate (a CA's too): how a CA is
// named in the store (IssuedCertRow::issuer_sha256) and in a CRL.
StatusOr<std::string> CertKeySha256(std::string_view pem);
// notAfter (unix seconds) of the first certificate of a PEM text, any certificate.
StatusOr<int64_t> CertNotAfter(std::string_view pem);

}  // namespace common
