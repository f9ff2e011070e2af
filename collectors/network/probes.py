"""Isolation evidence: TCP connect probes, the routing table, DNS resolvers.

Everything here reads the network namespace of the running process, so the
agent judges the segment it runs in. `judge_isolation` turns the readings into
`network.isolated_segment`:

- no "blocked" probe configured: None, because there is nothing to judge;
- a "blocked" probe reachable: False, naming it;
- a "blocked" probe that failed at an address on a directly connected subnet
  (the route chosen for it has no gateway and is not a default route): None.
  There a failure shows that the host is absent or silent, or that the address
  is the subnet broadcast, not that a firewall separates the segment from it.
  An absent host leaves ARP unanswered, and Linux's default neighbour settings
  (3 solicitations 1 s apart) turn that into EHOSTUNREACH after about 3 s;
- every "blocked" probe filtered or timed out and every control ("reachable")
  probe reachable, with at least one control: True;
- no control, and every "blocked" probe failed with ENETUNREACH while the
  routing table read here has no route covering its address: True, because
  the kernel itself has no path;
- anything else: None, with the reason.

`Isolation.details` has these keys:

- `probes`: one dict per probe, in the order given, with `name`, `host`,
  `port`, `expect`, `outcome`, `address`, `errno`, `message`, `elapsed_ms`,
  `attempts` and `on_link`. `address` is the address that decided the outcome,
  None when the host did not resolve. `errno` is a name such as "ECONNREFUSED"
  or "EAI_NONAME", None when this module's own timeout ended the wait.
  `on_link` is True when an address tried lies on a directly connected subnet,
  and None when the host did not resolve or the routing table of an address
  was not read. `elapsed_ms` covers resolution and every connect attempt. `attempts` has one
  dict per address tried, with `address`, `outcome`, `errno`, `message` and
  `elapsed_ms`;
- `routes`: `default_v4` and `default_v6` (True, False, or None when the table
  could not be read), `routes` (dicts of `destination`, `gateway`, `interface`,
  `metric`) and `notes`;
- `resolvers`: the nameserver addresses from resolv.conf;
- `names`: one dict per name resolved, from `resolve_names`: `name`,
  `addresses`, `public` (an address is globally routable), `errno`, `error`,
  `elapsed_ms`;
- `caveats`: sentences on evidence that does not change the value but qualifies
  it, such as a public name that resolves or a default route next to a True;
- `caveat`: the caveats joined with "; ", present only when there is one; the
  rules show it next to the verdict.
"""

from __future__ import annotations

import errno as errno_codes
import ipaddress
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import psutil

logger = logging.getLogger(__name__)

Expect = Literal["blocked", "reachable"]
Outcome = Literal[
    "reachable", "refused", "filtered", "timed_out", "unresolved", "unusable"
]
EXPECTS = ("blocked", "reachable")

# Connect errors that mean the network stopped the packet at once. They are
# no route (ENETUNREACH, also raised by a router's ICMP net unreachable), an
# ICMP host or admin-prohibited unreachable (EHOSTUNREACH), a prohibit route or
# a local firewall (EACCES, EPERM), and a device that is down. Any other OSError from
# connect, such as EINVAL for a blackhole route, is filtered too, with its errno.
FILTERED_ERRNOS = frozenset(
    {
        errno_codes.ENETUNREACH,
        errno_codes.EHOSTUNREACH,
        errno_codes.EACCES,
        errno_codes.EPERM,
        errno_codes.ENETDOWN,
        errno_codes.EHOSTDOWN,
    }
)
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
_LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
# Addresses of one host name tried in turn; each costs up to one timeout.
MAX_ADDRESSES = 4
MAX_WORKERS = 32

# Route flags from linux/route.h and linux/ipv6_route.h.
RTF_UP = 0x0001
RTF_REJECT = 0x0200
RTF_CACHE = 0x01000000
RTF_LOCAL = 0x80000000

