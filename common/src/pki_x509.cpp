#include "pki_x509.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>

#include "common/sha256.h"

namespace common::pki::x509 {

namespace {

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

template <typename T, T* (*D2i)(T**, const unsigned char**, long), void (*F)(T*)>
std::unique_ptr<T, Free<T, F>> FromDer(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<T, Free<T, F>> obj(D2i(nullptr, &p, static_cast<long>(der.size())));
  if (obj && p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) obj.reset();
  if (!obj) ERR_clear_error();
  return obj;
}

// `i2d` is an OpenSSL i2d_* call writing to the buffer it is given. (One
// call and then the buffer, in that order: as two arguments of one call
// they could be evaluated the other way round.)
template <typename I2d>
std::string Der(I2d i2d) {
  unsigned char* buf = nullptr;
  int len = i2d(&buf);
  if (len <= 0 || buf == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(buf), static_cast<size_t>(len));
  OPENSSL_free(buf);
  return out;
}

}  // namespace

StatusOr<std::vector<PemObject>> ReadPemObjects(std::string_view text, size_t max_objects,
                                                const std::string& what) {
  static constexpr std::string_view kBegin = "-----BEGIN ";
  static constexpr std::string_view kDashes = "-----";
  std::vector<PemObject> out;
  size_t pos = 0;
  for (;;) {
    while (pos < text.size() && IsSpace(text[pos])) ++pos;
    if (pos == text.size()) break;
    if (text.substr(pos, kBegin.size()) != kBegin) {
      return InvalidArgument(what + ": text outside a PEM block at byte " + std::to_string(pos));
    }
    size_t label_at = pos + kBegin.size();
    size_t label_end = text.find(kDashes, label_at);
    size_t line_end = text.find('\n', label_at);
    if (label_end == std::string_view::npos || label_end > line_end || label_end == label_at ||
        label_end - label_at > 64) {
      return InvalidArgument(what + ": malformed PEM BEGIN line at byte " + std::to_string(pos));
    }
    std::string label(text.substr(label_at, label_end - label_at));
    for (char c : label) {
      if (!std::isupper(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)) && c != ' ') {
        return InvalidArgument(what + ": malformed PEM BEGIN line at byte " + std::to_string(pos));
      }
    }
    const std::string end_line = "-----END " + label + "-----";
    size_t end = text.find(end_line, label_end);
    if (end == std::string_view::npos) return InvalidArgument(what + ": PEM block '" + label + "' has no END line");
    if (out.size() == max_objects) {
      return InvalidArgument(what + ": more than " + std::to_string(max_objects) + " PEM blocks");
    }
    // The block alone, so that OpenSSL's reader (which skips text it does
    // not understand) sees nothing we have not checked.
    std::string block(text.substr(pos, end + end_line.size() - pos));
    block += '\n';
    BioPtr bio(BIO_new_mem_buf(block.data(), static_cast<int>(block.size())));
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    int ok = bio ? PEM_read_bio(bio.get(), &name, &header, &data, &len) : 0;
    bool has_header = ok == 1 && header != nullptr && header[0] != '\0';
    PemObject obj{label, ok == 1 && data != nullptr ? std::string(reinterpret_cast<char*>(data), static_cast<size_t>(len)) : ""};
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (ok != 1) {
      ERR_clear_error();
      return InvalidArgument(what + ": PEM block " + std::to_string(out.size() + 1) + " ('" + label +
                             "') is not valid base64");
    }
    if (has_header) {
      return InvalidArgument(what + ": PEM block " + std::to_string(out.size() + 1) + " ('" + label +
                             "') has headers (is it encrypted?)");
    }
    out.push_back(std::move(obj));
    pos = end + end_line.size();
  }
  return out;
}

std::string ToPem(const std::string& label, std::string_view der) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio(bio.get(), label.c_str(), "", reinterpret_cast<const unsigned char*>(der.data()),
                            static_cast<long>(der.size())) <= 0) {
    return {};
  }
  return BioText(bio.get());
}

X509Ptr CertFromDer(std::string_view der) { return FromDer<X509, d2i_X509, X509_free>(der); }
CrlPtr CrlFromDer(std::string_view der) { return FromDer<X509_CRL, d2i_X509_CRL, X509_CRL_free>(der); }
ReqPtr ReqFromDer(std::string_view der) { return FromDer<X509_REQ, d2i_X509_REQ, X509_REQ_free>(der); }

X509Ptr CertFromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) ERR_clear_error();
  return cert;
}

std::string CertDer(X509* cert) {
  return Der([&](unsigned char** b) { return i2d_X509(cert, b); });
}

std::string CertPem(X509* cert) { return ToPem("CERTIFICATE", CertDer(cert)); }

std::string CrlPem(X509_CRL* crl) {
  return ToPem("X509 CRL", Der([&](unsigned char** b) { return i2d_X509_CRL(crl, b); }));
}

StatusOr<PkeyPtr> NewP256Key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return Internal("making an ECDSA P-256 key: " + OpenSslErrors());
  return key;
}

bool IsP256(const EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char group[64];
  size_t len = 0;
  bool ok = EVP_PKEY_get_group_name(key, group, sizeof group, &len) == 1 && std::strcmp(group, "prime256v1") == 0;
  ERR_clear_error();
  return ok;
}

