"""Read PCI functions from sysfs and classify them with pci_catalogue.yaml.

sysfs exposes each function as /sys/bus/pci/devices/<address>/ with the files
`class` (24-bit "0xCCSSPP"), `vendor` and `device` (16-bit "0xVVVV").
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from collectors import errors
from collectors.host.files import first_line, host_path, read_file
from collectors.host.reading import NoData

logger = logging.getLogger(__name__)

PCI_DEVICES = "/sys/bus/pci/devices"
CATALOGUE_FILE = "pci_catalogue.yaml"
BRIDGE_BASE_CLASS = 0x06

_HEX_ID = re.compile(r"^0x[0-9a-fA-F]{4}$")
_PCI_ADDRESS = re.compile(r"^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


@dataclass(frozen=True)
class ClassRule:
    code: int
    name: str
    kind: str
    vendors: frozenset[int] | None
    source: str


@dataclass(frozen=True)
class VendorEntry:
    id: int
    name: str
    kind: str | None
    specialised: bool
    source: str


@dataclass(frozen=True)
class DeviceEntry:
    vendor: int
    device: int
    name: str
    kind: str | None
    specialised: bool
    source: str


@dataclass(frozen=True)
class Catalogue:
    kinds: frozenset[str]
    classes: tuple[ClassRule, ...]
    vendors: dict[int, VendorEntry]
    devices: dict[tuple[int, int], DeviceEntry]


def parse_hex_id(text: Any, what: str) -> int:
    """Parse a 4-digit id such as "0x10de"; raise ValueError naming `what`."""
    if not isinstance(text, str) or not _HEX_ID.match(text):
        raise ValueError(f"{what}: {text!r} is not a 4-digit hex id like 0x10de")
    return int(text, 16)


def _required_source(entry: dict[str, Any], what: str) -> str:
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"{what}: missing source")
    return source


def _kind(entry: dict[str, Any], kinds: frozenset[str], what: str) -> str | None:
    kind = entry.get("kind")
    if kind is not None and kind not in kinds:
        raise ValueError(f"{what}: unknown kind {kind!r}")
    return kind


def _parse_classes(data: list[dict[str, Any]], kinds: frozenset[str]) -> tuple:
    rules, seen = [], set()
    for entry in data:
        what = f"class {entry.get('code')!r}"
        code = parse_hex_id(entry.get("code"), what)
        if code in seen:
            raise ValueError(f"{what}: duplicate class code")
        seen.add(code)
        vendors_field = entry.get("vendors")
        vendors = None
        if vendors_field != "any":
            vendors = frozenset(parse_hex_id(v, what) for v in vendors_field or ())
        kind = _kind(entry, kinds, what)
        if kind is None:
            raise ValueError(f"{what}: missing kind")
        source = _required_source(entry, what)
        rules.append(ClassRule(code, entry["name"], kind, vendors, source))
    return tuple(rules)


def _parse_vendors(data: list[dict[str, Any]], kinds: frozenset[str]) -> dict:
    vendors: dict[int, VendorEntry] = {}
    for entry in data:
        what = f"vendor {entry.get('id')!r}"
        vendor_id = parse_hex_id(entry.get("id"), what)
        if vendor_id in vendors:
            raise ValueError(f"{what}: duplicate vendor id")
        vendors[vendor_id] = VendorEntry(
            id=vendor_id,
            name=entry["name"],
            kind=_kind(entry, kinds, what),
            specialised=bool(entry.get("specialised", True)),
            source=_required_source(entry, what),
        )
    return vendors


def _parse_devices(data: list[dict[str, Any]], kinds: frozenset[str]) -> dict:
    devices: dict[tuple[int, int], DeviceEntry] = {}
    for entry in data:
        what = f"device {entry.get('vendor')!r}:{entry.get('device')!r}"
        key = (
            parse_hex_id(entry.get("vendor"), what),
            parse_hex_id(entry.get("device"), what),
        )
        if key in devices:
            raise ValueError(f"{what}: duplicate device id")
        specialised = bool(entry.get("specialised", True))
        kind = _kind(entry, kinds, what)
        if specialised and kind is None:
            raise ValueError(f"{what}: a specialised device needs a kind")
        devices[key] = DeviceEntry(
            key[0],
            key[1],
            entry["name"],
            kind,
            specialised,
            _required_source(entry, what),
        )
    return devices


def parse_catalogue(data: dict[str, Any]) -> Catalogue:
    """Validate the catalogue data and build the lookup tables.

    Raises ValueError for a malformed id, a duplicate id, an unknown kind or an
    entry without a source.
    """
    kinds = frozenset(data["kinds"])
    return Catalogue(
        kinds=kinds,
        classes=_parse_classes(data.get("classes") or [], kinds),
        vendors=_parse_vendors(data.get("vendors") or [], kinds),
        devices=_parse_devices(data.get("devices") or [], kinds),
    )


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """Load pci_catalogue.yaml shipped with this package."""
    text = resources.files(__package__).joinpath(CATALOGUE_FILE).read_text("utf-8")
    return parse_catalogue(yaml.safe_load(text))


@dataclass(frozen=True)
class PciFunction:
    """One PCI function as sysfs describes it."""

    address: str
    vendor: int
    device: int
    class_code: int
    virtual_function: bool


@dataclass(frozen=True)
class PciScan:
    functions: dict[str, PciFunction]
    unreadable: list[dict[str, Any]]


def _read_hex(root: str, path: str, digits: int) -> int:
    read = read_file(root, path)
    line = first_line(read)
    if line is None:
        raise OSError(f"{path} is {read.status}")
    if not re.fullmatch(rf"0x[0-9a-fA-F]{{{digits}}}", line):
        raise ValueError(f"{path}: {line!r} is not a {digits}-digit hex value")
    return int(line, 16)


def scan_pci(root: str) -> PciScan:
    """Read every function under {root}/sys/bus/pci/devices.

    Raises NoData when the directory is absent or empty, and PermissionDenied or
    SourceError when it cannot be listed. A function whose files cannot be read
    is listed in `unreadable` instead.
    """
    directory = host_path(root, PCI_DEVICES)
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError as exc:
        raise NoData(PCI_DEVICES, f"{PCI_DEVICES} does not exist") from exc
    except PermissionError as exc:
        raise errors.PermissionDenied(PCI_DEVICES, "permission denied") from exc
    except OSError as exc:
        raise errors.SourceError(PCI_DEVICES, f"cannot list: {exc.strerror}") from exc

    functions: dict[str, PciFunction] = {}
    unreadable: list[dict[str, Any]] = []
    for name in names:
        base = f"{PCI_DEVICES}/{name}"
        try:
            function = PciFunction(
                address=name.lower(),
                vendor=_read_hex(root, f"{base}/vendor", 4),
                device=_read_hex(root, f"{base}/device", 4),
                class_code=_read_hex(root, f"{base}/class", 6),
                # SR-IOV virtual functions link to their physical function.
                virtual_function=os.path.lexists(host_path(root, f"{base}/physfn")),
            )
        except (OSError, ValueError) as exc:
            unreadable.append({"pci_address": name, "error": str(exc)})
            continue
        functions[function.address] = function
    if not names:
        # Every PCI host has at least a host bridge. An empty list means /sys is
        # masked (some container runtimes) or the machine has no PCI bus at all,
        # and neither shows that the host has no specialised hardware.
        raise NoData(PCI_DEVICES, f"{PCI_DEVICES} lists no devices")
    return PciScan(functions, unreadable)


def is_pci_address(text: str) -> bool:
    return bool(_PCI_ADDRESS.match(text))


@dataclass(frozen=True)
class Match:
    kind: str
    name: str
    class_name: str


def vendor_name(catalogue: Catalogue, vendor: int) -> str:
    entry = catalogue.vendors.get(vendor)
    return entry.name if entry else f"vendor 0x{vendor:04x}"


def _class_rule(catalogue: Catalogue, function: PciFunction) -> ClassRule | None:
    class_subclass = function.class_code >> 8
    for rule in catalogue.classes:
        if rule.code != class_subclass:
            continue
        if rule.vendors is None or function.vendor in rule.vendors:
            return rule
    return None


def class_name(catalogue: Catalogue, class_code: int) -> str:
    """Return the catalogue's name for a 24-bit class code, or the code itself."""
    for rule in catalogue.classes:
        if rule.code == class_code >> 8:
            return rule.name
    return f"class 0x{class_code:06x}"


