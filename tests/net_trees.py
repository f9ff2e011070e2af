"""Builders of sysfs and procfs trees with network interfaces, for the tests.

Each builder writes below a root directory the files and relative symbolic links
the kernel shows: /sys/class/net/<name> links to the interface's directory under
/sys/devices, whose `device` link leads to the bus device with its `driver` and
`subsystem` links. Read the trees with sys_root=root / "sys" and
proc_root=root / "proc".
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.host_trees import write

PCI_ROOT = "/sys/devices/pci0000:00"
VIRTUAL_NET = "/sys/devices/virtual"
VLAN_CONFIG = "/proc/net/vlan/config"
# The two header lines of /proc/net/vlan/config (net/8021q/vlanproc.c).
VLAN_CONFIG_HEADER = (
    "VLAN Dev name\t | VLAN ID\nName-Type: VLAN_NAME_TYPE_RAW_PLUS_VID_NO_PAD\n"
)


def link(root: Path, path: str, target: str) -> None:
    """Create the link at host path `path` pointing relatively to host path `target`."""
    location = root / path.lstrip("/")
    location.parent.mkdir(parents=True, exist_ok=True)
    destination = root / target.lstrip("/")
    destination.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(destination, location.parent), location)


def net_device(
    root: Path,
    parent: str,
    name: str,
    *,
    link_type: int = 1,
    operstate: str = "up",
    speed: int | None = None,
    devtype: str | None = None,
    iflink: int | None = None,
) -> str:
    """Write interface `name` below the device directory `parent`; return its path.

    ifindex counts up from 1 in the order the interfaces are written.
    """
    ifindex = len(list((root / "sys/class/net").glob("*"))) + 1
    directory = f"{parent}/net/{name}"
    uevent = f"DEVTYPE={devtype}\n" if devtype else ""
    write(root, f"{directory}/uevent", f"{uevent}INTERFACE={name}\nIFINDEX={ifindex}\n")
    write(root, f"{directory}/type", f"{link_type}\n")
    write(root, f"{directory}/ifindex", f"{ifindex}\n")
    write(root, f"{directory}/iflink", f"{iflink or ifindex}\n")
    write(root, f"{directory}/operstate", f"{operstate}\n")
    write(root, f"{directory}/address", f"02:00:00:00:00:{ifindex:02x}\n")
    if speed is not None:
        write(root, f"{directory}/speed", f"{speed}\n")
    link(root, f"/sys/class/net/{name}", directory)
    return directory


def pci_function(
    root: Path,
    address: str,
    *,
    driver: str,
    vendor: str,
    device_id: str,
    subsystem_vendor: str | None = None,
) -> str:
    """Write a PCI function bound to `driver`; return its device directory."""
    directory = f"{PCI_ROOT}/{address}"
    write(root, f"{directory}/vendor", f"{vendor}\n")
    write(root, f"{directory}/device", f"{device_id}\n")
    write(root, f"{directory}/subsystem_vendor", f"{subsystem_vendor or vendor}\n")
    link(root, f"{directory}/driver", f"/sys/bus/pci/drivers/{driver}")
    link(root, f"{directory}/subsystem", "/sys/bus/pci")
    return directory


def pci_nic(
    root: Path,
    name: str,
    *,
    address: str,
    driver: str = "ixgbe",
    vendor: str = "0x8086",
    device_id: str = "0x10fb",
    subsystem_vendor: str | None = None,
    speed: int | None = 10000,
    link_type: int = 1,
    devtype: str | None = None,
    total_vfs: int | None = None,
    num_vfs: int | None = None,
    physfn: str | None = None,
) -> str:
    """Write a NIC on a PCI function (an Intel 82599 by default); return its path.

    `total_vfs` and `num_vfs` make it an SR-IOV PF; `physfn`, the PCI address of
    a PF, makes it a VF.
    """
    device = pci_function(
        root,
        address,
        driver=driver,
        vendor=vendor,
        device_id=device_id,
        subsystem_vendor=subsystem_vendor,
    )
    if total_vfs is not None:
        write(root, f"{device}/sriov_totalvfs", f"{total_vfs}\n")
    if num_vfs is not None:
        write(root, f"{device}/sriov_numvfs", f"{num_vfs}\n")
    if physfn is not None:
        link(root, f"{device}/physfn", f"{PCI_ROOT}/{physfn}")
    directory = net_device(
        root, device, name, link_type=link_type, speed=speed, devtype=devtype
    )
    link(root, f"{directory}/device", device)
    return directory


def virtio_nic(root: Path, name: str, *, address: str, index: int) -> str:
    """Write a virtio-net NIC: virtio device <index> on a virtio PCI function."""
    function = pci_function(
        root, address, driver="virtio-pci", vendor="0x1af4", device_id="0x1000"
    )
    device = f"{function}/virtio{index}"
    link(root, f"{device}/driver", "/sys/bus/virtio/drivers/virtio_net")
    link(root, f"{device}/subsystem", "/sys/bus/virtio")
    # virtio-net reports SPEED_UNKNOWN unless the host sets a speed.
    directory = net_device(root, device, name, speed=-1)
    link(root, f"{directory}/device", device)
    return directory


def virtual_netdev(
    root: Path,
    name: str,
    *,
    link_type: int = 1,
    devtype: str | None = None,
    operstate: str = "up",
    iflink: int | None = None,
) -> str:
    """Write an interface under /sys/devices/virtual/net; return its path."""
    return net_device(
        root,
        VIRTUAL_NET,
        name,
        link_type=link_type,
        operstate=operstate,
        devtype=devtype,
        iflink=iflink,
    )


def loopback(root: Path) -> str:
    directory = virtual_netdev(root, "lo", link_type=772, operstate="unknown")
    write(root, f"{directory}/address", "00:00:00:00:00:00\n")
    return directory


def stack(root: Path, upper: str, lower: str) -> None:
    """Write the lower_/upper_ links between two interfaces, as sysfs has them."""
    upper_dir = str((root / f"sys/class/net/{upper}").resolve().relative_to(root))
    lower_dir = str((root / f"sys/class/net/{lower}").resolve().relative_to(root))
    link(root, f"/{upper_dir}/lower_{lower}", f"/{lower_dir}")
    link(root, f"/{lower_dir}/upper_{upper}", f"/{upper_dir}")


def bond(root: Path, name: str, slaves: list[str], mode: str = "802.3ad 4") -> str:
    """Write a bonding master over `slaves`; `mode` as bonding/mode shows it."""
    directory = virtual_netdev(root, name, devtype="bond")
    write(root, f"{directory}/bonding/mode", f"{mode}\n")
    write(root, f"{directory}/bonding/slaves", " ".join(slaves) + "\n")
    for slave in slaves:
        enslave(root, name, slave)
    return directory


def enslave(root: Path, master: str, slave: str) -> None:
    """Stack `slave` under `master` and write the slave's `master` link."""
    stack(root, master, slave)
    master_dir = (root / f"sys/class/net/{master}").resolve().relative_to(root)
    slave_dir = (root / f"sys/class/net/{slave}").resolve().relative_to(root)
    link(root, f"/{slave_dir}/master", f"/{master_dir}")


