#include <cstdint>
#include <string>

#include "common/enrollment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  common::pki::CsrInfo key;
  auto request = common::ParseEnrollRequest(text, "fuzz", &key);
  if (!request.ok()) return 0;
  // What is accepted is written back and read again to the same request.
  common::pki::CsrInfo again;
  auto round = common::ParseEnrollRequest(common::EnrollRequestXml(*request), "round trip", &again);
  if (!round.ok() || round->host != request->host || round->secret != request->secret ||
      round->csr_pem != request->csr_pem || again.key_sha256 != key.key_sha256) {
    __builtin_trap();
  }
  return 0;
}
