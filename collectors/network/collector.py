"""The network collector: interfaces, isolation probes and an nmap scan.

Everything it reads is of the network namespace the agent runs in, so it judges
the segment of the host (or pod) it runs on. The parts fail apart: a missing
nmap costs the scan's facts, not the interface or probe evidence.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass
from typing import Any

from collectors import errors
from collectors.base import Collector, Fact, Findings
from collectors.network import interfaces, probes, scanning
from collectors.network.scope import ScopePolicy

logger = logging.getLogger(__name__)

ISOLATED = "network.isolated_segment"
DEDICATED = "infrastructure.dedicated_network"


@dataclass(frozen=True)
class ScanSettings:
    """Scan settings: targets (already through the scope guard), ports, nmap options."""

    targets: tuple[str, ...] = ()
    ports: tuple[tuple[int, int], ...] = ()
    scan_type: str = "auto"
    service_detection: bool = True
    version_intensity: int = 2
    host_timeout: float | None = None
    nmap_path: str | None = None
    # Count data stores found on the targets; off when the database collector
    # counts the same servers from their own catalogues.
    count_data_stores: bool = True
    # The guard's policy, applied again to the addresses a target name
    # resolves to when the scan starts.
    policy: ScopePolicy | None = None
    # Seconds to wait for a target name to resolve.
    resolve_timeout: float = 5.0


@dataclass(frozen=True)
class ProbeSettings:
    blocked: tuple[probes.Probe, ...] = ()
    reachable: tuple[probes.Probe, ...] = ()
    resolve: tuple[str, ...] = ()
    timeout: float = 3.0


@dataclass(frozen=True)
class HostPaths:
    """Paths of the kernel's views; tests point these at prepared trees."""

    sys_root: str = "/sys"
    proc_root: str = "/proc"
    resolv_conf: str = "/etc/resolv.conf"


@dataclass
class _Run:
    findings: Findings
    deadline: float

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


class NetworkCollector(Collector):
    """Record isolation, dedicated-network and service evidence."""

    name = "network"
    provides = (ISOLATED, DEDICATED, *scanning.SCAN_KEYS)
    default_timeout = 300.0

    def __init__(
        self,
        *,
        scan: ScanSettings | None = None,
        probe: ProbeSettings | None = None,
        paths: HostPaths | None = None,
        budget: float = 300.0,
        hostname: str | None = None,
    ) -> None:
        self.scan = scan or ScanSettings()
        self.probe = probe or ProbeSettings()
        self.paths = paths or HostPaths()
        self.budget = budget
        self.scope = hostname or socket.gethostname()
        self.source = f"network {self.scope}"

    def collect(self, findings: Findings) -> None:
        run = _Run(findings, time.monotonic() + self.budget)
        self._record_dedicated(run)
        self._record_isolation(run)
        if self.scan.targets:
            scanning.record_scan(self, run)
        else:
            findings.gap(
                scanning.SERVICES,
                errors.NOT_CONFIGURED,
                "no network targets are configured, so no ports were scanned",
                self.scope,
            )

    def fact(self, key: str, value: Any, method: str, details: dict, **extra) -> Fact:
        """Build a measured fact of this collector's source and scope."""
        return Fact(
            key=key,
            value=value,
            source=self.source,
            method=method,
            scope=self.scope,
            details=details,
            **extra,
        )

    def _record_dedicated(self, run: _Run) -> None:
        try:
            found = interfaces.read_interfaces(
                sys_root=self.paths.sys_root, proc_root=self.paths.proc_root
            )
            rdma = interfaces.read_rdma(sys_root=self.paths.sys_root)
        except interfaces.InterfaceError as exc:
            logger.warning("network collector: %s", exc)
            run.findings.gap(DEDICATED, exc.reason, str(exc), self.scope)
            return
        judged = interfaces.judge_dedicated(found, rdma)
        details = dict(judged.details)
        if judged.bound == "lower":
            # The report shows a caveat next to the verdict it leaves undecided.
            details["caveat"] = interfaces.NOT_VISIBLE
        method = "interfaces in /sys/class/net and RDMA ports in /sys/class/infiniband"
        run.findings.add(
            self.fact(DEDICATED, judged.value, method, details, bound=judged.bound)
        )

    def _record_isolation(self, run: _Run) -> None:
        settings = self.probe
        notes: list[str] = []
        routes = probes.read_routes(self.paths.proc_root)
        resolvers = probes.read_resolvers(self.paths.resolv_conf, notes=notes)
        results = probes.run_probes(
            [*settings.blocked, *settings.reachable], timeout=settings.timeout
        )
        names = probes.resolve_names(settings.resolve, timeout=settings.timeout)
        judged = probes.judge_isolation(results, routes, names, resolvers=resolvers)

        if judged.value is None:
            reason = _undecided_reason(settings, results)
            message = _undecided_message(judged.reason, results)
            run.findings.gap(ISOLATED, reason, message, self.scope)
            return
        details = {**judged.details, "reason": judged.reason}
        if notes:
            details["notes"] = notes
        method = (
            f"{len(results)} TCP connect probes, the routing table and the resolvers"
        )
        run.findings.add(self.fact(ISOLATED, judged.value, method, details))


def _undecided_message(reason: str, results: list) -> str:
    """Return the gap message: the reason, then each probe's outcome."""
    outcomes = ", ".join(
        f"{r.probe.name} {r.probe.host}:{r.probe.port} {r.outcome}" for r in results
    )
    return f"{reason} (probes: {outcomes})" if outcomes else reason


def _undecided_reason(settings: ProbeSettings, results: list) -> str:
    """Return the gap reason for an isolation verdict the probes could not give."""
    if not settings.blocked:
        return errors.NOT_CONFIGURED
    controls = [r for r in results if r.probe.expect == "reachable"]
    if any(result.outcome != "reachable" for result in controls):
        # The agent's own network is impaired, so blocked probes prove nothing.
        return errors.UNREACHABLE
    return errors.NO_DATA
