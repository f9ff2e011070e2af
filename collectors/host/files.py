"""Read procfs and sysfs files below a filesystem root and describe the outcome.

Every host reader takes the root as a parameter, so the same code reads this
machine ("/") and a prepared tree. `read_file` returns a status instead of
raising OSError for a missing or unreadable file, and the readers record that
status as evidence.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

OK = "ok"
ABSENT = "absent"
PERMISSION_DENIED = "permission denied"
UNREADABLE = "unreadable"


def host_path(root: str, path: str) -> Path:
    """Return the location of the host path `path` (e.g. "/proc/cpuinfo") under root."""
    return Path(root) / path.lstrip("/")


def display_path(root: str, location: Path) -> str:
    """Return `location` as a host path: relative to root, with a leading /."""
    try:
        relative = location.relative_to(root)
    except ValueError:
        return str(location)
    return "/" + str(relative) if str(relative) != "." else "/"


@dataclass(frozen=True)
class FileRead:
    """The outcome of reading one file: its text, or why there is none."""

    path: str
    status: str
    text: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK

    def evidence(self, value: Any = None) -> dict[str, Any]:
        """Return a details entry naming the file, its status and what it showed."""
        entry: dict[str, Any] = {"source": self.path, "status": self.status}
        if value is not None:
            entry["value"] = value
        if self.error is not None:
            entry["error"] = self.error
        return entry


def read_file(root: str, path: str) -> FileRead:
    """Read a text file below root; undecodable bytes become U+FFFD."""
    location = host_path(root, path)
    try:
        data = location.read_bytes()
    except FileNotFoundError:
        return FileRead(path, ABSENT)
    except PermissionError:
        logger.debug("permission denied reading %s", location)
        return FileRead(path, PERMISSION_DENIED)
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        logger.debug("cannot read %s: %s", location, exc)
        return FileRead(path, UNREADABLE, error=name)
    return FileRead(path, OK, text=data.decode("utf-8", errors="replace"))


def first_line(read: FileRead) -> str | None:
    """Return the stripped first line of a successful read, or None."""
    if not read.ok or read.text is None:
        return None
    lines = read.text.splitlines()
    return lines[0].strip() if lines else ""


def parse_cpu_list(text: str) -> set[int]:
    """Parse a kernel CPU list such as "0-3,8,10-11" into CPU numbers.

    Raises ValueError on a malformed list. An empty list is an empty set.
    """
    cpus: set[int] = set()
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            low, high = part.split("-", 1)
            first, last = int(low), int(high)
            if last < first:
                raise ValueError(f"invalid CPU range {part!r}")
            cpus.update(range(first, last + 1))
        else:
            cpus.add(int(part))
    return cpus
