#include <cstdint>
#include <string>

#include "checkins.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto batch = beacon::DecodeCheckins(text);
  if (batch.ok()) {
    auto again = beacon::DecodeCheckins(beacon::EncodeCheckins(*batch));
    if (!again.ok() || again->size() != batch->size()) __builtin_trap();
  }
  return 0;
}
