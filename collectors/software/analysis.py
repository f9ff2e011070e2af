"""Build the values and details of the software facts from an inventory.

Video analytics condition (also in docs/catalogues.md). A video library
(OpenCV, GStreamer, FFmpeg: `video_role: library`) counts when a *service
process* maps it and the host also has a stream endpoint or an active AI
component. A stream endpoint is an RTSP URL from the config or a process
listening on an RTSP port. An active AI component is an AI library loaded by a
process or a running inference server. A service process has neither DISPLAY nor WAYLAND_DISPLAY in its
environment and listens on a TCP port or runs under a service manager (a
systemd .service unit or a container runtime in its cgroup). DeepStream and
video management or analytics products (`video_role: analytics`) count on
their own, wherever they are seen. A video library that is only installed, or
loaded outside a service process, is listed in the details but not counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from collectors import catalogues
from collectors.catalogues import RESTRICTED_CLASSES, Product
from collectors.software.components import (
    Component,
    Observation,
    merge,
    package_observations,
)
from collectors.software.inventory import Inventory
from collectors.software.observe import ProcessFindings, observe_processes
from collectors.software.records import ProcessInfo

logger = logging.getLogger(__name__)

AI_KINDS = ("ai_framework", "inference_server")
ACTIVE_USAGES = ("loaded", "running", "serving")
# Names a partner in Kazakhstan may be given; such a partner is not interstate.
DOMESTIC_COUNTRIES = {"kz", "kaz", "kazakhstan", "казахстан", "қазақстан"}
VIDEO_CONDITION = (
    "a video library (OpenCV, GStreamer, FFmpeg) mapped by a service process "
    "(no DISPLAY or WAYLAND_DISPLAY; listens on a TCP port or runs under a "
    "service manager) while the host has an RTSP stream endpoint or an active "
    "AI component; or DeepStream or a video management or analytics product"
)


def redact_url(url: str) -> str:
    """Drop user, password, query and fragment from a URL: they may hold secrets."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _os_observation(inventory: Inventory) -> Observation | None:
    release = inventory.os_release
    if not release:
        return None
    os_id = release.get("ID", "")
    version = release.get("VERSION_ID")
    product = catalogues.match_os(os_id, version) if os_id else None
    if product is None:
        product = Product(
            name=release.get("NAME") or os_id or "unknown",
            vendor="unknown",
            kind="os",
            licence_class="unknown",
            source="os-release",
        )
    evidence = {
        "source": "os-release",
        "path": inventory.os_release_path,
        "id": os_id,
        "version_id": version,
        "pretty_name": release.get("PRETTY_NAME"),
    }
    return Observation(product, version, "installed", evidence)


# OS package databases: most of their copyright files are free-form text, so an
# unknown licence there is the norm and is only counted.
OS_ECOSYSTEMS = ("dpkg", "rpm")
LISTED_UNKNOWN = 50


@dataclass
class Analysis:
    """Components merged from every observation, and the process findings."""

    inventory: Inventory
    components: list[Component]
    processes: ProcessFindings
    endpoints: dict[str, Any]

    @classmethod
    def build(cls, inventory: Inventory, endpoints: dict[str, Any], owns) -> Analysis:
        observations = package_observations(inventory.packages)
        found = observe_processes(inventory.processes, inventory.packages, owns)
        observations.extend(found.observations)
        os_observation = _os_observation(inventory)
        if os_observation is not None:
            observations.append(os_observation)
        return cls(inventory, merge(observations), found, endpoints)

    def stack(self) -> list[dict[str, Any]]:
        return [component.to_dict() for component in self.components]

    def proprietary(self) -> list[dict[str, Any]]:
        """Components and packages whose licence is proprietary or source available."""
        items = []
        for component in self.components:
            licence_class = component.licence()[0]
            if licence_class in RESTRICTED_CLASSES:
                items.append(component.to_dict())
        for package in self.inventory.packages:
            if package.product is not None:
                continue
            if package.licence.licence_class not in RESTRICTED_CLASSES:
                continue
            item = {
                "name": package.name,
                "version": package.version,
                "kind": "package",
                "ecosystem": package.ecosystem,
                "licence": package.licence.raw,
                "licence_class": package.licence.licence_class,
                "licence_source": package.licence_from,
                "evidence": [package.evidence()],
            }
            if package.licence.spdx:
                item["spdx"] = package.licence.spdx
            items.append(item)
        return items

    def unknown_licences(self) -> dict[str, Any]:
        """Summarise the packages whose licence could not be classified.

        They count neither as proprietary nor as free; an auditor needs to see
        them, because any of them could still be proprietary.
        """
        by_ecosystem: dict[str, int] = {}
        application: list[str] = []
        for package in self.inventory.packages:
            if package.licence.licence_class != "unknown":
                continue
            by_ecosystem[package.ecosystem] = by_ecosystem.get(package.ecosystem, 0) + 1
            if package.ecosystem not in OS_ECOSYSTEMS:
                application.append(f"{package.ecosystem}:{package.name}")
        return {
            "count_by_ecosystem": dict(sorted(by_ecosystem.items())),
            "application_packages": sorted(application)[:LISTED_UNKNOWN],
            "application_total": len(application),
        }

    def ai(self) -> list[dict[str, Any]]:
        """AI frameworks, inference servers, model files and LLM APIs."""
        items = []
        for component in self.components:
            if component.product.kind not in AI_KINDS:
                continue
            item = component.to_dict()
            usage = component.usage
            if usage == "running":
                # A process that runs a server program serves; a framework loads.
                serving = component.product.kind == "inference_server"
                usage = "serving" if serving else "loaded"
            item["usage"] = usage
            if component.pids:
                item["pids"] = component.pids
            items.append(item)
        for model in self.inventory.models:
            items.append(
                {
                    "name": model.path.rstrip("/").rsplit("/", 1)[-1],
                    "kind": "model",
                    "format": model.format,
                    "size_bytes": model.size_bytes,
                    "path": model.path,
                    "usage": "installed",
                    "evidence": [{"source": "file", "path": model.path}],
                }
            )
        for url in self.endpoints.get("llm_apis") or []:
            clean = redact_url(url)
            items.append(
                {
                    "name": urlsplit(clean).hostname or clean,
                    "kind": "llm_api",
                    "url": clean,
                    # The system calls this API; nothing runs it on this host.
                    "usage": "configured",
                    "evidence": [{"source": "config", "url": clean}],
                }
            )
        return items

    def active_ai(self) -> list[str]:
        return sorted(
            {
                c.product.name
                for c in self.components
                if c.product.kind in AI_KINDS and c.usage in ACTIVE_USAGES
            }
        )

    def streams(self) -> list[dict[str, Any]]:
        streams: list[dict[str, Any]] = [
            {"source": "config", "url": redact_url(url)}
            for url in self.endpoints.get("rtsp") or []
        ]
        for component in self.components:
            entry = catalogues.entry(component.product.name)
            if entry is None or entry.video_role != "stream":
                continue
            if component.usage not in ("running", "serving"):
                continue
            streams.append(
                {
                    "source": "process",
                    "name": component.product.name,
                    "pids": component.pids,
                    "ports": sorted(
                        {
                            port
                            for o in component.observations
                            for port in o.evidence.get(
                                "ports", [o.evidence.get("port")]
                            )
                            if port
                        }
                    ),
                }
            )
        return streams


