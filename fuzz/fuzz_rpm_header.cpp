#include <cstdint>
#include <string_view>

#include "rpm_header.h"

// The rpm header reader takes blobs from rpmdb.sqlite, which any process
// able to write /var/lib/rpm (or a crafted disk image) controls. Sanitizers
// catch any read outside the blob; a package accepted without a name or a
// version would break the reader's contract.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto pkg = inventory::ParseRpmHeader(std::string_view(reinterpret_cast<const char*>(data), size));
  if (pkg.ok() && (pkg->name.empty() || pkg->version.empty() || pkg->source != "rpm")) __builtin_trap();
  return 0;
}
