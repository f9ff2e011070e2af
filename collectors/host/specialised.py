"""Inventory specialised hardware from PCI and from the driver layers above it.

PCI class and vendor ids give the first list. Driver layers then confirm those
items, add ones that PCI did not show (e.g. a VPI adapter whose PCI class is a
generic network controller but whose ports run InfiniBand) or remove one: an
adapter whose ports all run Ethernet is RoCE, not InfiniBand. Each component
names the layer that found it and the layers that confirmed it.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

from collectors import errors
from collectors.host import pci
from collectors.host.files import (
    ABSENT,
    OK,
    PERMISSION_DENIED,
    UNREADABLE,
    first_line,
    host_path,
    read_file,
)
from collectors.host.reading import Reading

logger = logging.getLogger(__name__)

NVIDIA_GPUS = "/proc/driver/nvidia/gpus"
DEV = "/dev"
INFINIBAND = "/sys/class/infiniband"
# Compute accelerators of the kernel's accel subsystem (Linux 6.2+), per
# Documentation/accel/introduction.rst: /sys/class/accel/accel*.
ACCEL = "/sys/class/accel"
NVIDIA_VENDOR = 0x10DE
INFINIBAND_LINK_LAYER = "InfiniBand"
PCI_LAYER = "pci"

_NVIDIA_NODE = re.compile(r"^nvidia(\d+)$")

METHOD = (
    "PCI class and vendor ids from /sys/bus/pci/devices matched against "
    "pci_catalogue.yaml, with /proc/driver/nvidia, /dev/nvidia*, "
    "/sys/class/infiniband and /sys/class/accel"
)


def list_dir(root: str, path: str) -> tuple[list[str], str]:
    """Return the sorted entries of a directory below root and the read status."""
    try:
        return sorted(os.listdir(host_path(root, path))), OK
    except FileNotFoundError:
        return [], ABSENT
    except PermissionError:
        return [], PERMISSION_DENIED
    except OSError as exc:
        logger.debug("cannot list %s below %s: %s", path, root, exc)
        return [], UNREADABLE


def linked_pci_address(root: str, path: str) -> str | None:
    """Return the PCI address a sysfs `device` link points to, or None."""
    target = os.path.basename(os.path.realpath(host_path(root, path))).lower()
    return target if pci.is_pci_address(target) else None


@dataclass
class Inventory:
    """Components keyed by PCI address, or by layer and name without one."""

    catalogue: pci.Catalogue
    functions: dict[str, pci.PciFunction]
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=lambda: {"layers": {}})

    def confirm(self, address: str, layer: str) -> bool:
        """Record that `layer` also lists the component at `address`."""
        item = self.components.get(address)
        if item is None:
            return False
        item.setdefault("confirmed_by", []).append(layer)
        return True

    def add(
        self, key: str, *, kind: str, name: str, layer: str, address: str | None
    ) -> dict[str, Any]:
        function = self.functions.get(address) if address else None
        self.components[key] = pci.component(
            self.catalogue, function, kind=kind, name=name, layer=layer, address=address
        )
        return self.components[key]


def _add_pci(inventory: Inventory) -> None:
    skipped_virtual = 0
    for address, function in inventory.functions.items():
        match = pci.classify(inventory.catalogue, function)
        if match is None:
            continue
        if function.virtual_function:
            skipped_virtual += 1
            continue
        inventory.components[address] = pci.component(
            inventory.catalogue,
            function,
            kind=match.kind,
            name=match.name,
            layer=PCI_LAYER,
            class_label=match.class_name,
        )
    inventory.details["virtual_functions_skipped"] = skipped_virtual


def _nvidia_driver_gpus(root: str, inventory: Inventory) -> dict[int, str]:
    """Merge the NVIDIA driver's GPU list; return device minor -> PCI address."""
    names, status = list_dir(root, NVIDIA_GPUS)
    inventory.details["layers"][NVIDIA_GPUS] = status
    minors: dict[int, str] = {}
    for name in names:
        address = name.lower()
        read = read_file(root, f"{NVIDIA_GPUS}/{name}/information")
        fields = {}
        for line in (read.text or "").splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        model = fields.get("Model")
        minor = fields.get("Device Minor", "")
        if minor.isdigit():
            minors[int(minor)] = address
        if not inventory.confirm(address, NVIDIA_GPUS):
            name_text = f"NVIDIA {model}" if model else "NVIDIA GPU"
            inventory.add(
                address, kind="gpu", name=name_text, layer=NVIDIA_GPUS, address=address
            )
        if model:
            inventory.components[address]["model"] = model
    return minors