_GAI_ERROR_NAMES = {
    getattr(socket, name): name for name in dir(socket) if name.startswith("EAI_")
}
# Rank of attempt outcomes for a name with several addresses, lowest first:
# one handshake makes the name reachable, and a refusal outranks silence.
_OUTCOME_RANK = {"reachable": 0, "refused": 1, "timed_out": 2, "filtered": 3}


@dataclass(frozen=True)
class Probe:
    """A TCP target and whether an isolated segment must reach it.

    An isolated segment must not reach a "blocked" target, such as the
    platform's shared segment or an internet canary. A "reachable" target is a
    control that proves the agent's own network works. `host` is an IP address
    without brackets, or a host name.
    """

    name: str
    host: str
    port: int
    expect: Expect

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("probe name is empty; give each probe a name")
        if not self.host.strip():
            raise ValueError(f"probe {self.name!r}: host is empty; give an address")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise TypeError(
                f"probe {self.name!r}: port {self.port!r} is not an integer"
            )
        if not 1 <= self.port <= 65535:
            raise ValueError(
                f"probe {self.name!r}: port {self.port} is outside 1-65535"
            )
        if self.expect not in EXPECTS:
            raise ValueError(
                f"probe {self.name!r}: expect {self.expect!r} must be "
                "'blocked' or 'reachable'"
            )


@dataclass(frozen=True)
class Attempt:
    """One TCP connect to one address of a probe's host."""

    address: str
    outcome: Outcome
    errno: str | None
    message: str | None
    elapsed_ms: float


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one probe and the attempt that decided it."""

    probe: Probe
    outcome: Outcome
    address: str | None
    errno: str | None
    message: str | None
    # Milliseconds for resolution and all connect attempts together.
    elapsed_ms: float
    attempts: tuple[Attempt, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.probe.name,
            "host": self.probe.host,
            "port": self.probe.port,
            "expect": self.probe.expect,
            "outcome": self.outcome,
            "address": self.address,
            "errno": self.errno,
            "message": self.message,
            "elapsed_ms": self.elapsed_ms,
            "attempts": [asdict(attempt) for attempt in self.attempts],
        }


@dataclass(frozen=True)
class Route:
    """A route of the kernel's table that leaves this host through a device."""

    destination: str
    gateway: str | None
    interface: str
    metric: int

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.destination)


@dataclass(frozen=True)
class Routes:
    """The routes read, and whether a default route exists per family.

    A default flag is None when its table could not be read.
    """

    routes: tuple[Route, ...] = ()
    default_v4: bool | None = None
    default_v6: bool | None = None
    notes: tuple[str, ...] = ()

    def covers(self, address: str) -> bool | None:
        """Return whether a route covers the address; None if its table is unread."""
        ip = _ip_address(address)
        default = self.default_v4 if ip.version == 4 else self.default_v6
        if default is None:
            return None
        return any(
            route.network.version == ip.version and ip in route.network
            for route in self.routes
        )

    def route_for(self, address: str) -> Route | None:
        """Return the route the kernel would choose for the address, or None.

        The longest prefix wins, then the lowest metric, as in the kernel's
        lookup of one table.
        """
        ip = _ip_address(address)
        covering = [
            route
            for route in self.routes
            if route.network.version == ip.version and ip in route.network
        ]
        if not covering:
            return None
        return min(covering, key=lambda route: (-route.network.prefixlen, route.metric))

    def on_link(self, address: str) -> bool | None:
        """Return whether the address lies on a directly connected subnet.

        It does when the route chosen for it has no gateway and is not a
        default route, so the kernel resolves the address itself with ARP or
        neighbour discovery. A default route without a gateway usually leads
        into a point-to-point tunnel whose peer forwards beyond the segment,
        so it does not count. None when the address's table was not read.
        """
        ip = _ip_address(address)
        default = self.default_v4 if ip.version == 4 else self.default_v6
        if default is None:
            return None
        route = self.route_for(address)
        if route is None:
            return False
        return route.gateway is None and route.network.prefixlen > 0

    def summary(self) -> dict[str, Any]:
        return {
            "default_v4": self.default_v4,
            "default_v6": self.default_v6,
            "routes": [asdict(route) for route in self.routes],
            "notes": list(self.notes),
        }


