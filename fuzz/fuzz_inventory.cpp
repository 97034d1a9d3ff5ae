#include <cstdint>
#include <string>

#include "inventory/inventory.h"
#include "inventory/pack.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto inv = inventory::ParseInventoryXml(text, "fuzz");
  if (inv.ok() && !(*inventory::ParseInventoryXml(inventory::ToXml(*inv), "again") == *inv)) __builtin_trap();
  // The same bytes as an upload body: gzip decoding must fail cleanly or cap.
  (void)inventory::Gunzip(text, 1 << 20);
  return 0;
}
