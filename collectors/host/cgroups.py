"""Find this process's cgroup and read its CPU quota and memory limit.

Both cgroup v1 (one directory per controller under /sys/fs/cgroup) and v2 (one
unified hierarchy) are read. A limit set on any ancestor cgroup also binds the
process, so the readers walk from the process's cgroup up to the mount and keep
the tightest limit. Inside a container the path in /proc/self/cgroup often names
a host directory that the container cannot see. The reader then falls back to
the mount directory, which is the container's own cgroup.

File formats follow the kernel's cgroup-v2.rst (cpu.max "$MAX $PERIOD",
memory.max "max" or bytes) and cgroup-v1 cpu/memory documentation
(cpu.cfs_quota_us -1 means no quota).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.host.files import (
    ABSENT,
    FileRead,
    display_path,
    first_line,
    host_path,
    read_file,
)

logger = logging.getLogger(__name__)

CGROUP_MOUNT = "/sys/fs/cgroup"
PROC_SELF_CGROUP = "/proc/self/cgroup"
# Hybrid systems mount the v2 hierarchy here next to the v1 controllers.
HYBRID_UNIFIED_MOUNT = "/sys/fs/cgroup/unified"


class CgroupError(Exception):
    """The process's cgroup or one of its limit files could not be read."""


@dataclass(frozen=True)
class CgroupEntry:
    """One line of /proc/<pid>/cgroup: hierarchy id, controllers and path."""

    hierarchy: int
    controllers: tuple[str, ...]
    path: str


def parse_proc_cgroup(text: str) -> list[CgroupEntry]:
    """Parse /proc/<pid>/cgroup ("N:controllers:/path" per line).

    Raises ValueError on a line without the three fields.
    """
    entries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split(":", 2)
        if len(parts) != 3:
            raise ValueError(f"invalid cgroup line {line!r}")
        hierarchy, controllers, path = parts
        names = tuple(name for name in controllers.split(",") if name)
        entries.append(CgroupEntry(int(hierarchy), names, path))
    return entries


@dataclass(frozen=True)
class CgroupLocation:
    """The directory of one controller's files for this process."""

    version: int
    mount: Path
    directory: Path
    cgroup_path: str
    fell_back: bool

    def chain(self) -> list[Path]:
        """Return the process's cgroup directory and its ancestors up to the mount."""
        directories = [self.directory]
        current = self.directory
        while current != self.mount and self.mount in current.parents:
            current = current.parent
            directories.append(current)
        return directories

    def describe(self, root: str) -> dict[str, Any]:
        return {
            "version": self.version,
            "cgroup_path": self.cgroup_path,
            "directory": display_path(root, self.directory),
            "fell_back_to_mount": self.fell_back,
        }


def read_self_cgroup(root: str) -> list[CgroupEntry]:
    """Read and parse {root}/proc/self/cgroup; raise CgroupError if unreadable."""
    read = read_file(root, PROC_SELF_CGROUP)
    if not read.ok or read.text is None:
        raise CgroupError(f"{PROC_SELF_CGROUP} is {read.status}")
    return parse_proc_cgroup(read.text)


def _v1_mount(root: str, entry: CgroupEntry, controller: str) -> Path | None:
    # Distributions mount co-mounted controllers as "cpu,cpuacct" and add
    # symlinks per controller; either name leads to the same hierarchy.
    candidates = [",".join(entry.controllers), controller, *entry.controllers]
    for name in candidates:
        directory = host_path(root, f"{CGROUP_MOUNT}/{name}")
        if directory.is_dir():
            return directory
    return None


def _v2_mount(root: str, controller: str) -> Path | None:
    for mount in (CGROUP_MOUNT, HYBRID_UNIFIED_MOUNT):
        read = read_file(root, f"{mount}/cgroup.controllers")
        if read.status == ABSENT:
            continue
        if not read.ok or read.text is None:
            raise CgroupError(f"{mount}/cgroup.controllers is {read.status}")
        if controller in read.text.split():
            return host_path(root, mount)
    return None