def _ip_address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    # An IPv6 link-local address may carry a zone such as "%eth0".
    return ipaddress.ip_address(address.split("%", 1)[0])


@dataclass(frozen=True)
class Isolation:
    """The isolation judgement; `value` is None when the evidence cannot decide."""

    value: bool | None
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "reason": self.reason, "details": self.details}


# Probes


def run_probes(probes: Sequence[Probe], *, timeout: float) -> list[ProbeResult]:
    """Connect to every probe's target at once, each in its own thread.

    `timeout` (seconds) bounds the name resolution and each connect attempt, so
    a probe of a host name with n addresses takes at most (1 + n) * timeout,
    n <= MAX_ADDRESSES. Results come back in the order of `probes`.
    """
    _check_timeout(timeout)
    names = [probe.name for probe in probes]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(
                f"probe name {name!r} is used more than once; give each probe "
                "its own name"
            )
    if not probes:
        return []
    workers = min(len(probes), MAX_WORKERS)
    local = _local_addresses()
    with ThreadPoolExecutor(workers, thread_name_prefix="probe") as pool:
        return list(pool.map(lambda probe: run_probe(probe, timeout, local), probes))


def run_probe(
    probe: Probe, timeout: float, local: set[str] | None = None
) -> ProbeResult:
    """Resolve the probe's host and connect to its addresses in turn.

    `local` is the set of this namespace's addresses; it is read when not given.

    The first address that completes a handshake ends the probe. Otherwise the
    outcome is the one showing most life at the target: refused, then
    timed_out, then filtered.
    """
    started = time.monotonic()
    try:
        addresses = _resolve(probe.host, probe.port, timeout)
    except _ResolveError as exc:
        logger.debug("probe %s: %s did not resolve: %s", probe.name, probe.host, exc)
        return ProbeResult(
            probe, "unresolved", None, exc.errno_name, str(exc), _since(started)
        )
    if local is None:
        local = _local_addresses()
    for _, sockaddr in addresses:
        problem = _unusable(sockaddr[0], local)
        if problem is not None:
            # A name can resolve to what the config check rejects for literal
            # hosts; nothing is sent, and the probe proves nothing.
            message = f"{probe.host} resolved to {sockaddr[0]}, {problem}"
            return ProbeResult(
                probe, "unusable", sockaddr[0], None, message, _since(started)
            )
    attempts = []
    for family, sockaddr in addresses[:MAX_ADDRESSES]:
        attempt = _connect(family, sockaddr, timeout)
        attempts.append(attempt)
        if attempt.outcome == "reachable":
            break
    decisive = min(attempts, key=lambda attempt: _OUTCOME_RANK[attempt.outcome])
    logger.debug(
        "probe %s %s port %d: %s (%s)",
        probe.name,
        decisive.address,
        probe.port,
        decisive.outcome,
        decisive.errno,
    )
    return ProbeResult(
        probe=probe,
        outcome=decisive.outcome,
        address=decisive.address,
        errno=decisive.errno,
        message=decisive.message,
        elapsed_ms=_since(started),
        attempts=tuple(attempts),
    )


def _local_addresses() -> set[str]:
    """Return the addresses of this network namespace's interfaces."""
    found = set()
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family in (socket.AF_INET, socket.AF_INET6):
                found.add(entry.address.split("%", 1)[0])
    return found


