// beacon-collect-xml: collects this machine's inventory as the client does
// (inventory::Collect) and writes the XML document to stdout, with no
// enrollment, outbox or upload. For bench/collect/compare.sh, which sets it
// against other agents' local inventories; `beacon-client inventory --now`
// cannot be used there, as it needs an enrolled device and a beacon.
#include <iostream>
#include <string>

#include "inventory/collect.h"

int main(int argc, char** argv) {
  inventory::CollectOptions options;
  if (argc > 2 || (argc == 2 && std::string(argv[1]).rfind("--", 0) == 0)) {
    std::cerr << "usage: beacon-collect-xml [ROOT]   (ROOT: a fixture tree, default /)\n";
    return 2;
  }
  if (argc == 2) options.root = argv[1];
  auto inv = inventory::Collect("00000000-0000-4000-8000-000000000000", options);
  if (!inv.ok()) {
    std::cerr << "beacon-collect-xml: " << inv.status().ToString() << "\n";
    return 1;
  }
  std::cout << inventory::ToXml(*inv);
  return 0;
}
