"""Read npm packages from node_modules trees.

Each package directory holds a package.json whose `license` is an SPDX
expression, "UNLICENSED", "SEE LICENSE IN <file>", or (deprecated) an object
or a `licenses` list of objects with a `type`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from collectors.catalogues import Licence, classify_licence, match_package
from collectors.catalogues.licences import UNKNOWN
from collectors.software.records import Package

logger = logging.getLogger(__name__)

SEE_LICENSE = "see license in "
MAX_LICENCE_BYTES = 256 * 1024


def _declared(data: dict[str, Any]) -> str | None:
    value = data.get("license")
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return value["type"]
    legacy = data.get("licenses")
    if isinstance(legacy, list):
        types = [
            item["type"]
            for item in legacy
            if isinstance(item, dict) and isinstance(item.get("type"), str)
        ]
        if types:
            return " OR ".join(types)
    return None


def _referenced_file(directory: Path, declared: str) -> Licence | None:
    """Classify the file named by "SEE LICENSE IN <file>", inside the package."""
    name = declared.strip()[len(SEE_LICENSE) :].strip()
    location = (directory / name).resolve()
    if directory.resolve() not in location.parents:
        return None
    try:
        if location.stat().st_size > MAX_LICENCE_BYTES:
            return None
        text = location.read_text("utf-8", errors="replace")
    except OSError as exc:
        logger.debug("licence file %s unreadable: %s", location, exc)
        return None
    found = classify_licence(text)
    return Licence(declared, found.spdx, found.licence_class)


def package_licence(
    directory: Path, data: dict[str, Any]
) -> tuple[Licence, str | None]:
    """Return a package's licence and the package.json field it came from."""
    declared = _declared(data)
    if declared is None:
        return classify_licence(None), None
    if declared.strip().lower().startswith(SEE_LICENSE):
        from_file = _referenced_file(directory, declared)
        if from_file is not None and from_file.licence_class != UNKNOWN:
            return from_file, "package.json license file"
        return Licence(declared, None, UNKNOWN), "package.json license"
    return classify_licence(declared), "package.json license"


def _read_package(directory: Path) -> Package | None:
    manifest = directory / "package.json"
    try:
        data = json.loads(manifest.read_text("utf-8", errors="replace"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.debug("package.json %s unreadable: %s", manifest, exc)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    version = data.get("version") if isinstance(data.get("version"), str) else None
    licence, origin = package_licence(directory, data)
    return Package(
        ecosystem="npm",
        name=data["name"],
        version=version,
        licence=licence,
        path=str(manifest),
        licence_from=origin,
        product=match_package(data["name"], version, "npm"),
    )


def _package_dirs(node_modules: Path) -> list[Path]:
    found: list[Path] = []
    try:
        entries = sorted(os.scandir(node_modules), key=lambda e: e.name)
    except OSError as exc:
        logger.debug("node_modules %s unreadable: %s", node_modules, exc)
        return found
    for entry in entries:
        if entry.name.startswith("."):
            continue  # .bin, .cache, .package-lock.json and pnpm's store
        if entry.name.startswith("@") and entry.is_dir():
            found.extend(sorted(Path(entry.path).iterdir()))
        elif entry.is_dir():
            found.append(Path(entry.path))
    return found


def read_node_modules(node_modules: Path) -> list[Package]:
    """Read packages of a node_modules tree, including nested node_modules."""
    packages: list[Package] = []
    visited: set[Path] = set()
    pending = [node_modules]
    while pending:
        current = pending.pop()
        real = current.resolve()
        if real in visited:
            continue
        visited.add(real)
        for directory in _package_dirs(current):
            package = _read_package(directory)
            if package is not None:
                packages.append(package)
            nested = directory / "node_modules"
            if nested.is_dir():
                pending.append(nested)
    return packages