def _nvidia_device_nodes(
    root: str, inventory: Inventory, minors: dict[int, str]
) -> None:
    names, status = list_dir(root, DEV)
    nodes = sorted(
        int(match.group(1)) for name in names if (match := _NVIDIA_NODE.match(name))
    )
    inventory.details["layers"]["/dev/nvidia*"] = (
        f"{len(nodes)} device nodes" if status == OK else status
    )
    unmapped = []
    for minor in nodes:
        address = minors.get(minor)
        if address is None or not inventory.confirm(address, f"/dev/nvidia{minor}"):
            unmapped.append(minor)
    # Without the driver's minor-to-address map a node cannot be tied to one
    # GPU, so only nodes beyond the NVIDIA GPUs already listed add components.
    listed = sum(
        1
        for item in inventory.components.values()
        if item.get("vendor_id") == f"0x{NVIDIA_VENDOR:04x}"
        and item["kind"] == "gpu"
        and item["pci_address"] not in minors.values()
    )
    for minor in unmapped[listed:]:
        inventory.add(
            f"/dev/nvidia{minor}",
            kind="gpu",
            name=f"NVIDIA GPU (device node /dev/nvidia{minor})",
            layer="/dev/nvidia*",
            address=None,
        )
    if unmapped[:listed]:
        inventory.details["nvidia_device_nodes_not_mapped"] = [
            f"/dev/nvidia{minor}" for minor in unmapped[:listed]
        ]


def _link_layers(root: str, device: str) -> list[str]:
    ports, _ = list_dir(root, f"{INFINIBAND}/{device}/ports")
    layers = []
    for port in ports:
        line = first_line(
            read_file(root, f"{INFINIBAND}/{device}/ports/{port}/link_layer")
        )
        if line:
            layers.append(line)
    return layers


def _infiniband(root: str, inventory: Inventory) -> None:
    devices, status = list_dir(root, INFINIBAND)
    inventory.details["layers"][INFINIBAND] = status
    roce: list[dict[str, Any]] = []
    for device in devices:
        address = linked_pci_address(root, f"{INFINIBAND}/{device}/device")
        link_layers = _link_layers(root, device)
        key = address or f"{INFINIBAND}/{device}"
        if INFINIBAND_LINK_LAYER in link_layers:
            if not inventory.confirm(key, INFINIBAND):
                inventory.add(
                    key,
                    kind="infiniband",
                    name=f"InfiniBand adapter {device}",
                    layer=INFINIBAND,
                    address=address,
                )
            inventory.components[key]["link_layers"] = link_layers
            continue
        # RDMA over Ethernet (RoCE) or iWARP is not InfiniBand, even when the
        # PCI class is "InfiniBand controller".
        roce.append(
            {"device": device, "pci_address": address, "link_layers": link_layers}
        )
        item = inventory.components.get(key)
        if item is not None and item["kind"] == "infiniband" and link_layers:
            del inventory.components[key]
    if roce:
        inventory.details["rdma_over_ethernet"] = roce


def _accel(root: str, inventory: Inventory) -> None:
    devices, status = list_dir(root, ACCEL)
    inventory.details["layers"][ACCEL] = status
    for device in devices:
        address = linked_pci_address(root, f"{ACCEL}/{device}/device")
        key = address or f"{ACCEL}/{device}"
        if not inventory.confirm(key, ACCEL):
            inventory.add(
                key,
                kind="accelerator",
                name=f"compute accelerator {device}",
                layer=ACCEL,
                address=address,
            )


def specialised_hardware(root: str) -> Reading:
    """Return the specialised components of the host as `hardware.specialized`.

    An empty list means PCI was read and nothing matched. When PCI cannot be
    read, the components of the other layers are a lower bound, and with none
    the PCI error is raised so the caller records a gap, not "none".
    """
    catalogue = pci.load_catalogue()
    pci_error: errors.SourceError | None = None
    try:
        scan = pci.scan_pci(root)
    except errors.SourceError as exc:
        pci_error, scan = exc, pci.PciScan({}, [])
    inventory = Inventory(catalogue, scan.functions)
    inventory.details["layers"][pci.PCI_DEVICES] = (
        pci_error.message if pci_error else f"{len(scan.functions)} functions read"
    )
    if scan.unreadable:
        inventory.details["unreadable_pci_functions"] = scan.unreadable

    _add_pci(inventory)
    minors = _nvidia_driver_gpus(root, inventory)
    _nvidia_device_nodes(root, inventory, minors)
    _infiniband(root, inventory)
    _accel(root, inventory)

    components = list(inventory.components.values())
    if pci_error is not None and not components:
        raise pci_error
    bound = "lower" if pci_error is not None or scan.unreadable else None
    return Reading(components, METHOD, inventory.details, bound=bound)
