#include <cstdint>
#include <string>

#include "common/spool.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  uint64_t offset = 0;
  auto meta = common::DecodeSpoolHeader(text, &offset);
  if (meta.ok() && offset > text.size()) __builtin_trap();
  return 0;
}
