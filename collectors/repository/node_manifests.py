"""Node.js manifests: package.json and package-lock.json (or npm-shrinkwrap.json).

Lock files of lockfileVersion 2 and 3 list every installed package under
`packages`, keyed by its node_modules path, with the `license` field of its own
package.json. Version 1 lists `dependencies` without licences.
"""

from __future__ import annotations

import json
import re
from typing import Any

from collectors.repository.records import (
    NPM,
    Dependency,
    Location,
    MalformedFile,
    ManifestRead,
    Runtime,
    line_of,
)

NODE = "Node.js"
DEPENDENCY_SECTIONS = (
    ("dependencies", None),
    ("devDependencies", "dev"),
    ("peerDependencies", "peer"),
    ("optionalDependencies", "optional"),
)
_EXACT_VERSION = re.compile(r"^=?v?(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)$")
_PACKAGE_KEY = re.compile(r'^\s*"((?:[^"/]+/)*node_modules/[^"]+)"\s*:\s*\{')


def _load_json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedFile(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedFile("expected a JSON object")
    return data


def _section_line(text: str, section: str, name: str) -> int | None:
    """Find a dependency's line inside its section, not an earlier namesake."""
    start = line_of(text, f'"{section}"') or 1
    return line_of(text, f'"{name}"', start)


def read_package_json(path: str, text: str) -> ManifestRead:
    """Read the dependency sections and engines.node of a package.json."""
    data = _load_json(text)
    result = ManifestRead()
    for section, scope in DEPENDENCY_SECTIONS:
        entries = data.get(section)
        if not isinstance(entries, dict):
            continue
        for name, written in entries.items():
            spec = written if isinstance(written, str) else None
            exact = _EXACT_VERSION.match(spec or "")
            result.dependencies.append(
                Dependency(
                    name,
                    NPM,
                    Location(path, _section_line(text, section, name)),
                    version=exact.group(1) if exact else None,
                    constraint=None if exact else spec,
                    scope=scope,
                )
            )
    engines = data.get("engines")
    node = engines.get("node") if isinstance(engines, dict) else None
    if isinstance(node, str):
        exact = _EXACT_VERSION.match(node)
        result.runtimes.append(
            Runtime(
                NODE,
                Location(path, _section_line(text, "engines", "node")),
                version=exact.group(1) if exact else None,
                constraint=None if exact else node,
                field="engines.node",
            )
        )
    else:
        result.runtimes.append(Runtime(NODE, Location(path)))
    return result


def licence_text(value: Any) -> str | None:
    """Return the licence of a package entry as text.

    Old packages write {"type": "MIT"} or a list of such objects in place of an
    SPDX expression; a list becomes an "OR" expression.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return value["type"]
    if isinstance(value, list):
        names = [licence_text(item) for item in value]
        names = [name for name in names if name]
        return " OR ".join(names) if names else None
    return None


def _package_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = _PACKAGE_KEY.match(line)
        if match:
            lines.setdefault(match.group(1), number)
    return lines


def _scope(entry: dict[str, Any]) -> str | None:
    for flag in ("dev", "optional", "peer", "devOptional"):
        if entry.get(flag) is True:
            return flag
    return None


def _lock_packages(path: str, text: str, packages: dict[str, Any]) -> ManifestRead:
    result = ManifestRead()
    lines = _package_lines(text)
    for key, entry in packages.items():
        if not key or not isinstance(entry, dict) or "node_modules/" not in key:
            # "" is the root project; other keys are workspace folders.
            continue
        if entry.get("link") is True:
            continue
        name = entry.get("name") or key.rsplit("node_modules/", 1)[1]
        version = entry.get("version")
        result.dependencies.append(
            Dependency(
                name,
                NPM,
                Location(path, lines.get(key)),
                version=version if isinstance(version, str) else None,
                licence=licence_text(entry.get("license")),
                scope=_scope(entry),
            )
        )
    return result


def _lock_v1(path: str, text: str, dependencies: dict[str, Any]) -> ManifestRead:
    result = ManifestRead()
    pending = list(dependencies.items())
    while pending:
        name, entry = pending.pop()
        if not isinstance(entry, dict):
            continue
        version = entry.get("version")
        result.dependencies.append(
            Dependency(
                name,
                NPM,
                Location(path, line_of(text, f'"{name}": {{')),
                version=version if isinstance(version, str) else None,
                scope=_scope(entry),
            )
        )
        nested = entry.get("dependencies")
        if isinstance(nested, dict):
            pending.extend(nested.items())
    return result


def read_package_lock(path: str, text: str) -> ManifestRead:
    """Read the installed packages of a package-lock.json or npm-shrinkwrap.json."""
    data = _load_json(text)
    packages = data.get("packages")
    if isinstance(packages, dict):
        return _lock_packages(path, text, packages)
    dependencies = data.get("dependencies")
    if isinstance(dependencies, dict):
        return _lock_v1(path, text, dependencies)
    return ManifestRead()
