#include <cstdint>
#include <string>

#include "inventory/health.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto h = inventory::ParseHealthXml(text, "fuzz");
  // Anything accepted must survive a round trip unchanged.
  if (h.ok() && !(*inventory::ParseHealthXml(inventory::ToXml(*h), "again") == *h)) __builtin_trap();
  return 0;
}
