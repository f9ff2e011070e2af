"""Count the processes on the host.

Processes start and exit while they are counted, so each kind of trouble is
counted in the details instead of raised. Zombies count as processes.
Processes that exited during the scan do not count. Processes this user may not
inspect count, because they exist.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import psutil

from collectors.host.files import ABSENT, OK, PERMISSION_DENIED, host_path, read_file
from collectors.host.reading import NoData, Reading

logger = logging.getLogger(__name__)

PROC = "/proc"
# State letter of a zombie in field 3 of /proc/<pid>/stat (proc(5)).
ZOMBIE_STATE = "Z"


def count_psutil_processes(processes: Iterable[psutil.Process]) -> Reading:
    """Count processes from psutil, asking each for its status."""
    counts = {"zombie": 0, "vanished": 0, "access_denied": 0}
    total = 0
    for process in processes:
        try:
            status = process.status()
        except psutil.ZombieProcess:
            # Subclass of NoSuchProcess, so it is caught first.
            counts["zombie"] += 1
            total += 1
            continue
        except psutil.NoSuchProcess:
            counts["vanished"] += 1
            continue
        except psutil.AccessDenied:
            counts["access_denied"] += 1
            total += 1
            continue
        total += 1
        if status == psutil.STATUS_ZOMBIE:
            counts["zombie"] += 1
    return Reading(total, "psutil.process_iter()", counts)


def _stat_state(text: str) -> str | None:
    # The command name in field 2 may contain spaces and ")", so the state is
    # the first field after the last ")".
    _, _, rest = text.rpartition(")")
    fields = rest.split()
    return fields[0] if fields else None


def count_proc_tree(root: str) -> Reading:
    """Count the numeric directories of {root}/proc and read each one's state."""
    directory = host_path(root, PROC)
    try:
        pids = [entry.name for entry in directory.iterdir() if entry.name.isdigit()]
    except FileNotFoundError as exc:
        raise NoData(PROC, f"{PROC} does not exist") from exc
    counts = {"zombie": 0, "vanished": 0, "access_denied": 0}
    total = 0
    for pid in pids:
        read = read_file(root, f"{PROC}/{pid}/stat")
        if read.status == ABSENT:
            counts["vanished"] += 1
            continue
        total += 1
        if read.status == PERMISSION_DENIED:
            counts["access_denied"] += 1
        elif read.status == OK and _stat_state(read.text or "") == ZOMBIE_STATE:
            counts["zombie"] += 1
    details: dict[str, Any] = dict(counts)
    return Reading(total, f"numeric directories in {PROC}", details)


def process_count(root: str, live: bool) -> Reading:
    """Count processes with psutil on the live system, else from the /proc tree."""
    if live:
        return count_psutil_processes(psutil.process_iter())
    return count_proc_tree(root)
