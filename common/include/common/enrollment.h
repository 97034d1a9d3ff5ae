// The enrollment request document (docs/identity.md "Enrollment"): what a
// device sends to enroll (PUT /v1/enroll/{device}/{request}) or to renew its
// certificate (an upload of kind "renew"). One writer and one parser, shared
// by the client and the beacon.
//
//   <enroll version="1" host="web-01" secret="ab12cd34.…" csr="-----BEGIN CERTIFICATE REQUEST-----&#10;…"/>
//
// `csr` is a PEM certificate request (common::pki::ParseCsr checks it: its
// own signature, an ECDSA P-256 key); `secret` an enrollment secret, absent
// for renewals and in approval mode; `host` the machine's host name, a
// token, optional. The document is at most kMaxEnrollBytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/pki.h"
#include "common/status.h"

namespace common {

inline constexpr size_t kMaxEnrollBytes = 16 << 10;

struct EnrollRequest {
  std::string host;
  std::string secret;
  std::string csr_pem;
};

std::string EnrollRequestXml(const EnrollRequest& request);

// Parses and checks the document and its request. InvalidArgument with
// "source:line:column: ..." for the document, "source: enrollment request:
// ..." for the CSR; `key` receives what ParseCsr read.
StatusOr<EnrollRequest> ParseEnrollRequest(std::string_view body, const std::string& source,
                                           pki::CsrInfo* key);

}  // namespace common
