"""Preflight and running of the nmap binary for the network collector.

`preflight` checks, before any packet is sent, that python-nmap is importable,
that the configured binary is nmap (and which version), and whether a SYN scan
is possible. It records each problem with its fix. `run_scan` runs nmap itself
under a wall-clock budget and returns every host nmap finished, even when the
budget cuts the scan.

python-nmap is used only to find the binary and read its version. Its scan()
is not used: with a timeout it kills nmap and raises PortScannerTimeout with
none of the output, so every host finished before the timeout is lost, and it
kills only nmap's pid rather than its process group.
"""

from __future__ import annotations

import importlib
import ipaddress
import logging
import os
import re
import selectors
import shutil
import signal
import stat
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType

logger = logging.getLogger(__name__)

SCAN_TYPES = ("auto", "connect", "syn")
STATUS_PATH = "/proc/self/status"

# linux/capability.h: CAP_NET_RAW is bit 13. The security.capability attribute
# is a struct vfs_cap_data: a little-endian magic word whose bit 0 is the
# effective flag, then the low 32 bits of the permitted set.
CAP_NET_RAW = 13
_VFS_CAP_FLAGS_EFFECTIVE = 0x000001

# nmap writes a host's XML only when its whole host group is done. Checked with
# nmap 7.93 writing to a pipe: a fast host waited for a slow one of its group,
# and came out at once with --max-hostgroup 1. Without a limit nmap put all 128
# addresses of a /25 in one group for a one-port scan (its -v output), so a
# budget cut would lose all of them. A group of 64 hosts bounds that loss.
# Smaller groups cost time where many addresses are dead, because each group
# waits out the ARP timeouts of its dead addresses. A TCP connect scan of 5
# live hosts in a /24 inside test namespaces (bench/bench_network.py) took
# 60.8 s with groups of 16 and 23.2 s with groups of 64.
DEFAULT_HOST_GROUP = 64
# nmap's --version-intensity. Probes registered for a port (Oracle TNS on 1521,
# TDS on 1433, RTSP on 554) are sent at any intensity. The intensity adds the
# generic probes, and each one waits for a response on a silent port. Measured with
# nmap 7.93 on a loopback port that accepts and never sends: intensity 0
# took 11.4 s, 2 took 31.5 s, and nmap's default 7 took 164.5 s.
DEFAULT_VERSION_INTENSITY = 2

# Characters of nmap's service fingerprint kept as evidence. A fingerprint
# contains every probe response nmap could not match, so it can reach kilobytes.
FINGERPRINT_LIMIT = 2000

# Port states recorded. nmap counts closed ports, and they are not recorded.
KEPT_STATES = ("open", "filtered", "open|filtered")

# Seconds to read what nmap had already written after its group was killed.
_DRAIN_SECONDS = 2.0
_READ_SIZE = 65536
_PORT_LIST = re.compile(r"\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*")

# Seconds `nmap -V` may take; it prints its version at once.
VERSION_CHECK_SECONDS = 10.0
PATH_FIX = (
    "set sources.network.nmap_path to an nmap binary that only its owner (root "
    "or the agent's user) may change, or leave it unset to use nmap on PATH"
)
PIP_FIX = "pip uninstall nmap && pip install python-nmap"
BINARY_FIX = "apt-get install nmap, or set sources.network.nmap_path to the nmap binary"


class NmapError(Exception):
    """nmap ran and failed: no output, or an error before any host finished."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.stderr = stderr


@dataclass(frozen=True)
class Problem:
    """A problem the preflight found, with its fix.

    `capability` is "python_nmap", "nmap_binary" or "syn_scan". A blocking
    problem leaves nothing to scan with.
    """

    capability: str
    message: str
    fix: str
    blocking: bool = True


@dataclass(frozen=True)
class Preflight:
    """The preflight's findings: the binary, the scan type and the problems."""

    nmap_path: str | None
    nmap_version: str | None
    scan_type_requested: str
    scan_type: str
    # "root", "ambient capability", "file capability", or None.
    privilege: str | None
    service_detection: bool
    problems: tuple[Problem, ...] = ()

    @property
    def usable(self) -> bool:
        return self.nmap_path is not None and not any(
            problem.blocking for problem in self.problems
        )


