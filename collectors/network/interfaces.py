"""Network interfaces of this host as evidence of dedicated network infrastructure.

`read_interfaces()` lists the interfaces of the current network namespace from
/sys/class/net, `read_rdma()` lists the RDMA ports from /sys/class/infiniband, and
`judge_dedicated()` decides `infrastructure.dedicated_network` from both. The
interfaces show only the host's side of the network, so a false value is a lower
bound.

Keys of `Dedicated.details`:
- `evidence`: the findings behind a true value, each with `rule` (one of RULES),
  `interfaces` and `detail`; empty when the value is false.
- `rules_checked`: RULES, the rules that were examined.
- `interfaces`: one entry per interface with name, type, type_name, kind,
  kind_reason, driver, operstate, speed_mbps and mac, plus the fields that are
  set: bus, devtype, virtual_type, sriov, bond, vlan, bridge_ports, lowers,
  master, addresses (None when they could not be read) and subnets.
- `rdma`: one entry per RDMA port with device, port, link_layer, state,
  hardware, driver and netdevs.
- `vlans`: the VLAN interfaces with id and parent; they never decide.
- `unreadable`: per interface, the sysfs files that could not be read; present
  only when there are any.
- `not_visible`: only with a false value, what a host cannot see.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from collectors import errors

logger = logging.getLogger(__name__)

PHYSICAL = "physical"
PARAVIRTUAL = "paravirtual"
VIRTUAL = "virtual"

# ARPHRD_* link types, from include/uapi/linux/if_arp.h in the Linux kernel.
ARPHRD_ETHER = 1
ARPHRD_INFINIBAND = 32
ARPHRD_LOOPBACK = 772
LINK_TYPES = {
    ARPHRD_ETHER: "ether",
    ARPHRD_INFINIBAND: "infiniband",
    512: "ppp",
    768: "ipip",
    769: "ip6tnl",
    ARPHRD_LOOPBACK: "loopback",
    776: "sit",
    778: "gre",
    823: "ip6gre",
    65534: "none",
}

# Drivers of NICs that a hypervisor or a cloud provides, by the name the kernel
# registers under /sys/bus/*/drivers (Linux kernel source, drivers/net/).
PARAVIRTUAL_DRIVERS = {
    "virtio_net": "virtio network device (KVM, QEMU and others), virtio_net.c",
    "vmxnet3": "VMware vmxnet3, vmxnet3/",
    "hv_netvsc": "Hyper-V synthetic NIC, hyperv/netvsc_drv.c",
    # xenbus names a driver after the first device type it binds when the
    # driver sets no name (drivers/xen/xenbus/xenbus_probe.c).
    "vif": "Xen netfront, xen-netfront.c",
    "ena": "Amazon Elastic Network Adapter, ethernet/amazon/ena/",
    "gve": "Google Virtual NIC, ethernet/google/gve/",
    "mana": "Microsoft Azure Network Adapter, ethernet/microsoft/mana/",
}
# Buses whose devices only a hypervisor provides, named as under /sys/bus.
PARAVIRTUAL_BUSES = {
    "virtio": "virtio",
    "xen": "Xen",
    "vmbus": "Hyper-V VMBus",
}
# PCI vendors whose ids mark a NIC that a hypervisor emulates, as named in the
# vendor list of collectors/host/pci_catalogue.yaml (from pci.ids). QEMU gives its
# emulated devices subsystem vendor 0x1af4 by default (include/hw/pci/pci.h), and
# a NIC passed through to a guest keeps its own ids.
# NOTE: a device model that sets its own subsystem ids, such as QEMU's e1000e,
# passes as physical.
HYPERVISOR_PCI_VENDORS = {
    "0x1af4": "Red Hat (virtio, QEMU)",
    "0x1b36": "Red Hat (QEMU)",
    "0x15ad": "VMware",
    "0x80ee": "VirtualBox",
    "0x1414": "Microsoft (Hyper-V)",
    "0x5853": "XenSource",
    "0x1ab8": "Parallels",
}
# uevent DEVTYPE values of radio links: they join shared networks, so a second
# radio is no evidence of a dedicated wired network.
WIRELESS_DEVTYPES = frozenset({"wlan", "wwan"})
# Markers a virtual interface's sysfs directory has, when uevent has no DEVTYPE.
VIRTUAL_MARKERS = (
    ("bonding", "bond"),
    ("bridge", "bridge"),
    ("tun_flags", "tun"),
    ("macvtap", "macvtap"),
)

RULES = (
    "infiniband",
    "roce",
    "sriov_pf",
    "sriov_vf",
    "physical_bond",
    "routed_subnets",
)
NOT_VISIBLE = (
    "no evidence on this host's interfaces; switches, links and VLAN trunks "
    "beyond the host are not visible from it, so a dedicated network is not "
    "ruled out"
)

# Returns each interface's IPv4 and IPv6 addresses in CIDR form ("10.0.0.5/24").
AddressReader = Callable[[], dict[str, list[str]]]


class InterfaceError(Exception):
    """A sysfs directory that could not be listed, so interfaces are unknown."""

    def __init__(self, path: str, message: str, reason: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
        # One of collectors.errors.REASON_CODES, for the gap it costs.
        self.reason = reason


@dataclass(frozen=True)
class Sriov:
    """SR-IOV state of a NIC's PCI function."""

    # Set on a physical function (PF): VFs the device supports, and enabled now.
    total_vfs: int | None = None
    num_vfs: int | None = None
    # Set on a virtual function (VF): the PCI address of its PF.
    physfn: str | None = None


