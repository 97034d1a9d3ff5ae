// The trust bundle (common/pki.h): parsing, and the rules by which a
// receiver accepts a new one.
#include <openssl/err.h>

#include <algorithm>
#include <limits>

#include "common/pki.h"
#include "pki_x509.h"

namespace common::pki {

using namespace x509;  // NOLINT(google-build-using-namespace): this folder's own helpers

namespace {

// A bundle holds two CAs, a cross-certificate and two CRLs during a
// rollover; a few more leave room without inviting a flood.
constexpr size_t kMaxObjects = 16;

struct Parsed {
  TrustBundle bundle;
  std::vector<X509Ptr> cas;  // as bundle.ca_pems
  std::vector<X509Ptr> crosses;
};

std::string Cn(X509* cert) { return "'" + CommonName(X509_get_subject_name(cert)) + "'"; }

bool IsCa(X509* cert) {
  uint32_t flags = X509_get_extension_flags(cert);
  return (flags & EXFLAG_CA) != 0 && (flags & EXFLAG_INVALID) == 0;
}

bool SignedBy(X509* cert, X509* issuer) {
  bool ok = X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(issuer)) == 0 &&
            X509_verify(cert, X509_get0_pubkey(issuer)) == 1;
  ERR_clear_error();
  return ok;
}

int64_t NotBefore(X509* cert) {
  int64_t t = 0;
  return ToUnix(X509_get0_notBefore(cert), &t) ? t : 0;
}

// What the CRL says, once it is known to be `ca`'s.
StatusOr<Crl> ReadCrl(X509_CRL* crl, X509* ca, const std::string& what) {
  Crl out;
  out.issuer_sha256 = CertKeyDigest(ca);
  int crit = 0;
  IntPtr number(static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, nullptr)));
  if (!number || ASN1_INTEGER_get_int64(&out.number, number.get()) != 1 || out.number < 0) {
    ERR_clear_error();
    return InvalidArgument(what + ": the CRL of CA " + Cn(ca) + " has no CRL number");
  }
  if (!ToUnix(X509_CRL_get0_lastUpdate(crl), &out.this_update) ||
      !ToUnix(X509_CRL_get0_nextUpdate(crl), &out.next_update)) {
    return InvalidArgument(what + ": the CRL of CA " + Cn(ca) + " lacks its update dates");
  }
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    std::string serial = SerialHex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i)));
    if (serial.empty()) return InvalidArgument(what + ": the CRL of CA " + Cn(ca) + " lists an unreadable serial");
    out.serials.push_back(std::move(serial));
  }
  return out;
}