@dataclass(frozen=True)
class HostRecord:
    """One `<host>` element nmap finished."""

    address: str
    state: str
    reason: str
    hostnames: tuple[str, ...] = ()
    # nmap gave up on the host at --host-timeout and dropped its port results.
    timed_out: bool = False


@dataclass(frozen=True)
class PortRecord:
    """One port nmap reported open or filtered, with its service fields.

    `method` is nmap's: "probed" when a probe response matched, "table" when
    the name comes from its port table (nmap-services). `conf` is nmap's
    confidence, 0-10.
    """

    host: str
    port: int
    protocol: str
    state: str
    reason: str
    service: str | None = None
    product: str | None = None
    version: str | None = None
    extrainfo: str | None = None
    tunnel: str | None = None
    method: str | None = None
    conf: int = 0
    cpe: tuple[str, ...] = ()
    fingerprint: str | None = None
    # nmap's device type from its match line, such as "webcam" or "router".
    devicetype: str | None = None


@dataclass
class ScanResult:
    """Hosts and ports of one nmap run, complete or cut by the budget."""

    command: list[str]
    complete: bool
    elapsed: float
    hosts: list[HostRecord]
    ports: list[PortRecord]
    # Targets with addresses not reported; empty when the scan is complete.
    unfinished: list[str]
    stderr: str
    warnings: list[str]
    exit_code: int | None
    pid: int
    # Why the result is incomplete, or None.
    error: str | None = None


def port_spec(ports: Iterable[int | tuple[int, int]]) -> str:
    """Return nmap's -p text for ports and (low, high) ranges, sorted and merged.

    Raises ValueError for a port outside 1-65535, a range whose low end is above
    its high end, anything else, or no ports at all.
    """
    ranges = sorted(_port_range(item) for item in ports)
    if not ranges:
        raise ValueError("no ports to scan; list at least one port or range")
    merged = [ranges[0]]
    for low, high in ranges[1:]:
        last_low, last_high = merged[-1]
        if low <= last_high + 1:
            merged[-1] = (last_low, max(last_high, high))
        else:
            merged.append((low, high))
    return ",".join(
        str(low) if low == high else f"{low}-{high}" for low, high in merged
    )


def _port_range(item: object) -> tuple[int, int]:
    if isinstance(item, int) and not isinstance(item, bool):
        low = high = item
    elif (
        isinstance(item, tuple)
        and len(item) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in item)
    ):
        low, high = item
    else:
        raise ValueError(f"port {item!r} is not a port number or a (low, high) pair")
    if not 1 <= low <= high <= 65535:
        raise ValueError(f"port range {low}-{high} is not within 1-65535, low to high")
    return low, high


# --- preflight -----------------------------------------------------------------


def preflight(
    *,
    nmap_path: str | None,
    scan_type: str,
    service_detection: bool,
    status_path: str = STATUS_PATH,
    import_module: Callable[[str], ModuleType] = importlib.import_module,
) -> Preflight:
    """Check python-nmap, the nmap binary and the privilege a SYN scan needs.

    `nmap_path` None means `shutil.which("nmap")`. `status_path` is the
    /proc status file read for the effective uid and capabilities, and
    `import_module` imports the python-nmap module; tests replace both.
    Raises ValueError for a scan type other than auto, connect or syn.
    """
    if scan_type not in SCAN_TYPES:
        raise ValueError(
            f"scan_type {scan_type!r} is not one of {', '.join(SCAN_TYPES)}"
        )
    problems: list[Problem] = []
    module = _python_nmap(import_module, problems)
    path = _locate(nmap_path, problems)
    version = None
    if module is not None and path is not None:
        version = _nmap_version(module, path, problems)
    privilege, blocked = _privilege(status_path, path)
    used = scan_type
    if scan_type == "auto":
        used = "syn" if privilege else "connect"
    elif scan_type == "syn" and not privilege:
        used = "connect"
        problems.append(_syn_problem(path, blocked))
    return Preflight(
        nmap_path=path,
        nmap_version=version,
        scan_type_requested=scan_type,
        scan_type=used,
        privilege=privilege,
        service_detection=service_detection,
        problems=tuple(problems),
    )