@dataclass(frozen=True)
class Bond:
    """A bonding master: its mode name (e.g. "802.3ad") and its slaves."""

    mode: str | None
    slaves: tuple[str, ...]


@dataclass(frozen=True)
class Vlan:
    """An 802.1Q VLAN interface: its VLAN id and the interface it tags."""

    id: int | None
    parent: str | None


@dataclass(frozen=True)
class Interface:
    """One network interface of /sys/class/net."""

    name: str
    # ARPHRD number from the `type` file, and its name in LINK_TYPES.
    type: int | None
    type_name: str
    kind: str
    kind_reason: str
    driver: str | None
    # Bus of the parent device, e.g. "pci" or "virtio", or None when virtual.
    bus: str | None
    # uevent DEVTYPE, e.g. "vlan", "bond", "bridge", "wlan".
    devtype: str | None
    # For a virtual interface: DEVTYPE or what its sysfs directory shows.
    virtual_type: str | None
    operstate: str | None
    # Link speed in Mb/s; None when down, unknown or not reported.
    speed_mbps: int | None
    mac: str | None
    sriov: Sriov | None = None
    bond: Bond | None = None
    vlan: Vlan | None = None
    bridge_ports: tuple[str, ...] = ()
    # Interfaces this one is stacked on (sysfs lower_* links) and its master.
    lowers: tuple[str, ...] = ()
    master: str | None = None
    # CIDR addresses, or None when the address reader failed.
    addresses: tuple[str, ...] | None = ()
    # Networks of the addresses, without loopback and link-local ones.
    subnets: tuple[str, ...] = ()
    # Host paths of files that exist but could not be read.
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True)
class RdmaPort:
    """One port of an RDMA device under /sys/class/infiniband."""

    device: str
    port: int
    # "InfiniBand", or "Ethernet" for RoCE.
    link_layer: str | None
    # The `state` file, e.g. "4: ACTIVE" or "1: DOWN".
    state: str | None
    # False for a device with no bus device below it (software RDMA).
    hardware: bool
    driver: str | None
    netdevs: tuple[str, ...]


@dataclass(frozen=True)
class Dedicated:
    """The judgement of `infrastructure.dedicated_network` with its evidence."""

    value: bool
    # "lower" when false, because the host's interfaces cannot rule a dedicated
    # network out.
    bound: str | None
    details: dict[str, Any]