def _location(version: int, mount: Path, cgroup_path: str) -> CgroupLocation:
    directory = mount / cgroup_path.lstrip("/")
    if directory.is_dir():
        return CgroupLocation(version, mount, directory, cgroup_path, False)
    return CgroupLocation(version, mount, mount, cgroup_path, True)


def locate(root: str, controller: str) -> CgroupLocation | None:
    """Locate this process's cgroup directory for `controller` ("cpu", "memory").

    Returns None when no mounted hierarchy has the controller. A v1 hierarchy
    wins over v2 because hybrid systems keep the controllers on v1.
    """
    entries = read_self_cgroup(root)
    for entry in entries:
        if controller in entry.controllers:
            mount = _v1_mount(root, entry, controller)
            if mount is not None:
                return _location(1, mount, entry.path)
    for entry in entries:
        if entry.hierarchy == 0 and not entry.controllers:
            mount = _v2_mount(root, controller)
            if mount is not None:
                return _location(2, mount, entry.path)
    return None


@dataclass
class Limit:
    """The tightest limit found along the cgroup chain.

    `value` is None when no cgroup on the chain sets a limit. `source` names the
    file that set the value, and `files` lists every file read, as evidence.
    """

    location: CgroupLocation
    value: float | None = None
    source: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)

    def offer(self, value: float | None, source: str) -> None:
        if value is not None and (self.value is None or value < self.value):
            self.value = value
            self.source = source

    def describe(self, root: str) -> dict[str, Any]:
        return {
            **self.location.describe(root),
            "limit_source": self.source,
            "files": self.files,
        }


def _read_limit_file(root: str, directory: Path, name: str) -> FileRead:
    path = display_path(root, directory / name)
    read = read_file(root, path)
    if read.status != ABSENT and not read.ok:
        raise CgroupError(f"{path} is {read.status}")
    return read


def _parse_cpu_max(text: str) -> float | None:
    fields = text.split()
    if len(fields) != 2:
        raise ValueError(f"invalid cpu.max {text!r}")
    if fields[0] == "max":
        return None
    return int(fields[0]) / int(fields[1])


def _parse_cfs(quota_text: str, period_text: str) -> float | None:
    quota = int(quota_text)
    if quota < 0:
        return None
    return quota / int(period_text)


def cpu_limit(root: str) -> Limit | None:
    """Return the CPU quota in CPUs (quota / period), or None without a cpu cgroup.

    Raises CgroupError when a limit file exists but cannot be read, and
    ValueError when its content is malformed.
    """
    location = locate(root, "cpu")
    if location is None:
        return None
    limit = Limit(location)
    for directory in location.chain():
        if location.version == 2:
            read = _read_limit_file(root, directory, "cpu.max")
            text = first_line(read)
            if text is None:
                continue
            limit.files.append(read.evidence(text))
            limit.offer(_parse_cpu_max(text), read.path)
            continue
        quota = _read_limit_file(root, directory, "cpu.cfs_quota_us")
        period = _read_limit_file(root, directory, "cpu.cfs_period_us")
        quota_text, period_text = first_line(quota), first_line(period)
        if quota_text is None or period_text is None:
            continue
        limit.files.append(quota.evidence(quota_text))
        limit.files.append(period.evidence(period_text))
        limit.offer(_parse_cfs(quota_text, period_text), quota.path)
    return limit


def _parse_memory_limit(text: str) -> int | None:
    if text == "max":
        return None
    value = int(text)
    return None if value < 0 else value


def memory_limit(root: str) -> Limit | None:
    """Return the memory limit in bytes, or None without a memory cgroup.

    The value is the raw limit: v1 writes a number near 2**63 for "no limit",
    which the caller compares with the host's memory. Raises CgroupError or
    ValueError like `cpu_limit`.
    """
    location = locate(root, "memory")
    if location is None:
        return None
    name = "memory.max" if location.version == 2 else "memory.limit_in_bytes"
    limit = Limit(location)
    for directory in location.chain():
        read = _read_limit_file(root, directory, name)
        text = first_line(read)
        if text is None:
            continue
        limit.files.append(read.evidence(text))
        limit.offer(_parse_memory_limit(text), read.path)
    return limit