def _unusable(address: str, local: set[str]) -> str | None:
    """Return why a probe at this address shows nothing about the segment."""
    plain = address.split("%", 1)[0]
    ip = ipaddress.ip_address(plain)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address, which never leaves this host"
    if plain in local or str(ip) in local:
        return "an address of this host, so the probe never leaves it"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return "an address that names no single host"
    if ip in _THIS_NETWORK or ip == _LIMITED_BROADCAST:
        return "an address that names no single host"
    return None


def _connect(family: int, sockaddr: tuple, timeout: float) -> Attempt:
    address = sockaddr[0]
    started = time.monotonic()
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            # The socket is closed as soon as the handshake completes.
            sock.connect(sockaddr)
    except ConnectionRefusedError as exc:
        return _attempt(address, "refused", exc, started)
    except TimeoutError as exc:
        # Python's own timeout has no errno; the kernel's ETIMEDOUT has one.
        if exc.errno is None:
            message = f"connect timed out after {timeout:g} s"
            return Attempt(address, "timed_out", None, message, _since(started))
        return _attempt(address, "timed_out", exc, started)
    except OSError as exc:
        if exc.errno not in FILTERED_ERRNOS:
            logger.info(
                "connect to %s failed with %s, counted as filtered", address, exc
            )
        return _attempt(address, "filtered", exc, started)
    return Attempt(address, "reachable", None, None, _since(started))


def _attempt(address: str, outcome: Outcome, exc: OSError, started: float) -> Attempt:
    name = errno_codes.errorcode.get(exc.errno) if exc.errno is not None else None
    return Attempt(address, outcome, name, exc.strerror or str(exc), _since(started))


def _since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _check_timeout(timeout: float) -> None:
    if not timeout > 0:
        raise ValueError(f"timeout {timeout!r} must be a positive number of seconds")


# Name resolution


class _ResolveError(Exception):
    def __init__(self, message: str, errno_name: str | None) -> None:
        super().__init__(message)
        self.errno_name = errno_name


def _resolve(host: str, port: int, timeout: float) -> list[tuple[int, tuple]]:
    """Return (family, sockaddr) pairs for the host, without duplicates.

    An IP address is converted without any lookup. A name is resolved with
    getaddrinfo under `_bounded_getaddrinfo`.
    """
    try:
        infos = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
        )
    except socket.gaierror as exc:
        if exc.errno != socket.EAI_NONAME:
            raise _ResolveError(str(exc.strerror), _GAI_ERROR_NAMES.get(exc.errno))
        infos = _bounded_getaddrinfo(host, port, timeout)
    pairs = []
    for family, _type, _proto, _canonname, sockaddr in infos:
        if (family, sockaddr) not in pairs:
            pairs.append((family, sockaddr))
    if not pairs:
        raise _ResolveError(f"{host} resolved to no address", None)
    return pairs


def _bounded_getaddrinfo(host: str, port: int | None, timeout: float) -> list:
    """Call getaddrinfo in a daemon thread and wait for it at most `timeout` s.

    getaddrinfo has no timeout parameter. The C library waits as long as the
    `timeout` and `attempts` options of resolv.conf set, by default 5 s and 2
    tries per nameserver (resolv.conf(5)). After the bound the call is left to
    finish in its thread, which is a daemon so that it never delays the exit
    of the interpreter.
    """
    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def lookup() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            outcome["error"] = exc
        finally:
            finished.set()

    thread = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    thread.start()
    if not finished.wait(timeout):
        raise _ResolveError(f"name resolution timed out after {timeout:g} s", None)
    error = outcome.get("error")
    if isinstance(error, socket.gaierror):
        raise _ResolveError(str(error.strerror), _GAI_ERROR_NAMES.get(error.errno))
    if error is not None:
        raise _ResolveError(str(error), None)
    return outcome["infos"]