def _python_nmap(
    import_module: Callable[[str], ModuleType], problems: list[Problem]
) -> ModuleType | None:
    # The PyPI package "nmap" installs another module under the same import name,
    # without PortScanner.
    try:
        module = import_module("nmap")
    except ImportError as exc:
        problems.append(
            Problem(
                "python_nmap",
                f"the Python module nmap cannot be imported ({exc}); the network "
                "collector needs python-nmap",
                PIP_FIX,
            )
        )
        return None
    if not hasattr(module, "PortScanner"):
        where = getattr(module, "__file__", None) or "an unknown location"
        problems.append(
            Problem(
                "python_nmap",
                f"the Python module nmap at {where} has no PortScanner, so it is not "
                "python-nmap (the PyPI package 'nmap' installs a different module "
                "under that name)",
                PIP_FIX,
            )
        )
        return None
    return module


def _locate(nmap_path: str | None, problems: list[Problem]) -> str | None:
    if nmap_path is None:
        found = shutil.which("nmap")
        if found is None:
            problems.append(
                Problem(
                    "nmap_binary",
                    "nmap is not on PATH "
                    f"({os.environ.get('PATH', '')}), and no nmap_path is set",
                    BINARY_FIX,
                )
            )
        return found
    path = nmap_path if os.sep in nmap_path else shutil.which(nmap_path)
    if path is None or not os.path.exists(path):
        message = f"nmap_path {nmap_path!r} does not exist"
        problems.append(Problem("nmap_binary", message, BINARY_FIX))
        return None
    problem = _path_problem(nmap_path, path)
    if problem is not None:
        problems.append(Problem("nmap_binary", problem, PATH_FIX))
        return None
    return path


def _path_problem(configured: str, path: str) -> str | None:
    """Return why the existing program at nmap_path must not run, or None."""
    if not os.path.isfile(path):
        return f"nmap_path {configured!r} is not a file"
    if not os.access(path, os.X_OK):
        return f"nmap_path {configured!r} is not executable"
    status = os.stat(path)
    # The agent runs this program, often as root: a file that another user
    # could replace would run that user's code with the agent's rights.
    if status.st_mode & 0o022:
        return (
            f"nmap_path {configured!r} is writable by its group or by others "
            f"(mode {status.st_mode & 0o777:o}); make it writable by its owner only"
        )
    if status.st_uid not in (0, os.geteuid()):
        return (
            f"nmap_path {configured!r} is owned by uid {status.st_uid}, not by root "
            "or the user running the agent"
        )
    return _directory_problem(configured, os.path.realpath(path))