StatusOr<Parsed> Parse(std::string_view pem, const std::string& what) {
  if (pem.size() > kMaxTrustBytes) {
    return InvalidArgument(what + ": " + std::to_string(pem.size()) + " bytes, more than the " +
                           std::to_string(kMaxTrustBytes) + " allowed");
  }
  ASSIGN_OR_RETURN(std::vector<PemObject> objects, ReadPemObjects(pem, kMaxObjects, what));
  Parsed p;
  std::vector<CrlPtr> crls;
  for (size_t i = 0; i < objects.size(); ++i) {
    const std::string block = "block " + std::to_string(i + 1);
    if (objects[i].label == "X509 CRL") {
      CrlPtr crl = CrlFromDer(objects[i].der);
      if (!crl) return InvalidArgument(what + ": " + block + " is not a DER CRL");
      crls.push_back(std::move(crl));
      continue;
    }
    if (objects[i].label != "CERTIFICATE") {
      return InvalidArgument(what + ": " + block + " is a '" + objects[i].label + "', not a CERTIFICATE or X509 CRL");
    }
    X509Ptr cert = CertFromDer(objects[i].der);
    if (!cert) return InvalidArgument(what + ": " + block + " is not a DER certificate");
    // A CA certificate is self-issued and self-signed; a cross-certificate
    // is a CA certificate issued by another CA. Anything else (a leaf) has
    // no business here.
    if (!IsCa(cert.get())) return InvalidArgument(what + ": " + block + " (" + Cn(cert.get()) + ") is not a CA certificate");
    if (X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())) != 0) {
      p.crosses.push_back(std::move(cert));
      continue;
    }
    if (!SignedBy(cert.get(), cert.get())) {
      return InvalidArgument(what + ": " + block + " (" + Cn(cert.get()) + ") is self-issued but not self-signed");
    }
    for (const X509Ptr& other : p.cas) {
      if (CertKeyDigest(other.get()) == CertKeyDigest(cert.get())) {
        return InvalidArgument(what + ": CA " + Cn(cert.get()) + " appears twice");
      }
    }
    p.cas.push_back(std::move(cert));
  }
  if (p.cas.empty()) return InvalidArgument(what + ": no CA certificate");
  std::stable_sort(p.cas.begin(), p.cas.end(),
                   [](const X509Ptr& a, const X509Ptr& b) { return NotBefore(a.get()) < NotBefore(b.get()); });
  for (const X509Ptr& ca : p.cas) p.bundle.ca_pems.push_back(CertPem(ca.get()));

  // A cross-certificate links two CAs of the bundle: it is one's
  // certificate, signed by the other.
  for (const X509Ptr& cross : p.crosses) {
    bool links = false;
    for (const X509Ptr& subject : p.cas) {
      if (X509_NAME_cmp(X509_get_subject_name(cross.get()), X509_get_subject_name(subject.get())) != 0 ||
          CertKeyDigest(cross.get()) != CertKeyDigest(subject.get())) {
        continue;
      }
      links = links || std::any_of(p.cas.begin(), p.cas.end(), [&](const X509Ptr& issuer) { return SignedBy(cross.get(), issuer.get()); });
    }
    if (!links) {
      return InvalidArgument(what + ": cross-certificate " + Cn(cross.get()) +
                             " is not a CA of the bundle signed by another CA of the bundle");
    }
    p.bundle.cross_pems.push_back(CertPem(cross.get()));
  }

  // Every CRL is signed by a CA of the bundle, at most one per CA.
  for (const CrlPtr& crl : crls) {
    X509* issuer = nullptr;
    for (const X509Ptr& ca : p.cas) {
      if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca.get())) == 0 &&
          X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())) == 1) {
        issuer = ca.get();
        break;
      }
    }
    ERR_clear_error();
    if (issuer == nullptr) {
      return InvalidArgument(what + ": a CRL (issuer '" + CommonName(X509_CRL_get_issuer(crl.get())) +
                             "') is not signed by a CA in the bundle");
    }
    ASSIGN_OR_RETURN(Crl info, ReadCrl(crl.get(), issuer, what));
    for (const Crl& other : p.bundle.crls) {
      if (other.issuer_sha256 == info.issuer_sha256) return InvalidArgument(what + ": two CRLs of CA " + Cn(issuer));
    }
    p.bundle.crls.push_back(std::move(info));
    p.bundle.crl_pems += CrlPem(crl.get());
  }
  return p;
}

}  // namespace

std::string TrustBundle::ToPem() const {
  std::string out;
  for (const std::string& pem : ca_pems) out += pem;
  for (const std::string& pem : cross_pems) out += pem;
  return out + crl_pems;
}