@dataclass
class _Sysfs:
    """Reads below a sysfs root and keeps the files it could not read."""

    root: Path
    unreadable: list[str] = field(default_factory=list)

    def path(self, relative: str) -> Path:
        return self.root / relative

    def exists(self, relative: str) -> bool:
        return self.path(relative).exists()

    def text(self, relative: str) -> str | None:
        try:
            return self.path(relative).read_text(errors="replace").strip()
        except FileNotFoundError:
            return None
        except PermissionError:
            self.unreadable.append(f"/sys/{relative}")
            return None
        except OSError as exc:
            # sysfs returns EINVAL for the speed of a link that is down, and
            # other errors for attributes a driver does not implement.
            logger.debug("cannot read /sys/%s: %s", relative, exc)
            return None

    def link_name(self, relative: str) -> str | None:
        """Return the last part of a symbolic link's target, or None."""
        try:
            return Path(self.path(relative).readlink()).name
        except OSError:
            return None

    def names(self, relative: str) -> list[str]:
        try:
            return sorted(entry.name for entry in self.path(relative).iterdir())
        except OSError:
            return []

    def is_virtual(self, relative: str) -> bool:
        """Return whether a class entry has no bus device below it."""
        real = self.path(relative).resolve()
        if real.is_relative_to(self.root.resolve() / "devices/virtual"):
            return True
        return not self.exists(f"{relative}/device")


def read_interfaces(
    *,
    sys_root: str | Path = "/sys",
    proc_root: str | Path = "/proc",
    read_addresses: AddressReader | None = None,
) -> list[Interface]:
    """Read every interface of /sys/class/net, sorted by name.

    `read_addresses` defaults to `system_addresses`, which reads the network
    namespace of this process. Raises InterfaceError when /sys/class/net is
    missing, unreadable or empty.
    """
    root = Path(sys_root)
    names = _list_class(root, "class/net")
    if not names:
        raise InterfaceError(
            "/sys/class/net",
            "lists no interface, not even lo; mount the sysfs of this network "
            "namespace at /sys",
            errors.NO_DATA,
        )
    vlans = read_vlan_config(proc_root)
    addresses = _read_addresses(read_addresses or system_addresses)
    return [_read_interface(root, name, vlans, addresses) for name in names]


def read_rdma(*, sys_root: str | Path = "/sys") -> list[RdmaPort]:
    """Read every port of /sys/class/infiniband, which is absent without RDMA.

    Raises InterfaceError when the directory exists but cannot be listed.
    """
    root = Path(sys_root)
    if not (root / "class/infiniband").exists():
        return []
    ports: list[RdmaPort] = []
    for device in _list_class(root, "class/infiniband"):
        ports.extend(_rdma_ports(_Sysfs(root), device))
    return ports


def read_vlan_config(proc_root: str | Path = "/proc") -> dict[str, Vlan]:
    """Read /proc/net/vlan/config (present while the 8021q module is loaded).

    Lines after the two header lines read "eth0.100       | 100  | eth0".
    """
    try:
        text = (Path(proc_root) / "net/vlan/config").read_text(errors="replace")
    except OSError as exc:
        logger.debug("no VLAN table in /proc/net/vlan/config: %s", exc)
        return {}
    vlans = {}
    for line in text.splitlines():
        parts = [part.strip() for part in line.split("|")]
        if len(parts) == 3 and parts[1].isdigit():
            vlans[parts[0]] = Vlan(id=int(parts[1]), parent=parts[2] or None)
    return vlans


def system_addresses() -> dict[str, list[str]]:
    """Return each interface's IPv4 and IPv6 addresses in CIDR form.

    psutil.net_if_addrs reads them with getifaddrs(3), in this process's network
    namespace.
    """
    result = {}
    for name, entries in psutil.net_if_addrs().items():
        cidrs = [_cidr(e.family, e.address, e.netmask) for e in entries]
        result[name] = [cidr for cidr in cidrs if cidr is not None]
    return result