def _role(product: Product) -> str | None:
    entry = catalogues.entry(product.name)
    return None if entry is None else entry.video_role


def _process_entry(info: ProcessInfo) -> dict[str, Any]:
    return {
        "pid": info.pid,
        "exe": info.exe,
        "ports": info.ports,
        "service_manager": info.service_manager,
    }


def video(analysis: Analysis) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return the video analytics items and the details behind them."""
    streams = analysis.streams()
    active_ai = analysis.active_ai()
    by_pid = {info.pid: info for info in analysis.inventory.processes}
    items: dict[str, dict[str, Any]] = {}
    libraries: list[dict[str, Any]] = []
    for pid, products in sorted(analysis.processes.loaded.items()):
        info = by_pid[pid]
        for product in products:
            if _role(product) != "library":
                continue
            seen = {"name": product.name, "usage": "loaded", **_process_entry(info)}
            seen["service"] = info.is_service
            seen["display"] = info.display
            libraries.append(seen)
            if not info.is_service:
                seen["counted"] = False
                seen["reason"] = "not a service process"
                continue
            if not streams and not active_ai:
                seen["counted"] = False
                seen["reason"] = "no stream endpoint and no active AI component"
                continue
            seen["counted"] = True
            item = items.setdefault(
                product.name,
                {
                    "name": product.name,
                    "kind": "video",
                    "role": "library",
                    "usage": "loaded",
                    "processes": [],
                    "streams": streams,
                    "ai": active_ai,
                },
            )
            item["processes"].append(_process_entry(info))
    for component in analysis.components:
        role = _role(component.product)
        if role == "library" and component.usage == "installed":
            libraries.append(
                {
                    "name": component.product.name,
                    "version": component.version,
                    "usage": "installed",
                    "counted": False,
                    "reason": "installed, not loaded by a service process",
                }
            )
        if role != "analytics":
            continue
        item = component.to_dict()
        item["role"] = "analytics"
        items[component.product.name] = item
    details = {
        "condition": VIDEO_CONDITION,
        "video_libraries": libraries,
        "streams": streams,
        "active_ai": active_ai,
    }
    return list(items.values()), details


def interstate(endpoints: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list]:
    """Return interstate integrations from the config, and domestic ones left out."""
    items = []
    domestic = []
    for endpoint in endpoints:
        country = str(endpoint.get("country") or "").strip()
        item = {
            "name": endpoint.get("name"),
            "url": redact_url(str(endpoint["url"])) if endpoint.get("url") else None,
            "country": country or None,
            "evidence": [{"source": "config"}],
        }
        if country.lower() in DOMESTIC_COUNTRIES:
            domestic.append(item)
            continue
        items.append(item)
    return items, domestic


def runtimes(analysis: Analysis) -> dict[str, list[dict[str, Any]]]:
    """Return the evidence for each language runtime the system runs on.

    The interpreter running this scan does not count: it is the agent's own.
    """
    languages: dict[str, list[dict[str, Any]]] = {}
    for component in analysis.components:
        entry = catalogues.entry(component.product.name)
        if entry is None or entry.language is None:
            continue
        for observation in component.observations:
            if observation.evidence.get("source") != "process":
                continue
            if observation.evidence.get("self"):
                continue
            languages.setdefault(entry.language, []).append(
                {
                    "source": "process",
                    "name": component.product.name,
                    "version": component.version,
                    "exe": observation.evidence.get("exe"),
                    "pids": observation.evidence.get("pids"),
                }
            )
    for language, locations in analysis.inventory.environments.items():
        languages.setdefault(language, []).append(
            {"source": "application environment", "locations": locations}
        )
    return languages
