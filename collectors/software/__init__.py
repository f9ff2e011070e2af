"""Software collector: what a host runs and has installed, named with the
product catalogues of collectors.catalogues.

`SoftwareCollector(root, paths=…, endpoints=…)` reads the filesystem below
`root`: the dpkg database (and rpm's SQLite database), /etc/os-release, the
OS interpreters' Python packages, and below `paths` Python environments,
node_modules trees, jar/war/ear archives, .NET *.deps.json files and model
files. With root "/" it also inspects the running processes: executable,
command line, listening TCP ports and mapped shared libraries.

Keys, values and provenance:

- stack.components (components, measured): catalogue products seen in
  packages, processes, libraries, ports and os-release, with name, version,
  kind, vendor, usage (installed, loaded, running, serving), licence,
  licence_class, licence_source and evidence.
- software.proprietary (components, measured): components and packages whose
  licence class is proprietary or source_available. A licence text found with
  the software decides; the catalogue's class applies when none is known.
- ai.components (components, measured): AI frameworks and inference servers
  (usage installed, loaded or serving), model files recognised by content
  (usage installed, with format and size_bytes), and LLM APIs from the config
  (usage configured).
- video.analytics (components, measured): see collectors.software.analysis
  for the condition.
- integration.interstate (components, declared): interstate endpoints from
  the config; partners in Kazakhstan are left out.
- architecture.runtimes (count, derived): distinct language runtimes (python,
  java, node, dotnet, go, php, ruby) of running processes and of application
  environments under `paths`, leaving out the interpreter running the scan.

Each fact's details carry `coverage`: per source, its status and item count.
"""

from __future__ import annotations

import logging
import os
import socket
from functools import lru_cache
from typing import Any

from collectors import errors
from collectors.base import Collector, Fact, Findings
from collectors.software import dpkg
from collectors.software.analysis import Analysis, interstate, runtimes, video
from collectors.software.inventory import Inventory, gather
from collectors.software.records import UNREADABLE

logger = logging.getLogger(__name__)

STACK = "stack.components"
PROPRIETARY = "software.proprietary"
AI = "ai.components"
VIDEO = "video.analytics"
INTERSTATE = "integration.interstate"
RUNTIMES = "architecture.runtimes"

# Sources that can show installed or running software.
INVENTORY_SOURCES = (
    "os_release",
    "dpkg",
    "rpm",
    "pypi",
    "npm",
    "maven",
    "nuget",
    "processes",
)

__all__ = ["SoftwareCollector"]