def resolve_names(names: Iterable[str], *, timeout: float) -> list[dict[str, Any]]:
    """Resolve each name the config lists, concurrently, each bounded by `timeout` s.

    Each dict has `name`, `addresses` (sorted, without duplicates), `public`
    (an address is globally routable), `errno` and `error` (None on success)
    and `elapsed_ms`.
    """
    _check_timeout(timeout)
    names = list(names)
    for name in names:
        if not name.strip():
            raise ValueError("a name to resolve is empty; remove it from the list")
    if not names:
        return []
    workers = min(len(names), MAX_WORKERS)
    with ThreadPoolExecutor(workers, thread_name_prefix="resolve") as pool:
        return list(pool.map(lambda name: _resolve_name(name, timeout), names))


def _resolve_name(name: str, timeout: float) -> dict[str, Any]:
    started = time.monotonic()
    entry: dict[str, Any] = {"name": name, "addresses": [], "public": False}
    try:
        infos = _bounded_getaddrinfo(name, None, timeout)
    except _ResolveError as exc:
        entry.update(errno=exc.errno_name, error=str(exc), elapsed_ms=_since(started))
        return entry
    addresses = sorted({info[4][0] for info in infos})
    entry.update(
        addresses=addresses,
        public=any(_is_public(address) for address in addresses),
        errno=None,
        error=None,
        elapsed_ms=_since(started),
    )
    return entry


def _is_public(address: str) -> bool:
    return ipaddress.ip_address(address.split("%", 1)[0]).is_global


def read_resolvers(
    path: str = "/etc/resolv.conf", *, notes: list[str] | None = None
) -> list[str]:
    """Return the nameserver addresses of a resolv.conf, in file order.

    A missing or unreadable file, or one without nameserver lines, returns an
    empty list and appends a sentence saying so to `notes` when it is given.
    """
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        _note(notes, f"{path} not found, so no DNS resolvers are configured")
        return []
    except OSError as exc:
        _note(notes, f"{path} could not be read: {exc.strerror}")
        return []
    resolvers = []
    for line in text.splitlines():
        words = line.split()
        # resolv.conf(5): the keyword starts the line, and '#' or ';' a comment.
        if len(words) >= 2 and words[0] == "nameserver":
            resolvers.append(words[1])
    if not resolvers:
        # resolv.conf(5): with no nameserver line, queries go to the local host.
        _note(notes, f"{path} lists no nameserver, so queries go to 127.0.0.1")
    return resolvers


def _note(notes: list[str] | None, message: str) -> None:
    logger.info("%s", message)
    if notes is not None:
        notes.append(message)


# Routing table


def read_routes(proc_root: str = "/proc") -> Routes:
    """Read the IPv4 and IPv6 routes of this network namespace from procfs.

    /proc/net/route has a header line, then per route: Iface, Destination,
    Gateway, Flags, RefCnt, Use, Metric, Mask, MTU, Window, IRTT. Destination,
    Gateway and Mask are the 32-bit address in hex as the CPU stores it, so
    10.0.0.1 reads "0100000A" on little-endian hosts. It lists the main table
    only, so policy-routing tables are not seen.

    /proc/net/ipv6_route has no header. Per route: destination (32 hex digits
    in network order), prefix length (2 hex), source and its prefix length,
    next hop, metric, refcount, use and flags (8 hex each), device. It lists
    every table, including the local one.

    Kept are routes through a device other than lo. Skipped are reject routes
    (unreachable, prohibit and the IPv6 null route on lo), IPv4 routes with no
    device ("*", such as blackhole), IPv6 local, cached and multicast routes.
    """
    notes: list[str] = []
    # TODO: read policy-routing tables too; /proc/net/route shows only main.
    v4 = _read_table(Path(proc_root, "net/route"), _parse_ipv4_routes, notes)
    v6 = _read_table(Path(proc_root, "net/ipv6_route"), _parse_ipv6_routes, notes)
    routes = tuple((v4 or []) + (v6 or []))
    return Routes(
        routes=routes,
        default_v4=None if v4 is None else _has_default(v4),
        default_v6=None if v6 is None else _has_default(v6),
        notes=tuple(notes),
    )


