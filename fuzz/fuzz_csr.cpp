#include <cstdint>
#include <string>

#include "common/pki.h"
#include "common/sha256.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto csr = common::pki::ParseCsr(text);
  // An accepted request yields a key and that key's digest.
  if (csr.ok() && (csr->public_key_der.empty() || csr->key_sha256 != common::Sha256Hex(csr->public_key_der))) {
    __builtin_trap();
  }
  return 0;
}
