"""Host collector: hardware and host facts read from procfs and sysfs.

`HostCollector(root)` reads the filesystem below `root`, so it observes this
machine with root "/" and a prepared tree (or a mounted host filesystem) with
any other path. psutil, os affinity calls and systemd-detect-virt are used only
for root "/".

Keys, units and values:

- host.cpu_count (count, int): logical CPUs the host reports.
- host.cpus_usable (count, int or float): CPUs this process may use, the
  minimum of its CPU affinity and the cgroup CPU quota (quota / period).
- host.memory_bytes (bytes, int): MemTotal of /proc/meminfo.
- host.memory_usable_bytes (bytes, int): host memory or a lower cgroup limit.
- host.container (string): "docker", "podman", "containerd", "cri-o",
  "kubernetes", "lxc", another systemd-detect-virt name, or "none".
- host.hypervisor (string): "kvm", "qemu", "vmware", "microsoft", "xen",
  "virtualbox", "amazon", "google", another systemd-detect-virt name, "other"
  (a hypervisor whose vendor is unknown), or "none".
- host.bare_metal (bool): true when evidence rules out a hypervisor, false when
  one is found.
- infrastructure.dedicated_servers (bool, derived): equal to host.bare_metal.
- hardware.specialized (components): GPUs, accelerators, FPGAs, HSMs,
  InfiniBand and Fibre Channel adapters, each with name, kind, vendor,
  vendor_id, device_id, class, pci_address and the layer that found it.
- host.process_count (count, int): processes on the host.

A key that the evidence cannot establish gets a gap with a reason instead of a
fact, and one failing reader costs only its own keys.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import Any

import psutil

from collectors import errors
from collectors.base import Collector, Fact, Findings
from collectors.host import processes, resources, specialised, virt
from collectors.host.reading import Missing, Reading

logger = logging.getLogger(__name__)

CPU_COUNT = "host.cpu_count"
CPUS_USABLE = "host.cpus_usable"
MEMORY = "host.memory_bytes"
MEMORY_USABLE = "host.memory_usable_bytes"
CONTAINER = "host.container"
HYPERVISOR = "host.hypervisor"
BARE_METAL = "host.bare_metal"
DEDICATED_SERVERS = "infrastructure.dedicated_servers"
SPECIALIZED = "hardware.specialized"
PROCESS_COUNT = "host.process_count"

Outcome = tuple[str, str | None, Reading] | Missing

__all__ = ["HostCollector"]


class HostCollector(Collector):
    """Record CPU, memory, virtualisation, PCI hardware and process facts."""

    name = "host"
    provides = (
        CPU_COUNT,
        CPUS_USABLE,
        MEMORY,
        MEMORY_USABLE,
        CONTAINER,
        HYPERVISOR,
        BARE_METAL,
        DEDICATED_SERVERS,
        SPECIALIZED,
        PROCESS_COUNT,
    )

    def __init__(self, root: str = "/", *, hostname: str | None = None) -> None:
        self.root = root
        self.live = os.path.abspath(root) == "/"
        self.source = f"host {root}"
        if self.live:
            self.scope = hostname or socket.gethostname()
        else:
            self.scope = hostname or root

    def collect(self, findings: Findings) -> None:
        counters = (
            (CPU_COUNT, "count", resources.host_cpu_count),
            (CPUS_USABLE, "count", resources.cpus_usable),
            (MEMORY, "bytes", resources.host_memory_bytes),
            (MEMORY_USABLE, "bytes", resources.memory_usable_bytes),
            (PROCESS_COUNT, "count", processes.process_count),
        )
        for key, unit, reader in counters:
            self._run(findings, (key,), self._reader(key, unit, reader))
        self._run(findings, (CONTAINER,), self._container)
        virtualisation_keys = (HYPERVISOR, BARE_METAL, DEDICATED_SERVERS)
        self._run(findings, virtualisation_keys, self._hypervisor)
        self._run(findings, (SPECIALIZED,), self._specialised)

    def _reader(
        self, key: str, unit: str, reader: Callable[[str, bool], Reading]
    ) -> Callable[[], list[Outcome]]:
        return lambda: [(key, unit, reader(self.root, self.live))]

    def _specialised(self) -> list[Outcome]:
        return [(SPECIALIZED, None, specialised.specialised_hardware(self.root))]

    def _container(self) -> list[Outcome]:
        detection = virt.detect_container(self.root, self.live)
        if detection.value is None:
            return [Missing(CONTAINER, errors.NO_DATA, detection.reason)]
        method = "container marker files, PID 1 cgroup and environment"
        details = {"evidence": detection.evidence}
        reading = Reading(
            detection.value, method, details, uncertain=detection.uncertain
        )
        return [(CONTAINER, None, reading)]

    def _hypervisor(self) -> list[Outcome]:
        host = virt.detect_hypervisor(self.root, self.live)
        if host.hypervisor.value is None:
            reason = host.hypervisor.reason
            return [
                Missing(key, errors.NO_DATA, reason)
                for key in (HYPERVISOR, BARE_METAL, DEDICATED_SERVERS)
            ]
        details = {"evidence": host.hypervisor.evidence}
        method = "cpuinfo hypervisor flag, DMI, /sys/hypervisor and systemd-detect-virt"
        bare_metal = host.bare_metal.value
        dedicated = Reading(
            bare_metal,
            f"derived from {BARE_METAL}",
            {BARE_METAL: bare_metal, HYPERVISOR: host.hypervisor.value, **details},
            provenance="derived",
        )
        return [
            (HYPERVISOR, None, Reading(host.hypervisor.value, method, details)),
            (BARE_METAL, None, Reading(bare_metal, method, details)),
            (DEDICATED_SERVERS, None, dedicated),
        ]

    def _run(
        self,
        findings: Findings,
        keys: tuple[str, ...],
        produce: Callable[[], list[Outcome]],
    ) -> None:
        """Record one section's facts, or a gap per key when its reader fails."""
        try:
            outcomes = produce()
        except errors.SourceError as exc:
            reason, message = exc.reason, str(exc)
        except PermissionError as exc:
            reason, message = (
                errors.PERMISSION_DENIED,
                f"permission denied: {exc.filename}",
            )
        except OSError as exc:
            reason, message = errors.SOURCE_FAILED, f"read failed: {exc}"
        except ValueError as exc:
            reason, message = errors.BAD_RESPONSE, f"unexpected content: {exc}"
        except psutil.Error as exc:
            reason, message = errors.SOURCE_FAILED, f"psutil failed: {exc}"
        except Exception as exc:
            # A bug in one reader must cost only its own keys; the gap and the
            # logged traceback make it visible.
            logger.exception("host collector: reader for %s crashed", ", ".join(keys))
            reason, message = errors.CRASHED, f"{type(exc).__name__}: {exc}"
        else:
            for outcome in outcomes:
                self._record(findings, outcome)
            return
        logger.warning(
            "host collector: %s not established (%s): %s",
            ", ".join(keys),
            reason,
            message,
        )
        for key in keys:
            findings.gap(key, reason, message, self.scope)

    def _record(self, findings: Findings, outcome: Outcome) -> None:
        if isinstance(outcome, Missing):
            findings.gap(outcome.key, outcome.reason, outcome.message, self.scope)
            return
        key, unit, reading = outcome
        findings.add(self._fact(key, unit, reading))

    def _fact(self, key: str, unit: str | None, reading: Reading) -> Fact:
        details: dict[str, Any] | None = reading.details
        return Fact(
            key=key,
            value=reading.value,
            source=self.source,
            method=reading.method,
            scope=self.scope,
            unit=unit,
            provenance=reading.provenance,
            details=details,
            bound=reading.bound,
            uncertain=reading.uncertain,
        )
