#include <cstdint>
#include <string>

#include "policy/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto m = policy::ParseManifestXml(text, "fuzz");
  // Anything accepted must survive a round trip unchanged.
  if (m.ok() && !(*policy::ParseManifestXml(policy::ToXml(*m), "again") == *m)) __builtin_trap();
  return 0;
}