def _directory_problem(configured: str, real_path: str) -> str | None:
    """Return why a directory above nmap_path lets others replace it, or None.

    A directory that others may write lets them rename the file and put their
    own in its place, unless its sticky bit limits renames to the file's owner.
    """
    directory = os.path.dirname(real_path)
    while True:
        mode = os.stat(directory).st_mode
        if mode & 0o022 and not mode & stat.S_ISVTX:
            return (
                f"nmap_path {configured!r} lies in {directory}, which its group or "
                f"others may write (mode {mode & 0o777:o}); move nmap to a directory "
                "writable by its owner only"
            )
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _nmap_version(module: ModuleType, path: str, problems: list[Problem]) -> str | None:
    # PortScanner runs `nmap -V` with no timeout, so the binary is first run
    # here with one: a program that hangs fails the preflight instead.
    try:
        check = subprocess.Popen(
            [path, "-V"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own group, so that a program which hangs is killed with every
            # process it started, and none keeps the agent's pipes open.
            start_new_session=True,
        )
    except OSError as exc:
        problems.append(
            Problem("nmap_binary", f"{path} could not be run: {exc}", BINARY_FIX)
        )
        return None
    try:
        check.wait(timeout=VERSION_CHECK_SECONDS)
    except subprocess.TimeoutExpired:
        _stop(check)
        problems.append(
            Problem(
                "nmap_binary",
                f"{path} -V did not finish within {VERSION_CHECK_SECONDS:g} s",
                BINARY_FIX,
            )
        )
        return None
    try:
        scanner = module.PortScanner(nmap_search_path=(path,))
    except Exception as exc:  # noqa: BLE001 - any failure means "not nmap"
        logger.debug("nmap -V check of %s failed: %s", path, exc)
        problems.append(
            Problem(
                "nmap_binary",
                f"{path} is not nmap: run with -V it did not print nmap's version "
                "line ('Nmap version X.Y ( https://nmap.org )')",
                BINARY_FIX,
            )
        )
        return None
    major, minor = scanner.nmap_version()
    return f"{major}.{minor}" if (major, minor) != (0, 0) else None


def _privilege(status_path: str, nmap_path: str | None) -> tuple[str | None, bool]:
    """Return how nmap would get raw sockets, and whether file caps were blocked.

    A SYN scan needs CAP_NET_RAW in nmap's process, not in ours. At execve a
    process that is not root keeps only its ambient capabilities
    (capabilities(7)), so CapEff alone does not reach nmap. File capabilities on
    the nmap binary do, unless no_new_privs is set or the bounding set lacks
    CAP_NET_RAW.
    """
    status = _read_status(status_path)
    euid = _effective_uid(status)
    if euid == 0:
        return "root", False
    bit = 1 << CAP_NET_RAW
    if _caps(status, "CapEff") & _caps(status, "CapAmb") & bit:
        return "ambient capability", False
    if nmap_path is None or not _file_has_net_raw(nmap_path):
        return None, False
    if (
        status.get("NoNewPrivs", "0").strip() != "0"
        or not _caps(status, "CapBnd") & bit
    ):
        return None, True
    return "file capability", False


def _read_status(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        logger.warning("cannot read %s (%s); assuming no capabilities", path, exc)
        return {}
    return {
        key: value.strip()
        for key, sep, value in (line.partition(":") for line in lines)
        if sep
    }


def _effective_uid(status: dict[str, str]) -> int:
    # Uid: real, effective, saved set and filesystem uids.
    fields = status.get("Uid", "").split()
    if len(fields) > 1 and fields[1].isdigit():
        return int(fields[1])
    return os.geteuid()


def _caps(status: dict[str, str], key: str) -> int:
    try:
        return int(status.get(key, "0"), 16)
    except ValueError:
        return 0


def _file_has_net_raw(path: str) -> bool:
    try:
        data = os.getxattr(path, "security.capability")
    except OSError:
        return False
    if len(data) < 8:
        return False
    magic = int.from_bytes(data[0:4], "little")
    permitted = int.from_bytes(data[4:8], "little")
    return bool(magic & _VFS_CAP_FLAGS_EFFECTIVE and permitted & (1 << CAP_NET_RAW))


def _syn_problem(path: str | None, blocked: bool) -> Problem:
    binary = path or "$(command -v nmap)"
    why = (
        "nmap has the capability but no_new_privs is set or CAP_NET_RAW is not in "
        "the bounding set, so the kernel ignores it"
        if blocked
        else "the agent is not root, and neither its ambient capabilities nor the "
        "nmap binary give nmap CAP_NET_RAW"
    )
    return Problem(
        "syn_scan",
        f"a SYN scan needs raw sockets and {why}; scanning with TCP connect instead",
        f"run the agent as root; or `setcap cap_net_raw+eip {binary}` (the agent "
        "then runs nmap with --privileged; containers must keep NET_RAW and allow "
        "privilege escalation); or set scan_type: connect",
        blocking=False,
    )


# --- running --------------------------------------------------------------------


def run_scan(
    targets: list[str],
    ports: str,
    *,
    preflight: Preflight,
    service_detection: bool,
    budget: float,
    host_timeout: float | None = None,
    host_group: int = DEFAULT_HOST_GROUP,
    version_intensity: int = DEFAULT_VERSION_INTENSITY,
) -> ScanResult:
    """Scan TCP `ports` (nmap -p text, see `port_spec`) on `targets` with nmap.

    `budget` is the wall-clock limit in seconds: at expiry nmap's process group
    is killed and the hosts finished before the cut are returned with
    `complete` False. `host_timeout` (seconds) makes nmap give up on one host.
    Raises ValueError for invalid arguments, and NmapError when nmap produced
    no output or failed before finishing any host.
    """
    if not preflight.usable:
        problems = "; ".join(problem.message for problem in preflight.problems)
        raise NmapError(f"nmap cannot run: {problems}")
    command = _command(
        targets,
        ports,
        preflight=preflight,
        service_detection=service_detection,
        host_timeout=host_timeout,
        host_group=host_group,
        version_intensity=version_intensity,
    )
    if budget <= 0:
        raise ValueError(f"budget must be a positive number of seconds, got {budget}")
    logger.info("running %s", " ".join(command))
    started = time.monotonic()
    reader = _XmlReader()
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Its own process group, so that a cut kills nmap and anything it started.
        start_new_session=True,
    )
    try:
        cut, stderr_bytes = _pump(process, reader, started + budget)
    finally:
        _stop(process)
    elapsed = time.monotonic() - started
    stderr = stderr_bytes.decode("utf-8", "replace")
    result = _result(
        command, targets, process, reader, stderr, elapsed=elapsed, cut=cut
    )
    if cut:
        result.error = f"cut by the budget of {budget:.1f} s"
    if result.complete:
        logger.info(
            "nmap finished %d hosts with %d ports in %.1f s",
            len(result.hosts),
            len(result.ports),
            elapsed,
        )
    else:
        logger.warning(
            "nmap stopped after %d hosts with %d ports in %.1f s: %s",
            len(result.hosts),
            len(result.ports),
            elapsed,
            result.error,
        )
    return result


def _command(
    targets: list[str],
    ports: str,
    *,
    preflight: Preflight,
    service_detection: bool,
    host_timeout: float | None,
    host_group: int,
    version_intensity: int = DEFAULT_VERSION_INTENSITY,
) -> list[str]:
    """Build nmap's argument list; nothing the user wrote becomes an option."""
    _check_ports_text(ports)
    family = _family(targets)
    if host_group < 1:
        raise ValueError(f"host_group must be 1 or more, got {host_group}")
    assert preflight.nmap_path is not None
    command = [preflight.nmap_path, "-oX", "-", "--noninteractive"]
    # -Pn: production hosts often drop ping and the TCP 80/443 probes of host
    # discovery, and nmap would then skip them as down. With -Pn every address
    # is port-scanned. -n: no reverse DNS lookups of the targets.
    command += ["-Pn", "-n"]
    if preflight.scan_type == "syn":
        command.append("-sS")
        if preflight.privilege != "root":
            # Without this option nmap treats only euid 0 as privileged.
            command.append("--privileged")
    else:
        command.append("-sT")
    command += ["-p", ports]
    if service_detection:
        if not 0 <= version_intensity <= 9:
            raise ValueError(
                f"version_intensity must be from 0 to 9, got {version_intensity}"
            )
        command += ["-sV", "--version-intensity", str(version_intensity)]
    # The timing template stays at nmap's default (-T3), because the agent scans
    # production systems. -T4's shorter retransmission timeouts and fewer
    # retries trade accuracy on slow or lossy links for speed. On a LAN the time
    # goes to -sV's probe waits, which -T4 does not shorten (164.5 s for a
    # silent port with -T3 and with -T4, nmap 7.93 on loopback).
    if host_timeout is not None:
        if host_timeout <= 0:
            raise ValueError(f"host_timeout must be positive, got {host_timeout}")
        command += ["--host-timeout", f"{round(host_timeout * 1000)}ms"]
    command += ["--max-hostgroup", str(host_group)]
    if family == 6:
        command.append("-6")
    # "--" ends the options, so a target can never be read as one.
    return [*command, "--", *targets]


def _check_ports_text(ports: str) -> None:
    if not _PORT_LIST.fullmatch(ports):
        raise ValueError(
            f"ports {ports!r} is not a list of ports and ranges like '22,80,1560-1591'"
        )
    for part in ports.split(","):
        low, _, high = part.partition("-")
        _port_range((int(low), int(high or low)))


def _family(targets: list[str]) -> int:
    """Return 6 when the targets are IPv6, else 4. Host names count as IPv4."""
    if not targets:
        raise ValueError("no targets to scan")
    for target in targets:
        if not target or target.startswith("-"):
            raise ValueError(f"target {target!r} is not an address, network or name")
    # TODO: a host name is scanned as IPv4; one with only AAAA records needs a
    # separate run with -6.
    families = {6 if ":" in target else 4 for target in targets}
    if len(families) > 1:
        # nmap scans one address family per run (-6 for IPv6).
        raise ValueError(
            "targets mix IPv4 and IPv6; nmap scans one family per run, so scan "
            "them separately"
        )
    return families.pop()


def _pump(
    process: subprocess.Popen, reader: _XmlReader, deadline: float
) -> tuple[bool, bytes]:
    """Read nmap's stdout and stderr until both close or the deadline passes.

    Returns whether the deadline cut the scan, and stderr. On a cut nmap's
    process group is killed, then what it had already written is read.
    """
    stderr = bytearray()
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ, "out")
    selector.register(process.stderr, selectors.EVENT_READ, "err")
    cut = False
    try:
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                cut = True
                _kill_group(process)
                # The pipes close when the group is gone; read what is left.
                deadline = time.monotonic() + _DRAIN_SECONDS
                _read_until(selector, reader, stderr, deadline)
                break
            _read_ready(selector, reader, stderr, remaining)
    finally:
        selector.close()
    if not cut:
        # Both pipes closed; give nmap the rest of the budget to exit.
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            cut = True
    return cut, bytes(stderr)


