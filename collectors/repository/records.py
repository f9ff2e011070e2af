"""Records the repository readers return: declared dependencies, runtimes, images.

Readers parse one file each and return plain records with the file and line they
came from. They raise `MalformedFile` when the file cannot be parsed, and the
collector counts and names such files instead of failing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Package ecosystems, named as the catalogue's match_package names them.
PYPI = "pypi"
NPM = "npm"
MAVEN = "maven"
GO = "go"
NUGET = "nuget"
# Debian packages, named "dpkg" as the catalogue names the ecosystem.
DEB = "dpkg"
RPM = "rpm"
# Alpine packages; the catalogue has no ecosystem of this name.
APK = "apk"


class MalformedFile(ValueError):
    """A file that cannot be parsed; the message gives the reason and position."""


@dataclass(frozen=True)
class Location:
    """A file (relative to the repository root, with / separators) and a line."""

    file: str
    line: int | None = None

    def evidence(self, **extra: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {"file": self.file}
        if self.line is not None:
            entry["line"] = self.line
        entry.update(extra)
        return entry


@dataclass(frozen=True)
class Dependency:
    """A package a manifest, lock file or install command names.

    `version` is an exact version (a pin or a locked version), and `constraint`
    is a range as written (e.g. "^4.18.2", ">=2.0,<3").
    """

    name: str
    ecosystem: str
    location: Location
    version: str | None = None
    constraint: str | None = None
    licence: str | None = None
    scope: str | None = None


@dataclass(frozen=True)
class Runtime:
    """A language runtime a manifest declares, with the field that declares it.

    `field` is None when only the manifest's kind implies the runtime (a
    package.json implies Node.js) and no version is declared.
    """

    name: str
    location: Location
    version: str | None = None
    constraint: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class ImageUse:
    """A container image a Dockerfile, Compose file or manifest refers to."""

    reference: str
    location: Location
    context: str | None = None


@dataclass
class ManifestRead:
    """Dependencies and runtimes that one manifest or lock file declares."""

    dependencies: list[Dependency] = field(default_factory=list)
    runtimes: list[Runtime] = field(default_factory=list)


def line_of(text: str, needle: str, start: int = 1) -> int | None:
    """Return the 1-based number of the first line at or after `start` with `needle`.

    Parsers without position information (tomllib, json, ElementTree) locate an
    entry this way, so a name repeated earlier in the file can give an earlier
    line than the entry itself.
    """
    for number, line in enumerate(text.splitlines()[start - 1 :], start):
        if needle in line:
            return number
    return None


_PEP503_SEPARATORS = re.compile(r"[-_.]+")


def normalise_python_name(name: str) -> str:
    """Return the PEP 503 normalised form of a Python distribution name."""
    return _PEP503_SEPARATORS.sub("-", name).lower()
