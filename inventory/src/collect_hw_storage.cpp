// Drives (the block devices that are hardware) and mounted file systems.
#include <sys/statvfs.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "collect_hw.h"
#include "collectors.h"

namespace inventory::hw {
namespace {

std::string Basename(std::string_view path) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// The bus a disk hangs off, from where its device sits in the sysfs tree (the
// /sys/block/<name> link target). The order matters: a USB stick is also a
// SCSI disk, a SATA disk is a SCSI disk behind an ATA port.
std::string Transport(const std::string& name, const std::string& link) {
  if (StartsWith(name, "nvme") || link.find("/nvme/") != std::string::npos) return "nvme";
  if (link.find("/usb") != std::string::npos) return "usb";
  if (link.find("/virtio") != std::string::npos) return "virtio";
  if (link.find("/mmc_host/") != std::string::npos) return "mmc";
  if (link.find("/ata") != std::string::npos) return "sata";
  if (link.find("/session") != std::string::npos) return "iscsi";
  if (link.find("/vbd-") != std::string::npos) return "xen";
  if (link.find("/host") != std::string::npos && link.find("/target") != std::string::npos) {
    return "scsi";
  }
  return std::string();
}

// SCSI peripheral device type (device/type): 5 is a CD/DVD drive, 1 a tape;
// 0 and 14 (reduced block commands) are disks.
std::string DriveType(const Root& root, const std::string& name) {
  std::string t = root.ReadTrimmed("sys/block/" + name + "/device/type");
  if (t == "5" || StartsWith(name, "sr")) return "cdrom";
  if (t == "1") return "tape";
  return "disk";
}

std::string Flag(const std::string& v) {
  if (v == "1") return "true";
  if (v == "0") return "false";
  return std::string();
}

// The serial udev stored for a block device (E:ID_SERIAL_SHORT=...), for
// SATA and USB disks whose sysfs has no serial file.
std::string UdevSerial(const Root& root, const std::string& majmin) {
  if (majmin.find(':') == std::string::npos) return std::string();
  common::StatusOr<std::string> db = root.Read("run/udev/data/b" + majmin);
  if (!db.ok()) return std::string();
  for (std::string_view line : Lines(*db)) {
    if (StartsWith(line, "E:ID_SERIAL_SHORT=")) return std::string(Trim(line.substr(18)));
  }
  return std::string();
}

// by-uuid / by-label links name the device they point at ("../../vda1"): a
// map from that device's kernel name to the link's name. udev escapes
// characters like '/' and ' ' in labels as \x2f, \x20.
std::map<std::string, std::string> DiskLinks(const Root& root, const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const std::string& name : root.List(dir)) {
    std::string target = root.LinkTarget(dir + "/" + name);
    if (target.empty()) continue;
    std::string label;
    for (size_t i = 0; i < name.size(); ++i) {
      std::string hex = i + 3 < name.size() && name.compare(i, 2, "\\x") == 0
                            ? SysfsHex(name.substr(i + 2, 2))
                            : std::string();
      if (hex.size() == 2) {
        label += static_cast<char>(std::stoi(hex, nullptr, 16));
        i += 3;
      } else {
        label += name[i];
      }
    }
    out[Basename(target)] = label;
  }
  return out;
}

// The kernel name of the device a mount names: "/dev/vda1" -> "vda1",
// "/dev/mapper/vg-root" (a link to ../dm-0) -> "dm-0".
std::string DeviceName(const Root& root, const std::string& device) {
  if (!StartsWith(device, "/dev/")) return std::string();
  std::string target = root.LinkTarget(device.substr(1));
  return Basename(target.empty() ? device : target);
}

}  // namespace

// Memory-backed types are left out too: their contents vanish at reboot,
// their sizes follow RAM, and /run/user/<uid> comes and goes with every
// login, which would be noise in the change history.
bool IsPseudoFs(const std::string& type) {
  static constexpr std::string_view kPseudo[] = {
      "proc",       "sysfs",           "devpts",      "mqueue",      "debugfs",
      "tracefs",    "securityfs",      "pstore",      "bpf",         "autofs",
      "configfs",   "fusectl",         "hugetlbfs",   "binfmt_misc", "efivarfs",
      "nsfs",       "rpc_pipefs",      "nfsd",        "selinuxfs",   "smackfs",
      "cgroup",     "cgroup2",         "tmpfs",       "devtmpfs",    "ramfs",
      "fuse.lxcfs", "fuse.gvfsd-fuse", "fuse.portal", "xenfs",       "openpromfs"};
  return std::find(std::begin(kPseudo), std::end(kPseudo), type) != std::end(kPseudo);
}

