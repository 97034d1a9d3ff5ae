#include <cstdint>
#include <string>

#include "beacon/beacon.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto config = common::ParseConfig(text, "fuzz.conf", &beacon::ConfigKeys());
  if (config.ok()) (void)config->GetBytes("spool_max_size");
  return 0;
}