def _cidr(family: int, address: str, netmask: str | None) -> str | None:
    if family not in (socket.AF_INET, socket.AF_INET6):
        return None
    # An IPv6 link-local address carries its zone, e.g. "fe80::1%eth0".
    address = address.split("%", 1)[0]
    if netmask is None:
        return address
    prefix = int(ipaddress.ip_address(netmask)).bit_count()
    return f"{address}/{prefix}"


def _read_addresses(reader: AddressReader) -> dict[str, list[str]] | None:
    try:
        return reader()
    except OSError as exc:
        logger.warning("cannot read interface addresses: %s", exc)
        return None


def _list_class(root: Path, relative: str) -> list[str]:
    location = root / relative
    try:
        return sorted(entry.name for entry in location.iterdir())
    except FileNotFoundError as exc:
        raise InterfaceError(
            f"/sys/{relative}",
            f"not found ({exc.strerror}); mount sysfs at /sys",
            errors.NO_DATA,
        ) from exc
    except PermissionError as exc:
        raise InterfaceError(
            f"/sys/{relative}",
            "permission denied; run the agent with read access to /sys",
            errors.PERMISSION_DENIED,
        ) from exc
    except OSError as exc:
        raise InterfaceError(
            f"/sys/{relative}", f"cannot be listed: {exc}", errors.SOURCE_FAILED
        ) from exc


def _read_interface(
    root: Path,
    name: str,
    vlans: dict[str, Vlan],
    addresses: dict[str, list[str]] | None,
) -> Interface:
    fs = _Sysfs(root)
    base = f"class/net/{name}"
    link_type = _integer(fs.text(f"{base}/type"))
    devtype = _uevent(fs.text(f"{base}/uevent")).get("DEVTYPE")
    kind, reason, driver, bus = _classify(fs, base)
    lowers = tuple(
        n.removeprefix("lower_") for n in fs.names(base) if n.startswith("lower_")
    )
    own = None if addresses is None else tuple(addresses.get(name, ()))
    return Interface(
        name=name,
        type=link_type,
        type_name=_type_name(link_type),
        kind=kind,
        kind_reason=reason,
        driver=driver,
        bus=bus,
        devtype=devtype,
        virtual_type=(
            _virtual_type(fs, base, devtype, link_type, lowers)
            if kind == VIRTUAL
            else None
        ),
        operstate=fs.text(f"{base}/operstate"),
        speed_mbps=_speed(fs.text(f"{base}/speed")),
        mac=fs.text(f"{base}/address") or None,
        sriov=_sriov(fs, base),
        bond=_bond(fs, base),
        vlan=_vlan(name, devtype, lowers, vlans),
        bridge_ports=tuple(fs.names(f"{base}/brif")),
        lowers=lowers,
        master=fs.link_name(f"{base}/master"),
        addresses=own,
        subnets=_subnets(own or ()),
        unreadable=tuple(fs.unreadable),
    )


def _classify(fs: _Sysfs, base: str) -> tuple[str, str, str | None, str | None]:
    """Return the kind, the reason for it, the driver and the bus."""
    if fs.is_virtual(base):
        return VIRTUAL, "no bus device; under /sys/devices/virtual/net", None, None
    driver = fs.link_name(f"{base}/device/driver")
    bus = fs.link_name(f"{base}/device/subsystem")
    if bus in PARAVIRTUAL_BUSES:
        return PARAVIRTUAL, f"on the {PARAVIRTUAL_BUSES[bus]} bus", driver, bus
    if driver in PARAVIRTUAL_DRIVERS:
        return (
            PARAVIRTUAL,
            f"driver {driver}: {PARAVIRTUAL_DRIVERS[driver]}",
            driver,
            bus,
        )
    emulator = _hypervisor_vendor(fs, base)
    if emulator is not None:
        return PARAVIRTUAL, f"PCI ids of {emulator}, an emulated NIC", driver, bus
    return PHYSICAL, f"{bus or 'bus'} device with driver {driver}", driver, bus


