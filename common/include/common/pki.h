// The estate's public-key infrastructure (docs/identity.md): keys and
// certificate requests made by devices, the certificate authority the
// central holds, certificate revocation lists, and the trust bundle that
// travels down the chain. All of it is X.509 through OpenSSL (libcrypto);
// nothing here does I/O but CertAuthority's files.
//
// Keys are ECDSA P-256 everywhere (keys in requests of any other type or
// curve are refused). Certificates carry the estate's role and id as
// common/identity.h describes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/identity.h"
#include "common/status.h"

namespace common::pki {

// A new ECDSA P-256 private key, PKCS#8 PEM.
StatusOr<std::string> NewKeyPem();

// A PEM certificate signing request for `key_pem`, self-signed, with
// subject CN `common_name` (the request carries nothing else: the CA decides
// what the certificate says).
StatusOr<std::string> MakeCsr(const std::string& key_pem, const std::string& common_name);

// What the CA takes from a request: its public key, proven by the request's
// own signature. At most kMaxCsrBytes of PEM.
struct CsrInfo {
  std::string public_key_der;  // DER SubjectPublicKeyInfo
  std::string key_sha256;      // its SHA-256, lower-case hex (as PeerIdentity::key_sha256)
};
inline constexpr size_t kMaxCsrBytes = 8192;
// InvalidArgument: not one PEM request, signature does not verify, not a
// P-256 key, too large.
StatusOr<CsrInfo> ParseCsr(std::string_view pem);

// SHA-256 (lower-case hex) of the public key of a PEM private key.
StatusOr<std::string> KeySha256(const std::string& key_pem);

struct IssuedCert {
  std::string pem;  // the leaf certificate, then any cross-certificate of the issuing CA (see Rollover)
  PeerIdentity identity;  // as IdentityFromPem(pem) reads it
};

struct Revoked {
  std::string serial;  // lower-case hex, as PeerIdentity::serial
  int64_t revoked_at = 0;
};

// The estate CA, kept in a folder of the central's data directory:
//   DIR/ca.key   the current CA's private key (0600)
//   DIR/ca.pem   the current CA's certificate
//   DIR/old/     the previous CA (key and certificate) during a rollover
//   DIR/cross.pem the current CA's certificate signed by the previous CA
// Thread-compatible: one writer at a time (beaconctl or the central's importer).
class CertAuthority {
 public:
  // Creates DIR and a new CA (ECDSA P-256, self-signed, `validity`).
  // AlreadyExists if DIR/ca.key exists.
  static Status Init(const std::string& dir, const std::string& name, std::chrono::seconds validity);
  // NotFound if there is no CA in DIR.
  static StatusOr<std::unique_ptr<CertAuthority>> Load(const std::string& dir);
  ~CertAuthority();

  // A certificate for `public_key_der` naming `kind` and `id`, valid from
  // `now` - 5 min for `validity`, never past the CA's own expiry. A beacon's
  // certificate also lists `hosts` (DNS names or IP addresses) as
  // subject alternative names and may serve as server and client; a
  // device's is for the client side only. Random 128-bit serials.
  StatusOr<IssuedCert> Issue(const std::string& public_key_der, PeerKind kind, const std::string& id,
                             const std::vector<std::string>& hosts, std::chrono::seconds validity, int64_t now);

  // A CRL signed by this CA listing `revoked`, numbered `number` (which
  // must grow), this update `now`, next update `now + next_update`.
  StatusOr<std::string> MakeCrl(const std::vector<Revoked>& revoked, int64_t number, int64_t now,
                                std::chrono::seconds next_update);
  // The same signed by the previous CA, whose CRL the trust bundle keeps
  // serving during a rollover (receivers refuse a bundle that drops a CRL
  // they hold). FailedPrecondition unless rolling_over().
  StatusOr<std::string> MakeOldCrl(const std::vector<Revoked>& revoked, int64_t number, int64_t now,
                                   std::chrono::seconds next_update);

