"""Turn packages, processes and files into observations of catalogue products,
and merge the observations of one product and version into a component.

Usage of a component, from weakest to strongest: "installed" (a package or
file), "loaded" (a running process maps its library), "running" (a process
runs it), "serving" (that process listens on a TCP port).
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from collectors import catalogues
from collectors.catalogues import Licence, Product
from collectors.catalogues.licences import UNKNOWN, combine_all
from collectors.catalogues.versions import upstream_version
from collectors.software.records import Package, ProcessInfo

logger = logging.getLogger(__name__)

USAGE_RANK = {"installed": 0, "loaded": 1, "running": 2, "serving": 3}
SYSTEM_ECOSYSTEMS = ("dpkg", "rpm")


@dataclass
class Observation:
    """One sighting of a product: where, in which version, how it is used."""

    product: Product
    version: str | None
    usage: str
    evidence: dict[str, Any]
    licence: Licence | None = None
    pids: tuple[int, ...] = ()


@dataclass
class Component:
    """All observations of one product in one version."""

    product: Product
    version: str | None
    observations: list[Observation] = field(default_factory=list)

    @property
    def usage(self) -> str:
        return max((o.usage for o in self.observations), key=USAGE_RANK.__getitem__)

    @property
    def pids(self) -> list[int]:
        return sorted({pid for o in self.observations for pid in o.pids})

    def licence(self) -> tuple[str, str | None, str, str | None]:
        """Return (class, licence text, where it came from, SPDX expression).

        Licence texts found with the component decide; the catalogue's class
        for the product and version applies only when no text is known. An entry
        the operator added in the config wins over both: it records what the
        operator knows of the licence (a contract, say) beyond the metadata.
        """
        if catalogues.is_extension(self.product.name):
            product = catalogues.for_version(self.product, self.version)
            text = catalogues.catalogue_licence(self.product.name, self.version)
            return product.licence_class, text, "operator catalogue entry", None
        known = [
            o.licence
            for o in self.observations
            if o.licence is not None and o.licence.licence_class != UNKNOWN
        ]
        if known:
            texts = list(dict.fromkeys(licence.raw for licence in known))
            spdx = known[0].spdx if len(known) == 1 else None
            licence_class = combine_all(licence.licence_class for licence in known)
            return licence_class, "; ".join(texts), "package metadata", spdx
        product = catalogues.for_version(self.product, self.version)
        text = catalogues.catalogue_licence(self.product.name, self.version)
        return product.licence_class, text, "catalogue", None

    def to_dict(self) -> dict[str, Any]:
        licence_class, text, origin, spdx = self.licence()
        item: dict[str, Any] = {
            "name": self.product.name,
            "version": self.version,
            "kind": self.product.kind,
            "vendor": self.product.vendor,
            "usage": self.usage,
            "licence": text,
            "licence_class": licence_class,
            "licence_source": origin,
        }
        if spdx:
            item["spdx"] = spdx
        entry = catalogues.entry(self.product.name)
        if entry is not None and entry.language:
            item["language"] = entry.language
        note = catalogues.for_version(self.product, self.version).note
        if note:
            item["note"] = note
        item["evidence"] = [o.evidence for o in self.observations]
        return item


def package_observations(packages: list[Package]) -> list[Observation]:
    observations = []
    for package in packages:
        if package.product is None:
            continue
        version = package.version
        if version and package.ecosystem in SYSTEM_ECOSYSTEMS:
            version = upstream_version(version)
        evidence = package.evidence()
        if package.licence.raw:
            evidence["licence"] = package.licence.raw
        observations.append(
            Observation(
                package.product, version, "installed", evidence, package.licence
            )
        )
    return observations


@dataclass
class ProcessVersion:
    version: str | None
    evidence: dict[str, Any]


OwnerCheck = Callable[[str, str], bool]


def process_version(
    info: ProcessInfo,
    product: Product,
    packages: list[Package],
    owns: OwnerCheck,
) -> ProcessVersion:
    """Find the version of a product a process runs.

    In order: this interpreter's own version; the system package of the same
    product that owns the executable; a version in the executable's path.
    """
    entry = catalogues.entry(product.name)
    evidence: dict[str, Any] = {}
    if entry is not None and entry.exe_version is not None:
        match = entry.exe_version.search(info.exe)
        if match:
            evidence["path_version"] = match.group(1)
    if info.is_self and entry is not None and entry.language == "python":
        evidence["version_from"] = "sys.version (the interpreter running this scan)"
        return ProcessVersion(platform.python_version(), evidence)
    for package in packages:
        if package.product is None or package.product.name != product.name:
            continue
        if package.ecosystem != "dpkg" or not package.version:
            continue
        if owns(package.name, info.exe):
            evidence.update(
                version_from=f"dpkg package {package.name}",
                package=package.name,
                package_version=package.version,
            )
            return ProcessVersion(upstream_version(package.version), evidence)
    if "path_version" in evidence:
        evidence["version_from"] = "executable path"
        return ProcessVersion(evidence["path_version"], evidence)
    return ProcessVersion(None, evidence)


def merge(observations: list[Observation]) -> list[Component]:
    """Group observations by product and version.

    An observation without a version joins the product's only versioned
    component; with none or several it forms a component without a version.
    """
    components: dict[tuple[str, str | None], Component] = {}
    for observation in observations:
        if observation.version is None:
            continue
        key = (observation.product.name, observation.version)
        component = components.setdefault(
            key, Component(observation.product, observation.version)
        )
        component.observations.append(observation)
    for observation in observations:
        if observation.version is not None:
            continue
        name = observation.product.name
        versioned = [c for (n, v), c in components.items() if n == name and v]
        if len(versioned) == 1:
            versioned[0].observations.append(observation)
            continue
        component = components.setdefault(
            (name, None), Component(observation.product, None)
        )
        component.observations.append(observation)
    return sorted(components.values(), key=lambda c: (c.product.name, c.version or ""))