def _read_table(path: Path, parse, notes: list[str]) -> list[Route] | None:
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        notes.append(f"{path} could not be read: {exc.strerror}")
        logger.info("routing table %s could not be read: %s", path, exc)
        return None
    return parse(text, path, notes)


def _has_default(routes: list[Route]) -> bool:
    return any(route.network.prefixlen == 0 for route in routes)


def _parse_ipv4_routes(text: str, path: Path, notes: list[str]) -> list[Route]:
    # The first line is a header.
    return _parse_lines(text.splitlines()[1:], 2, _ipv4_route, path, notes)


def _parse_lines(
    lines: list[str],
    first_number: int,
    parse: Callable[[list[str]], Route | None],
    path: Path,
    notes: list[str],
) -> list[Route]:
    """Parse one route per line; a line that fails is noted and skipped."""
    routes = []
    for number, line in enumerate(lines, start=first_number):
        fields = line.split()
        if not fields:
            continue
        try:
            route = parse(fields)
        except ValueError as exc:
            notes.append(f"{path} line {number} skipped: {exc}")
            continue
        if route is not None:
            routes.append(route)
    return routes


def _ipv4_route(fields: list[str]) -> Route | None:
    if len(fields) < 8:
        raise ValueError(f"{len(fields)} fields, expected at least 8")
    interface, destination, gateway, flags, _refcnt, _use, metric, mask = fields[:8]
    flag_bits = int(flags, 16)
    if interface in ("lo", "*") or flag_bits & RTF_REJECT or not flag_bits & RTF_UP:
        return None
    network = ipaddress.IPv4Network(
        f"{_hex_ipv4(destination)}/{_hex_ipv4(mask)}", strict=False
    )
    next_hop = _hex_ipv4(gateway)
    return Route(
        destination=str(network),
        gateway=None if next_hop.packed == bytes(4) else str(next_hop),
        interface=interface,
        metric=int(metric),
    )


def _hex_ipv4(text: str) -> ipaddress.IPv4Address:
    # The kernel prints a network-order 32-bit value as a native integer.
    return ipaddress.IPv4Address(int(text, 16).to_bytes(4, sys.byteorder))


def _parse_ipv6_routes(text: str, path: Path, notes: list[str]) -> list[Route]:
    return _parse_lines(text.splitlines(), 1, _ipv6_route, path, notes)


def _ipv6_route(fields: list[str]) -> Route | None:
    if len(fields) != 10:
        raise ValueError(f"{len(fields)} fields, expected 10")
    destination, prefix, _src, _src_prefix, next_hop, metric = fields[:6]
    flag_bits = int(fields[8], 16)
    interface = fields[9]
    skipped = RTF_REJECT | RTF_LOCAL | RTF_CACHE
    if interface == "lo" or flag_bits & skipped or not flag_bits & RTF_UP:
        return None
    network = ipaddress.IPv6Network(
        (_hex_ipv6(destination), int(prefix, 16)), strict=False
    )
    if network.is_multicast:
        return None
    gateway = _hex_ipv6(next_hop)
    return Route(
        destination=str(network),
        gateway=None if gateway.packed == bytes(16) else str(gateway),
        interface=interface,
        metric=int(metric, 16),
    )


def _hex_ipv6(text: str) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(bytes.fromhex(text))


# Judgement


def judge_isolation(
    results: Sequence[ProbeResult],
    routes: Routes,
    resolutions: Sequence[dict[str, Any]],
    *,
    resolvers: Sequence[str] = (),
) -> Isolation:
    """Judge whether this namespace sits in an isolated segment (module docstring)."""
    probes = [
        {**result.to_dict(), "on_link": _probe_on_link(result, routes)}
        for result in results
    ]
    caveats = _dns_caveats(resolutions, resolvers)
    value, reason = _decide(results, routes)
    if value and (routes.default_v4 or routes.default_v6):
        caveats.append(
            "a default route exists, so the isolation rests on filtering beyond "
            "this host rather than on the routing table"
        )
    if value:
        caveats.extend(_unchecked_on_link_caveat(probes))
    details: dict[str, Any] = {
        "probes": probes,
        "routes": routes.summary(),
        "resolvers": list(resolvers),
        "names": list(resolutions),
        "caveats": caveats,
    }
    if caveats:
        details["caveat"] = "; ".join(caveats)
    return Isolation(value, reason, details)


