#!/usr/bin/env python3
"""Writes the hardware collectors' fixture trees (tests/inventory/collect_hw_test.cpp):

  laptop/          a ThinkPad-like laptop: DMI, 4-core/8-thread CPU, two SMBIOS type 17
                   memory modules and an empty slot, NVMe disk, USB stick, Intel GPU with
                   two monitors, USB devices, a battery
  laptop_broken/   its broken twin: truncated and lying SMBIOS blobs, garbage values,
                   unreadable files (dangling links), missing files
  container/<x>/   container marks: docker, podman, lxc, nspawn, cgroup-only, broken
  root/            additions to the shared fixture (new paths only)

The SMBIOS blobs follow DSP0134 7.18 (Memory Device, type 17). Re-run after a
change and commit the output: `python3 tests/data/inventory/make_hw_fixtures.py`.
"""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(root, rel, data):
    path = os.path.join(HERE, root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)


def link(root, rel, target):
    path = os.path.join(HERE, root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.remove(path)
    os.symlink(target, path)


def smbios17(handle, size_word, mem_type, speed, strings, ext_size=0, length=0x28,
             locator=1, bank=2, maker=3, serial=4, part=6):
    """A type 17 structure: formatted area (SMBIOS 2.8 length 0x28) + string set."""
    body = struct.pack(
        "<BBH" "HHHHH" "BB" "BB" "BH" "H" "BBBB" "B" "I" "H" "HHH",
        17, length, handle,
        0x1000, 0xFFFE, 64, 64, size_word,       # array, error handle, widths, size
        0x0D, 0,                                 # form factor SODIMM, device set
        locator, bank,                           # string numbers
        mem_type, 0x0080,                        # type, type detail (synchronous)
        speed,
        maker, serial, 5, part,                  # manufacturer, serial, asset tag, part
        1,                                       # attributes: rank 1
        ext_size,
        speed,                                   # configured speed
        1200, 1200, 1200)                        # voltages, mV
    assert len(body) == 0x28, len(body)
    body = body[:length] if length < 0x28 else body
    table = b"".join(s.encode() + b"\0" for s in strings) + b"\0"
    if not strings:
        table = b"\0\0"
    return body + table


MODULE_A = smbios17(0x0040, 16384, 0x1A, 3200,
                    ["ChannelA-DIMM0", "BANK 0", "Samsung", "03B2C4D5", "None",
                     "M471A2K43EB1-CWE    "])
MODULE_B = smbios17(0x0041, 0x7FFF, 0x1A, 3200,
                    ["ChannelB-DIMM0", "BANK 2", "Micron", "2A4F19C7", "None",
                     "MTA16ATF4G64HZ-3G2E1"], ext_size=32768)
EMPTY_SLOT = smbios17(0x0042, 0, 0x02, 0,
                      ["ChannelB-DIMM1", "BANK 3", "Not Specified", "Not Specified",
                       "None", "Not Specified"])


def laptop(root, broken):
    shutil.rmtree(os.path.join(HERE, root), ignore_errors=True)
    dmi = {
        "bios_vendor": "LENOVO", "bios_version": "N32ET86W (1.62 )", "bios_date": "03/14/2024",
        "bios_release": "1.62", "board_vendor": "LENOVO", "board_name": "20XWCTO1WW",
        "board_version": "SDK0J40697 WIN", "board_asset_tag": "Not Available",
        "board_serial": "L1HF16A01AB", "chassis_type": "10", "chassis_vendor": "LENOVO",
        "chassis_version": "None", "chassis_serial": "PF2ABCDE",
        "chassis_asset_tag": "No Asset Information", "product_name": "20XWCTO1WW",
        "product_version": "ThinkPad X1 Carbon Gen 9",
        "product_family": "ThinkPad X1 Carbon Gen 9",
        "product_sku": "LENOVO_MT_20XW_BU_Think_FM_ThinkPad X1 Carbon Gen 9",
        "product_serial": "PF2ABCDE", "product_uuid": "4c4c4544-0042-3510-8052-b7c04f4e3632",
        "sys_vendor": "LENOVO", "ec_firmware_release": "1.32",
        "modalias": "dmi:bvnLENOVO:bvrN32ET86W(1.62):\n", "uevent": "MODALIAS=dmi:bvnLENOVO\n",
    }
    if broken:
        dmi["chassis_type"] = "garbage"
        for name in ("board_serial", "chassis_serial", "product_serial", "product_uuid"):
            del dmi[name]
            link(root, "sys/class/dmi/id/" + name, "/nonexistent/needs-root")
        del dmi["bios_vendor"]
    for name, value in dmi.items():
        put(root, "sys/class/dmi/id/" + name, value if value.endswith("\n") else value + "\n")
    put(root, "sys/class/dmi/id/power/control", "auto\n")

    # CPU: one package, 4 cores, 2 threads each; cpuN and cpuN+4 are siblings.
    blocks = []
    for n in range(8):
        blocks.append(
            f"processor\t: {n}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 140\n"
            "model name\t: 11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz\nstepping\t: 1\n"
            f"cpu MHz\t\t: {1234.567 + n:.3f}\nphysical id\t: 0\nsiblings\t: 8\n"
            f"core id\t\t: {n % 4}\ncpu cores\t: 4\nflags\t\t: fpu vme de pse tsc msr lm\n\n")
        d = f"sys/devices/system/cpu/cpu{n}/"
        put(root, d + "topology/physical_package_id", "0\n")
        put(root, d + "topology/core_id", f"{n % 4}\n")
        put(root, d + "cpufreq/cpuinfo_max_freq", "4700000\n")
    cpuinfo = "".join(blocks)
    if broken:
        cpuinfo = ("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu MHz\t\t: fast\n"
                   "no colon on this line\n:\n: value without key\n"
                   "processor\t: x\nprocessor\t: 99999999999999999999999\n"
                   "processor\t: 1\nmodel name\t: \ncpu MHz\t\t: 1e308\n")
    put(root, "proc/cpuinfo", cpuinfo)

    if not broken:
        put(root, "proc/meminfo", "MemTotal:       48926348 kB\nMemFree:  1000 kB\n"
                                  "SwapTotal:       8388604 kB\n")
    put(root, "sys/firmware/dmi/entries/17-0/raw", MODULE_A if not broken else MODULE_A[:0x14])
    put(root, "sys/firmware/dmi/entries/17-1/raw",
        MODULE_B if not broken else bytes([17, 0xFF]) + MODULE_B[2:0x20])
    put(root, "sys/firmware/dmi/entries/17-2/raw", EMPTY_SLOT)
    put(root, "sys/firmware/dmi/entries/16-0/raw", b"\x10\x17\x00\x10")  # not type 17: ignored
    if broken:
        put(root, "sys/firmware/dmi/entries/17-3/raw", b"\x11\x28")
        put(root, "sys/firmware/dmi/entries/17-4/raw", MODULE_A[:0x28] + b"DIMM X")
        put(root, "sys/firmware/dmi/entries/17-5/raw", b"\x10" + MODULE_A[1:])
        link(root, "sys/firmware/dmi/entries/17-6/raw", "/nonexistent/needs-root")

    put(root, "proc/swaps",
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        "/dev/nvme0n1p3                          partition\t8388604\t\t0\t\t-2\n"
        "/swap\\040file                           file\t\t1048572\t\t0\t\t-3\n"
        if not broken else
        "Filename\tType\tSize\tUsed\tPriority\ngarbage\n/swapfile file lots 0 -2\n"
        "/dev/sdz partition 1024 0 5\n")

    # Block devices: an NVMe disk and a USB stick.
    nvme = "sys/devices/pci0000:00/0000:00:06.0/0000:04:00.0/nvme/nvme0/nvme0n1"
    link(root, "sys/block/nvme0n1", "../devices/pci0000:00/0000:00:06.0/0000:04:00.0/nvme/nvme0/nvme0n1")
    put(root, nvme + "/size", "2000409264\n" if not broken else "lots\n")
    put(root, nvme + "/dev", "259:0\n")
    put(root, nvme + "/removable", "0\n")
    put(root, nvme + "/queue/rotational", "0\n" if not broken else "maybe\n")
    put(root, nvme + "/device/model", "SAMSUNG MZVL21T0HCLR-00BL7              \n")
    if not broken:
        put(root, nvme + "/device/serial", "S64PNX0R123456      \n")
    put(root, nvme + "/device/firmware_rev", "GXA7401Q\n")
    usb = "sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sda"
    link(root, "sys/block/sda", "../devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host0/"
                                "target0:0:0/0:0:0:0/block/sda")
    put(root, usb + "/size", "61341696\n")
    put(root, usb + "/dev", "8:0\n")
    put(root, usb + "/removable", "1\n")
    put(root, usb + "/queue/rotational", "1\n")
    put(root, usb + "/device/model", "Extreme         \n")
    put(root, usb + "/device/vendor", "SanDisk \n")
    put(root, usb + "/device/rev", "0001\n")
    put(root, usb + "/device/type", "0\n")
    put(root, "run/udev/data/b8:0", "S:disk/by-id/usb-SanDisk_Extreme\n"
                                    "E:ID_SERIAL=SanDisk_Extreme_4C530001231119115142-0:0\n"
                                    "E:ID_SERIAL_SHORT=4C530001231119115142\n")
    link(root, "sys/block/loop0", "../devices/virtual/block/loop0")

    mounts = ("/dev/nvme0n1p2 / ext4 rw,relatime,errors=remount-ro 0 0\n"
              "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
              "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
              "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"
              "tmpfs /run tmpfs rw,nosuid,nodev,size=4893000k,mode=755 0 0\n"
              "tmpfs /run/user/1000 tmpfs rw,nosuid,nodev,relatime,size=4892632k 0 0\n"
              "/dev/nvme0n1p1 /boot/efi vfat rw,relatime,fmask=0077,dmask=0077 0 0\n"
              "/dev/sda1 /media/anna/My\\040Stick exfat ro,nosuid,nodev,relatime 0 0\n"
              "server:/export /mnt/nfs nfs4 rw,relatime,vers=4.2 0 0\n"
              "/dev/mapper/vg-data /data xfs rw,relatime 0 0\n"
              "/dev/nvme0n1p2 /data ext4 ro,relatime 0 0\n"
              "/dev/mapper/vg-data /srv xfs rw,relatime 0 0\n")
    if broken:
        mounts = ("/dev/nvme0n1p2 / ext4\n\n   \n/dev/sdz9 /a\\999b ext4 ro 0 0\n"
                  "/dev/sdz8 /trailing\\04 ext4 rw 0 0\n" + "x " * 3 + "\n")
    put(root, "proc/self/mounts", mounts)
    for name, dev in (("0b1c2d3e-1111-4a4a-9b9b-123456789abc", "nvme0n1p2"),
                      ("A1B2-C3D4", "nvme0n1p1"), ("64E1-2F3A", "sda1"),
                      ("77777777-2222-4b4b-8c8c-abcdefabcdef", "dm-0")):
        link(root, "dev/disk/by-uuid/" + name, "../../" + dev)
    link(root, "dev/disk/by-label/My\\x20Stick", "../../sda1")
    link(root, "dev/disk/by-label/EFI", "../../nvme0n1p1")
    link(root, "dev/mapper/vg-data", "../dm-0")

    # PCI: the GPU, the USB controller, the NVMe controller.
    pci = [("0000:00:02.0", "0x030000", "0x8086", "0x9a49", "0x17aa", "0x22d8", "0x01", "i915"),
           ("0000:00:14.0", "0x0c0330", "0x8086", "0xa0ed", "0x17aa", "0x22d8", "0x20", "xhci_hcd"),
           ("0000:04:00.0", "0x010802", "0x144d", "0xa80a", "0x144d", "0xa801", "0x00", "nvme"),
           ("0000:00:1f.0", "0x060100", "0x8086", "0xa082", "0x17aa", "0x22d8", "0x20", None)]
    for slot, cls, ven, dev, sven, sdev, rev, drv in pci:
        d = f"sys/bus/pci/devices/{slot}/"
        if broken and slot == "0000:00:14.0":
            cls, ven = "zz", None
        for name, value in (("class", cls), ("vendor", ven), ("device", dev),
                            ("subsystem_vendor", sven), ("subsystem_device", sdev),
                            ("revision", rev)):
            if value is not None:
                put(root, d + name, value + "\n")
        if drv:
            link(root, d + "driver", "../../../bus/pci/drivers/" + drv)
    if not broken:
        put(root, "usr/share/misc/pci.ids",
            "# pci.ids excerpt for tests\n#\tcomment\n"
            "144d  Samsung Electronics Co Ltd\n"
            "\ta80a  NVMe SSD Controller PM9A1/PM9A3/980PRO\n"
            "\t\t144d a801  SSD 980 PRO\n"
            "8086  Intel Corporation\n"
            "\t9a49  TigerLake-LP GT2 [Iris Xe Graphics]\n"
            "\ta0ed  Tiger Lake-LP USB 3.2 Gen 2x1 xHCI Host Controller\n"
            "\ta082  Tiger Lake-LP LPC Controller\n"
            "C 01  Mass storage controller\n\t08  Non-Volatile memory controller\n"
            "\t\t02  NVM Express\n"
            "C 03  Display controller\n\t00  VGA compatible controller\n"
            "C 06  Bridge\n\t01  ISA bridge\n"
            "C 0c  Serial bus controller\n\t03  USB controller\n\t\t30  XHCI\n")
    link(root, "sys/class/drm/card0", "../../devices/pci0000:00/0000:00:02.0/drm/card0")
    link(root, "sys/devices/pci0000:00/0000:00:02.0/drm/card0/device", "../../../0000:00:02.0")
    for conn, status, modes in (("eDP-1", "connected", "1920x1200\n1600x1200\n"),
                                ("DP-1", "connected", "2560x1440\n1920x1080\n"),
                                ("HDMI-A-1", "disconnected", "")):
        put(root, f"sys/class/drm/card0-{conn}/status", status + "\n")
        put(root, f"sys/class/drm/card0-{conn}/modes", modes)
    put(root, "sys/class/drm/version", "drm 1.1.0 20060810\n")

    usbdevs = {
        "usb2": {"idVendor": "1d6b", "idProduct": "0003", "bDeviceClass": "09", "speed": "10000",
                 "manufacturer": "Linux 6.1.0-18-amd64 xhci-hcd", "product": "xHCI Host Controller",
                 "serial": "0000:00:14.0"},
        "2-1": {"idVendor": "0781", "idProduct": "5581", "bDeviceClass": "00", "speed": "5000",
                "manufacturer": "SanDisk", "product": "Extreme", "serial": "4C530001231119115142"},
        "1-3": {"idVendor": "046d", "idProduct": "c52b", "bDeviceClass": "00", "speed": "12",
                "manufacturer": "Logitech", "product": "USB Receiver"},
        "1-4": {"idVendor": "8087", "idProduct": "0026", "bDeviceClass": "e0", "speed": "1.5"},
        "1-3:1.0": {"bInterfaceClass": "03"},
    }
    if broken:
        usbdevs["1-3"]["idVendor"] = "xyz!"
        del usbdevs["2-1"]["idProduct"]
    for name, files in usbdevs.items():
        for f, v in files.items():
            put(root, f"sys/bus/usb/devices/{name}/{f}", v + "\n")
    if not broken:
        put(root, "var/lib/usbutils/usb.ids",
            "# usb.ids excerpt for tests\n"
            "046d  Logitech, Inc.\n\tc52b  Unifying Receiver\n"
            "0781  SanDisk Corp.\n\t5581  Ultra\n"
            "1d6b  Linux Foundation\n\t0002  2.0 root hub\n\t0003  3.0 root hub\n"
            "8087  Intel Corp.\n\t0026  AX201 Bluetooth\n"
            "C 09  Hub\n\t00  Unused\n"
            "C e0  Wireless\n\t01  Radio Frequency\n"
            "AT 0001  Audio Terminal\n"
            "HID 00  None\n")

    bat = {"type": "Battery", "manufacturer": "SMP", "model_name": "5B10W13975",
           "serial_number": "  1234", "technology": "Li-poly", "energy_full_design": "57000000",
           "energy_full": "51234567", "voltage_min_design": "11520000", "cycle_count": "87",
           "capacity": "76", "status": "Discharging"}
    if broken:
        bat.update({"energy_full_design": "-5", "energy_full": "", "voltage_min_design": "0",
                    "capacity": "250", "cycle_count": "many"})
        # BAT1 reports charge (µAh) but no voltage: no capacity in Wh.
        put(root, "sys/class/power_supply/BAT1/type", "Battery\n")
        put(root, "sys/class/power_supply/BAT1/charge_full_design", "4000000\n")
    else:
        # BAT1 reports charge in µAh: capacity = charge × minimum design voltage.
        for f, v in {"type": "Battery", "charge_full_design": "4000000", "charge_full": "3900000",
                     "voltage_min_design": "11550000", "status": "Full", "capacity": "100"}.items():
            put(root, f"sys/class/power_supply/BAT1/{f}", v + "\n")
    for f, v in bat.items():
        put(root, f"sys/class/power_supply/BAT0/{f}", v + "\n")
    put(root, "sys/class/power_supply/AC/type", "Mains\n")
    put(root, "sys/class/power_supply/AC/online", "1\n")
    put(root, "proc/sys/kernel/osrelease", "6.1.0-18-amd64\n")


def container(name, files, links=()):
    root = "container/" + name
    shutil.rmtree(os.path.join(HERE, root), ignore_errors=True)
    for rel, data in files.items():
        put(root, rel, data)
    for rel, target in links:
        link(root, rel, target)


def containers():
    qemu_dmi = {"sys/class/dmi/id/sys_vendor": "QEMU\n",
                "sys/class/dmi/id/product_name": "Standard PC (Q35 + ICH9, 2009)\n"}
    container("docker", {".dockerenv": "", "proc/1/cgroup": "0::/\n", **qemu_dmi})
    container("podman", {"run/.containerenv": "engine=\"podman-4.3.1\"\n",
                         "proc/1/environ": "PATH=/usr/bin\0container=podman\0HOME=/root\0"})
    container("lxc", {"proc/1/environ": "container=lxc\0TERM=linux\0",
                      "sys/class/dmi/id/sys_vendor": "VMware, Inc.\n"})
    container("lxc_libvirt", {"proc/1/environ": "container=lxc-libvirt\0"})
    container("nspawn", {"run/systemd/container": "systemd-nspawn\n",
                         "proc/1/environ": "container=docker\0"})
    container("cgroup_docker", {"proc/1/cgroup": "12:pids:/docker/3f2a9b\n0::/docker/3f2a9b\n"})
    container("wsl", {"proc/sys/kernel/osrelease": "5.15.133.1-microsoft-standard-WSL2\n"})
    # Broken: empty declarations, environ without NULs or a value, cgroup of
    # the host; a hypervisor flag remains, so it is a VM of unknown kind.
    container("broken", {"run/systemd/container": "\n", "proc/1/environ": "container=",
                         "proc/1/cgroup": "0::/init.scope\n",
                         "proc/cpuinfo": "processor : 0\nflags : fpu hypervisor lm\n"})
    container("vm_xen", {"sys/hypervisor/type": "xen\n"})
    container("vm_kvm_dt", {"proc/device-tree/hypervisor/compatible": "linux,kvm\0"})
    container("vm_hyperv", {"sys/class/dmi/id/sys_vendor": "Microsoft Corporation\n",
                            "sys/class/dmi/id/product_name": "Virtual Machine\n"})


def root_additions():
    r = "root"
    put(r, "sys/class/dmi/id/bios_vendor", "SeaBIOS\n")
    put(r, "sys/class/dmi/id/bios_version", "1.16.2-debian-1.16.2-1\n")
    put(r, "sys/class/dmi/id/chassis_type", "1\n")
    put(r, "proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
    put(r, "proc/self/mounts", "/dev/vda1 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n"
                               "overlay /var/lib/docker/overlay2/abc/merged overlay "
                               "rw,relatime,lowerdir=/l,upperdir=/u,workdir=/w 0 0\n")
    for slot, cls, ven, dev in (("0000:00:01.0", "0x030000", "0x1234", "0x1111"),
                                ("0000:00:02.0", "0x010000", "0x1af4", "0x1001")):
        for name, value in (("class", cls), ("vendor", ven), ("device", dev),
                            ("subsystem_vendor", "0x1af4"), ("subsystem_device", "0x1100"),
                            ("revision", "0x02")):
            put(r, f"sys/bus/pci/devices/{slot}/{name}", value + "\n")


if __name__ == "__main__":
    laptop("laptop", broken=False)
    laptop("laptop_broken", broken=True)
    containers()
    root_additions()