StatusOr<PkeyPtr> PrivateKeyFromPem(std::string_view pem, const std::string& what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // No passphrase prompt: an encrypted key is simply refused.
  pem_password_cb* no_password = [](char*, int, int, void*) { return 0; };
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr) : nullptr);
  if (!key) {
    ERR_clear_error();
    return InvalidArgument(what + ": not an unencrypted PEM private key");
  }
  return key;
}

std::string PrivateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) return {};
  return BioText(bio.get());
}

std::string SpkiDer(const EVP_PKEY* key) {
  return Der([&](unsigned char** b) { return i2d_PUBKEY(key, b); });
}

std::string KeyDigest(const EVP_PKEY* key) { return Sha256Hex(SpkiDer(key)); }

std::string CertKeyDigest(X509* cert) {
  return Sha256Hex(Der([&](unsigned char** b) { return i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), b); }));
}

bool ToUnix(const ASN1_TIME* t, int64_t* out) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return false;
  *out = static_cast<int64_t>(timegm(&tm));
  return true;
}

std::string SerialHex(const ASN1_INTEGER* serial) {
  BnPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn || BN_is_negative(bn.get()) || BN_is_zero(bn.get())) return {};
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return {};
  std::string out = hex;
  OPENSSL_free(hex);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  out.erase(0, std::min(out.find_first_not_of('0'), out.size() - 1));
  return out;
}

StatusOr<IntPtr> RandomSerial() {
  BnPtr bn(BN_new());
  do {
    if (!bn || BN_rand(bn.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
      return Internal("random serial number: " + OpenSslErrors());
    }
  } while (BN_is_zero(bn.get()));
  IntPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial) return Internal("random serial number: " + OpenSslErrors());
  return serial;
}

std::string CommonName(const X509_NAME* name) {
  int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return {};
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
  if (len < 0) {
    ERR_clear_error();
    return {};
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  // For messages and logs: no control characters, bounded.
  if (out.size() > 64) out.resize(64);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

Status AddExt(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return Internal(std::string("certificate extension ") + OBJ_nid2sn(nid) + ": " + OpenSslErrors());
  }
  return Status::Ok();
}

namespace {

Status SetValidity(X509* cert, int64_t not_before, int64_t not_after) {
  if (ASN1_TIME_set(X509_getm_notBefore(cert), static_cast<time_t>(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), static_cast<time_t>(not_after)) == nullptr) {
    return Internal("certificate validity: " + OpenSslErrors());
  }
  return Status::Ok();
}

Status SetSerial(X509* cert) {
  ASSIGN_OR_RETURN(IntPtr serial, RandomSerial());
  if (X509_set_serialNumber(cert, serial.get()) != 1) return Internal("certificate serial: " + OpenSslErrors());
  return Status::Ok();
}

}  // namespace

StatusOr<X509Ptr> MakeCaCert(EVP_PKEY* key, const std::string& name, int64_t not_before, int64_t not_after) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return Internal("CA certificate: " + OpenSslErrors());
  RETURN_IF_ERROR(SetSerial(cert.get()));
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(name.c_str()),
                                 -1, -1, 0) != 1) {
    ERR_clear_error();
    return InvalidArgument("CA name '" + name + "' cannot be a certificate's common name");
  }
  if (X509_set_issuer_name(cert.get(), subject) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
    return Internal("CA certificate: " + OpenSslErrors());
  }
  RETURN_IF_ERROR(SetValidity(cert.get(), not_before, not_after));
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  // pathlen:1 and not 0: a leaf of the new CA is verified, by a receiver
  // that trusts only the old CA, through the cross-certificate, which then
  // sits as an intermediate above the leaf.
  RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:1"));
  RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) return Internal("signing the CA certificate: " + OpenSslErrors());
  return cert;
}

StatusOr<X509Ptr> MakeCrossCert(X509* ca, X509* issuer, EVP_PKEY* issuer_key, int64_t not_before,
                                int64_t not_after) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_subject_name(cert.get(), X509_get_subject_name(ca)) != 1 ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1 ||
      X509_set_pubkey(cert.get(), X509_get0_pubkey(ca)) != 1) {
    return Internal("cross-certificate: " + OpenSslErrors());
  }
  RETURN_IF_ERROR(SetSerial(cert.get()));
  RETURN_IF_ERROR(SetValidity(cert.get(), not_before, not_after));
  // The CA's own extensions (basic constraints, key usage and above all the
  // subject key identifier, so that a chain built through either
  // certificate looks the same), and an authority key identifier naming
  // the issuer, which chain building matches against the issuer's.
  for (int i = 0; i < X509_get_ext_count(ca); ++i) {
    X509_EXTENSION* ext = X509_get_ext(ca, i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_authority_key_identifier) continue;
    if (X509_add_ext(cert.get(), ext, -1) != 1) return Internal("cross-certificate: " + OpenSslErrors());
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert.get(), nullptr, nullptr, 0);
  RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) {
    return Internal("signing the cross-certificate: " + OpenSslErrors());
  }
  return cert;
}

std::string OpenSslErrors(const char* if_none) {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? if_none : out;
}

}  // namespace common::pki::x509