def classify(catalogue: Catalogue, function: PciFunction) -> Match | None:
    """Return the kind and name of a specialised function, or None."""
    vendor = catalogue.vendors.get(function.vendor)
    names_class = class_name(catalogue, function.class_code)
    device = catalogue.devices.get((function.vendor, function.device))
    if device is not None:
        if not device.specialised or device.kind is None:
            return None
        return Match(device.kind, device.name, names_class)
    if vendor is not None and not vendor.specialised:
        return None
    if function.class_code >> 16 == BRIDGE_BASE_CLASS:
        return None
    if vendor is not None and vendor.kind is not None:
        return Match(vendor.kind, f"{vendor.name} {names_class}", names_class)
    rule = _class_rule(catalogue, function)
    if rule is None:
        return None
    return Match(
        rule.kind, f"{vendor_name(catalogue, function.vendor)} {rule.name}", rule.name
    )


def component(
    catalogue: Catalogue,
    function: PciFunction | None,
    *,
    kind: str,
    name: str,
    layer: str,
    address: str | None = None,
    class_label: str | None = None,
) -> dict[str, Any]:
    """Build one `hardware.specialized` component from a PCI function or a layer."""
    item: dict[str, Any] = {"name": name, "kind": kind, "layer": layer}
    if function is None:
        item["pci_address"] = address
        return item
    item.update(
        {
            "vendor": vendor_name(catalogue, function.vendor),
            "vendor_id": f"0x{function.vendor:04x}",
            "device_id": f"0x{function.device:04x}",
            "class": f"0x{function.class_code:06x}",
            "class_name": class_label or class_name(catalogue, function.class_code),
            "pci_address": function.address,
        }
    )
    return item
