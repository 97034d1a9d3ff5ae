// The verdict on a client certificate (http_engine.h JudgePeer): the chain
// as OpenSSL verified it, then the estate identity it asserts
// (common/identity.h), then its dates against now, because a session resumed
// from a ticket may outlive its certificate.
#include <openssl/x509.h>

#include <ctime>
#include <string>

#include "common/log.h"
#include "http_engine.h"

namespace common::engine {

namespace {

// Why a client certificate did not verify, in a few words for a 401 body
// and a log line.
std::string VerifyReason(long result) {
  switch (result) {
    case X509_V_ERR_CERT_HAS_EXPIRED: return "certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID: return "certificate is not yet valid";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "unknown certificate authority";
    case X509_V_ERR_CERT_CHAIN_TOO_LONG: return "certificate chain too long";
    case X509_V_ERR_INVALID_PURPOSE: return "certificate is not for TLS clients";
    default: return X509_verify_cert_error_string(result);
  }
}

}  // namespace

PeerVerdict JudgePeer(SSL* ssl, long verify_error) {
  PeerVerdict v;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) {
    v.error = "no certificate";
    return v;
  }
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) {
    v.error = "certificate cannot be encoded";
    v.serial = "?";
    return v;
  }
  const std::string bytes(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  auto serial = SerialFromDer(bytes);
  v.serial = serial.ok() ? *serial : "?";
  long result = verify_error != X509_V_OK ? verify_error : SSL_get_verify_result(ssl);
  if (result != X509_V_OK) {
    v.error = VerifyReason(result);
    return v;
  }
  auto id = IdentityFromDer(bytes);
  if (!id.ok()) {
    v.error = "certificate names no estate device or beacon: " + id.status().message();
    return v;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (now > id->not_after) {
    v.error = VerifyReason(X509_V_ERR_CERT_HAS_EXPIRED);
  } else if (now < id->not_before) {
    v.error = VerifyReason(X509_V_ERR_CERT_NOT_YET_VALID);
  } else {
    v.identity = std::make_unique<PeerIdentity>(std::move(*id));
  }
  return v;
}

Refusal Admit(Shared& shared, RouteAccess access, const PeerIdentity* identity, const std::string& error,
              const std::string& serial, const RequestLine& request) {
  // Built only for a refusal: an admitted request pays for the hook alone.
  auto what = [&] { return request.method + " " + request.path + " from " + request.peer; };
  if (identity != nullptr) {
    if (!shared.options.admit) return {};
    std::string why;
    try {
      why = shared.options.admit(*identity);
    } catch (const std::exception& e) {
      LogError("admit hook exception: " + std::string(e.what()));
      return {500, "internal error"};
    }
    if (why.empty()) return {};
    ++shared.refused_admission;
    LogWarn("refused " + what() + " (" + PeerKindName(identity->kind) + " " + identity->id + ", serial " +
            identity->serial + "): " + why);
    return {403, "client certificate refused: " + why};
  }
  if (access == RouteAccess::kOpen) return {};
  ++shared.refused_identity;
  const bool none = serial.empty();
  LogWarn("refused " + what() + ": " + (none ? "no client certificate" : error + " (serial " + serial + ")"));
  return {401, none ? "client certificate required" : "client certificate refused: " + error};
}

}  // namespace common::engine
