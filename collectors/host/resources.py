"""CPUs and memory: what the host reports and what this process may use."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from typing import Any

import psutil

from collectors.host import cgroups
from collectors.host.files import parse_cpu_list, read_file
from collectors.host.reading import NoData, Reading

logger = logging.getLogger(__name__)

CPUINFO = "/proc/cpuinfo"
CPU_ONLINE = "/sys/devices/system/cpu/online"
MEMINFO = "/proc/meminfo"
PROC_SELF_STATUS = "/proc/self/status"

_PROCESSOR_LINE = re.compile(r"^processor\s*:", re.MULTILINE)
_MEMTOTAL_LINE = re.compile(r"^MemTotal:\s*(\d+)\s*kB\s*$", re.MULTILINE)
_CPUS_ALLOWED_LINE = re.compile(r"^Cpus_allowed_list:\s*(\S*)\s*$", re.MULTILINE)


def host_cpu_count(root: str, live: bool) -> Reading:
    """Return the host's logical CPU count.

    On the live system ("/") the count comes from os.cpu_count(), then psutil.
    In a tree, and when both return None, it comes from the processor entries of
    /proc/cpuinfo, then the online CPU list in sysfs. Raises NoData when none of
    them has a count.
    """
    if live:
        count = os.cpu_count()
        if count:
            return Reading(count, "os.cpu_count()")
        count = psutil.cpu_count(logical=True)
        if count:
            return Reading(count, "psutil.cpu_count(logical=True)")
    return _cpu_count_from_files(root)


def _cpu_count_from_files(root: str) -> Reading:
    cpuinfo = read_file(root, CPUINFO)
    if cpuinfo.ok and cpuinfo.text is not None:
        count = len(_PROCESSOR_LINE.findall(cpuinfo.text))
        if count:
            return Reading(count, f"processor entries in {CPUINFO}")
    online = read_file(root, CPU_ONLINE)
    if online.ok and online.text is not None and online.text.strip():
        return Reading(len(parse_cpu_list(online.text)), f"CPU list in {CPU_ONLINE}")
    raise NoData(
        CPUINFO,
        f"{CPUINFO} is {cpuinfo.status} and {CPU_ONLINE} is {online.status}",
    )


def _affinity(root: str, live: bool) -> tuple[int, str] | None:
    """Return the number of CPUs this process may run on, and how it was read."""
    if live and hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)), "os.sched_getaffinity(0)"
    if live:
        try:
            return len(psutil.Process().cpu_affinity()), "psutil cpu_affinity()"
        except (AttributeError, psutil.Error) as exc:
            # AttributeError: psutil has no cpu_affinity on macOS.
            logger.debug("CPU affinity not available: %s", exc)
    status = read_file(root, PROC_SELF_STATUS)
    if not status.ok or status.text is None:
        return None
    match = _CPUS_ALLOWED_LINE.search(status.text)
    if match is None or not match.group(1):
        return None
    return len(
        parse_cpu_list(match.group(1))
    ), f"Cpus_allowed_list in {PROC_SELF_STATUS}"


def cpus_usable(root: str, live: bool) -> Reading:
    """Return the CPUs this process may use: min of affinity and cgroup quota.

    Without an affinity reading the host's CPU count is used instead. When the
    cgroup cannot be read the value is marked uncertain, because a quota may
    lower it.
    """
    details: dict[str, Any] = {}
    affinity = _affinity(root, live)
    if affinity is not None:
        base, base_name = affinity[0], "affinity"
        details["affinity_cpus"] = affinity[0]
        details["affinity_method"] = affinity[1]
    else:
        base, base_name = host_cpu_count(root, live).value, "host_cpu_count"
        details["affinity_cpus"] = None

    quota, uncertain = _cgroup_limit(cgroups.cpu_limit, root, "cpu", details)
    details["cgroup_cpu_quota"] = quota

    if quota is not None and quota < base:
        details["applied"] = "cgroup"
        return Reading(round(quota, 3), "cgroup CPU quota", details, uncertain)
    details["applied"] = base_name
    return Reading(base, f"{base_name} (no tighter cgroup quota)", details, uncertain)


def host_memory_bytes(root: str, live: bool) -> Reading:
    """Return MemTotal from /proc/meminfo in bytes (the file counts KiB as "kB").

    On the live system psutil is used when /proc/meminfo is missing (non-Linux).
    """
    meminfo = read_file(root, MEMINFO)
    if meminfo.ok and meminfo.text is not None:
        match = _MEMTOTAL_LINE.search(meminfo.text)
        if match is None:
            raise ValueError(f"{MEMINFO} has no MemTotal line in kB")
        return Reading(int(match.group(1)) * 1024, f"MemTotal in {MEMINFO}")
    if live:
        total = psutil.virtual_memory().total
        if total:
            return Reading(int(total), "psutil.virtual_memory().total")
    raise NoData(MEMINFO, f"{MEMINFO} is {meminfo.status}")


def memory_usable_bytes(root: str, live: bool) -> Reading:
    """Return the memory this process may use: host memory or a lower cgroup limit.

    A limit of "max", -1, or at least the host's memory means no limit, since
    cgroup v1 writes a number near 2**63 (e.g. 9223372036854771712) for none.
    """
    host = host_memory_bytes(root, live).value
    details: dict[str, Any] = {"host_memory_bytes": host}
    limit_value, uncertain = _cgroup_limit(
        cgroups.memory_limit, root, "memory", details
    )
    if limit_value is not None and limit_value >= host:
        limit_value = None
    details["cgroup_memory_limit_bytes"] = limit_value

    if limit_value is not None:
        details["applied"] = "cgroup"
        return Reading(int(limit_value), "cgroup memory limit", details, uncertain)
    details["applied"] = "host"
    return Reading(host, "host memory (no lower cgroup limit)", details, uncertain)


def _cgroup_limit(
    read: Callable[[str], Any], root: str, controller: str, details: dict[str, Any]
) -> tuple[Any, bool]:
    """Read one cgroup limit into details; return (value or None, uncertain).

    An unreadable cgroup makes the usable figure uncertain instead of costing it.
    """
    try:
        limit = read(root)
    except (cgroups.CgroupError, ValueError) as exc:
        details["cgroup_error"] = str(exc)
        return None, True
    if limit is None:
        details["cgroup"] = f"no {controller} controller found"
        return None, False
    details["cgroup"] = limit.describe(root)
    return limit.value, False
