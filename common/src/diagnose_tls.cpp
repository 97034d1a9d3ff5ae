#include "diagnose_tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <memory>

#include "common/time.h"
#include "pki_x509.h"

namespace common::diagnose_tls {

namespace {

struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

// The first verification error of the chain: OpenSSL reports the last one,
// and the first is the one that explains (an unknown CA shows first as
// "unable to get local issuer", then possibly as others).
int ErrorIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int KeepGoing(int ok, X509_STORE_CTX* store) {
  if (!ok) {
    SSL* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    int* first = static_cast<int*>(SSL_get_ex_data(ssl, ErrorIndex()));
    if (first != nullptr && *first == X509_V_OK) *first = X509_STORE_CTX_get_error(store);
  }
  // The handshake goes on, so that the chain can be shown whatever failed;
  // nothing is sent over this connection.
  return 1;
}

std::string Name(const X509_NAME* name) {
  char buf[512] = {};
  X509_NAME_oneline(name, buf, sizeof buf);
  return buf;
}

std::string NotAfter(X509* cert) {
  const ASN1_TIME* t = X509_get0_notAfter(cert);
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  return FormatRfc3339(static_cast<int64_t>(timegm(&tm)));
}

// What OpenSSL queued about the last failure; none during a handshake
// means the peer closed the connection.
std::string OpenSslErrors() { return pki::x509::OpenSslErrors("the connection was closed during the handshake"); }

std::string CodeFor(int err) {
  switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
      return "D501";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "D502";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "D503";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "D504";
    default:
      return "D506";
  }
}

}  // namespace

Verdict Handshake(int fd, const std::string& host, const std::string& ca_file, int timeout_s) {
  timeval tv{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return {"D505", "cannot make a TLS context: " + OpenSslErrors()};
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1) {
    return {"D500", ca_file + ": " + OpenSslErrors()};
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, KeepGoing);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  int first_error = X509_V_OK;
  SSL_set_ex_data(ssl.get(), ErrorIndex(), &first_error);
  in6_addr probe{};
  const bool is_ip = inet_pton(AF_INET, host.c_str(), &probe) == 1 || inet_pton(AF_INET6, host.c_str(), &probe) == 1;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl.get(), host.c_str());
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
  SSL_set_fd(ssl.get(), fd);
  if (SSL_connect(ssl.get()) != 1) {
    std::string why = OpenSslErrors();
    // A verification failure the callback let through cannot end here; a
    // refused handshake (wrong port, old protocol, cut) does.
    return {"D505", "handshake with " + host + " failed: " + why};
  }
  std::string detail = std::string(SSL_get_version(ssl.get())) + ", " + SSL_get_cipher_name(ssl.get());
  X509* leaf = SSL_get0_peer_certificate(ssl.get());
  if (leaf == nullptr) return {"D505", detail + ": the beacon sent no certificate"};
  detail += "; certificate subject " + Name(X509_get_subject_name(leaf)) + ", issuer " +
            Name(X509_get_issuer_name(leaf)) + ", notAfter " + NotAfter(leaf);
  if (first_error == X509_V_OK) first_error = static_cast<int>(SSL_get_verify_result(ssl.get()));
  if (first_error != X509_V_OK) {
    return {CodeFor(first_error), detail + "; not verified: " + X509_verify_cert_error_string(first_error) +
                                      (CodeFor(first_error) == "D502" ? " (" + host + ")" : "")};
  }
  detail += "; " + std::string(is_ip ? "address " : "host name ") + host + " matches";
  STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl.get());
  if (chain != nullptr && sk_X509_num(chain) > 0) {
    X509* anchor = sk_X509_value(chain, sk_X509_num(chain) - 1);
    detail += "; verified by " + Name(X509_get_subject_name(anchor)) + " (notAfter " + NotAfter(anchor) + ") from " +
              ca_file;
  }
  SSL_shutdown(ssl.get());
  return {"", detail};
}

}  // namespace common::diagnose_tls