def _read_until(
    selector: selectors.BaseSelector,
    reader: _XmlReader,
    stderr: bytearray,
    deadline: float,
) -> None:
    while selector.get_map():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            logger.warning(
                "nmap's pipes stayed open after its process group was killed"
            )
            return
        _read_ready(selector, reader, stderr, remaining)


def _read_ready(
    selector: selectors.BaseSelector,
    reader: _XmlReader,
    stderr: bytearray,
    timeout: float,
) -> None:
    for key, _ in selector.select(timeout=timeout):
        data = os.read(key.fd, _READ_SIZE)
        if not data:
            selector.unregister(key.fileobj)
        elif key.data == "out":
            reader.feed(data)
        else:
            stderr += data


def _kill_group(process: subprocess.Popen) -> None:
    # Only while the child is not reaped, so its pid (the group id) is still ours.
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _stop(process: subprocess.Popen) -> None:
    """Make sure nmap is gone and reaped, and its pipes closed."""
    _kill_group(process)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        logger.error("nmap (pid %d) did not exit after SIGKILL", process.pid)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _result(
    command: list[str],
    targets: list[str],
    process: subprocess.Popen,
    reader: _XmlReader,
    stderr: str,
    *,
    elapsed: float,
    cut: bool,
) -> ScanResult:
    code = process.returncode
    if not cut:
        _raise_for_failure(reader, code, stderr)
    error = None if cut else _incomplete_reason(reader, code)
    complete = not cut and error is None
    return ScanResult(
        command=command,
        complete=complete,
        elapsed=elapsed,
        hosts=reader.hosts,
        ports=reader.ports,
        unfinished=[] if complete else _unfinished(targets, reader.hosts),
        stderr=stderr,
        warnings=_warnings(stderr),
        exit_code=code,
        pid=process.pid,
        error=error,
    )


