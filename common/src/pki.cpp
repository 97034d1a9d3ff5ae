// Keys and certificate requests (common/pki.h). The CA is in pki_ca.cpp,
// the trust bundle in pki_trust.cpp, the shared OpenSSL pieces in
// pki_x509.cpp.
#include "common/pki.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/sha256.h"
#include "pki_x509.h"

namespace common::pki {

using namespace x509;  // NOLINT(google-build-using-namespace): this file's own helpers

StatusOr<std::string> NewKeyPem() {
  ASSIGN_OR_RETURN(PkeyPtr key, NewP256Key());
  std::string pem = PrivateKeyPem(key.get());
  if (pem.empty()) return Internal("writing a private key as PEM: " + OpenSslErrors());
  return pem;
}

StatusOr<std::string> MakeCsr(const std::string& key_pem, const std::string& common_name) {
  ASSIGN_OR_RETURN(PkeyPtr key, PrivateKeyFromPem(key_pem, "certificate request"));
  if (!IsP256(key.get())) return InvalidArgument("certificate request: the key is not an ECDSA P-256 key");
  ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1) {
    return Internal("certificate request: " + OpenSslErrors());
  }
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  if (common_name.empty() ||
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0) != 1) {
    ERR_clear_error();
    return InvalidArgument("certificate request: '" + common_name + "' cannot be a common name (1 to 64 characters)");
  }
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1 || X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return Internal("certificate request: signing: " + OpenSslErrors());
  }
  unsigned char* buf = nullptr;
  int len = i2d_X509_REQ(req.get(), &buf);
  if (len <= 0) return Internal("certificate request: " + OpenSslErrors());
  std::string der(reinterpret_cast<char*>(buf), static_cast<size_t>(len));
  OPENSSL_free(buf);
  return ToPem("CERTIFICATE REQUEST", der);
}

StatusOr<CsrInfo> ParseCsr(std::string_view pem) {
  static const std::string kWhat = "enrollment request";
  if (pem.size() > kMaxCsrBytes) {
    return InvalidArgument(kWhat + ": " + std::to_string(pem.size()) + " bytes, more than the " +
                           std::to_string(kMaxCsrBytes) + " allowed");
  }
  ASSIGN_OR_RETURN(std::vector<PemObject> objects, ReadPemObjects(pem, 1, kWhat));
  if (objects.empty()) return InvalidArgument(kWhat + ": no PEM block");
  if (objects[0].label != "CERTIFICATE REQUEST") {
    return InvalidArgument(kWhat + ": a '" + objects[0].label + "' PEM block, not a CERTIFICATE REQUEST");
  }
  ReqPtr req = ReqFromDer(objects[0].der);
  if (!req) return InvalidArgument(kWhat + ": not a DER certificate request");
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) {
    ERR_clear_error();
    return InvalidArgument(kWhat + ": the public key cannot be read");
  }
  // The signature proves that the sender holds the private key.
  if (X509_REQ_verify(req.get(), key) != 1) {
    ERR_clear_error();
    return InvalidArgument(kWhat + ": signature does not verify");
  }
  if (!IsP256(key)) return InvalidArgument(kWhat + ": the key is not an ECDSA P-256 key");
  CsrInfo info;
  info.public_key_der = SpkiDer(key);
  if (info.public_key_der.empty()) return Internal(kWhat + ": " + OpenSslErrors());
  info.key_sha256 = Sha256Hex(info.public_key_der);
  return info;
}

StatusOr<std::string> KeySha256(const std::string& key_pem) {
  ASSIGN_OR_RETURN(PkeyPtr key, PrivateKeyFromPem(key_pem, "key digest"));
  std::string der = SpkiDer(key.get());
  if (der.empty()) return Internal("key digest: " + OpenSslErrors());
  return Sha256Hex(der);
}

}  // namespace common::pki
