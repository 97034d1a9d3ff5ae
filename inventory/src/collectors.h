// The detailed collectors behind CollectSections (inventory/sections.h),
// grouped by area, one group per file set. Private to inventory/.
//
// Contract for every collector: read files under `root` only (Root::Path),
// make system calls (statvfs, getifaddrs, ...) only when root.is_live(), never
// run another program, never fail: what cannot be read becomes a note on its
// section (and the section is still returned, possibly with no items). Items
// are sorted by key (Section::SortItems). Field names and meanings are listed
// in docs/inventory_sections.md.
#pragma once

#include <string>
#include <vector>

#include "collect_root.h"
#include "inventory/inventory.h"
#include "inventory/sections.h"

namespace inventory {

// collect.cpp: every IPv4 and IPv6 address of the running machine's
// interfaces (getifaddrs), as "addr/prefixlen", in the kernel's order. Call
// only when the root is live; empty if getifaddrs fails.
struct LiveAddress {
  std::string interface;
  bool ipv6 = false;
  std::string address;
};
std::vector<LiveAddress> LiveAddresses();

// collect_hw*.cpp: bios, cpus, memory, swap, drives, filesystems, pci, video,
// usb, batteries, virtualization.
std::vector<Section> CollectHardwareSections(const Root& root);

// collect_sys*.cpp: system, network, routes, dns, users, groups, logins,
// firewall, repositories, environment, processes.
std::vector<Section> CollectSystemSections(const Root& root);

// collect_software*.cpp: every package database found (dpkg, rpm, snap,
// flatpak), each package marked with its source, into `packages`; and the
// "package_sources" section: one item per database found (its path and
// package count), with notes for the ones that could not be read.
void CollectPackages(const Root& root, std::vector<Package>* packages, Section* package_sources);

// collect.cpp: whether sys/block/<name> is not hardware (loop, RAM, device
// mapper, md, nbd, or a device under /sys/devices/virtual/). The hardware
// summary's disks and the drives section both leave these out.
bool IsVirtualBlock(const Root& root, const std::string& name);

}  // namespace inventory