class SoftwareCollector(Collector):
    """Record the software stack, its licences, AI and video components."""

    name = "software"
    provides = (STACK, PROPRIETARY, AI, VIDEO, INTERSTATE, RUNTIMES)
    default_timeout = 120.0

    def __init__(
        self,
        root: str = "/",
        *,
        paths: list[str] | tuple[str, ...] = (),
        hostname: str | None = None,
        endpoints: dict[str, Any] | None = None,
    ) -> None:
        self.root = root
        self.paths = [str(path) for path in paths]
        self.endpoints = dict(endpoints or {})
        self.live = os.path.abspath(root) == "/"
        self.source = f"software {root}"
        if self.live:
            self.scope = hostname or socket.gethostname()
        else:
            self.scope = hostname or root

    def collect(self, findings: Findings) -> None:
        inventory = gather(self.root, self.live, self.paths)
        owns = lru_cache(maxsize=4096)(
            lambda package, path: dpkg.package_owns(self.root, package, path)
        )
        analysis = Analysis.build(inventory, self.endpoints, owns)
        details = self._base_details(inventory)
        self._record_interstate(findings)
        if not inventory.readable(*INVENTORY_SOURCES, "paths"):
            self._gap_all(findings, inventory)
            return
        method = "dpkg/rpm databases, package metadata, archives and processes"
        self._add(findings, STACK, analysis.stack(), method, details)
        self._add(
            findings,
            PROPRIETARY,
            analysis.proprietary(),
            method,
            self._proprietary_details(details, analysis),
        )
        self._add(
            findings, AI, analysis.ai(), method, self._ai_details(details, analysis)
        )
        items, video_details = video(analysis)
        self._add(findings, VIDEO, items, method, {**details, **video_details})
        self._record_runtimes(findings, analysis, details)

    def _base_details(self, inventory: Inventory) -> dict[str, Any]:
        details: dict[str, Any] = {"coverage": inventory.coverage_dict()}
        unreadable = [
            name
            for name, status in inventory.coverage.items()
            if status.status == UNREADABLE
        ]
        if unreadable:
            details["caveat"] = (
                f"{', '.join(unreadable)} could not be read, so the list may be incomplete"
            )
        return details

    @staticmethod
    def _proprietary_details(
        details: dict[str, Any], analysis: Analysis
    ) -> dict[str, Any]:
        unknown = analysis.unknown_licences()
        result = {**details, "unknown_licences": unknown}
        total = unknown["application_total"]
        if total:
            shown = ", ".join(unknown["application_packages"][:5])
            more = f" and {total - 5} more" if total > 5 else ""
            note = (
                f"{total} application packages have no licence the agent could "
                f"classify ({shown}{more}); any of them could still be proprietary"
            )
            caveat = details.get("caveat")
            result["caveat"] = f"{caveat}; {note}" if caveat else note
        return result

    @staticmethod
    def _ai_details(details: dict[str, Any], analysis: Analysis) -> dict[str, Any]:
        return {
            **details,
            "usage": "installed: package or file only; loaded: a running process "
            "maps its library; serving: a server process runs it; configured: an "
            "API the system calls, from the config",
            "unidentified_ports": analysis.processes.unidentified_ports,
        }

    def _record_runtimes(
        self, findings: Findings, analysis: Analysis, details: dict[str, Any]
    ) -> None:
        inventory = analysis.inventory
        if not inventory.readable("processes") and not inventory.environments:
            findings.gap(
                RUNTIMES,
                errors.NO_DATA,
                "no processes were inspected (root is not /) and no application "
                "environment was found under the configured paths",
                self.scope,
            )
            return
        languages = runtimes(analysis)
        fact_details = {**details, "runtimes": languages}
        fact = self._fact(
            RUNTIMES,
            len(languages),
            "distinct language runtimes",
            fact_details,
            unit="count",
            provenance="derived",
        )
        findings.add(fact)

    def _record_interstate(self, findings: Findings) -> None:
        configured = self.endpoints.get("interstate")
        if configured is None:
            findings.gap(
                INTERSTATE,
                errors.NOT_CONFIGURED,
                "no interstate endpoints are configured; the software inventory "
                "cannot observe interstate integrations",
                self.scope,
            )
            return
        items, domestic = interstate(configured)
        details = {"domestic_left_out": domestic}
        method = "interstate endpoints from the config"
        # The operator states these endpoints in the config; no scan observes them.
        findings.add(
            self._fact(INTERSTATE, items, method, details, provenance="declared")
        )

    def _gap_all(self, findings: Findings, inventory: Inventory) -> None:
        denied = any(
            status.status == UNREADABLE
            and "permission denied" in (status.message or "").lower()
            for status in inventory.coverage.values()
        )
        reason = errors.PERMISSION_DENIED if denied else errors.NO_DATA
        message = "no inventory source could be read: " + ", ".join(
            f"{name} {status.status}" for name, status in inventory.coverage.items()
        )
        logger.warning("software collector: %s", message)
        for key in (STACK, PROPRIETARY, AI, VIDEO, RUNTIMES):
            findings.gap(key, reason, message, self.scope)

    def _fact(
        self,
        key: str,
        value: Any,
        method: str,
        details: dict[str, Any],
        *,
        unit: str | None = None,
        provenance: str = "measured",
    ) -> Fact:
        return Fact(
            key=key,
            value=value,
            source=self.source,
            method=method,
            scope=self.scope,
            unit=unit,
            provenance=provenance,
            details=details,
        )

    def _add(
        self,
        findings: Findings,
        key: str,
        value: Any,
        method: str,
        details: dict[str, Any],
    ) -> None:
        findings.add(self._fact(key, value, method, details))
