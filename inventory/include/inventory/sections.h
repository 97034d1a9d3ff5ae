// Detailed inventory: the sections a device reports beyond its os, hardware
// summary and packages (BIOS, CPUs, memory modules, drives, file systems, PCI
// and USB devices, users, repositories, ...). Format and every section's
// fields: docs/inventory.md#sections.
//
// A section is a list of items, each a list of named text values. One shape
// for every section keeps the document, the store, history (added, removed,
// changed items) and deltas (a digest per section) written once, however
// many collectors there are.
#pragma once

#include <string>
#include <vector>

namespace inventory {

struct Field {
  std::string name;   // [a-z0-9_]+, unique within its item
  std::string value;  // text as the OS gives it; numbers in decimal, sizes in
                      // bytes, times RFC 3339 UTC, flags "true"/"false"
  bool operator==(const Field&) const = default;
};

struct Item {
  // Identifies the item across inventories of the same device (a PCI slot, a
  // mount point, a user name), so history can tell "changed" from "removed
  // and added". Non-empty, unique within its section.
  std::string key;
  std::vector<Field> fields{};  // in the collector's order; empty values are left out
  bool operator==(const Item&) const = default;

  // The value of field `name`, or "" when absent.
  const std::string& Get(const std::string& name) const;
  // Appends a field unless `value` is empty.
  void Add(const std::string& name, std::string value);
};

struct Section {
  std::string name;  // [a-z0-9_]+, unique within the inventory
  std::vector<Item> items{};  // sorted by key
  // Why the data is partial, one sentence each ("/sys/firmware/dmi/tables:
  // permission denied (memory modules need root)"). A collector that cannot
  // read something says so here; it never fails the inventory.
  std::vector<std::string> notes{};
  bool operator==(const Section&) const = default;

  // The item with `key`, or nullptr.
  const Item* Find(const std::string& key) const;
  // Sorts items by key (collectors call this before returning).
  void SortItems();
};

// Volatile values change without a change to the machine (free space, a
// battery's charge, a link's state, who is logged in). The store keeps them
// as reported but leaves them out of the change history; the list is the one
// the section pages of docs/ mark "volatile". A volatile section is volatile
// as a whole (logins).
bool IsVolatileSection(const std::string& section);
bool IsVolatileField(const std::string& section, const std::string& field);

// The detailed sections of the machine under `root` ("/" in production, a
// fixture tree in tests), sorted by name. Implemented by the collectors in
// collect_*.cpp; system calls are made only when root is "/".
std::vector<Section> CollectSections(const std::string& root);

}  // namespace inventory