  // Rollover: makes a new CA in DIR, moves the current one to DIR/old, and
  // cross-signs the new CA's certificate with the old key (DIR/cross.pem).
  // `name` must differ from the current CA's. FailedPrecondition during a
  // rollover (retire the old CA first) or once the current CA has expired.
  // A crash part way leaves DIR for Load to finish or undo the rollover.
  Status Rollover(const std::string& name, std::chrono::seconds validity, int64_t now);
  // Ends a rollover: forgets DIR/old and DIR/cross.pem.
  Status RetireOld();
  bool rolling_over() const;

  const std::string& cert_pem() const;      // the current CA
  const std::string& old_cert_pem() const;  // the previous CA during a rollover, else ""
  const std::string& cross_pem() const;     // DIR/cross.pem during a rollover, else ""
  int64_t not_after() const;

 private:
  CertAuthority();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The trust bundle: what every beacon and client trusts and refuses, as one
// PEM text served at GET /v1/trust (docs/identity.md "Trust bundle"):
//   - one or two CA certificates (two during a rollover);
//   - for a newer CA, its cross-certificate signed by the older CA;
//   - one CRL per CA.
struct Crl {
  std::string issuer_sha256;  // SHA-256 of the issuing CA's DER SubjectPublicKeyInfo
  int64_t number = 0;
  int64_t this_update = 0;
  int64_t next_update = 0;
  std::vector<std::string> serials;  // revoked, lower-case hex
};
struct TrustBundle {
  std::vector<std::string> ca_pems;     // CA certificates, oldest first
  std::vector<std::string> cross_pems;  // cross-certificates
  std::vector<Crl> crls;
  std::string crl_pems;                 // the CRLs as PEM, as received
  // The whole bundle as PEM: CAs, cross-certificates, CRLs.
  std::string ToPem() const;
  // Every serial revoked by any CRL.
  std::vector<std::string> RevokedSerials() const;
  // The earliest of the CAs' expiry and the CRLs' next update (0 for an
  // empty bundle).
  int64_t ExpiresAt() const;
};

// Makes the bundle the central serves (its CA, and during a rollover the
// old CA and the cross-certificate, each CA's CRL).
StatusOr<TrustBundle> MakeTrustBundle(const std::vector<std::string>& ca_pems,
                                      const std::vector<std::string>& cross_pems,
                                      const std::vector<std::string>& crl_pems);

// Parses a received bundle and accepts it only if it follows from `trusted`
// (the bundle the receiver holds, or its configured CA file's contents):
//   - every CA in it is either already trusted, or a new CA whose
//     cross-certificate in the bundle verifies with a trusted CA's key;
//   - it keeps at least one CA already trusted (a bundle can retire a CA
//     only after its successor has been accepted);
//   - every CRL verifies with the key of a CA in the bundle, and is not
//     older (by number) than the receiver's CRL from the same CA (nor
//     missing, while that CA stays in the bundle).
// At most kMaxTrustBytes. InvalidArgument says which rule failed.
inline constexpr size_t kMaxTrustBytes = 1 << 20;
StatusOr<TrustBundle> AcceptTrustBundle(std::string_view received_pem, const TrustBundle& trusted);

// Parses a bundle the receiver wrote itself (or the configured CA file:
// certificates only), checking every CRL's signature against the CAs in it.
// Only CERTIFICATE and X509 CRL blocks, at most 16 and kMaxTrustBytes: a CA
// certificate is self-issued and self-signed, a cross-certificate is a CA
// certificate of one CA in the bundle signed by another; anything else (a
// leaf, a key) is InvalidArgument, as are a CA twice and two CRLs of one CA.
// The CAs come out oldest (notBefore) first and every piece re-encoded, so
// ToPem() is the same for the same content.
StatusOr<TrustBundle> ParseTrustBundle(std::string_view pem);

}  // namespace common::pki