bool IsNetworkFs(const std::string& type) {
  static constexpr std::string_view kNetwork[] = {
      "nfs",       "nfs4",       "cifs",           "smb3",      "smbfs", "ncpfs",  "9p",   "ceph",
      "glusterfs", "fuse.sshfs", "fuse.glusterfs", "fuse.s3fs", "afs",   "lustre", "gfs2", "ocfs2"};
  return std::find(std::begin(kNetwork), std::end(kNetwork), type) != std::end(kNetwork);
}

Section CollectDrives(const Root& root) {
  Section s;
  s.name = "drives";
  for (const std::string& name : root.List("sys/block")) {
    if (IsVirtualBlock(root, name)) continue;
    std::string dir = "sys/block/" + name;
    Item item;
    item.key = name;
    std::string transport = Transport(name, root.LinkTarget(dir));
    item.Add("model", root.ReadTrimmed(dir + "/device/model"));
    // A virtio disk's device/ is the virtio device, whose vendor file holds
    // the PCI vendor id (0x1af4), not a name.
    if (transport != "virtio") item.Add("vendor", root.ReadTrimmed(dir + "/device/vendor"));
    std::string serial = root.ReadTrimmed(dir + "/device/serial");
    if (serial.empty()) serial = UdevSerial(root, root.ReadTrimmed(dir + "/dev"));
    item.Add("serial", serial);
    uint64_t sectors = 0;
    // The size file counts 512-byte units whatever the sector size.
    if (ParseU64(root.ReadTrimmed(dir + "/size"), &sectors) && sectors <= UINT64_MAX / 512) {
      item.Add("size_bytes", std::to_string(sectors * 512));
    }
    item.Add("rotational", Flag(root.ReadTrimmed(dir + "/queue/rotational")));
    item.Add("removable", Flag(root.ReadTrimmed(dir + "/removable")));
    item.Add("transport", transport);
    std::string firmware = root.ReadTrimmed(dir + "/device/firmware_rev");   // nvme
    if (firmware.empty()) firmware = root.ReadTrimmed(dir + "/device/rev");  // scsi, ata
    item.Add("firmware", firmware);
    item.Add("type", DriveType(root, name));
    s.items.push_back(std::move(item));
  }
  s.SortItems();
  return s;
}

Section CollectFilesystems(const Root& root) {
  Section s;
  s.name = "filesystems";
  common::StatusOr<std::string> text = root.Read("proc/self/mounts", 16u << 20);
  if (!text.ok()) {
    s.notes.push_back(text.status().message());
    return s;
  }
  std::map<std::string, std::string> uuids = DiskLinks(root, "dev/disk/by-uuid");
  std::map<std::string, std::string> labels = DiskLinks(root, "dev/disk/by-label");
  // A later mount on the same point hides the earlier one: the last wins.
  std::map<std::string, Item> by_target;
  size_t line_no = 0;
  for (std::string_view line : Lines(*text)) {
    ++line_no;
    std::vector<std::string_view> cols;
    std::string_view rest = line;
    while (!(rest = Trim(rest)).empty()) {
      size_t end = rest.find_first_of(" \t");
      cols.push_back(rest.substr(0, end));
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    }
    if (cols.empty()) continue;
    if (cols.size() < 4) {
      s.notes.push_back(root.Path("proc/self/mounts") + ":" + std::to_string(line_no) +
                        ": fewer than 4 fields");
      continue;
    }
    std::string type = UnescapeOctal(cols[2]);
    if (IsPseudoFs(type)) continue;
    Item item;
    item.key = UnescapeOctal(cols[1]);
    std::string device = UnescapeOctal(cols[0]);
    item.Add("device", device);
    item.Add("type", type);
    std::string options = "," + std::string(cols[3]) + ",";
    item.Add("options", options.find(",ro,") != std::string::npos ? "ro" : "rw");
    // statvfs on a network file system whose server is gone blocks (hard
    // NFS mounts, for minutes or forever): the inventory must not hang there.
    if (root.is_live() && !IsNetworkFs(type)) {
      struct statvfs st {};
      if (::statvfs(item.key.c_str(), &st) == 0) {
        item.Add("size_bytes", std::to_string(static_cast<uint64_t>(st.f_blocks) * st.f_frsize));
        // What an unprivileged user can still write, as df's "Avail".
        item.Add("free_bytes", std::to_string(static_cast<uint64_t>(st.f_bavail) * st.f_frsize));
      }
    }
    std::string dev_name = DeviceName(root, device);
    if (!dev_name.empty()) {
      auto u = uuids.find(dev_name);
      if (u != uuids.end()) item.Add("uuid", u->second);
      auto l = labels.find(dev_name);
      if (l != labels.end()) item.Add("label", l->second);
    }
    by_target[item.key] = std::move(item);
  }
  for (auto& [target, item] : by_target) s.items.push_back(std::move(item));
  s.SortItems();
  return s;
}

}  // namespace inventory::hw