def vlan(
    root: Path, name: str, *, parent: str, vid: int, proc_config: bool = True
) -> str:
    """Write a VLAN interface on `parent`, and its config line if proc_config."""
    parent_index = int((root / f"sys/class/net/{parent}/ifindex").read_text())
    directory = virtual_netdev(root, name, devtype="vlan", iflink=parent_index)
    stack(root, name, parent)
    if proc_config:
        config = root / VLAN_CONFIG.lstrip("/")
        text = config.read_text() if config.exists() else VLAN_CONFIG_HEADER
        # The kernel prints "%-15s| %d  | %s\n": name, VLAN id, parent.
        write(root, VLAN_CONFIG, text + f"{name:<15}| {vid}  | {parent}\n")
    return directory


def rdma_device(
    root: Path,
    name: str,
    *,
    address: str | None,
    ports: list[tuple[str, str, str | None]],
) -> str:
    """Write RDMA device `name` on PCI function `address`; return its path.

    With no address the device is software RDMA (soft RoCE), registered under
    /sys/devices/virtual. Each port is (link_layer, state, netdev); a netdev
    fills the port's GID table entry as RoCE ports have it.
    """
    if address is None:
        directory = f"{VIRTUAL_NET}/infiniband/{name}"
    else:
        device = f"{PCI_ROOT}/{address}"
        directory = f"{device}/infiniband/{name}"
        link(root, f"{directory}/device", device)
    for number, (layer, state, netdev) in enumerate(ports, start=1):
        port = f"{directory}/ports/{number}"
        write(root, f"{port}/link_layer", f"{layer}\n")
        write(root, f"{port}/state", f"{state}\n")
        if netdev is not None:
            write(root, f"{port}/gid_attrs/ndevs/0", f"{netdev}\n")
    link(root, f"/sys/class/infiniband/{name}", directory)
    return directory
