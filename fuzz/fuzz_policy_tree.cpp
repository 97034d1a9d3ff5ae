// The administrator's side: a group.xml and a partial policy.xml and
// schedule.xml, as one policy tree, then resolved for a device.
#include <cstdint>
#include <string>

#include "policy/targeting.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  // Three documents separated by NUL bytes.
  std::string parts[3];
  for (size_t i = 0, p = 0; i < text.size() && p < 3; ++i) {
    if (text[i] == '\0') ++p;
    else parts[p] += text[i];
  }
  policy::TreeFiles files = {
      {"default/policy.xml", "<policy version=\"1\"/>"},
      {"default/schedule.xml", "<schedule version=\"1\"><event name=\"policy-check\" interval=\"1h\"/></schedule>"},
      {"g/group.xml", parts[0]},
      {"g/policy.xml", parts[1]},
      {"g/schedule.xml", parts[2]},
  };
  auto tree = policy::PolicyTree::FromFiles(files, "fuzz");
  if (!tree.ok()) return 0;
  policy::DeviceFacts d;
  d.device_id = "6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f";
  d.inventoried = true;
  d.hostname = "srv-1";
  d.os = "Debian GNU/Linux 12 (bookworm)";
  d.addresses = {"10.9.1.2/24", "fd00::2/64"};
  // A valid tree always resolves: validation rules out every merge failure.
  if (!(*tree)->Resolve(d).ok()) __builtin_trap();
  return 0;
}
