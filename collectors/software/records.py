"""Records the software readers return: packages, processes, model files and
the status of each inventory source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collectors.catalogues import Licence, Product

# Status of one inventory source.
OK = "ok"
ABSENT = "absent"
UNREADABLE = "unreadable"
NOT_INSPECTED = "not_inspected"
UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class Package:
    """One installed package of an ecosystem (dpkg, rpm, pypi, npm, maven, nuget).

    `licence_from` names where the licence text came from (a metadata field or
    a file), or is None when none was found.
    """

    ecosystem: str
    name: str
    version: str | None
    licence: Licence
    path: str
    licence_from: str | None = None
    product: Product | None = None

    def evidence(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "source": self.ecosystem,
            "package": self.name,
            "path": self.path,
        }
        if self.version is not None:
            entry["version"] = self.version
        return entry


@dataclass
class ProcessInfo:
    """One process as the process scan read it.

    `display` is True when its environment has DISPLAY or WAYLAND_DISPLAY,
    False when it has neither, and None when the environment was unreadable.
    `service_manager` names the systemd unit or container runtime from its
    cgroup, if any.
    """

    pid: int
    exe: str
    cmdline: list[str]
    ports: list[int] = field(default_factory=list)
    libraries: list[str] = field(default_factory=list)
    display: bool | None = None
    service_manager: str | None = None
    is_self: bool = False

    @property
    def is_service(self) -> bool:
        """A non-desktop process that listens on a port or runs under a manager."""
        if self.display is not False:
            return False
        return bool(self.ports) or self.service_manager is not None


@dataclass(frozen=True)
class ModelFile:
    """A model file recognised by its content, with its format and size."""

    path: str
    format: str
    size_bytes: int


@dataclass
class SourceStatus:
    """Coverage of one inventory source: whether it was read and what it gave."""

    status: str
    items: int = 0
    locations: list[str] = field(default_factory=list)
    message: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def readable(self) -> bool:
        return self.status == OK

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"status": self.status, "items": self.items}
        if self.locations:
            entry["locations"] = self.locations
        if self.message:
            entry["message"] = self.message
        entry.update(self.extra)
        return entry
