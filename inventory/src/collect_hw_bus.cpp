// Devices on the PCI and USB buses, and the display controllers among the
// PCI ones (video), named from the pci.ids / usb.ids databases when the
// machine has them.
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "collect_hw.h"

namespace inventory::hw {
namespace {

constexpr std::string_view kPciDir = "sys/bus/pci/devices";
constexpr std::string_view kUsbDir = "sys/bus/usb/devices";

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

struct PciDevice {
  std::string slot;
  std::string cls;  // 6 hex digits: class, subclass, programming interface
  std::string vendor;
  std::string device;
  std::string subsystem_vendor;
  std::string subsystem_device;
  std::string revision;
  std::string driver;
};

std::vector<PciDevice> ReadPci(const Root& root) {
  std::vector<PciDevice> out;
  for (const std::string& slot : root.List(kPciDir)) {
    std::string dir = std::string(kPciDir) + "/" + slot;
    PciDevice d;
    d.slot = slot;
    d.cls = SysfsHex(root.ReadTrimmed(dir + "/class"));
    if (d.cls.size() != 6) d.cls.clear();
    d.vendor = SysfsHex(root.ReadTrimmed(dir + "/vendor"));
    d.device = SysfsHex(root.ReadTrimmed(dir + "/device"));
    d.subsystem_vendor = SysfsHex(root.ReadTrimmed(dir + "/subsystem_vendor"));
    d.subsystem_device = SysfsHex(root.ReadTrimmed(dir + "/subsystem_device"));
    d.revision = SysfsHex(root.ReadTrimmed(dir + "/revision"));
    std::string driver = root.LinkTarget(dir + "/driver");
    if (!driver.empty()) d.driver = Basename(driver);
    out.push_back(std::move(d));
  }
  return out;
}

constexpr std::string_view kPciIds[] = {"usr/share/misc/pci.ids", "usr/share/hwdata/pci.ids"};
constexpr std::string_view kUsbIds[] = {"usr/share/misc/usb.ids", "var/lib/usbutils/usb.ids",
                                        "usr/share/hwdata/usb.ids"};

IdNames LoadPciNames(const Root& root, const std::vector<PciDevice>& devices, Section* s) {
  IdNames names;
  std::set<std::string> vendors;
  for (const PciDevice& d : devices) vendors.insert(d.vendor);
  if (!devices.empty() && !LoadIdNames(root, kPciIds, vendors, &names)) {
    s->notes.push_back(root.Path(kPciIds[0]) + ": absent, devices are listed without names");
  }
  return names;
}

}  // namespace

Section CollectPci(const Root& root) {
  Section s;
  s.name = "pci";
  std::vector<PciDevice> devices = ReadPci(root);
  IdNames names = LoadPciNames(root, devices, &s);
  for (const PciDevice& d : devices) {
    Item item;
    item.key = d.slot;
    item.Add("class", d.cls);
    item.Add("vendor_id", d.vendor);
    item.Add("device_id", d.device);
    item.Add("subsystem_vendor_id", d.subsystem_vendor);
    item.Add("subsystem_device_id", d.subsystem_device);
    item.Add("revision", d.revision);
    item.Add("driver", d.driver);
    item.Add("vendor_name", names.Vendor(d.vendor));
    item.Add("device_name", names.Device(d.vendor, d.device));
    if (!d.cls.empty()) item.Add("class_name", names.Class(d.cls));
    s.items.push_back(std::move(item));
  }
  s.SortItems();
  return s;
}

Section CollectVideo(const Root& root) {
  Section s;
  s.name = "video";
  std::vector<PciDevice> all = ReadPci(root);
  std::vector<PciDevice> devices;
  for (const PciDevice& d : all) {
    if (StartsWith(d.cls, "03")) devices.push_back(d);
  }
  IdNames names;
  if (!devices.empty()) names = LoadPciNames(root, devices, &s);

  // Connected outputs per PCI slot: /sys/class/drm/card<N>-<connector>/ has
  // status and modes (the preferred mode first); card<N>/device links to the
  // PCI device. Which monitors are plugged in changes with docking, hence
  // the field is volatile.
  std::map<std::string, std::string> outputs;
  for (const std::string& entry : root.List("sys/class/drm")) {
    size_t dash = entry.find('-');
    if (!StartsWith(entry, "card") || dash == std::string::npos) continue;
    std::string dir = "sys/class/drm/" + entry;
    if (root.ReadTrimmed(dir + "/status") != "connected") continue;
    std::string slot =
        Basename(root.LinkTarget("sys/class/drm/" + entry.substr(0, dash) + "/device"));
    if (slot.empty()) continue;
    std::string modes = root.ReadTrimmed(dir + "/modes");
    std::string mode(Trim(modes.substr(0, modes.find('\n'))));
    std::string& out = outputs[slot];
    if (!out.empty()) out += ", ";
    out += entry.substr(dash + 1);
    if (!mode.empty()) out += " " + mode;
  }

  for (const PciDevice& d : devices) {
    Item item;
    item.key = d.slot;
    std::string name = names.Device(d.vendor, d.device);
    item.Add("name", name.empty() ? d.vendor + ":" + d.device : name);
    std::string vendor = names.Vendor(d.vendor);
    item.Add("vendor", vendor.empty() ? d.vendor : vendor);
    item.Add("driver", d.driver);
    auto it = outputs.find(d.slot);
    if (it != outputs.end()) item.Add("outputs", it->second);
    s.items.push_back(std::move(item));
  }
  s.SortItems();
  return s;
}

Section CollectUsb(const Root& root) {
  Section s;
  s.name = "usb";
  struct UsbDevice {
    std::string name;
    std::string vendor;
    std::string product;
    std::string cls;
  };
  std::vector<UsbDevice> devices;
  std::set<std::string> vendors;
  // Interfaces (1-1.2:1.0) have no idVendor: only devices are listed.
  for (const std::string& name : root.List(kUsbDir)) {
    std::string dir = std::string(kUsbDir) + "/" + name;
    std::string vendor = SysfsHex(root.ReadTrimmed(dir + "/idVendor"));
    if (vendor.empty()) continue;
    UsbDevice d{name, vendor, SysfsHex(root.ReadTrimmed(dir + "/idProduct")),
                SysfsHex(root.ReadTrimmed(dir + "/bDeviceClass"))};
    vendors.insert(vendor);
    devices.push_back(std::move(d));
  }
  IdNames names;
  if (!devices.empty() && !LoadIdNames(root, kUsbIds, vendors, &names)) {
    s.notes.push_back(root.Path(kUsbIds[0]) + ": absent, devices are listed without names");
  }
  for (const UsbDevice& d : devices) {
    std::string dir = std::string(kUsbDir) + "/" + d.name;
    Item item;
    item.key = d.name;
    item.Add("vendor_id", d.vendor);
    item.Add("product_id", d.product);
    item.Add("manufacturer", root.ReadTrimmed(dir + "/manufacturer"));
    item.Add("product", root.ReadTrimmed(dir + "/product"));
    item.Add("serial", root.ReadTrimmed(dir + "/serial"));
    item.Add("class", d.cls);
    // "1.5" for low-speed devices: decimal, not always an integer.
    item.Add("speed_mbps", root.ReadTrimmed(dir + "/speed"));
    item.Add("vendor_name", names.Vendor(d.vendor));
    item.Add("product_name", names.Device(d.vendor, d.product));
    // Class 00 means "see the interfaces": no name for it.
    if (!d.cls.empty() && d.cls != "00") item.Add("class_name", names.Class(d.cls));
    s.items.push_back(std::move(item));
  }
  s.SortItems();
  return s;
}

}  // namespace inventory::hw
