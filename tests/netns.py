"""Network namespaces for tests: segments, routers, firewalls and listeners.

`NetnsLab` creates namespaces, joins them with veth pairs, adds addresses,
routes, iptables rules and TCP listeners, and runs commands inside them. Leaving
its `with` block deletes every namespace and stops every process it started,
also when the test failed. `build_segments` builds the platform, router, routed
and isolated namespaces that isolation tests and `agent scan` runs share.

Rules the lab keeps: both ends of every veth pair are created inside
namespaces, never in the root namespace, and an address inside a namespace is
reached only by a command run inside a namespace. Tests are skipped when this
process may not run `ip netns add`.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import pytest

REPO = Path(__file__).resolve().parent.parent
# `ip netns exec NS` bind-mounts each file in /etc/netns/NS/ over the file of
# the same name in /etc, for that command only (ip-netns(8)).
NETNS_ETC = Path("/etc/netns")
# Interface names are at most 15 characters (IFNAMSIZ 16 with the NUL).
MAX_NAME = 15

_names = itertools.count(1)
_subnets = itertools.count(0)
_netns_check: str | None = None

# A TCP server that accepts and at once closes every connection. It prints the
# bound port on its first line, so port 0 lets the kernel choose.
LISTENER = """
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
server = socket.socket(family, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((host, port))
server.listen(64)
print(server.getsockname()[1], flush=True)
while True:
    connection, _ = server.accept()
    connection.close()
"""

# A UDP socket that reads and never replies, like a DNS server that hangs.
UDP_SINK = """
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
sink = socket.socket(family, socket.SOCK_DGRAM)
sink.bind((host, port))
print(sink.getsockname()[1], flush=True)
while True:
    sink.recvfrom(65535)
"""


class LabError(RuntimeError):
    """A command of the lab failed; the message has the command and its stderr."""


@dataclass(frozen=True)
class Link:
    """A veth pair between two namespaces, with an address at each end."""

    namespaces: tuple[str, str]
    interfaces: tuple[str, str]
    subnet: str
    addresses: tuple[str, str]
    subnet_v6: str | None = None
    addresses_v6: tuple[str, str] | None = None


@dataclass
class Server:
    """A process the lab started inside a namespace, bound to `address:port`."""

    namespace: str
    address: str
    port: int
    process: subprocess.Popen


@dataclass(frozen=True)
class Segments:
    """The namespaces of `build_segments` and the addresses tests aim at.

    The routed segment reaches the platform listener through the router. The
    isolated segment has a route to its own subnet only. Both reach the control
    listener on the router at their gateway address and `control_port`.
    """

    platform: str
    router: str
    routed: str
    isolated: str
    platform_subnet: str
    routed_subnet: str
    isolated_subnet: str
    platform_address: str
    platform_port: int
    routed_address: str
    isolated_address: str
    # The router's address in each segment, which is also the control target.
    routed_gateway: str
    isolated_gateway: str
    control_port: int


def unique_name(kind: str) -> str:
    """Return a name unique in this process: "tc", the pid, `kind`, a counter."""
    name = f"tc{os.getpid()}{kind}{next(_names)}"
    if len(name) > MAX_NAME:
        raise LabError(f"name {name!r} is longer than {MAX_NAME} characters")
    return name


def allocate_subnet() -> tuple[ipaddress.IPv4Network, ipaddress.IPv6Network]:
    """Return an IPv4 /28 and an IPv6 /64 that no other call in this process gets.

    The second IPv4 octet comes from the pid, so parallel test processes
    usually differ too. Namespaces do not share routes, so an overlap between
    two processes' namespaces would not break a test anyway.
    """
    index = next(_subnets)
    if index >= 4096:
        raise LabError("more than 4096 subnets allocated in one process")
    second = 64 + os.getpid() % 128
    v4 = ipaddress.IPv4Network(f"10.{second}.{index // 16}.{(index % 16) * 16}/28")
    v6 = ipaddress.IPv6Network(f"fd74:6300:{os.getpid() % 65536:x}:{index:x}::/64")
    return v4, v6


def netns_unavailable() -> str | None:
    """Return why namespaces cannot be made here, or None when they can.

    The check adds and deletes one namespace, once per process.
    """
    global _netns_check
    if _netns_check is None:
        name = unique_name("chk")
        try:
            added = subprocess.run(
                ["ip", "netns", "add", name],
                check=False,
                capture_output=True,
                text=True,
            )
        except FileNotFoundError:
            _netns_check = "the ip command (iproute2) is not installed"
            return _netns_check
        if added.returncode != 0:
            _netns_check = f"ip netns add is not permitted: {added.stderr.strip()}"
            return _netns_check
        subprocess.run(["ip", "netns", "delete", name], check=True)
        _netns_check = ""
    return _netns_check or None


def run_command(argv: Sequence[str], *, timeout: float = 30) -> str:
    """Run a command and return its stdout; raise LabError with stderr on failure."""
    done = subprocess.run(
        list(argv),
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    if done.returncode != 0:
        raise LabError(
            f"{' '.join(argv)} exited with {done.returncode}: {done.stderr.strip()}"
        )
    return done.stdout


class NetnsLab:
    """Namespaces and processes of one test, removed when the `with` block ends."""

    def __init__(self) -> None:
        self.namespaces: list[str] = []
        self.servers: list[Server] = []
        self._made_etc = False

    def __enter__(self) -> Self:
        reason = netns_unavailable()
        if reason:
            pytest.skip(reason)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Namespaces, links and routes

    def add_namespace(self, kind: str = "n") -> str:
        """Create a namespace with lo up and return its name."""
        name = unique_name(kind)
        run_command(["ip", "netns", "add", name])
        self.namespaces.append(name)
        self.ip(name, "link", "set", "lo", "up")
        return name

    def ip(self, namespace: str, *args: str) -> str:
        """Run `ip -n NAMESPACE ARGS...` and return its stdout."""
        return run_command(["ip", "-n", namespace, *args])

    def connect(self, first: str, second: str, *, ipv6: bool = False) -> Link:
        """Join two namespaces with a veth pair on a fresh subnet and bring it up.

        `first` gets the subnet's first host address and `second` the next one.
        The pair is created inside `first` with its peer inside `second`.
        """
        subnet, subnet_v6 = allocate_subnet()
        names = (unique_name("v"), unique_name("v"))
        link = f"link add {names[0]} type veth peer name {names[1]} netns {second}"
        self.ip(first, *link.split())
        hosts = list(itertools.islice(subnet.hosts(), 2))
        hosts_v6 = list(itertools.islice(subnet_v6.hosts(), 2))
        for namespace, interface, host, host_v6 in zip(
            (first, second), names, hosts, hosts_v6, strict=True
        ):
            self.ip(
                namespace, "addr", "add", f"{host}/{subnet.prefixlen}", "dev", interface
            )
            if ipv6:
                # nodad: the address is usable at once, without duplicate detection.
                address = f"{host_v6}/{subnet_v6.prefixlen}"
                self.ip(
                    namespace, "-6", "addr", "add", address, "dev", interface, "nodad"
                )
            self.ip(namespace, "link", "set", interface, "up")
        return Link(
            namespaces=(first, second),
            interfaces=names,
            subnet=str(subnet),
            addresses=(str(hosts[0]), str(hosts[1])),
            subnet_v6=str(subnet_v6) if ipv6 else None,
            addresses_v6=(str(hosts_v6[0]), str(hosts_v6[1])) if ipv6 else None,
        )

    def add_route(self, namespace: str, destination: str, via: str) -> None:
        """Add a route; `destination` is a CIDR network or "default"."""
        family = "-6" if ":" in via else "-4"
        self.ip(namespace, family, "route", "add", destination, "via", via)

    def enable_forwarding(self, namespace: str) -> None:
        """Make the namespace route packets between its interfaces (IPv4 and IPv6)."""
        for setting in ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"):
            self.exec(namespace, ["sysctl", "-q", "-w", setting])

    def iptables(self, namespace: str, *rule: str) -> None:
        """Run iptables with `rule` inside the namespace; it goes with the namespace."""
        self.exec(namespace, ["iptables", *rule])

    def set_etc_file(self, namespace: str, name: str, text: str) -> Path:
        """Give commands run in the namespace their own /etc/NAME (resolv.conf, hosts)."""
        if not NETNS_ETC.exists():
            NETNS_ETC.mkdir()
            self._made_etc = True
        directory = NETNS_ETC / namespace
        directory.mkdir(exist_ok=True)
        path = directory / name
        path.write_text(text, encoding="utf-8")
        return path

    # Commands and servers

    def exec(self, namespace: str, argv: Sequence[str], *, timeout: float = 30) -> str:
        """Run a command inside the namespace and return its stdout."""
        return run_command(["ip", "netns", "exec", namespace, *argv], timeout=timeout)

    def run(
        self, namespace: str, argv: Sequence[str], *, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        """Run a command inside the namespace from the repository root, unchecked."""
        return subprocess.run(
            ["ip", "netns", "exec", namespace, *argv],
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
        )

    def python(
        self, namespace: str, code: str, *args: str, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        """Run `python -c CODE ARGS...` of this interpreter inside the namespace."""
        return self.run(namespace, [sys.executable, "-c", code, *args], timeout=timeout)

    def start_listener(self, namespace: str, address: str, port: int = 0) -> Server:
        """Start a TCP listener inside the namespace; port 0 lets the kernel choose."""
        return self._start(namespace, LISTENER, address, port)

    def start_udp_sink(self, namespace: str, address: str, port: int) -> Server:
        """Start a UDP socket that reads datagrams and never replies."""
        return self._start(namespace, UDP_SINK, address, port)

    def _start(self, namespace: str, code: str, address: str, port: int) -> Server:
        # ip netns exec replaces itself with the command, so the pid is python's.
        process = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                namespace,
                sys.executable,
                "-c",
                code,
                address,
                str(port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        server = Server(namespace, address, port, process)
        self.servers.append(server)
        ready, _, _ = select.select([process.stdout], [], [], 10)
        line = process.stdout.readline() if ready else ""
        if not line.strip():
            self.stop(server)
            raise LabError(
                f"server on {address} port {port} in {namespace} did not start: "
                f"{process.stderr.read().strip()}"
            )
        server.port = int(line)
        return server

    def stop(self, server: Server) -> None:
        """Stop a server by its pid and wait for it."""
        process = server.process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    # Cleanup

    def close(self) -> None:
        """Stop every server, then delete every namespace and its /etc files.

        Every step runs even when an earlier one failed; the first failure is
        raised at the end.
        """
        failures: list[Exception] = []
        for server in reversed(self.servers):
            _attempt(failures, self.stop, server)
        self.servers.clear()
        for namespace in reversed(self.namespaces):
            _attempt(failures, run_command, ["ip", "netns", "delete", namespace])
            directory = NETNS_ETC / namespace
            if directory.exists():
                _attempt(failures, shutil.rmtree, directory)
        self.namespaces.clear()
        if self._made_etc and NETNS_ETC.exists() and not any(NETNS_ETC.iterdir()):
            _attempt(failures, NETNS_ETC.rmdir)
        if failures:
            raise failures[0]


def _attempt(failures: list[Exception], function, *args) -> None:
    try:
        function(*args)
    except Exception as exc:  # noqa: BLE001 - every cleanup step must run
        failures.append(exc)


@pytest.fixture
def netns_lab() -> Iterator[NetnsLab]:
    """A NetnsLab that is cleaned up after the test, whatever its result."""
    with NetnsLab() as lab:
        yield lab


def build_segments(lab: NetnsLab) -> Segments:
    """Build platform, router, routed and isolated namespaces with listeners.

    The router forwards between three subnets. The routed segment and the
    platform have routes to each other through it. The isolated segment has
    only its own subnet, so the platform is unreachable (ENETUNREACH) from it.
    A listener runs on the platform address, and a control listener on every
    address of the router.
    """
    platform = lab.add_namespace("p")
    router = lab.add_namespace("r")
    routed = lab.add_namespace("a")
    isolated = lab.add_namespace("i")
    to_platform = lab.connect(router, platform)
    to_routed = lab.connect(router, routed)
    to_isolated = lab.connect(router, isolated)
    lab.enable_forwarding(router)
    lab.add_route(routed, to_platform.subnet, to_routed.addresses[0])
    lab.add_route(platform, to_routed.subnet, to_platform.addresses[0])
    service = lab.start_listener(platform, to_platform.addresses[1])
    control = lab.start_listener(router, "0.0.0.0")
    return Segments(
        platform=platform,
        router=router,
        routed=routed,
        isolated=isolated,
        platform_subnet=to_platform.subnet,
        routed_subnet=to_routed.subnet,
        isolated_subnet=to_isolated.subnet,
        platform_address=to_platform.addresses[1],
        platform_port=service.port,
        routed_address=to_routed.addresses[1],
        isolated_address=to_isolated.addresses[1],
        routed_gateway=to_routed.addresses[0],
        isolated_gateway=to_isolated.addresses[0],
        control_port=control.port,
    )