def _hypervisor_vendor(fs: _Sysfs, base: str) -> str | None:
    for attribute in ("subsystem_vendor", "vendor"):
        vendor = (fs.text(f"{base}/device/{attribute}") or "").lower()
        if vendor in HYPERVISOR_PCI_VENDORS:
            return f"{HYPERVISOR_PCI_VENDORS[vendor]} ({attribute} {vendor})"
    return None


def _virtual_type(
    fs: _Sysfs,
    base: str,
    devtype: str | None,
    link_type: int | None,
    lowers: tuple[str, ...],
) -> str | None:
    if devtype:
        return devtype
    if link_type == ARPHRD_LOOPBACK:
        return "loopback"
    for marker, name in VIRTUAL_MARKERS:
        if fs.exists(f"{base}/{marker}"):
            return name
    # A veth end reports its peer's ifindex as iflink. Other Ethernet devices
    # with a different iflink (macvlan, VLAN) also have a lower_* link.
    ifindex = fs.text(f"{base}/ifindex")
    iflink = fs.text(f"{base}/iflink")
    if link_type == ARPHRD_ETHER and not lowers and ifindex and ifindex != iflink:
        return "veth"
    # TODO: dummy, macvlan and ipvlan leave no mark in sysfs, but the ethtool
    # driver query (ETHTOOL_GDRVINFO) would name them.
    return None


def _sriov(fs: _Sysfs, base: str) -> Sriov | None:
    total = _integer(fs.text(f"{base}/device/sriov_totalvfs"))
    enabled = _integer(fs.text(f"{base}/device/sriov_numvfs"))
    physfn = fs.link_name(f"{base}/device/physfn")
    if total is None and enabled is None and physfn is None:
        return None
    return Sriov(total_vfs=total, num_vfs=enabled, physfn=physfn)


def _bond(fs: _Sysfs, base: str) -> Bond | None:
    if not fs.exists(f"{base}/bonding"):
        return None
    # The mode file reads "<name> <number>", e.g. "802.3ad 4".
    mode = (fs.text(f"{base}/bonding/mode") or "").split()
    slaves = (fs.text(f"{base}/bonding/slaves") or "").split()
    return Bond(mode=mode[0] if mode else None, slaves=tuple(slaves))


def _vlan(
    name: str, devtype: str | None, lowers: tuple[str, ...], vlans: dict[str, Vlan]
) -> Vlan | None:
    if name in vlans:
        return vlans[name]
    if devtype != "vlan":
        return None
    # sysfs has no VLAN id attribute, so without /proc/net/vlan/config only the
    # parent is known.
    return Vlan(id=None, parent=lowers[0] if len(lowers) == 1 else None)


def _rdma_ports(fs: _Sysfs, device: str) -> Iterator[RdmaPort]:
    base = f"class/infiniband/{device}"
    hardware = not fs.is_virtual(base)
    # NOTE: older kernels gave a soft RoCE device (rdma_rxe) the parent of its NIC.
    # Such a device passes as hardware unless that parent is on a paravirtual bus.
    if fs.link_name(f"{base}/device/subsystem") in PARAVIRTUAL_BUSES:
        hardware = False
    device_netdevs = tuple(fs.names(f"{base}/device/net"))
    for port in fs.names(f"{base}/ports"):
        if not port.isdigit():
            continue
        ports = f"{base}/ports/{port}"
        # A RoCE port names its netdev in its GID table, and other ports do not.
        netdev = fs.text(f"{ports}/gid_attrs/ndevs/0")
        yield RdmaPort(
            device=device,
            port=int(port),
            link_layer=fs.text(f"{ports}/link_layer"),
            state=fs.text(f"{ports}/state"),
            hardware=hardware,
            driver=fs.link_name(f"{base}/device/driver"),
            netdevs=(netdev,) if netdev else device_netdevs,
        )


