"""Name the products that running processes show: by executable and command
line, by mapped shared library, and by listening port."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from collectors import catalogues
from collectors.catalogues import Product
from collectors.catalogues.registry import library_version
from collectors.software.components import (
    Observation,
    OwnerCheck,
    process_version,
)
from collectors.software.records import Package, ProcessInfo

logger = logging.getLogger(__name__)


@dataclass
class ProcessFindings:
    """Observations from processes, and what the scan could not attribute.

    `loaded` lists, per pid, the products whose libraries the process maps,
    and `runs` the product its executable is.
    """

    observations: list[Observation] = field(default_factory=list)
    unidentified_ports: list[dict[str, Any]] = field(default_factory=list)
    loaded: dict[int, list[Product]] = field(default_factory=dict)
    runs: dict[int, Product] = field(default_factory=dict)


def _add_pid(observation: Observation, info: ProcessInfo) -> None:
    observation.pids = (*observation.pids, info.pid)
    observation.evidence["pids"].append(info.pid)
    ports = observation.evidence.get("ports")
    if ports is not None:
        observation.evidence["ports"] = sorted(set(ports) | set(info.ports))
        if info.ports:
            observation.usage = "serving"


class _Collector:
    def __init__(self, packages: list[Package], owns: OwnerCheck) -> None:
        self.packages = packages
        self.owns = owns
        self.findings = ProcessFindings()
        # The scan's own process stays apart, so runtime counts can leave it out.
        self.by_exe: dict[tuple[str, str, str | None, bool], Observation] = {}
        self.by_library: dict[tuple[str, str], Observation] = {}

    def executable(self, info: ProcessInfo) -> Product | None:
        product = catalogues.match_process(info.exe, info.cmdline)
        if product is None:
            return None
        found = process_version(info, product, self.packages, self.owns)
        product = catalogues.for_version(product, found.version)
        self.findings.runs[info.pid] = product
        key = (product.name, info.exe, found.version, info.is_self)
        observation = self.by_exe.get(key)
        if observation is not None:
            _add_pid(observation, info)
            return product
        evidence: dict[str, Any] = {
            "source": "process",
            "exe": info.exe,
            "pids": [info.pid],
            "ports": list(info.ports),
            **found.evidence,
        }
        if info.is_self:
            evidence["self"] = True
        usage = "serving" if info.ports else "running"
        observation = Observation(
            product, found.version, usage, evidence, None, (info.pid,)
        )
        self.by_exe[key] = observation
        self.findings.observations.append(observation)
        return product

    def libraries(self, info: ProcessInfo, runs: Product | None) -> None:
        loaded: list[Product] = []
        for path in info.libraries:
            product = catalogues.match_library(path)
            if product is None or (runs is not None and product.name == runs.name):
                continue
            loaded.append(product)
            key = (product.name, path)
            observation = self.by_library.get(key)
            if observation is not None:
                observation.pids = (*observation.pids, info.pid)
                observation.evidence["pids"].append(info.pid)
                continue
            evidence = {
                "source": "library",
                "path": path,
                "pids": [info.pid],
                "exe": info.exe,
            }
            version = library_version(os.path.basename(path).lower())
            observation = Observation(
                product, version, "loaded", evidence, None, (info.pid,)
            )
            self.by_library[key] = observation
            self.findings.observations.append(observation)
        if loaded:
            self.findings.loaded[info.pid] = loaded

    def ports(self, info: ProcessInfo, runs: Product | None) -> None:
        for port in info.ports:
            products = catalogues.match_port(port)
            if not products or (runs and runs.name in {p.name for p in products}):
                continue
            identifying = [
                product
                for product in products
                if (entry := catalogues.entry(product.name)) and entry.ports_identify
            ]
            if runs is None and identifying:
                for product in identifying:
                    evidence = {
                        "source": "port",
                        "port": port,
                        "pids": [info.pid],
                        "exe": info.exe,
                    }
                    self.findings.observations.append(
                        Observation(
                            product, None, "serving", evidence, None, (info.pid,)
                        )
                    )
                continue
            self.findings.unidentified_ports.append(
                {
                    "port": port,
                    "pid": info.pid,
                    "exe": info.exe,
                    "candidates": [product.name for product in products],
                }
            )


def observe_processes(
    processes: list[ProcessInfo], packages: list[Package], owns: OwnerCheck
) -> ProcessFindings:
    """Return the product observations the running processes give."""
    collector = _Collector(packages, owns)
    for info in processes:
        runs = collector.executable(info)
        collector.libraries(info, runs)
        collector.ports(info, runs)
    return collector.findings
