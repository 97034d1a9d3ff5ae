#include "common/identity.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <memory>

#include "common/sha256.h"
#include "common/uuid.h"

namespace common {

namespace {

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using X509Ptr = std::unique_ptr<X509, Free<X509, X509_free>>;

void FreePolicies(CERTIFICATEPOLICIES* p) { CERTIFICATEPOLICIES_free(p); }
void FreeNames(GENERAL_NAMES* p) { GENERAL_NAMES_free(p); }
using Policies = std::unique_ptr<CERTIFICATEPOLICIES, Free<CERTIFICATEPOLICIES, FreePolicies>>;
using Names = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES, FreeNames>>;

std::string OidText(const ASN1_OBJECT* obj) {
  char buf[128];
  int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  if (n <= 0 || n >= static_cast<int>(sizeof buf)) return {};
  return std::string(buf, static_cast<size_t>(n));
}

bool ToUnix(const ASN1_TIME* t, int64_t* out) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return false;
  *out = static_cast<int64_t>(timegm(&tm));
  return true;
}

// The serial number in lower-case hex without leading zeros.
StatusOr<std::string> Serial(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (bn == nullptr) return InvalidArgument("the certificate's serial number cannot be read");
  char* hex = BN_bn2hex(bn);
  BN_free(bn);
  if (hex == nullptr) return InvalidArgument("the certificate's serial number cannot be read");
  std::string serial = hex;
  OPENSSL_free(hex);
  for (char& c : serial) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  serial.erase(0, std::min(serial.find_first_not_of('0'), serial.size() - 1));
  if (serial.empty() || serial[0] == '-') return InvalidArgument("the certificate's serial number is not positive");
  return serial;
}

// SHA-256 over the DER SubjectPublicKeyInfo.
StatusOr<std::string> KeyDigest(X509* cert) {
  unsigned char* spki = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
  if (len <= 0) return InvalidArgument("the certificate's public key cannot be read");
  std::string digest = Sha256Hex(std::string_view(reinterpret_cast<const char*>(spki), static_cast<size_t>(len)));
  OPENSSL_free(spki);
  return digest;
}

StatusOr<PeerIdentity> Identify(X509* cert) {
  PeerIdentity id;
  // Kind: exactly one of our two policies.
  int crit = 0;
  Policies policies(static_cast<CERTIFICATEPOLICIES*>(X509_get_ext_d2i(cert, NID_certificate_policies, &crit, nullptr)));
  if (!policies) return InvalidArgument("the certificate has no estate certificate policy");
  for (int i = 0; i < sk_POLICYINFO_num(policies.get()); ++i) {
    std::string oid = OidText(sk_POLICYINFO_value(policies.get(), i)->policyid);
    PeerKind k = oid == kDevicePolicyOid ? PeerKind::kDevice : oid == kBeaconPolicyOid ? PeerKind::kBeacon : PeerKind::kNone;
    if (k == PeerKind::kNone) continue;
    if (id.kind != PeerKind::kNone) return InvalidArgument("the certificate names more than one estate role");
    id.kind = k;
  }
  if (id.kind == PeerKind::kNone) return InvalidArgument("the certificate has no estate certificate policy");

  // Id: exactly one URI name with the prefix of that kind.
  const std::string prefix = id.is_device() ? kDeviceUriPrefix : kBeaconUriPrefix;
  const std::string other = id.is_device() ? kBeaconUriPrefix : kDeviceUriPrefix;
  Names names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr)));
  bool found = false;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = gn->d.uniformResourceIdentifier;
    std::string uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<size_t>(ASN1_STRING_length(s)));
    if (uri.rfind(other, 0) == 0) return InvalidArgument("the certificate's name and role disagree");
    if (uri.rfind(prefix, 0) != 0) continue;
    if (found) return InvalidArgument("the certificate names more than one " + std::string(PeerKindName(id.kind)));
    found = true;
    id.id = uri.substr(prefix.size());
  }
  if (!found) return InvalidArgument(std::string("the certificate names no ") + PeerKindName(id.kind));
  if (id.is_device() ? !IsUuid(id.id) : !IsToken(id.id)) {
    return InvalidArgument(std::string("the certificate's ") + PeerKindName(id.kind) + " name is malformed");
  }

  ASSIGN_OR_RETURN(id.serial, Serial(cert));

  ASSIGN_OR_RETURN(id.key_sha256, KeyDigest(cert));

  if (!ToUnix(X509_get0_notBefore(cert), &id.not_before) || !ToUnix(X509_get0_notAfter(cert), &id.not_after)) {
    return InvalidArgument("the certificate's validity dates cannot be read");
  }
  return id;
}

}  // namespace

const char* PeerKindName(PeerKind kind) {
  switch (kind) {
    case PeerKind::kDevice: return "device";
    case PeerKind::kBeacon: return "beacon";
    default: return "none";
  }
}

namespace {
StatusOr<X509Ptr> FromDer(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return InvalidArgument("not a DER certificate");
  }
  return cert;
}
}  // namespace

StatusOr<PeerIdentity> IdentityFromDer(std::string_view der) {
  ASSIGN_OR_RETURN(X509Ptr cert, FromDer(der));
  return Identify(cert.get());
}

StatusOr<std::string> SerialFromDer(std::string_view der) {
  ASSIGN_OR_RETURN(X509Ptr cert, FromDer(der));
  return Serial(cert.get());
}

namespace {
StatusOr<X509Ptr> FirstPem(std::string_view pem) {
  std::unique_ptr<BIO, Free<BIO, BIO_free_all>> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return InvalidArgument("not a PEM certificate");
  return cert;
}
}  // namespace

StatusOr<PeerIdentity> IdentityFromPem(std::string_view pem) {
  ASSIGN_OR_RETURN(X509Ptr cert, FirstPem(pem));
  return Identify(cert.get());
}

StatusOr<int64_t> CertNotAfter(std::string_view pem) {
  ASSIGN_OR_RETURN(X509Ptr cert, FirstPem(pem));
  int64_t t = 0;
  if (!ToUnix(X509_get0_notAfter(cert.get()), &t)) return InvalidArgument("the certificate's validity dates cannot be read");
  return t;
}

StatusOr<std::string> CertKeySha256(std::string_view pem) {
  ASSIGN_OR_RETURN(X509Ptr cert, FirstPem(pem));
  return KeyDigest(cert.get());
}

}  // namespace common