def _raise_for_failure(reader: _XmlReader, code: int | None, stderr: str) -> None:
    # Empty output is a failure, never "no open ports".
    if reader.received == 0:
        raise NmapError(f"nmap wrote no output (exit status {code})", stderr)
    if not reader.started:
        detail = reader.parse_error or "no <nmaprun> element"
        raise NmapError(f"nmap's output is not its XML report: {detail}", stderr)
    if reader.hosts:
        return
    if reader.exit == "error" or code != 0:
        detail = reader.errormsg or f"exit status {code}"
        raise NmapError(f"nmap failed before finishing any host: {detail}", stderr)


def _incomplete_reason(reader: _XmlReader, code: int | None) -> str | None:
    if reader.parse_error:
        return f"nmap's XML is malformed: {reader.parse_error}"
    if reader.exit == "error":
        return f"nmap stopped with an error: {reader.errormsg or 'no message'}"
    if code != 0:
        return f"nmap exited with status {code}"
    if not reader.finished:
        return "nmap's XML report ended early"
    return None


def _unfinished(targets: list[str], hosts: list[HostRecord]) -> list[str]:
    """Return the targets not every address of which was reported.

    With -Pn nmap reports every address of a network, network and broadcast
    addresses too, so a network is finished when as many of its addresses
    were reported as it has. A host name is finished when a host carries it.
    Best effort: a name nmap could not resolve is never reported, and a host
    reported twice counts twice.
    """
    addresses = []
    for host in hosts:
        try:
            addresses.append(ipaddress.ip_address(host.address))
        except ValueError:
            continue
    names = {name.lower() for host in hosts for name in host.hostnames}
    unfinished = []
    for target in targets:
        try:
            network = ipaddress.ip_network(target, strict=False)
        except ValueError:
            if target.lower().rstrip(".") not in names:
                unfinished.append(target)
            continue
        reported = sum(
            1
            for address in addresses
            if address.version == network.version and address in network
        )
        if reported < network.num_addresses:
            unfinished.append(target)
    return unfinished


