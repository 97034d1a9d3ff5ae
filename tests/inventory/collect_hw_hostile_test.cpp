// Hostile input for the hardware collectors: oversized files, every
// truncation of an SMBIOS structure, random bytes, malformed /proc text and
// ids files. The collectors must return partial data and notes, never crash.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "collect_hw.h"
#include "collectors.h"
#include "common/fs.h"

namespace {

using inventory::Root;
using inventory::Section;
using inventory::hw::MemoryDevice;
using inventory::hw::ParseMemoryDevice;

const std::string kDir = std::string(TEST_DATA_DIR) + "/inventory/";

// A fresh root under the temp dir, removed at the end of the test.
struct TempRoot {
  std::string path;
  TempRoot() {
    path = std::filesystem::temp_directory_path().string() + "/collect_hw_test." +
           std::to_string(::getpid()) + "." + std::to_string(counter++);
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempRoot() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  void Put(const std::string& rel, const std::string& data) const {
    std::filesystem::path p = path + "/" + rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
  }
  static inline int counter = 0;
};

std::string ReadFixture(const std::string& rel) {
  auto text = common::ReadFile(kDir + rel);
  REQUIRE(text.ok());
  return *text;
}

}  // namespace

TEST_CASE("Oversized /proc and /sys files are capped and noted", "[inventory][collect]") {
  TempRoot root;
  // 17 MiB of plausible cpuinfo: past the 16 MiB cap for cpuinfo.
  std::string block = "processor\t: 0\nmodel name\t: X\n\n";
  std::string huge;
  while (huge.size() < (17u << 20)) huge += block;
  root.Put("proc/cpuinfo", huge);
  root.Put("sys/class/dmi/id/product_name", std::string(2u << 20, 'A'));
  root.Put("sys/class/dmi/id/sys_vendor", "Vendor\n");
  root.Put("proc/meminfo", std::string(2u << 20, '9'));
  root.Put("proc/swaps", "Filename Type Size Used Priority\n" + std::string(2u << 20, ' '));

  Root r(root.path);
  Section cpus = inventory::hw::CollectCpus(r);
  CHECK(cpus.items.empty());
  REQUIRE(cpus.notes.size() == 1);
  Section bios = inventory::hw::CollectBios(r);
  REQUIRE(bios.items.size() == 1);
  CHECK(bios.items[0].fields == std::vector<inventory::Field>{{"sys_vendor", "Vendor"}});
  REQUIRE(bios.notes.size() == 1);
  CHECK_THAT(bios.notes[0], Catch::Contains("product_name"));
  Section memory = inventory::hw::CollectMemory(r);
  CHECK(memory.items.empty());
  CHECK(memory.notes.size() == 2);  // no SMBIOS entries; meminfo too big
  Section swap = inventory::hw::CollectSwap(r);
  CHECK(swap.items.empty());
  CHECK(swap.notes.size() == 1);
}

TEST_CASE("ParseMemoryDevice survives every truncation and random bytes", "[inventory][collect]") {
  const std::string good = ReadFixture("laptop/sys/firmware/dmi/entries/17-0/raw");
  MemoryDevice dev;
  std::string problem;
  REQUIRE(ParseMemoryDevice(good, &dev, &problem));
  CHECK(problem.empty());
  CHECK(dev.locator == "ChannelA-DIMM0");

  for (size_t n = 0; n < good.size(); ++n) {
    INFO(n);
    bool ok = ParseMemoryDevice(good.substr(0, n), &dev, &problem);
    CHECK(ok == (n >= 4));
    CHECK_FALSE(problem.empty());  // every prefix is damaged somehow
  }
  // Declared lengths below the header, at every value, and string numbers
  // past the string set.
  for (int len = 0; len < 256; ++len) {
    std::string s = good;
    s[1] = static_cast<char>(len);
    (void)ParseMemoryDevice(s, &dev, &problem);
  }
  std::string wild = good;
  wild[0x10] = static_cast<char>(200);  // locator: string 200 of 6
  REQUIRE(ParseMemoryDevice(wild, &dev, &problem));
  CHECK(dev.locator.empty());
  CHECK(dev.bank == "BANK 0");

  std::mt19937 rng(17);
  for (int i = 0; i < 2000; ++i) {
    std::string blob(rng() % 200, '\0');
    for (char& c : blob) c = static_cast<char>(rng() % 4 == 0 ? 0 : rng());
    if (!blob.empty()) blob[0] = 17;
    (void)ParseMemoryDevice(blob, &dev, &problem);
  }
  // Size encodings: KiB granularity (bit 15), unknown (0xFFFF).
  std::string kib = good;
  kib[0x0c] = 0x00;
  kib[0x0d] = static_cast<char>(0x82);  // 0x8200: 512 KiB
  REQUIRE(ParseMemoryDevice(kib, &dev, &problem));
  CHECK(dev.size_bytes == 512 * 1024);
  kib[0x0c] = static_cast<char>(0xff);
  kib[0x0d] = static_cast<char>(0xff);
  REQUIRE(ParseMemoryDevice(kib, &dev, &problem));
  CHECK_FALSE(dev.size_known);
}

TEST_CASE("Malformed cpuinfo, swaps and mounts give partial data", "[inventory][collect]") {
  TempRoot root;
  root.Put("proc/cpuinfo", "processor\n\nprocessor : 0\n" + std::string(100000, ':') +
                               "\nmodel name : A:B\n"
                               "cpu MHz : nan\nprocessor : 1\ncpu MHz : -5\nprocessor : 1\n");
  root.Put("proc/swaps", "/only/one/line file 1 0 1\n");  // no header: nothing is listed
  root.Put("proc/self/mounts",
           "/dev/sdb1 /mnt/with\\040space\\011tab ext4 rw 0 0\n"
           "/dev/sdb2 /mnt/back\\134slash vfat ro,noatime 0 0\n"
           "/dev/sdb3 /mnt/nl\\012 ext4 rw\n"
           "\t\t\n"
           "a\\040b /x btrfs rw,ro 0 0\n");
  Root r(root.path);
  Section cpus = inventory::hw::CollectCpus(r);
  REQUIRE(cpus.items.size() == 1);
  // Three processor blocks (two both numbered 1) in one guessed package.
  CHECK(cpus.items[0].Get("threads") == "3");
  CHECK(cpus.items[0].Get("model") == "A:B");
  CHECK(cpus.items[0].Get("frequency_mhz").empty());

  CHECK(inventory::hw::CollectSwap(r).items.empty());

  Section fs = inventory::hw::CollectFilesystems(r);
  REQUIRE(fs.items.size() == 4);
  CHECK(fs.items[0].key == "/mnt/back\\slash");
  CHECK(fs.items[0].Get("options") == "ro");
  CHECK(fs.items[1].key == "/mnt/nl\n");
  CHECK(fs.items[2].key == "/mnt/with space\ttab");
  CHECK(fs.items[3].key == "/x");
  CHECK(fs.items[3].Get("device") == "a b");
  CHECK(fs.items[3].Get("options") == "ro");
}

TEST_CASE("A virtio disk reports no vendor id as its vendor", "[inventory][collect]") {
  TempRoot root;
  const std::string dev = "sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda";
  root.Put(dev + "/size", "8\n");
  root.Put(dev + "/device/vendor", "0x1af4\n");
  std::filesystem::create_directories(root.path + "/sys/block");
  std::filesystem::create_symlink("../devices/pci0000:00/0000:00:02.0/virtio1/block/vda",
                                  root.path + "/sys/block/vda");
  Section drives = inventory::hw::CollectDrives(Root(root.path));
  REQUIRE(drives.items.size() == 1);
  CHECK(drives.items[0].fields == std::vector<inventory::Field>{{"size_bytes", "4096"},
                                                                {"transport", "virtio"},
                                                                {"type", "disk"}});
}

TEST_CASE("Small parsers: octal escapes, sysfs hex, micro units, fs types, chassis, ids",
          "[inventory][collect]") {
  using inventory::hw::UnescapeOctal;
  CHECK(UnescapeOctal("a\\040b") == "a b");
  CHECK(UnescapeOctal("\\") == "\\");
  CHECK(UnescapeOctal("\\04") == "\\04");
  CHECK(UnescapeOctal("\\400") == "\\400");  // past a byte: literal
  CHECK(UnescapeOctal("\\0400") == " 0");
  CHECK(inventory::hw::SysfsHex("0x0C0330\n") == "0c0330");
  CHECK(inventory::hw::SysfsHex("0x").empty());
  CHECK(inventory::hw::SysfsHex("zz").empty());
  CHECK(inventory::hw::FormatMicro(0) == "0.00");
  CHECK(inventory::hw::FormatMicro(4999) == "0.00");
  CHECK(inventory::hw::FormatMicro(5000) == "0.01");
  CHECK(inventory::hw::FormatMicro(11520000) == "11.52");
  CHECK(inventory::hw::FormatMicro(UINT64_MAX) == "18446744073709.55");
  CHECK(inventory::hw::IsPseudoFs("tmpfs"));
  CHECK(inventory::hw::IsPseudoFs("cgroup2"));
  CHECK_FALSE(inventory::hw::IsPseudoFs("overlay"));
  CHECK(inventory::hw::IsNetworkFs("nfs4"));
  CHECK_FALSE(inventory::hw::IsNetworkFs("ext4"));
  CHECK(inventory::hw::ChassisTypeName(3) == "Desktop");
  CHECK(inventory::hw::ChassisTypeName(0x80 | 9) == "Laptop");  // lock bit
  CHECK(inventory::hw::ChassisTypeName(36) == "Stick PC");
  CHECK(inventory::hw::ChassisTypeName(37).empty());
  CHECK(inventory::hw::ChassisTypeName(UINT64_MAX).empty());  // low 7 bits: 127

  inventory::hw::IdNames names;
  names.Parse(
      "\tdead  orphan device\n8086 x\nzzzz  not hex\n8086  Intel\n\t1234\n\t12  short\n"
      "\t\t8086 0001  subsystem\n\tabcd  Device\nC 03  Display\n\t00  VGA\nC zz  bad\n"
      "\t01  orphan subclass\nffff  Other vendor\n\t0001  skipped\n",
      {"8086"});
  CHECK(names.Vendor("8086") == "Intel");
  CHECK(names.Device("8086", "abcd") == "Device");
  CHECK(names.Device("8086", "1234").empty());
  CHECK(names.Vendor("ffff").empty());
  CHECK(names.Device("ffff", "0001").empty());
  CHECK(names.Class("030000") == "VGA");
  CHECK(names.Class("0380") == "Display");
  CHECK(names.Class("07").empty());
}
