#include <cstdint>
#include <string>

#include "inventory/usage.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto u = inventory::ParseUsageXml(text, "fuzz");
  // Anything accepted must survive a round trip unchanged.
  if (u.ok() && !(*inventory::ParseUsageXml(inventory::ToXml(*u), "again") == *u)) __builtin_trap();
  return 0;
}
