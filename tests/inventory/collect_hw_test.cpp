// The hardware collectors (inventory/src/collect_hw*.cpp) against the fixture
// trees of tests/data/inventory/ (written by make_hw_fixtures.py): a laptop,
// its broken twin, container marks and the shared root. Hostile input:
// collect_hw_hostile_test.cpp; the live machine: collect_hw_live_test.cpp.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "collect_hw.h"
#include "collectors.h"

namespace {

using inventory::Item;
using inventory::Root;
using inventory::Section;
using Fields = std::vector<inventory::Field>;

const std::string kDir = std::string(TEST_DATA_DIR) + "/inventory/";

std::vector<Section> Hw(const std::string& fixture) {
  return inventory::CollectHardwareSections(Root(kDir + fixture));
}

const Section& Get(const std::vector<Section>& sections, const std::string& name) {
  for (const Section& s : sections) {
    if (s.name == name) return s;
  }
  FAIL("no section " << name);
  throw 0;
}

std::vector<std::string> Keys(const Section& s) {
  std::vector<std::string> keys;
  for (const Item& i : s.items) keys.push_back(i.key);
  return keys;
}

bool AnyNote(const Section& s, const std::string& text) {
  for (const std::string& n : s.notes) {
    if (n.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("Hardware sections of a laptop: firmware, CPU, memory, swap", "[inventory][collect]") {
  std::vector<Section> hw = Hw("laptop");
  REQUIRE(hw.size() == 11);
  for (const Section& s : hw) {
    INFO(s.name);
    CHECK(s.notes.empty());
  }
  const Item& bios = Get(hw, "bios").items.at(0);
  CHECK(Get(hw, "bios").items.size() == 1);
  CHECK(bios.key == "bios");
  CHECK(bios.Get("bios_vendor") == "LENOVO");
  CHECK(bios.Get("bios_version") == "N32ET86W (1.62 )");
  CHECK(bios.Get("bios_date") == "03/14/2024");
  CHECK(bios.Get("chassis_type") == "10");
  CHECK(bios.Get("chassis_type_name") == "Notebook");
  CHECK(bios.Get("product_version") == "ThinkPad X1 Carbon Gen 9");
  CHECK(bios.Get("product_serial") == "PF2ABCDE");
  CHECK(bios.Get("product_uuid") == "4c4c4544-0042-3510-8052-b7c04f4e3632");
  CHECK(bios.Get("ec_firmware_release") == "1.32");
  CHECK(bios.Get("modalias").empty());
  CHECK(bios.Get("uevent").empty());
  CHECK(bios.fields.size() == 23);  // 22 files + chassis_type_name

  const Section& cpus = Get(hw, "cpus");
  REQUIRE(cpus.items.size() == 1);
  CHECK(cpus.items[0].key == "cpu0");
  CHECK(cpus.items[0].fields == Fields{{"vendor", "GenuineIntel"},
                                       {"model", "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz"},
                                       {"family", "6"},
                                       {"model_id", "140"},
                                       {"stepping", "1"},
                                       {"cores", "4"},
                                       {"threads", "8"},
                                       {"frequency_mhz", "4700"},
                                       {"arch", "x86_64"}});

  const Section& memory = Get(hw, "memory");
  // The empty slot (size 0) is left out; the 32 GiB module uses Extended Size.
  REQUIRE(Keys(memory) == std::vector<std::string>{"ChannelA-DIMM0", "ChannelB-DIMM0", "total"});
  CHECK(memory.items[0].fields == Fields{{"locator", "ChannelA-DIMM0"},
                                         {"bank", "BANK 0"},
                                         {"size_bytes", "17179869184"},
                                         {"type", "DDR4"},
                                         {"speed_mts", "3200"},
                                         {"manufacturer", "Samsung"},
                                         {"serial", "03B2C4D5"},
                                         {"part_number", "M471A2K43EB1-CWE"}});
  CHECK(memory.items[1].Get("size_bytes") == "34359738368");
  CHECK(memory.items[1].Get("manufacturer") == "Micron");
  CHECK(memory.items[2].fields ==
        Fields{{"total_bytes", "50100580352"}, {"swap_total_bytes", "8589930496"}});

  const Section& swap = Get(hw, "swap");
  REQUIRE(Keys(swap) == std::vector<std::string>{"/dev/nvme0n1p3", "/swap file"});
  CHECK(swap.items[0].fields ==
        Fields{{"type", "partition"}, {"size_bytes", "8589930496"}, {"priority", "-2"}});
  CHECK(swap.items[1].Get("size_bytes") == "1073737728");
}

TEST_CASE("Hardware sections of a laptop: drives and file systems", "[inventory][collect]") {
  std::vector<Section> hw = Hw("laptop");
  const Section& drives = Get(hw, "drives");
  REQUIRE(Keys(drives) == std::vector<std::string>{"nvme0n1", "sda"});  // loop0 is virtual
  CHECK(drives.items[0].fields == Fields{{"model", "SAMSUNG MZVL21T0HCLR-00BL7"},
                                         {"serial", "S64PNX0R123456"},
                                         {"size_bytes", "1024209543168"},
                                         {"rotational", "false"},
                                         {"removable", "false"},
                                         {"transport", "nvme"},
                                         {"firmware", "GXA7401Q"},
                                         {"type", "disk"}});
  // The USB stick's serial comes from the udev database.
  CHECK(drives.items[1].fields == Fields{{"model", "Extreme"},
                                         {"vendor", "SanDisk"},
                                         {"serial", "4C530001231119115142"},
                                         {"size_bytes", "31406948352"},
                                         {"rotational", "true"},
                                         {"removable", "true"},
                                         {"transport", "usb"},
                                         {"firmware", "0001"},
                                         {"type", "disk"}});

  const Section& fs = Get(hw, "filesystems");
  // proc, sysfs, cgroup2 and the tmpfs mounts are left out; /data was
  // mounted twice and the later mount is the visible one.
  REQUIRE(Keys(fs) == std::vector<std::string>{"/", "/boot/efi", "/data", "/media/anna/My Stick",
                                               "/mnt/nfs", "/srv"});
  CHECK(fs.items[0].fields == Fields{{"device", "/dev/nvme0n1p2"},
                                     {"type", "ext4"},
                                     {"options", "rw"},
                                     {"uuid", "0b1c2d3e-1111-4a4a-9b9b-123456789abc"}});
  CHECK(fs.items[1].Get("label") == "EFI");
  CHECK(fs.items[2].Get("type") == "ext4");
  CHECK(fs.items[2].Get("options") == "ro");
  CHECK(fs.items[3].fields == Fields{{"device", "/dev/sda1"},
                                     {"type", "exfat"},
                                     {"options", "ro"},
                                     {"uuid", "64E1-2F3A"},
                                     {"label", "My Stick"}});
  CHECK(fs.items[4].fields ==
        Fields{{"device", "server:/export"}, {"type", "nfs4"}, {"options", "rw"}});
  // /dev/mapper/vg-data links to ../dm-0, which by-uuid names.
  CHECK(fs.items[5].Get("uuid") == "77777777-2222-4b4b-8c8c-abcdefabcdef");
  // statvfs only describes the live machine.
  CHECK(fs.items[0].Get("size_bytes").empty());
}

TEST_CASE("Hardware sections of a laptop: PCI, video, USB, batteries, virtualization",
          "[inventory][collect]") {
  std::vector<Section> hw = Hw("laptop");
  const Section& pci = Get(hw, "pci");
  REQUIRE(Keys(pci) ==
          std::vector<std::string>{"0000:00:02.0", "0000:00:14.0", "0000:00:1f.0", "0000:04:00.0"});
  CHECK(pci.items[0].fields == Fields{{"class", "030000"},
                                      {"vendor_id", "8086"},
                                      {"device_id", "9a49"},
                                      {"subsystem_vendor_id", "17aa"},
                                      {"subsystem_device_id", "22d8"},
                                      {"revision", "01"},
                                      {"driver", "i915"},
                                      {"vendor_name", "Intel Corporation"},
                                      {"device_name", "TigerLake-LP GT2 [Iris Xe Graphics]"},
                                      {"class_name", "VGA compatible controller"}});
  CHECK(pci.items[2].Get("driver").empty());
  CHECK(pci.items[2].Get("class_name") == "ISA bridge");
  CHECK(pci.items[3].Get("vendor_name") == "Samsung Electronics Co Ltd");
  CHECK(pci.items[3].Get("class_name") == "Non-Volatile memory controller");

  const Section& video = Get(hw, "video");
  REQUIRE(video.items.size() == 1);
  CHECK(video.items[0].key == "0000:00:02.0");
  CHECK(video.items[0].fields == Fields{{"name", "TigerLake-LP GT2 [Iris Xe Graphics]"},
                                        {"vendor", "Intel Corporation"},
                                        {"driver", "i915"},
                                        {"outputs", "DP-1 2560x1440, eDP-1 1920x1200"}});

  const Section& usb = Get(hw, "usb");
  REQUIRE(Keys(usb) == std::vector<std::string>{"1-3", "1-4", "2-1", "usb2"});
  CHECK(usb.items[0].fields == Fields{{"vendor_id", "046d"},
                                      {"product_id", "c52b"},
                                      {"manufacturer", "Logitech"},
                                      {"product", "USB Receiver"},
                                      {"class", "00"},
                                      {"speed_mbps", "12"},
                                      {"vendor_name", "Logitech, Inc."},
                                      {"product_name", "Unifying Receiver"}});
  CHECK(usb.items[1].Get("speed_mbps") == "1.5");
  CHECK(usb.items[1].Get("class_name") == "Wireless");
  CHECK(usb.items[2].Get("serial") == "4C530001231119115142");
  CHECK(usb.items[3].Get("class_name") == "Hub");
  CHECK(usb.items[3].Get("product_name") == "3.0 root hub");

  const Section& bat = Get(hw, "batteries");
  REQUIRE(Keys(bat) == std::vector<std::string>{"BAT0", "BAT1"});  // AC is not a battery
  CHECK(bat.items[0].fields == Fields{{"manufacturer", "SMP"},
                                      {"model", "5B10W13975"},
                                      {"serial", "1234"},
                                      {"technology", "Li-poly"},
                                      {"design_capacity_wh", "57.00"},
                                      {"full_capacity_wh", "51.23"},
                                      {"voltage_design_v", "11.52"},
                                      {"cycle_count", "87"},
                                      {"capacity_percent", "76"},
                                      {"status", "Discharging"}});
  // charge_* (µAh) × voltage_min_design: 4 Ah × 11.55 V.
  CHECK(bat.items[1].Get("design_capacity_wh") == "46.20");
  CHECK(bat.items[1].Get("full_capacity_wh") == "45.05");

  const Section& virt = Get(hw, "virtualization");
  REQUIRE(virt.items.size() == 1);
  CHECK(virt.items[0].fields == Fields{{"type", "none"}, {"technology", "none"}});
}

TEST_CASE("The broken laptop yields partial data and notes", "[inventory][collect]") {
  std::vector<Section> hw = Hw("laptop_broken");
  const Section& bios = Get(hw, "bios");
  REQUIRE(bios.items.size() == 1);
  CHECK(bios.items[0].Get("bios_vendor").empty());
  CHECK(bios.items[0].Get("chassis_type") == "garbage");
  CHECK(bios.items[0].Get("chassis_type_name").empty());
  CHECK(bios.items[0].Get("product_name") == "20XWCTO1WW");
  REQUIRE(bios.notes.size() == 1);
  CHECK_THAT(bios.notes[0], Catch::Contains("board_serial, chassis_serial, product_serial, "
                                            "product_uuid not readable (serial numbers and the "
                                            "UUID need root)"));

  const Section& cpus = Get(hw, "cpus");
  REQUIRE(Keys(cpus) == std::vector<std::string>{"cpu0"});
  CHECK(cpus.items[0].Get("threads") == "2");
  CHECK(cpus.items[0].Get("model").empty());
  CHECK(cpus.notes.size() == 2);  // "processor : x" and a 20-digit number
  CHECK(AnyNote(cpus, "cpuinfo:7: 'processor' is not a CPU number"));

  const Section& memory = Get(hw, "memory");
  // Readable parts of damaged structures are kept under their entry names.
  REQUIRE(Keys(memory) == std::vector<std::string>{"17-0", "17-1", "17-4"});
  CHECK(memory.items[0].fields == Fields{{"size_bytes", "17179869184"}, {"type", "DDR4"}});
  CHECK(memory.items[1].Get("size_bytes") == "34359738368");
  CHECK(memory.items[1].Get("speed_mts") == "3200");
  CHECK(memory.items[2].Get("manufacturer").empty());
  CHECK(AnyNote(memory, "17-0/raw: length 40 points past the end of the 20-byte structure"));
  CHECK(AnyNote(memory, "17-1/raw: length 255 points past the end"));
  CHECK(AnyNote(memory, "17-3/raw: shorter than an SMBIOS header (2 bytes)"));
  CHECK(AnyNote(memory, "17-4/raw: string set is not terminated"));
  CHECK(AnyNote(memory, "17-5/raw: not a memory device structure (type 16)"));
  CHECK(AnyNote(memory, "17-6 not readable (memory modules need root)"));
  CHECK(AnyNote(memory, "meminfo"));
  CHECK(memory.notes.size() == 7);

  const Section& swap = Get(hw, "swap");
  CHECK(Keys(swap) == std::vector<std::string>{"/dev/sdz"});
  CHECK(swap.notes.size() == 2);

  const Section& drives = Get(hw, "drives");
  REQUIRE(drives.items.size() == 2);
  CHECK(drives.items[0].Get("size_bytes").empty());
  CHECK(drives.items[0].Get("serial").empty());
  CHECK(drives.items[0].Get("rotational").empty());
  CHECK(drives.items[0].Get("model") == "SAMSUNG MZVL21T0HCLR-00BL7");

  const Section& fs = Get(hw, "filesystems");
  // Invalid escapes are kept as written.
  CHECK(Keys(fs) == std::vector<std::string>{"/a\\999b", "/trailing\\04"});
  CHECK(fs.notes.size() == 2);

  const Section& pci = Get(hw, "pci");
  REQUIRE(pci.items.size() == 4);
  CHECK(pci.items[1].Get("class").empty());
  CHECK(pci.items[1].Get("vendor_id").empty());
  CHECK(pci.items[0].Get("vendor_name").empty());
  CHECK(AnyNote(pci, "pci.ids: absent"));
  const Section& video = Get(hw, "video");
  REQUIRE(video.items.size() == 1);
  CHECK(video.items[0].Get("name") == "8086:9a49");
  CHECK(video.items[0].Get("vendor") == "8086");

  const Section& usb = Get(hw, "usb");
  CHECK(Keys(usb) == std::vector<std::string>{"1-4", "2-1", "usb2"});  // idVendor "xyz!"
  CHECK(usb.items[1].Get("product_id").empty());
  CHECK(AnyNote(usb, "usb.ids: absent"));

  const Section& bat = Get(hw, "batteries");
  REQUIRE(Keys(bat) == std::vector<std::string>{"BAT0", "BAT1"});
  CHECK(bat.items[0].fields == Fields{{"manufacturer", "SMP"},
                                      {"model", "5B10W13975"},
                                      {"serial", "1234"},
                                      {"technology", "Li-poly"},
                                      {"status", "Discharging"}});
  CHECK(bat.items[1].fields.empty());
  CHECK(AnyNote(bat, "BAT0/energy_full_design: '-5' is not a number"));
  CHECK(AnyNote(bat, "BAT0/capacity: 250 is not a percentage"));
  CHECK(AnyNote(bat, "BAT0/cycle_count: 'many' is not a number"));
}

TEST_CASE("Virtualization names the container or VM as systemd-detect-virt does",
          "[inventory][collect]") {
  struct Case {
    std::string fixture;
    Fields fields;
  };
  std::vector<Case> cases = {
      {"container/docker", {{"type", "container"}, {"technology", "docker"}, {"vm", "qemu"}}},
      {"container/podman", {{"type", "container"}, {"technology", "podman"}}},
      {"container/lxc", {{"type", "container"}, {"technology", "lxc"}, {"vm", "vmware"}}},
      {"container/lxc_libvirt", {{"type", "container"}, {"technology", "lxc-libvirt"}}},
      {"container/nspawn", {{"type", "container"}, {"technology", "systemd-nspawn"}}},
      {"container/cgroup_docker", {{"type", "container"}, {"technology", "docker"}}},
      {"container/wsl", {{"type", "container"}, {"technology", "wsl"}}},
      {"container/broken", {{"type", "vm"}, {"technology", "vm-other"}}},
      {"container/vm_xen", {{"type", "vm"}, {"technology", "xen"}}},
      {"container/vm_kvm_dt", {{"type", "vm"}, {"technology", "kvm"}}},
      {"container/vm_hyperv", {{"type", "vm"}, {"technology", "microsoft"}}},
      {"root", {{"type", "vm"}, {"technology", "qemu"}}},
  };
  for (const Case& c : cases) {
    INFO(c.fixture);
    Section s = inventory::hw::CollectVirtualization(Root(kDir + c.fixture));
    REQUIRE(s.items.size() == 1);
    CHECK(s.items[0].key == "host");
    CHECK(s.items[0].fields == c.fields);
  }
}

TEST_CASE("The shared fixture root gets hardware sections too", "[inventory][collect]") {
  std::vector<Section> hw = Hw("root");
  CHECK(Get(hw, "bios").items.at(0).Get("chassis_type_name") == "Other");
  const Section& cpus = Get(hw, "cpus");
  REQUIRE(cpus.items.size() == 1);
  CHECK(cpus.items[0].Get("threads") == "2");
  CHECK(cpus.items[0].Get("arch") == "i686");  // no "lm" flag
  CHECK(AnyNote(cpus, "no physical package ids"));
  CHECK(Keys(Get(hw, "drives")) == std::vector<std::string>{"sda", "vda"});
  CHECK(Keys(Get(hw, "filesystems")) ==
        std::vector<std::string>{"/", "/var/lib/docker/overlay2/abc/merged"});
  CHECK(Get(hw, "swap").items.empty());
  CHECK(Get(hw, "swap").notes.empty());
  CHECK(Keys(Get(hw, "video")) == std::vector<std::string>{"0000:00:01.0"});
  CHECK(Get(hw, "usb").items.empty());
  CHECK(Get(hw, "batteries").items.empty());
}
