"""Scan running processes: executable, command line, listening TCP ports,
mapped shared libraries, desktop environment and service manager.

Processes exit and deny access while they are scanned: each such process is
skipped and counted by kind (zombie, vanished, access_denied), never raised.
Kernel threads have no executable and are counted apart.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from pathlib import Path

import psutil

from collectors.software.records import OK, ProcessInfo, SourceStatus

logger = logging.getLogger(__name__)

DESKTOP_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY")
# cgroup path parts that show a container runtime started the process.
CONTAINER_MARKERS = ("docker", "containerd", "kubepods", "libpod", "crio")
DELETED_SUFFIX = " (deleted)"


def listening_ports() -> tuple[dict[int, set[int]], str | None]:
    """Return the TCP ports each process listens on, and a note on what was missed.

    Without the privilege to see other users' sockets psutil returns them
    without a pid, so only this user's processes get ports.
    """
    ports: dict[int, set[int]] = defaultdict(set)
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return ports, "listening sockets not readable (access denied)"
    unowned = 0
    for connection in connections:
        if connection.status != psutil.CONN_LISTEN or not connection.laddr:
            continue
        if connection.pid is None:
            unowned += 1
            continue
        ports[connection.pid].add(connection.laddr.port)
    note = None
    if unowned:
        note = f"{unowned} listening sockets without a visible owner process"
    return ports, note


def mapped_libraries(pid: int) -> list[str] | None:
    """Return the shared objects a process maps, from /proc/PID/maps, or None."""
    try:
        text = Path(f"/proc/{pid}/maps").read_text("utf-8", errors="replace")
    except OSError as exc:
        logger.debug("maps of %d unreadable: %s", pid, exc)
        return None
    libraries: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        fields = line.split(None, 5)
        if len(fields) < 6:
            continue
        path = fields[5].strip()
        path = path.removesuffix(DELETED_SUFFIX)
        if ".so" not in os.path.basename(path) or path in seen:
            continue
        seen.add(path)
        libraries.append(path)
    return libraries


def service_manager(pid: int) -> str | None:
    """Name the systemd unit or container runtime in a process's cgroup path."""
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text("utf-8", errors="replace")
    except OSError as exc:
        logger.debug("cgroup of %d unreadable: %s", pid, exc)
        return None
    for line in text.splitlines():
        path = line.rpartition(":")[2]
        for part in reversed(path.split("/")):
            if part.endswith(".service"):
                return part
        lowered = path.lower()
        for marker in CONTAINER_MARKERS:
            if marker in lowered:
                return marker
    return None


def _display(process: psutil.Process) -> bool | None:
    try:
        environment = process.environ()
    except (psutil.AccessDenied, psutil.ZombieProcess, psutil.NoSuchProcess):
        return None
    return any(environment.get(name) for name in DESKTOP_VARIABLES)


def _inspect(process: psutil.Process, ports: dict[int, set[int]]) -> ProcessInfo | None:
    """Read one process; raises psutil errors for the caller to count."""
    with process.oneshot():
        exe = process.exe()
        cmdline = process.cmdline()
    if not exe and not cmdline:
        return None
    exe = exe.removesuffix(DELETED_SUFFIX)
    pid = process.pid
    libraries = mapped_libraries(pid)
    return ProcessInfo(
        pid=pid,
        exe=exe,
        cmdline=cmdline,
        ports=sorted(ports.get(pid, ())),
        libraries=libraries or [],
        display=_display(process),
        service_manager=service_manager(pid),
        is_self=pid == os.getpid(),
    )


def scan() -> tuple[list[ProcessInfo], SourceStatus]:
    """Inspect every process of this machine."""
    ports, port_note = listening_ports()
    skipped = {"zombie": 0, "vanished": 0, "access_denied": 0, "kernel_threads": 0}
    found: list[ProcessInfo] = []
    for process in psutil.process_iter():
        try:
            info = _inspect(process, ports)
        except psutil.ZombieProcess:
            # A subclass of NoSuchProcess, so it is caught first.
            skipped["zombie"] += 1
            continue
        except psutil.NoSuchProcess:
            skipped["vanished"] += 1
            continue
        except psutil.AccessDenied:
            skipped["access_denied"] += 1
            continue
        if info is None:
            skipped["kernel_threads"] += 1
            continue
        found.append(info)
    status = SourceStatus(OK, items=len(found), extra={"skipped": skipped})
    if port_note:
        status.message = port_note
    unmapped = sum(1 for info in found if not info.libraries)
    status.extra["without_readable_maps"] = unmapped
    return found, status