def _warnings(stderr: str) -> list[str]:
    return [
        line.strip()
        for line in stderr.splitlines()
        if line.lower().startswith("warning:") or line.startswith("Failed to resolve")
    ]


@dataclass
class _XmlReader:
    """Incremental reader of nmap's XML: each finished `<host>` as it arrives."""

    hosts: list[HostRecord] = field(default_factory=list)
    ports: list[PortRecord] = field(default_factory=list)
    received: int = 0
    started: bool = False
    finished: bool = False
    exit: str | None = None
    errormsg: str | None = None
    parse_error: str | None = None

    def __post_init__(self) -> None:
        self._parser = ET.XMLPullParser(events=("start", "end"))
        self._root: ET.Element | None = None

    def feed(self, data: bytes) -> None:
        self.received += len(data)
        if self.parse_error is not None:
            return
        try:
            self._parser.feed(data)
            for event, element in self._parser.read_events():
                self._handle(event, element)
        except ET.ParseError as exc:
            self.parse_error = str(exc)

    def _handle(self, event: str, element: ET.Element) -> None:
        if event == "start":
            if element.tag == "nmaprun":
                self.started = True
                self._root = element
            return
        if element.tag == "host":
            host, ports = _host_record(element)
            self.hosts.append(host)
            self.ports.extend(ports)
            if self._root is not None:
                # Drop the parsed element, so memory stays flat on large scans.
                self._root.remove(element)
        elif element.tag == "finished":
            self.exit = element.get("exit")
            self.errormsg = element.get("errormsg")
        elif element.tag == "nmaprun":
            self.finished = True


def _host_record(element: ET.Element) -> tuple[HostRecord, list[PortRecord]]:
    status = element.find("status")
    address = next(
        (
            item.get("addr", "")
            for item in element.findall("address")
            if item.get("addrtype") in ("ipv4", "ipv6")
        ),
        "",
    )
    host = HostRecord(
        address=address,
        state=status.get("state", "") if status is not None else "",
        reason=status.get("reason", "") if status is not None else "",
        hostnames=tuple(
            name.get("name", "") for name in element.iterfind("hostnames/hostname")
        ),
        timed_out=element.get("timedout") == "true",
    )
    ports = [
        record
        for port in element.iterfind("ports/port")
        if (record := _port_record(address, port)) is not None
    ]
    return host, ports


def _port_record(address: str, port: ET.Element) -> PortRecord | None:
    state = port.find("state")
    if state is None or state.get("state") not in KEPT_STATES:
        return None
    service = port.find("service")
    found = service if service is not None else ET.Element("service")
    fingerprint = found.get("servicefp")
    if fingerprint is not None and len(fingerprint) > FINGERPRINT_LIMIT:
        fingerprint = fingerprint[: FINGERPRINT_LIMIT - 1] + "…"
    return PortRecord(
        host=address,
        port=int(port.get("portid", "0")),
        protocol=port.get("protocol", "tcp"),
        state=state.get("state", ""),
        reason=state.get("reason", ""),
        service=found.get("name"),
        product=found.get("product"),
        version=found.get("version"),
        extrainfo=found.get("extrainfo"),
        tunnel=found.get("tunnel"),
        method=found.get("method"),
        conf=int(found.get("conf", "0")),
        cpe=tuple(item.text or "" for item in found.findall("cpe")),
        fingerprint=fingerprint,
        devicetype=found.get("devicetype"),
    )