std::vector<std::string> TrustBundle::RevokedSerials() const {
  std::vector<std::string> out;
  for (const Crl& crl : crls) out.insert(out.end(), crl.serials.begin(), crl.serials.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

int64_t TrustBundle::ExpiresAt() const {
  int64_t earliest = std::numeric_limits<int64_t>::max();
  for (const std::string& pem : ca_pems) {
    X509Ptr cert = CertFromPem(pem);
    int64_t t = 0;
    if (cert && ToUnix(X509_get0_notAfter(cert.get()), &t)) earliest = std::min(earliest, t);
  }
  for (const Crl& crl : crls) earliest = std::min(earliest, crl.next_update);
  return earliest == std::numeric_limits<int64_t>::max() ? 0 : earliest;
}

StatusOr<TrustBundle> ParseTrustBundle(std::string_view pem) {
  ASSIGN_OR_RETURN(Parsed p, Parse(pem, "trust bundle"));
  return std::move(p.bundle);
}

StatusOr<TrustBundle> MakeTrustBundle(const std::vector<std::string>& ca_pems,
                                      const std::vector<std::string>& cross_pems,
                                      const std::vector<std::string>& crl_pems) {
  std::string all;
  for (const auto* pieces : {&ca_pems, &cross_pems, &crl_pems}) {
    for (const std::string& piece : *pieces) all += piece + "\n";
  }
  ASSIGN_OR_RETURN(Parsed p, Parse(all, "new trust bundle"));
  if (p.bundle.ca_pems.size() != ca_pems.size() || p.bundle.cross_pems.size() != cross_pems.size() ||
      p.bundle.crls.size() != crl_pems.size()) {
    return InvalidArgument("new trust bundle: the pieces are not " + std::to_string(ca_pems.size()) + " CA(s), " +
                           std::to_string(cross_pems.size()) + " cross-certificate(s) and " +
                           std::to_string(crl_pems.size()) + " CRL(s), one PEM block each");
  }
  return std::move(p.bundle);
}

// The rules of the header, in order. Two consequences worth knowing:
//   - After CertAuthority::RetireOld the bundle holds the new CA alone. A
//     receiver that accepted the rollover bundle (so trusts both CAs)
//     accepts it; one that missed the whole rollover and trusts only the
//     old CA refuses it, rightly: nothing in it proves the new CA to that
//     receiver any more. Such a receiver must be given the new CA by hand.
//   - There is no clock here, so a cross-certificate's dates are not
//     checked: the CA it vouches for has its own, which the TLS verifier
//     checks.
StatusOr<TrustBundle> AcceptTrustBundle(std::string_view received_pem, const TrustBundle& trusted) {
  if (trusted.ca_pems.empty()) return FailedPrecondition("no trusted CA to check a received trust bundle against");
  std::vector<X509Ptr> trusted_cas;
  std::vector<std::string> trusted_keys;
  for (const std::string& pem : trusted.ca_pems) {
    X509Ptr cert = CertFromPem(pem);
    if (!cert) return FailedPrecondition("a trusted CA certificate cannot be read");
    trusted_keys.push_back(CertKeyDigest(cert.get()));
    trusted_cas.push_back(std::move(cert));
  }
  ASSIGN_OR_RETURN(Parsed got, Parse(received_pem, "trust bundle"));

  size_t kept = 0;
  for (const X509Ptr& ca : got.cas) {
    const std::string key = CertKeyDigest(ca.get());
    if (std::find(trusted_keys.begin(), trusted_keys.end(), key) != trusted_keys.end()) {
      ++kept;
      continue;
    }
    bool vouched = std::any_of(got.crosses.begin(), got.crosses.end(), [&](const X509Ptr& cross) {
      return X509_NAME_cmp(X509_get_subject_name(cross.get()), X509_get_subject_name(ca.get())) == 0 &&
             CertKeyDigest(cross.get()) == key &&
             std::any_of(trusted_cas.begin(), trusted_cas.end(), [&](const X509Ptr& t) { return SignedBy(cross.get(), t.get()); });
    });
    if (!vouched) {
      return InvalidArgument("trust bundle: CA " + Cn(ca.get()) +
                             " is not trusted and no cross-certificate from a trusted CA vouches for it");
    }
  }
  if (kept == 0) return InvalidArgument("trust bundle: it keeps none of the trusted CAs");

  // Revocations never go backwards: a CRL older than the one held, or none
  // at all for a CA whose CRL is held, would unrevoke certificates.
  for (const Crl& held : trusted.crls) {
    auto ca = std::find_if(got.cas.begin(), got.cas.end(),
                           [&](const X509Ptr& c) { return CertKeyDigest(c.get()) == held.issuer_sha256; });
    if (ca == got.cas.end()) continue;  // that CA is retired
    auto crl = std::find_if(got.bundle.crls.begin(), got.bundle.crls.end(),
                            [&](const Crl& c) { return c.issuer_sha256 == held.issuer_sha256; });
    if (crl == got.bundle.crls.end()) {
      return InvalidArgument("trust bundle: it has no CRL of CA " + Cn(ca->get()) + ", whose CRL number " +
                             std::to_string(held.number) + " is held");
    }
    if (crl->number < held.number) {
      return InvalidArgument("trust bundle: the CRL of CA " + Cn(ca->get()) + " is number " +
                             std::to_string(crl->number) + ", older than the number " + std::to_string(held.number) +
                             " held");
    }
  }
  return std::move(got.bundle);
}

}  // namespace common::pki