def _decide(results: Sequence[ProbeResult], routes: Routes) -> tuple[bool | None, str]:
    blocked = [result for result in results if result.probe.expect == "blocked"]
    controls = [result for result in results if result.probe.expect == "reachable"]
    if not blocked:
        return None, (
            "no blocked probes are configured; configure probes at targets this "
            "segment must not reach and a control probe at one it must reach"
        )
    leaks = [result for result in blocked if result.outcome == "reachable"]
    if leaks:
        return False, (
            f"blocked {_describe(leaks)} connected, so the segment reaches what it "
            "must not"
        )
    unusable = [result for result in blocked if result.outcome == "unusable"]
    if unusable:
        return None, (
            f"blocked {_describe(unusable)} resolved to an address that proves "
            f"nothing ({'; '.join(r.message for r in unusable)}); give the probe "
            "the address of a host beyond this segment"
        )
    failed = [result for result in controls if result.outcome != "reachable"]
    if failed:
        return None, (
            f"control {_describe(failed)} failed, so the agent's own network is "
            "impaired and the failed blocked probes prove nothing"
        )
    on_link = _decide_on_link(blocked, routes)
    if on_link is not None:
        return None, on_link
    return _decide_blocked(blocked, controls, routes)


def _decide_on_link(blocked: list[ProbeResult], routes: Routes) -> str | None:
    """Return why failed blocked probes on a connected subnet decide nothing.

    Every probe here failed, since a connected one made the verdict False.
    """
    broadcasts: list[tuple[ProbeResult, str]] = []
    hosts: list[tuple[ProbeResult, str]] = []
    for result in blocked:
        subnet = _connected_subnet(result, routes)
        if subnet is None:
            continue
        network, address = subnet
        # Linux adds a broadcast route for the last address of a subnet and
        # rejects a TCP connect to it with ENETUNREACH at once (observed on
        # 6.18 for a /29 added without "brd"). A /31 or /32 has no broadcast.
        # TODO: read the local table's broadcast routes; "brd" may set another.
        is_broadcast = (
            network.version == 4
            and network.prefixlen <= 30
            and _ip_address(address) == network.broadcast_address
        )
        (broadcasts if is_broadcast else hosts).append((result, str(network)))
    if broadcasts:
        return (
            f"blocked {_describe([r for r, _ in broadcasts])} targeted a broadcast "
            f"address on {_connected_subnets(broadcasts)}, and the kernel rejects "
            "every TCP connect to a broadcast address, so the failure proves "
            "nothing; aim blocked probes at hosts beyond this segment"
        )
    if hosts:
        return (
            f"blocked {_describe([r for r, _ in hosts])} failed on "
            f"{_connected_subnets(hosts)}, so a failure there shows that the host "
            "is absent or silent, not that the segment is isolated from it; aim "
            "blocked probes at hosts beyond this host's directly connected subnets"
        )
    return None


def _connected_subnet(
    result: ProbeResult, routes: Routes
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str] | None:
    """Return the connected subnet and the address of the first on-link attempt."""
    for attempt in result.attempts:
        if routes.on_link(attempt.address):
            route = routes.route_for(attempt.address)
            if route is not None:
                return route.network, attempt.address
    return None


def _connected_subnets(found: list[tuple[ProbeResult, str]]) -> str:
    subnets = list(dict.fromkeys(subnet for _, subnet in found))
    if len(subnets) == 1:
        return f"a directly connected subnet ({subnets[0]})"
    return f"directly connected subnets ({', '.join(subnets)})"


