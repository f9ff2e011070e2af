"""Gather the software inventory of a host: OS release, system packages,
language packages, archives, model files and (on the live system) processes.

Every reader reports a SourceStatus, so the facts can state which sources were
read and how many items each gave.
"""

from __future__ import annotations

import logging
import shlex
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.software import (
    discover,
    dotnet,
    dpkg,
    java,
    models,
    node,
    pythonenv,
    rpm,
)
from collectors.software import processes as process_scan
from collectors.software.records import (
    ABSENT,
    NOT_INSPECTED,
    OK,
    UNREADABLE,
    ModelFile,
    Package,
    ProcessInfo,
    SourceStatus,
)

logger = logging.getLogger(__name__)

OS_RELEASE_FILES = ("etc/os-release", "usr/lib/os-release")


@dataclass
class Inventory:
    """Everything the readers found, with the status of each source."""

    packages: list[Package] = field(default_factory=list)
    processes: list[ProcessInfo] = field(default_factory=list)
    models: list[ModelFile] = field(default_factory=list)
    os_release: dict[str, str] | None = None
    os_release_path: str | None = None
    coverage: dict[str, SourceStatus] = field(default_factory=dict)
    # Language of the application environments found under the configured
    # paths (python, node, java, dotnet), with where they were found.
    environments: dict[str, list[str]] = field(default_factory=dict)

    def coverage_dict(self) -> dict[str, Any]:
        return {name: status.to_dict() for name, status in self.coverage.items()}

    def readable(self, *names: str) -> bool:
        return any(
            self.coverage[name].readable for name in names if name in self.coverage
        )


def parse_os_release(text: str) -> dict[str, str]:
    """Parse os-release(5): KEY=value lines with shell quoting."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw)
        except ValueError:
            parts = [raw.strip("\"'")]
        values[key.strip()] = parts[0] if parts else ""
    return values


def read_os_release(root: str, inventory: Inventory) -> None:
    for relative in OS_RELEASE_FILES:
        location = Path(root) / relative
        try:
            text = location.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            continue
        except OSError as exc:
            logger.warning("os-release %s unreadable: %s", location, exc)
            inventory.coverage["os_release"] = SourceStatus(
                UNREADABLE, locations=["/" + relative], message=str(exc)
            )
            return
        inventory.os_release = parse_os_release(text)
        inventory.os_release_path = "/" + relative
        inventory.coverage["os_release"] = SourceStatus(OK, 1, ["/" + relative])
        return
    inventory.coverage["os_release"] = SourceStatus(ABSENT)


def _read_many(
    paths: list[Path], reader, what: str
) -> tuple[list[Package], SourceStatus]:
    packages: list[Package] = []
    failed: list[str] = []
    for path in paths:
        try:
            packages.extend(reader(path))
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            logger.debug("%s %s unreadable: %s", what, path, exc)
            failed.append(str(path))
    if not paths:
        return packages, SourceStatus(ABSENT)
    status = SourceStatus(OK, items=len(packages), locations=[str(p) for p in paths])
    if failed:
        status.extra["unreadable"] = failed
    return packages, status


def read_models(found: discover.Found) -> tuple[list[ModelFile], SourceStatus]:
    files: list[ModelFile] = []
    unrecognised = 0
    for path in found.model_candidates:
        try:
            model_format = models.identify(path)
            size = path.stat().st_size
        except OSError as exc:
            logger.debug("model candidate %s unreadable: %s", path, exc)
            continue
        if model_format is None:
            unrecognised += 1
            continue
        files.append(ModelFile(str(path), model_format, size))
    for directory in found.saved_models:
        size = models.directory_size(directory)
        files.append(ModelFile(str(directory), "tf_savedmodel", size))
    checked = len(found.model_candidates) + len(found.saved_models)
    status = SourceStatus(
        OK if checked or found.files_seen else ABSENT, items=len(files)
    )
    status.extra["candidates_checked"] = checked
    status.extra["unrecognised"] = unrecognised
    return files, status


def _record(inventory: Inventory, name: str, result) -> list[Package]:
    packages, status = result
    inventory.coverage[name] = status
    inventory.packages.extend(packages)
    return packages


def gather(root: str, live: bool, paths: list[str]) -> Inventory:
    """Read every source under root and below the extra paths."""
    inventory = Inventory()
    read_os_release(root, inventory)
    _record(inventory, "dpkg", dpkg.read_packages(root))
    _record(inventory, "rpm", rpm.read_packages(root))
    found = discover.walk(list(paths))
    path_status = SourceStatus(OK if paths else ABSENT, items=found.files_seen)
    path_status.locations = list(paths)
    if found.missing:
        path_status.extra["missing"] = found.missing
    if found.unreadable:
        path_status.extra["unreadable"] = found.unreadable
    inventory.coverage["paths"] = path_status
    site_dirs = pythonenv.system_site_dirs(root, live) + found.site_dirs
    _record(inventory, "pypi", pythonenv.read_distributions(site_dirs))
    node_modules = _read_many(
        found.node_modules, node.read_node_modules, "node_modules"
    )
    _record(inventory, "npm", node_modules)
    _record(inventory, "maven", _read_many(found.archives, java.read_jar, "archive"))
    _record(
        inventory, "nuget", _read_many(found.deps_files, dotnet.read_deps, "deps.json")
    )
    inventory.models, inventory.coverage["models"] = read_models(found)
    _environments(inventory, found)
    if live:
        inventory.processes, inventory.coverage["processes"] = process_scan.scan()
    else:
        inventory.coverage["processes"] = SourceStatus(
            NOT_INSPECTED,
            message="processes are inspected only on the live system (root /)",
        )
    return inventory


def _environments(inventory: Inventory, found: discover.Found) -> None:
    by_language = {
        "python": [str(p) for p in found.site_dirs],
        "node": [str(p) for p in found.node_modules],
        "java": [str(p) for p in found.archives],
        "dotnet": [str(p) for p in found.deps_files],
    }
    inventory.environments = {
        lang: where for lang, where in by_language.items() if where
    }