def _uevent(text: str | None) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (text or "").splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def _integer(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _speed(text: str | None) -> int | None:
    # The kernel prints -1 (SPEED_UNKNOWN) when the driver does not know.
    speed = _integer(text)
    return speed if speed is not None and speed > 0 else None


def _type_name(link_type: int | None) -> str:
    if link_type is None:
        return "unknown"
    return LINK_TYPES.get(link_type, f"arphrd {link_type}")


def _subnets(cidrs: Iterable[str]) -> tuple[str, ...]:
    networks: dict[str, None] = {}
    for text in cidrs:
        try:
            interface = ipaddress.ip_interface(text)
        except ValueError:
            logger.debug("skipping malformed address %r", text)
            continue
        if interface.ip.is_loopback or interface.ip.is_link_local:
            continue
        networks[str(interface.network)] = None
    return tuple(networks)


def judge_dedicated(interfaces: list[Interface], rdma: list[RdmaPort]) -> Dedicated:
    """Decide whether this host's interfaces show dedicated network infrastructure.

    True when any rule of RULES finds evidence; otherwise false with bound
    "lower", because links and switches beyond the host are not visible.
    """
    by_name = {interface.name: interface for interface in interfaces}
    evidence = [
        *_infiniband_evidence(interfaces, rdma),
        *_roce_evidence(rdma, by_name),
        *_sriov_evidence(interfaces),
        *_bond_evidence(interfaces, by_name),
        *_subnet_evidence(interfaces, by_name),
    ]
    details: dict[str, Any] = {
        "evidence": evidence,
        "rules_checked": list(RULES),
        "interfaces": [_summary(interface) for interface in interfaces],
        "rdma": [_plain(asdict(port)) for port in rdma],
        # A VLAN separates traffic on shared NICs and switches, which is network
        # isolation (criterion 7) rather than dedicated hardware. Clouds and
        # hypervisors tag shared networks the same way, so VLANs never decide.
        "vlans": [
            {"name": i.name, "id": i.vlan.id, "parent": i.vlan.parent}
            for i in interfaces
            if i.vlan is not None
        ],
    }
    unreadable = {i.name: list(i.unreadable) for i in interfaces if i.unreadable}
    if unreadable:
        details["unreadable"] = unreadable
    if evidence:
        return Dedicated(value=True, bound=None, details=details)
    details["not_visible"] = NOT_VISIBLE
    return Dedicated(value=False, bound="lower", details=details)


def _found(rule: str, names: Iterable[str], detail: str) -> dict[str, Any]:
    return {"rule": rule, "interfaces": sorted(names), "detail": detail}


def _port_linked(port: RdmaPort) -> bool:
    # A DOWN port has no physical link, like an adapter without a cable. A port
    # whose state cannot be read counts.
    return port.hardware and not (port.state or "").upper().endswith("DOWN")


def _infiniband_evidence(
    interfaces: list[Interface], rdma: list[RdmaPort]
) -> list[dict[str, Any]]:
    found = [
        _found("infiniband", [i.name], f"{i.name} has link type 32 (InfiniBand)")
        for i in interfaces
        if i.type == ARPHRD_INFINIBAND
    ]
    for port in rdma:
        if port.link_layer == "InfiniBand" and _port_linked(port):
            detail = f"RDMA port {port.device}/{port.port} runs InfiniBand"
            found.append(_found("infiniband", port.netdevs, detail))
    return found


def _roce_evidence(
    rdma: list[RdmaPort], by_name: dict[str, Interface]
) -> list[dict[str, Any]]:
    found = []
    for port in rdma:
        if port.link_layer != "Ethernet" or not _port_linked(port):
            continue
        # RoCE over NICs that are all visible here and none physical is software
        # RDMA on a shared link.
        visible = [by_name[n] for n in port.netdevs if n in by_name]
        all_visible = bool(port.netdevs) and len(visible) == len(port.netdevs)
        if all_visible and not any(i.kind == PHYSICAL for i in visible):
            continue
        detail = f"RDMA port {port.device}/{port.port} runs RoCE (link layer Ethernet)"
        found.append(_found("roce", port.netdevs, detail))
    return found


def _sriov_evidence(interfaces: list[Interface]) -> list[dict[str, Any]]:
    found = []
    for i in interfaces:
        if i.sriov is None:
            continue
        if i.sriov.num_vfs:
            detail = f"{i.name} is an SR-IOV PF with {i.sriov.num_vfs} VFs enabled"
            found.append(_found("sriov_pf", [i.name], detail))
        if i.sriov.physfn:
            detail = f"{i.name} is an SR-IOV VF of PF {i.sriov.physfn}"
            found.append(_found("sriov_vf", [i.name], detail))
    return found


def _counted_nic(interface: Interface, by_name: dict[str, Interface]) -> bool:
    """Return whether a NIC counts as a wired physical NIC of this host."""
    if interface.kind != PHYSICAL or interface.devtype in WIRELESS_DEVTYPES:
        return False
    # A VF under a synthetic NIC (Hyper-V accelerated networking) carries that
    # NIC's traffic on the cloud's shared network.
    master = by_name.get(interface.master or "")
    return master is None or master.kind != PARAVIRTUAL


def _bond_evidence(
    interfaces: list[Interface], by_name: dict[str, Interface]
) -> list[dict[str, Any]]:
    found = []
    for i in interfaces:
        if i.bond is None:
            continue
        nics = [
            s
            for s in i.bond.slaves
            if s in by_name and _counted_nic(by_name[s], by_name)
        ]
        if len(nics) >= 2:
            detail = (
                f"bond {i.name} ({i.bond.mode}) joins physical NICs {', '.join(nics)}"
            )
            found.append(_found("physical_bond", [i.name, *nics], detail))
    return found


def _subnet_evidence(
    interfaces: list[Interface], by_name: dict[str, Interface]
) -> list[dict[str, Any]]:
    uppers = _upper_map(interfaces)
    reached = {}
    for i in interfaces:
        if _counted_nic(i, by_name):
            subnets = _subnets_above(i.name, by_name, uppers)
            if subnets:
                reached[i.name] = subnets
    # Distinct: at least two NICs whose sets of subnets differ, so they do not
    # all sit in the same networks.
    if len(reached) < 2 or len({frozenset(s) for s in reached.values()}) < 2:
        return []
    listed = "; ".join(
        f"{n}: {', '.join(sorted(s))}" for n, s in sorted(reached.items())
    )
    detail = f"physical NICs in distinct routed subnets ({listed})"
    return [_found("routed_subnets", reached, detail)]


def _upper_map(interfaces: list[Interface]) -> dict[str, set[str]]:
    """Return, per interface, the interfaces stacked directly on it."""
    uppers: dict[str, set[str]] = {}
    for i in interfaces:
        below = set(i.lowers) | set(i.bridge_ports)
        below |= set(i.bond.slaves) if i.bond else set()
        below |= {i.vlan.parent} if i.vlan and i.vlan.parent else set()
        for lower in below:
            uppers.setdefault(lower, set()).add(i.name)
    return uppers


def _subnets_above(
    name: str, by_name: dict[str, Interface], uppers: dict[str, set[str]]
) -> set[str]:
    """Return the subnets of an interface and of every interface stacked on it.

    An address on a bond, VLAN or bridge is reached through the NICs below it.
    """
    subnets: set[str] = set()
    seen: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        if current in seen or current not in by_name:
            continue
        seen.add(current)
        subnets.update(by_name[current].subnets)
        pending.extend(uppers.get(current, ()))
    return subnets


def _summary(interface: Interface) -> dict[str, Any]:
    entry = _plain(asdict(interface))
    always = {
        "name", "type", "type_name", "kind", "kind_reason", "driver",
        "operstate", "speed_mbps", "mac", "addresses",
    }  # fmt: skip
    # Fields that are not set are left out to keep the report short, and the
    # unreadable files are reported once under details["unreadable"].
    entry.pop("unreadable")
    return {k: v for k, v in entry.items() if k in always or v not in (None, [])}


def _plain(value: Any) -> Any:
    """Return a value with tuples turned into lists, as JSON shows them."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
