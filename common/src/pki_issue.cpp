// What the estate CA signs: leaf certificates (common/identity.h says what
// they must assert) and CRLs. The CA's files are pki_ca.cpp's business.
#include <openssl/err.h>

#include <algorithm>
#include <cctype>

#include "common/uuid.h"
#include "pki_x509.h"

namespace common::pki::x509 {

namespace {

// Takes `value` and adds it to `names` as a name of `type`.
bool PushName(GENERAL_NAMES* names, int type, ASN1_STRING* value) {
  GENERAL_NAME* gn = GENERAL_NAME_new();
  if (gn == nullptr) {
    ASN1_STRING_free(value);
    return false;
  }
  GENERAL_NAME_set0_value(gn, type, value);
  if (sk_GENERAL_NAME_push(names, gn) <= 0) {
    GENERAL_NAME_free(gn);
    return false;
  }
  return true;
}

bool PushText(GENERAL_NAMES* names, int type, const std::string& text) {
  ASN1_IA5STRING* s = ASN1_IA5STRING_new();
  if (s == nullptr || ASN1_STRING_set(s, text.data(), static_cast<int>(text.size())) != 1) {
    ASN1_IA5STRING_free(s);
    return false;
  }
  return PushName(names, type, s);
}

// An IP literal (IPv4 or IPv6) as its octets; null if `host` is none.
ASN1_OCTET_STRING* IpAddress(const std::string& host) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
  if (ip == nullptr) ERR_clear_error();
  return ip;
}

// A DNS name: dot-separated labels of letters, digits, '-' and '_'.
bool IsDnsName(const std::string& host) {
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.back() == '.') return false;
  if (host.find("..") != std::string::npos) return false;
  bool all_digits = true;  // "1.2.3" or "300.1.1.1" is a mistyped address, not a name
  for (char c : host) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '-' && c != '_' && c != '.') return false;
    if (std::isalpha(u) || c == '-' || c == '_') all_digits = false;
  }
  return !all_digits;
}

Status AddNames(X509* cert, PeerKind kind, const std::string& id, const std::vector<std::string>& hosts) {
  NamesPtr names(GENERAL_NAMES_new());
  const std::string uri = std::string(kind == PeerKind::kDevice ? kDeviceUriPrefix : kBeaconUriPrefix) + id;
  if (!names || !PushText(names.get(), GEN_URI, uri)) return Internal("subject alternative name: " + OpenSslErrors());
  for (const std::string& host : hosts) {
    bool ok = false;
    if (ASN1_OCTET_STRING* ip = IpAddress(host)) {
      ok = PushName(names.get(), GEN_IPADD, ip);
    } else if (IsDnsName(host)) {
      ok = PushText(names.get(), GEN_DNS, host);
    } else {
      std::string shown = host.substr(0, 64);
      for (char& c : shown) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
      }
      return InvalidArgument("host '" + shown + "' is neither a DNS name nor an IP address");
    }
    if (!ok) return Internal("subject alternative name: " + OpenSslErrors());
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return Internal("subject alternative name: " + OpenSslErrors());
  }
  return Status::Ok();
}

// certificatePolicies with the one role OID. Built by hand: OpenSSL's
// configuration syntax wants a configuration database for it.
Status AddPolicy(X509* cert, const char* oid) {
  std::unique_ptr<CERTIFICATEPOLICIES, Free<CERTIFICATEPOLICIES, CERTIFICATEPOLICIES_free>> policies(
      CERTIFICATEPOLICIES_new());
  POLICYINFO* info = POLICYINFO_new();
  if (!policies || info == nullptr) {
    POLICYINFO_free(info);
    return Internal("certificate policy: " + OpenSslErrors());
  }
  ASN1_OBJECT_free(info->policyid);
  info->policyid = OBJ_txt2obj(oid, 1);
  if (info->policyid == nullptr || sk_POLICYINFO_push(policies.get(), info) <= 0) {
    POLICYINFO_free(info);
    return Internal("certificate policy: " + OpenSslErrors());
  }
  if (X509_add1_ext_i2d(cert, NID_certificate_policies, policies.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return Internal("certificate policy: " + OpenSslErrors());
  }
  return Status::Ok();
}

Status CheckSubject(PeerKind kind, const std::string& id, const std::vector<std::string>& hosts) {
  switch (kind) {
    case PeerKind::kDevice:
      if (!IsUuid(id)) return InvalidArgument("device id '" + id.substr(0, 64) + "' is not a lower-case UUID");
      if (!hosts.empty()) return InvalidArgument("a device certificate names no hosts");
      return Status::Ok();
    case PeerKind::kBeacon:
      if (!IsToken(id)) {
        return InvalidArgument("beacon name '" + id.substr(0, 64) + "' is not 1 to 64 characters of [A-Za-z0-9._:-]");
      }
      return Status::Ok();
    default:
      return InvalidArgument("a certificate names a device or a beacon");
  }
}

}  // namespace