def _probe_on_link(result: ProbeResult, routes: Routes) -> bool | None:
    """Return True when any address tried is on-link, None when one is unknown."""
    flags = [routes.on_link(attempt.address) for attempt in result.attempts]
    if True in flags:
        return True
    if not flags or None in flags:
        return None
    return False


def _unchecked_on_link_caveat(probes: list[dict[str, Any]]) -> list[str]:
    unchecked = [
        probe["name"]
        for probe in probes
        if probe["expect"] == "blocked" and probe["on_link"] is None
    ]
    if not unchecked:
        return []
    noun = "probe" if len(unchecked) == 1 else "probes"
    names = ", ".join(repr(name) for name in unchecked)
    caveat = (
        f"the routing table was not read for blocked {noun} {names}, so whether "
        "an address tried lies on a directly connected subnet, where a failure "
        "proves nothing, is unknown"
    )
    return [caveat]


def _decide_blocked(
    blocked: list[ProbeResult], controls: list[ProbeResult], routes: Routes
) -> tuple[bool | None, str]:
    refused = [result for result in blocked if result.outcome == "refused"]
    if refused:
        return None, (
            f"blocked {_describe(refused)} got a refusal, which is inconclusive "
            "because a firewall reject and a closed port on the target look the "
            "same; aim the probe at a port that listens on the target"
        )
    unresolved = [result for result in blocked if result.outcome == "unresolved"]
    if unresolved:
        return None, (
            f"blocked {_describe(unresolved)} did not resolve, which says nothing "
            "about the path to the target; give the probe an IP address"
        )
    if controls:
        return True, (
            f"every blocked probe ({len(blocked)}) was filtered or timed out and "
            f"every control probe ({len(controls)}) was reachable"
        )
    if all(_no_local_route(result, routes) for result in blocked):
        return True, (
            "every blocked probe failed with ENETUNREACH and the routing table has "
            "no route to its address"
        )
    return None, (
        "no control probe is configured, so blocked probes that timed out or were "
        "filtered may only show that the agent's own network is down; add a "
        "control probe at a target this segment must reach"
    )


def _no_local_route(result: ProbeResult, routes: Routes) -> bool:
    # ENETUNREACH also comes from a router's ICMP net unreachable, so the local
    # table must confirm that the kernel had no route.
    return bool(result.attempts) and all(
        attempt.errno == "ENETUNREACH" and routes.covers(attempt.address) is False
        for attempt in result.attempts
    )


def _describe(results: list[ProbeResult]) -> str:
    """Name the probes with their endpoints, outcomes and errnos."""
    parts = []
    for result in results:
        endpoint = _endpoint(result.address or result.probe.host, result.probe.port)
        failure = f" {result.errno}" if result.errno else ""
        parts.append(f"{result.probe.name!r} ({endpoint}: {result.outcome}{failure})")
    noun = "probe" if len(results) == 1 else "probes"
    return f"{noun} {', '.join(parts)}"


def _endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _dns_caveats(
    resolutions: Sequence[dict[str, Any]], resolvers: Sequence[str]
) -> list[str]:
    """Return a caveat per name that resolved to a public address.

    The address may come from the hosts file as well as from a nameserver, so
    a resolved name shows a possible path to public names, not DNS traffic
    that reached the internet.
    """
    caveats = []
    if resolvers:
        sources = f"the hosts file or the nameservers {', '.join(resolvers)}"
    else:
        # resolv.conf(5): with no nameserver line, queries go to the local host.
        sources = "the hosts file, or 127.0.0.1 as no nameserver is listed"
    for entry in resolutions:
        if entry.get("public"):
            addresses = ", ".join(entry["addresses"])
            caveats.append(
                f"{entry['name']} resolved to public addresses ({addresses}) with "
                f"this host's resolver configuration ({sources}), so a path to "
                "public names may exist even when TCP is blocked"
            )
    return caveats
