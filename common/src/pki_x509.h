// Private to common/: the OpenSSL pieces that pki.cpp (keys, requests),
// pki_ca.cpp (the CA) and pki_trust.cpp (the trust bundle) share. Every
// OpenSSL object is held by a unique_ptr with its free function, so an early
// return never leaks.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/pki.h"
#include "common/status.h"

namespace common::pki::x509 {

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
inline void FreeBio(BIO* b) { BIO_free_all(b); }
inline void FreeNames(GENERAL_NAMES* n) { GENERAL_NAMES_free(n); }
using BioPtr = std::unique_ptr<BIO, Free<BIO, FreeBio>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Free<X509, X509_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Free<X509_REQ, X509_REQ_free>>;
using CrlPtr = std::unique_ptr<X509_CRL, Free<X509_CRL, X509_CRL_free>>;
using RevokedPtr = std::unique_ptr<X509_REVOKED, Free<X509_REVOKED, X509_REVOKED_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION, X509_EXTENSION_free>>;
using IntPtr = std::unique_ptr<ASN1_INTEGER, Free<ASN1_INTEGER, ASN1_INTEGER_free>>;
using TimePtr = std::unique_ptr<ASN1_TIME, Free<ASN1_TIME, ASN1_TIME_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES, FreeNames>>;

// One PEM block: its label ("CERTIFICATE") and its decoded DER body.
struct PemObject {
  std::string label;
  std::string der;
};
// Splits `text` into PEM blocks. Strict: nothing but whitespace between
// blocks, no encryption headers, at most `max_objects` blocks. `what`
// starts the error messages ("enrollment request").
StatusOr<std::vector<PemObject>> ReadPemObjects(std::string_view text, size_t max_objects,
                                                const std::string& what);
// The PEM text of a DER body ("-----BEGIN label-----" ... with a final newline).
std::string ToPem(const std::string& label, std::string_view der);

// DER decoders that refuse trailing bytes; null on any error.
X509Ptr CertFromDer(std::string_view der);
CrlPtr CrlFromDer(std::string_view der);
ReqPtr ReqFromDer(std::string_view der);
// The first certificate of a PEM text (null if none).
X509Ptr CertFromPem(std::string_view pem);
std::string CertDer(X509* cert);
std::string CertPem(X509* cert);
std::string CrlPem(X509_CRL* crl);

// A new ECDSA P-256 key; true if `key` is one (named curve prime256v1).
StatusOr<PkeyPtr> NewP256Key();
bool IsP256(const EVP_PKEY* key);
// A PEM private key (PKCS#8 or traditional, unencrypted).
StatusOr<PkeyPtr> PrivateKeyFromPem(std::string_view pem, const std::string& what);
std::string PrivateKeyPem(EVP_PKEY* key);
// DER SubjectPublicKeyInfo of a key, and its SHA-256 in lower-case hex.
std::string SpkiDer(const EVP_PKEY* key);
std::string KeyDigest(const EVP_PKEY* key);
// The same for a certificate's key.
std::string CertKeyDigest(X509* cert);

// Unix seconds of an ASN.1 time; false if it cannot be read.
bool ToUnix(const ASN1_TIME* t, int64_t* out);
// Lower-case hex without leading zeros, as PeerIdentity::serial; "" if negative or unreadable.
std::string SerialHex(const ASN1_INTEGER* serial);
// A random positive serial of up to 128 bits.
StatusOr<IntPtr> RandomSerial();

// The subject's (or issuer's) CN, for messages; "" if none.
std::string CommonName(const X509_NAME* name);
// A self-signed CA certificate: CN `name`, CA:TRUE pathlen:1, keyCertSign and
// cRLSign, a subject key identifier, valid [not_before, not_after].
StatusOr<X509Ptr> MakeCaCert(EVP_PKEY* key, const std::string& name, int64_t not_before, int64_t not_after);
// `ca` (a CA certificate) re-issued by `issuer` and signed with
// `issuer_key`: same subject, key and extensions, an authority key
// identifier naming the issuer, valid [not_before, not_after].
StatusOr<X509Ptr> MakeCrossCert(X509* ca, X509* issuer, EVP_PKEY* issuer_key, int64_t not_before,
                                int64_t not_after);
// A leaf certificate for the DER SubjectPublicKeyInfo `spki_der` (a P-256
// key), issued by `ca` with `ca_key`, as common/pki.h Issue describes.
// InvalidArgument for a bad key, kind, id or host.
StatusOr<X509Ptr> MakeLeafCert(X509* ca, EVP_PKEY* ca_key, std::string_view spki_der, PeerKind kind,
                               const std::string& id, const std::vector<std::string>& hosts, int64_t not_before,
                               int64_t not_after);
// A v2 CRL issued by `ca`, signed with `ca_key` (common/pki.h MakeCrl).
StatusOr<CrlPtr> MakeCrlObject(X509* ca, EVP_PKEY* ca_key, const std::vector<Revoked>& revoked, int64_t number,
                               int64_t now, int64_t next_update_seconds);
// Adds an extension given in OpenSSL's configuration syntax
// ("critical,CA:FALSE") with `ctx`. Only for values this code writes
// itself, never for input.
Status AddExt(X509* cert, X509V3_CTX* ctx, int nid, const char* value);

// The text of OpenSSL's error queue (which is cleared), for Internal errors.
std::string OpenSslErrors(const char* if_none = "unknown OpenSSL error");

}  // namespace common::pki::x509