StatusOr<X509Ptr> MakeLeafCert(X509* ca, EVP_PKEY* ca_key, std::string_view spki_der, PeerKind kind,
                               const std::string& id, const std::vector<std::string>& hosts, int64_t not_before,
                               int64_t not_after) {
  RETURN_IF_ERROR(CheckSubject(kind, id, hosts));
  const auto* p = reinterpret_cast<const unsigned char*>(spki_der.data());
  PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (!key || p != reinterpret_cast<const unsigned char*>(spki_der.data()) + spki_der.size()) {
    ERR_clear_error();
    return InvalidArgument("the public key is not a DER SubjectPublicKeyInfo");
  }
  if (!IsP256(key.get())) return InvalidArgument("the public key is not an ECDSA P-256 key");

  X509Ptr cert(X509_new());
  ASSIGN_OR_RETURN(IntPtr serial, RandomSerial());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1 || X509_set_serialNumber(cert.get(), serial.get()) != 1 ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(ca)) != 1 || X509_set_pubkey(cert.get(), key.get()) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(not_after)) == nullptr) {
    return Internal("certificate: " + OpenSslErrors());
  }
  // The CN repeats the id for people; the code reads the URI name.
  if (X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(id.c_str()), -1, -1, 0) != 1) {
    return Internal("certificate subject: " + OpenSslErrors());
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca, cert.get(), nullptr, nullptr, 0);
  const bool device = kind == PeerKind::kDevice;
  RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature"));
  RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_ext_key_usage, device ? "clientAuth" : "serverAuth,clientAuth"));
  RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  RETURN_IF_ERROR(AddPolicy(cert.get(), device ? kDevicePolicyOid : kBeaconPolicyOid));
  RETURN_IF_ERROR(AddNames(cert.get(), kind, id, hosts));
  if (X509_sign(cert.get(), ca_key, EVP_sha256()) <= 0) return Internal("signing the certificate: " + OpenSslErrors());
  return cert;
}

StatusOr<CrlPtr> MakeCrlObject(X509* ca, EVP_PKEY* ca_key, const std::vector<Revoked>& revoked, int64_t number,
                               int64_t now, int64_t next_update_seconds) {
  if (number < 0) return InvalidArgument("CRL number must not be negative");
  if (next_update_seconds <= 0) return InvalidArgument("CRL next update must be after this update");
  CrlPtr crl(X509_CRL_new());
  TimePtr this_update(ASN1_TIME_set(nullptr, static_cast<time_t>(now)));
  TimePtr next_update(ASN1_TIME_set(nullptr, static_cast<time_t>(now + next_update_seconds)));
  IntPtr crl_number(ASN1_INTEGER_new());
  if (!crl || !this_update || !next_update || !crl_number || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca)) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1 ||
      ASN1_INTEGER_set_int64(crl_number.get(), number) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, crl_number.get(), 0, 0) != 1) {
    return Internal("CRL: " + OpenSslErrors());
  }
  for (const Revoked& r : revoked) {
    bool hex = !r.serial.empty() && r.serial.size() <= 40 &&
               std::all_of(r.serial.begin(), r.serial.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f'); });
    if (!hex) return InvalidArgument("revoked serial '" + r.serial.substr(0, 64) + "' is not lower-case hex");
    BIGNUM* raw = nullptr;
    if (BN_hex2bn(&raw, r.serial.c_str()) == 0) return Internal("CRL serial: " + OpenSslErrors());
    BnPtr bn(raw);
    IntPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    TimePtr when(ASN1_TIME_set(nullptr, static_cast<time_t>(r.revoked_at)));
    RevokedPtr entry(X509_REVOKED_new());
    if (!serial || !when || !entry || X509_REVOKED_set_serialNumber(entry.get(), serial.get()) != 1 ||
        X509_REVOKED_set_revocationDate(entry.get(), when.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), entry.get()) != 1) {
      return Internal("CRL entry: " + OpenSslErrors());
    }
    (void)entry.release();  // the CRL owns it now
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca, nullptr, nullptr, crl.get(), 0);
  ExtPtr aki(X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!aki || X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1 || X509_CRL_sort(crl.get()) != 1 ||
      X509_CRL_sign(crl.get(), ca_key, EVP_sha256()) <= 0) {
    return Internal("signing the CRL: " + OpenSslErrors());
  }
  return crl;
}

}  // namespace common::pki::x509
