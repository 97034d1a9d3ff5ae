#include <cstdint>
#include <string>

#include "inventory/action.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto r = inventory::ParseActionResultXml(text, "fuzz");
  // Anything accepted must survive a round trip unchanged.
  if (r.ok() && !(*inventory::ParseActionResultXml(inventory::ToXml(*r), "again") == *r)) __builtin_trap();
  return 0;
}
