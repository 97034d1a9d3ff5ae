// OpenSSL's own chain verifier, for tests of what common/pki.h issues: the
// certificates must satisfy X509_verify_cert, not just our own reader.
#pragma once

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

namespace testing_support {

template <typename T, void (*F)(T*)>
struct OsslFree {
  void operator()(T* p) const { F(p); }
};
using X509Owned = std::unique_ptr<X509, OsslFree<X509, X509_free>>;
inline void FreeX509Stack(STACK_OF(X509)* s) { sk_X509_free(s); }  // a macro: no address to take

// Every certificate of a PEM text, in order.
inline std::vector<X509Owned> ReadCertsPem(const std::string& pem) {
  std::vector<X509Owned> out;
  std::unique_ptr<BIO, OsslFree<BIO, BIO_free_all>> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c);
  ERR_clear_error();  // the reader ends with "no start line"
  return out;
}

// Verifies the first certificate of `chain_pem` (the rest are untrusted
// intermediates) for `purpose` (X509_PURPOSE_SSL_CLIENT, ...) against a store
// holding only `trusted_pems`, and, if `crl_pems` is not empty, those CRLs
// with CRL checking of the leaf on. Returns the X509_V_* result, X509_V_OK on success.
inline int VerifyChain(const std::string& chain_pem, const std::vector<std::string>& trusted_pems, int purpose,
                       const std::vector<std::string>& crl_pems = {}) {
  std::vector<X509Owned> chain = ReadCertsPem(chain_pem);
  if (chain.empty()) return X509_V_ERR_UNSPECIFIED;
  std::unique_ptr<X509_STORE, OsslFree<X509_STORE, X509_STORE_free>> store(X509_STORE_new());
  for (const std::string& pem : trusted_pems) {
    for (X509Owned& c : ReadCertsPem(pem)) X509_STORE_add_cert(store.get(), c.get());
  }
  for (const std::string& pem : crl_pems) {
    std::unique_ptr<BIO, OsslFree<BIO, BIO_free_all>> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_crl(store.get(), crl);
      X509_CRL_free(crl);
    }
    ERR_clear_error();
  }
  if (!crl_pems.empty()) X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
  std::unique_ptr<STACK_OF(X509), OsslFree<STACK_OF(X509), FreeX509Stack>> untrusted(sk_X509_new_null());
  for (size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted.get(), chain[i].get());
  std::unique_ptr<X509_STORE_CTX, OsslFree<X509_STORE_CTX, X509_STORE_CTX_free>> ctx(X509_STORE_CTX_new());
  if (X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted.get()) != 1) return X509_V_ERR_UNSPECIFIED;
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  int ok = X509_verify_cert(ctx.get());
  int err = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  return ok == 1 ? X509_V_OK : (err == X509_V_OK ? X509_V_ERR_UNSPECIFIED : err);
}

}  // namespace testing_support
