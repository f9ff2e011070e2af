"""Isolation probes, routes, resolvers and the judgement, in real namespaces.

Tests that send packets run the probe code inside namespaces of `tests.netns`,
where the outcome is set by the topology: a listener, a closed port, a missing
route, an iptables rule. Parsers are checked on kernel-format files the tests
write, and the judgement on results built by hand.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from collectors.network.probes import (
    Attempt,
    Probe,
    ProbeResult,
    Route,
    Routes,
    judge_isolation,
    read_resolvers,
    read_routes,
    run_probes,
)
from tests.netns import NetnsLab, Segments, allocate_subnet, build_segments

# Nothing listens on the discard port in a namespace the lab created.
CLOSED_PORT = 9
TIMEOUT = 0.5

# Runs inside a namespace: probes, routes, resolvers and names of that
# namespace, judged and printed as one JSON document.
PROBE_SCRIPT = """
import json, sys
from collectors.network import probes
request = json.loads(sys.argv[1])
items = [probes.Probe(**item) for item in request["probes"]]
results = probes.run_probes(items, timeout=request["timeout"])
routes = probes.read_routes()
names = probes.resolve_names(request["names"], timeout=request["timeout"])
resolvers = probes.read_resolvers()
isolation = probes.judge_isolation(results, routes, names, resolvers=resolvers)
print(json.dumps({
    "results": [result.to_dict() for result in results],
    "routes": routes.summary(),
    "names": names,
    "isolation": isolation.to_dict(),
}))
"""

# A resolver configuration for a namespace with only loopback: DNS goes to
# 127.0.0.1 inside it, and the hosts file is consulted first.
NSSWITCH = "passwd: files\ngroup: files\nhosts: files dns\n"


@pytest.fixture
def lab() -> Iterator[NetnsLab]:
    with NetnsLab() as created:
        yield created


@pytest.fixture
def segments(lab: NetnsLab) -> Segments:
    return build_segments(lab)


def probe_in(
    lab: NetnsLab,
    namespace: str,
    probes: list[dict],
    *,
    names: tuple[str, ...] = (),
    timeout: float = TIMEOUT,
) -> dict:
    request = json.dumps({"probes": probes, "names": list(names), "timeout": timeout})
    done = lab.python(namespace, PROBE_SCRIPT, request)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def blocked(host: str, port: int, name: str = "platform") -> dict:
    return {"name": name, "host": host, "port": port, "expect": "blocked"}


def control(host: str, port: int, name: str = "router") -> dict:
    return {"name": name, "host": host, "port": port, "expect": "reachable"}


def use_local_resolver(lab: NetnsLab, namespace: str, hosts: str = "") -> None:
    lab.set_etc_file(namespace, "nsswitch.conf", NSSWITCH)
    lab.set_etc_file(namespace, "hosts", "127.0.0.1 localhost\n" + hosts)
    lab.set_etc_file(
        namespace, "resolv.conf", "nameserver 127.0.0.1\noptions timeout:5 attempts:1\n"
    )


def kernel_routes(lab: NetnsLab, namespace: str) -> set[tuple[str, str | None, str]]:
    """Routes through a device other than lo, as iproute2 reads them over netlink."""
    v4 = json.loads(lab.ip(namespace, "-j", "-4", "route", "show", "table", "main"))
    v6 = json.loads(lab.ip(namespace, "-j", "-6", "route", "show", "table", "all"))
    routes = set()
    for family, entries in (("0.0.0.0/0", v4), ("::/0", v6)):
        for entry in entries:
            if "type" in entry or entry.get("dev", "lo") == "lo":
                continue
            destination = family if entry["dst"] == "default" else entry["dst"]
            network = str(ipaddress.ip_network(destination))
            routes.add((network, entry.get("gateway"), entry["dev"]))
    return routes


def parsed_routes(summary: dict) -> set[tuple[str, str | None, str]]:
    return {
        (route["destination"], route["gateway"], route["interface"])
        for route in summary["routes"]
    }


# Probe outcomes in namespaces


def test_probe_reachable_through_router(lab, segments):
    probe = blocked(segments.platform_address, segments.platform_port)

    [result] = probe_in(lab, segments.routed, [probe])["results"]

    assert result["outcome"] == "reachable"
    assert result["address"] == segments.platform_address
    assert result["errno"] is None


def test_probe_refused_closed_port(lab, segments):
    probe = blocked(segments.platform_address, CLOSED_PORT)

    [result] = probe_in(lab, segments.routed, [probe])["results"]

    assert result["outcome"] == "refused"
    assert result["errno"] == "ECONNREFUSED"


def test_probe_filtered_without_route(lab, segments):
    probe = blocked(segments.platform_address, segments.platform_port)

    [result] = probe_in(lab, segments.isolated, [probe])["results"]

    assert result["outcome"] == "filtered"
    assert result["errno"] == "ENETUNREACH"


def test_probe_timed_out_on_drop(lab, segments):
    rule = f"-A INPUT -p tcp --dport {segments.platform_port} -j DROP"
    lab.iptables(segments.platform, *rule.split())
    probe = blocked(segments.platform_address, segments.platform_port)

    [result] = probe_in(lab, segments.routed, [probe])["results"]

    assert result["outcome"] == "timed_out"
    assert result["errno"] is None
    assert result["message"] == "connect timed out after 0.5 s"
    assert result["elapsed_ms"] >= TIMEOUT * 1000


def test_probe_filtered_host_unreachable(lab, segments):
    rule = f"-A FORWARD -d {segments.platform_address} -j REJECT"
    lab.iptables(
        segments.router, *rule.split(), "--reject-with", "icmp-host-unreachable"
    )
    probe = blocked(segments.platform_address, segments.platform_port)

    [result] = probe_in(lab, segments.routed, [probe])["results"]

    assert result["outcome"] == "filtered"
    assert result["errno"] == "EHOSTUNREACH"


def test_probe_filtered_prohibit_route(lab, segments):
    # A prohibit route rejects the connect locally, so no packet is sent.
    prohibited, _ = allocate_subnet()
    lab.ip(segments.routed, "route", "add", "prohibit", str(prohibited))
    target = str(next(prohibited.hosts()))

    [result] = probe_in(lab, segments.routed, [blocked(target, 443)])["results"]

    assert result["outcome"] == "filtered"
    assert result["errno"] == "EACCES"


def test_probe_name_from_hosts_file(lab, segments):
    use_local_resolver(lab, segments.routed, f"{segments.platform_address} plat.test\n")

    [result] = probe_in(
        lab, segments.routed, [blocked("plat.test", segments.platform_port)]
    )["results"]

    assert result["outcome"] == "reachable"
    assert result["address"] == segments.platform_address


def test_probe_name_tries_every_address(lab, segments):
    hosts = "".join(
        f"{address} plat.test\n"
        for address in (segments.platform_address, segments.routed_address)
    )
    use_local_resolver(lab, segments.isolated, hosts)

    [result] = probe_in(
        lab, segments.isolated, [blocked("plat.test", segments.platform_port)]
    )["results"]

    tried = {attempt["address"] for attempt in result["attempts"]}
    assert tried == {segments.platform_address, segments.routed_address}
    assert result["outcome"] == "filtered"


def test_probe_unresolved_name(lab):
    namespace = lab.add_namespace()
    use_local_resolver(lab, namespace)

    [result] = probe_in(lab, namespace, [blocked("absent.test", 443)])["results"]

    assert result["outcome"] == "unresolved"
    assert result["errno"] == "EAI_AGAIN"
    assert result["address"] is None
    assert result["attempts"] == []


def test_resolution_bounded_by_timeout(lab):
    # The nameserver reads queries and never answers, and resolv.conf makes
    # the C library wait 5 s, so only the probe's own bound ends the lookup.
    namespace = lab.add_namespace()
    use_local_resolver(lab, namespace)
    lab.start_udp_sink(namespace, "127.0.0.1", 53)

    started = time.monotonic()
    output = probe_in(lab, namespace, [blocked("absent.test", 443)], timeout=0.3)
    [result] = output["results"]
    wall = time.monotonic() - started

    assert result["outcome"] == "unresolved"
    assert result["errno"] is None
    assert result["message"] == "name resolution timed out after 0.3 s"
    assert result["elapsed_ms"] >= 300
    assert wall < 4.0


def test_resolve_names_hosts_file(lab, segments):
    # Names come from the namespace's own hosts file; the namespace has only
    # loopback, so no packet leaves it and nothing is sent to these addresses.
    hosts = f"{segments.platform_address} plat.test\n203.0.114.1 canary.test\n"
    namespace = lab.add_namespace()
    use_local_resolver(lab, namespace, hosts)

    names = probe_in(
        lab, namespace, [], names=("plat.test", "canary.test", "absent.test")
    )["names"]

    assert [entry["name"] for entry in names] == [
        "plat.test",
        "canary.test",
        "absent.test",
    ]
    assert names[0]["addresses"] == [segments.platform_address]
    assert names[0]["public"] is False
    assert names[1]["addresses"] == ["203.0.114.1"]
    assert names[1]["public"] is True
    assert names[2]["addresses"] == []
    assert names[2]["errno"] == "EAI_AGAIN"


# The judgement in namespaces


def test_isolation_true_in_isolated_segment(lab, segments):
    probes = [
        blocked(segments.platform_address, segments.platform_port),
        control(segments.isolated_gateway, segments.control_port),
    ]

    isolation = probe_in(lab, segments.isolated, probes)["isolation"]

    assert isolation["value"] is True
    assert isolation["reason"] == (
        "every blocked probe (1) was filtered or timed out and every control "
        "probe (1) was reachable"
    )


def test_isolation_false_in_routed_segment(lab, segments):
    probes = [
        blocked(segments.platform_address, segments.platform_port),
        control(segments.routed_gateway, segments.control_port),
    ]

    isolation = probe_in(lab, segments.routed, probes)["isolation"]

    assert isolation["value"] is False
    assert isolation["reason"] == (
        f"blocked probe 'platform' ({segments.platform_address}:"
        f"{segments.platform_port}: reachable) connected, so the segment reaches "
        "what it must not"
    )


def test_isolation_none_without_probes(lab, segments):
    isolation = probe_in(lab, segments.isolated, [])["isolation"]

    assert isolation["value"] is None
    assert isolation["reason"].startswith("no blocked probes are configured")


def test_isolation_none_when_control_fails(lab, segments):
    probes = [
        blocked(segments.platform_address, segments.platform_port),
        control(segments.isolated_gateway, CLOSED_PORT),
    ]

    isolation = probe_in(lab, segments.isolated, probes)["isolation"]

    assert isolation["value"] is None
    assert isolation["reason"] == (
        f"control probe 'router' ({segments.isolated_gateway}:{CLOSED_PORT}: "
        "refused ECONNREFUSED) failed, so the agent's own network is impaired and "
        "the failed blocked probes prove nothing"
    )


def test_isolation_none_on_firewall_reject(lab, segments):
    # iptables REJECT answers with ICMP port unreachable, as a closed port would.
    rule = f"-A FORWARD -d {segments.platform_address} -j REJECT"
    lab.iptables(segments.router, *rule.split())
    probes = [
        blocked(segments.platform_address, segments.platform_port),
        control(segments.routed_gateway, segments.control_port),
    ]

    isolation = probe_in(lab, segments.routed, probes)["isolation"]

    assert isolation["value"] is None
    assert "got a refusal, which is inconclusive" in isolation["reason"]


def test_isolation_true_without_route_or_control(lab, segments):
    probe = blocked(segments.platform_address, segments.platform_port)

    isolation = probe_in(lab, segments.isolated, [probe])["isolation"]

    assert isolation["value"] is True
    assert isolation["reason"] == (
        "every blocked probe failed with ENETUNREACH and the routing table has no "
        "route to its address"
    )


def test_isolation_records_probe_off_link(lab, segments):
    probes = [
        blocked(segments.platform_address, segments.platform_port),
        control(segments.isolated_gateway, segments.control_port),
    ]

    isolation = probe_in(lab, segments.isolated, probes)["isolation"]

    platform, router = isolation["details"]["probes"]
    assert platform["on_link"] is False
    assert router["on_link"] is True


# Blocked probes on a directly connected subnet


@dataclass(frozen=True)
class Attached:
    """A segment namespace with a /29 on its link to a gateway namespace.

    The gateway owns no address in the /29, so hosts there other than
    `address` are absent. A listener on the gateway's /28 address is the
    control.
    """

    segment: str
    gateway: str
    gateway_interface: str
    subnet: ipaddress.IPv4Network
    address: str
    control: dict


def attach_subnet(lab: NetnsLab) -> Attached:
    segment = lab.add_namespace("s")
    gateway = lab.add_namespace("g")
    link = lab.connect(segment, gateway)
    subnet = next(allocate_subnet()[0].subnets(new_prefix=29))
    address = str(next(subnet.hosts()))
    interface = link.interfaces[0]
    lab.ip(segment, "addr", "add", f"{address}/29", "dev", interface)
    # One ARP solicitation 100 ms long instead of three 1 s apart, so an absent
    # host gives EHOSTUNREACH well within the probe timeout.
    lab.exec(
        segment,
        [
            "sysctl",
            "-q",
            "-w",
            f"net.ipv4.neigh.{interface}.mcast_solicit=1",
            f"net.ipv4.neigh.{interface}.retrans_time_ms=100",
        ],
    )
    listener = lab.start_listener(gateway, link.addresses[1])
    return Attached(
        segment=segment,
        gateway=gateway,
        gateway_interface=link.interfaces[1],
        subnet=subnet,
        address=address,
        control=control(link.addresses[1], listener.port),
    )


def test_isolation_none_absent_onlink_host(lab):
    attached = attach_subnet(lab)
    absent = str(attached.subnet.network_address + 6)
    probes = [blocked(absent, 443), attached.control]

    output = probe_in(lab, attached.segment, probes, timeout=2.0)
    isolation = output["isolation"]

    platform = output["results"][0]
    assert platform["outcome"] == "filtered"
    assert platform["errno"] == "EHOSTUNREACH"
    assert isolation["details"]["probes"][0]["on_link"] is True
    assert isolation["value"] is None
    assert isolation["reason"] == (
        f"blocked probe 'platform' ({absent}:443: filtered EHOSTUNREACH) failed on "
        f"a directly connected subnet ({attached.subnet}), so a failure there "
        "shows that the host is absent or silent, not that the segment is "
        "isolated from it; aim blocked probes at hosts beyond this host's "
        "directly connected subnets"
    )


def test_isolation_none_subnet_broadcast(lab):
    attached = attach_subnet(lab)
    broadcast = str(attached.subnet.network_address + 7)
    probes = [blocked(broadcast, 443), attached.control]

    output = probe_in(lab, attached.segment, probes)
    isolation = output["isolation"]

    assert output["results"][0]["errno"] == "ENETUNREACH"
    assert isolation["value"] is None
    assert isolation["reason"] == (
        f"blocked probe 'platform' ({broadcast}:443: filtered ENETUNREACH) "
        f"targeted a broadcast address on a directly connected subnet "
        f"({attached.subnet}), and the kernel rejects every TCP connect to a "
        "broadcast address, so the failure proves nothing; aim blocked probes at "
        "hosts beyond this segment"
    )


def test_isolation_false_onlink_listener(lab):
    attached = attach_subnet(lab)
    neighbour = str(attached.subnet.network_address + 2)
    lab.ip(
        attached.gateway,
        "addr",
        "add",
        f"{neighbour}/29",
        "dev",
        attached.gateway_interface,
    )
    listener = lab.start_listener(attached.gateway, neighbour)
    probes = [blocked(neighbour, listener.port), attached.control]

    isolation = probe_in(lab, attached.segment, probes)["isolation"]

    assert isolation["details"]["probes"][0]["on_link"] is True
    assert isolation["value"] is False


# Routes in namespaces


def test_routes_isolated_segment_no_default(lab, segments):
    summary = probe_in(lab, segments.isolated, [])["routes"]

    assert summary["default_v4"] is False
    assert summary["default_v6"] is False
    assert parsed_routes(summary) == kernel_routes(lab, segments.isolated)


def test_routes_default_via_gateway(lab):
    inner = lab.add_namespace("d")
    outer = lab.add_namespace("g")
    link = lab.connect(inner, outer, ipv6=True)
    lab.add_route(inner, "default", link.addresses[1])
    lab.add_route(inner, "default", link.addresses_v6[1])

    summary = probe_in(lab, inner, [])["routes"]

    defaults = {
        route["destination"]: route["gateway"]
        for route in summary["routes"]
        if route["destination"] in ("0.0.0.0/0", "::/0")
    }
    assert summary["default_v4"] is True
    assert summary["default_v6"] is True
    assert defaults == {"0.0.0.0/0": link.addresses[1], "::/0": link.addresses_v6[1]}
    assert parsed_routes(summary) == kernel_routes(lab, inner)


# Loopback probes


def test_probe_loopback_listener_unusable():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]

        probe = Probe("self", "127.0.0.1", port, "reachable")
        [result] = run_probes([probe], timeout=1)

    # A listener is there, but a probe to loopback shows nothing of the segment.
    assert result.outcome == "unusable"
    assert result.address == "127.0.0.1"
    assert result.message == (
        "127.0.0.1 resolved to 127.0.0.1, a loopback address, which never leaves "
        "this host"
    )


def test_blocked_probe_at_own_address_proves_nothing(lab: NetnsLab):
    namespace = lab.add_namespace("o")
    link = lab.connect(namespace, lab.add_namespace("q"))
    own = link.addresses[0]
    code = (
        "import json\n"
        "from collectors.network.probes import Probe, run_probes\n"
        f"blocked = Probe('self', '{own}', 443, 'blocked')\n"
        "results = run_probes([blocked], timeout=1)\n"
        "print(json.dumps([r.to_dict() for r in results]))\n"
    )
    done = lab.python(namespace, code)
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)
    assert result["outcome"] == "unusable"
    assert result["message"] == (
        f"{own} resolved to {own}, an address of this host, so the probe never "
        "leaves it"
    )


def test_judge_unusable_blocked_probe_none():
    blocked = ProbeResult(
        Probe("platform", "mc.test", 443, "blocked"),
        "unusable",
        "224.0.0.1",
        None,
        "mc.test resolved to 224.0.0.1, an address that names no single host",
        1,
    )
    control = ProbeResult(
        Probe("gateway", "10.0.0.1", 22, "reachable"),
        "reachable",
        "10.0.0.1",
        None,
        "",
        1,
    )
    judged = judge_isolation([blocked, control], Routes((), False, False, ()), [])
    assert judged.value is None
    assert judged.reason == (
        "blocked probe 'platform' (224.0.0.1:443: unusable) resolved to an address "
        "that proves nothing (mc.test resolved to 224.0.0.1, an address that names "
        "no single host); give the probe the address of a host beyond this segment"
    )


def test_run_probes_keeps_order(free_port):
    names = ["p0", "p1", "p2", "p3", "p4"]
    probes = [Probe(name, "127.0.0.1", free_port, "blocked") for name in names]

    results = run_probes(probes, timeout=1)

    assert [result.probe.name for result in results] == names


def test_run_probes_rejects_duplicate_names(free_port):
    probes = [Probe("same", "127.0.0.1", free_port, "blocked")] * 2

    with pytest.raises(ValueError, match="probe name 'same' is used more than once"):
        run_probes(probes, timeout=1)


def test_run_probes_rejects_zero_timeout():
    with pytest.raises(ValueError, match="timeout 0 must be a positive number"):
        run_probes([], timeout=0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("p", "10.0.0.1", 0, "blocked"), "port 0 is outside 1-65535"),
        (("p", "10.0.0.1", 70000, "blocked"), "port 70000 is outside 1-65535"),
        (("p", "10.0.0.1", 80, "open"), "expect 'open' must be 'blocked' or"),
        (("p", " ", 80, "blocked"), "host is empty"),
        (("", "10.0.0.1", 80, "blocked"), "probe name is empty"),
    ],
)
def test_probe_rejects_invalid_field(fields, message):
    with pytest.raises(ValueError, match=message):
        Probe(*fields)


def test_probe_rejects_text_port():
    with pytest.raises(TypeError, match="port '80' is not an integer"):
        Probe("p", "10.0.0.1", "80", "blocked")


# Kernel route files

IPV4_HEADER = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"
    + " " * 59
)


def ipv4_line(*fields: str) -> str:
    return "\t".join(fields) + " " * 20


def ipv6_line(dest, prefix, next_hop, metric, flags, device) -> str:
    zero = "0" * 32
    fields = [dest, prefix, zero, "00", next_hop, metric, "00000001", "00000000", flags]
    return " ".join(fields) + f" {device:>8}"


def proc_tree(tmp_path, route: str | None, ipv6_route: str | None) -> str:
    net = tmp_path / "net"
    net.mkdir()
    if route is not None:
        (net / "route").write_text(route)
    if ipv6_route is not None:
        (net / "ipv6_route").write_text(ipv6_route)
    return str(tmp_path)


# Lines as Linux 6.18 prints them for: a default route via 10.99.0.2, prohibit
# 10.96.0.0/24, unreachable 10.97.0.0/24, blackhole 10.98.0.0/24, the link
# 10.99.0.0/28, a host route to 10.99.0.5 with metric 100, and 127.0.0.0/8 on lo.
IPV4_ROUTES = "\n".join(
    [
        IPV4_HEADER,
        ipv4_line("eth0", "00000000", "0200630A", "0003", "0", "0", "0", "00000000", "0", "0", "0"),
        ipv4_line("*", "0000600A", "00000000", "0201", "0", "0", "0", "00FFFFFF", "0", "0", "0"),
        ipv4_line("*", "0000610A", "00000000", "0201", "0", "0", "0", "00FFFFFF", "0", "0", "0"),
        ipv4_line("*", "0000620A", "00000000", "0001", "0", "0", "0", "00FFFFFF", "0", "0", "0"),
        ipv4_line("eth0", "0000630A", "00000000", "0001", "0", "0", "0", "F0FFFFFF", "0", "0", "0"),
        ipv4_line("eth0", "0500630A", "00000000", "0005", "0", "0", "100", "FFFFFFFF", "0", "0", "0"),
        ipv4_line("lo", "0000007F", "00000000", "0001", "0", "0", "0", "000000FF", "0", "0", "0"),
    ]
) + "\n"  # fmt: skip

ZERO6 = "0" * 32
# Lines for: unreachable 2001:db8::/32 (on lo), the link fd00:99::/64, fe80::/64,
# a default via fd00:99::2 (metric 1024), the local ::1 and fd00:99::1, the
# multicast ff00::/8, the kernel's null route on lo, and fd00:5::/64 on lo.
IPV6_ROUTES = "\n".join(
    [
        ipv6_line("20010db8" + "0" * 24, "20", ZERO6, "00000400", "00200200", "lo"),
        ipv6_line("fd000099" + "0" * 24, "40", ZERO6, "00000100", "00000001", "eth0"),
        ipv6_line("fe80" + "0" * 28, "40", ZERO6, "00000100", "00000001", "eth0"),
        ipv6_line(ZERO6, "00", "fd000099" + "0" * 23 + "2", "00000400", "00000003", "eth0"),
        ipv6_line("0" * 31 + "1", "80", ZERO6, "00000000", "80200001", "lo"),
        ipv6_line("fd000099" + "0" * 23 + "1", "80", ZERO6, "00000000", "80200001", "eth0"),
        ipv6_line("ff" + "0" * 30, "08", ZERO6, "00000100", "00000001", "eth0"),
        ipv6_line(ZERO6, "00", ZERO6, "ffffffff", "00200200", "lo"),
        ipv6_line("fd000005" + "0" * 24, "40", ZERO6, "00000400", "00000001", "lo"),
    ]
) + "\n"  # fmt: skip


def test_read_routes_ipv4_kernel_format(tmp_path):
    routes = read_routes(proc_tree(tmp_path, IPV4_ROUTES, ""))

    assert routes.routes == (
        Route("0.0.0.0/0", "10.99.0.2", "eth0", 0),
        Route("10.99.0.0/28", None, "eth0", 0),
        Route("10.99.0.5/32", None, "eth0", 100),
    )
    assert routes.default_v4 is True
    assert routes.notes == ()


def test_read_routes_ipv6_kernel_format(tmp_path):
    routes = read_routes(proc_tree(tmp_path, IPV4_HEADER + "\n", IPV6_ROUTES))

    assert routes.routes == (
        Route("fd00:99::/64", None, "eth0", 256),
        Route("fe80::/64", None, "eth0", 256),
        Route("::/0", "fd00:99::2", "eth0", 1024),
    )
    assert routes.default_v6 is True
    assert routes.default_v4 is False


def test_read_routes_reject_defaults_ignored(tmp_path):
    unreachable_v4 = ipv4_line(
        "*", "00000000", "00000000", "0201", "0", "0", "0", "00000000", "0", "0", "0"
    )
    blackhole_v4 = ipv4_line(
        "*", "00000000", "00000000", "0001", "0", "0", "1", "00000000", "0", "0", "0"
    )
    unreachable_v6 = ipv6_line(ZERO6, "00", ZERO6, "00000400", "00200200", "lo")
    route = f"{IPV4_HEADER}\n{unreachable_v4}\n{blackhole_v4}\n"

    routes = read_routes(proc_tree(tmp_path, route, unreachable_v6 + "\n"))

    assert routes.routes == ()
    assert routes.default_v4 is False
    assert routes.default_v6 is False


def test_read_routes_missing_ipv6_table(tmp_path):
    routes = read_routes(proc_tree(tmp_path, IPV4_ROUTES, None))

    assert routes.default_v6 is None
    assert routes.notes == (
        f"{tmp_path}/net/ipv6_route could not be read: No such file or directory",
    )
    assert routes.covers("fd00::1") is None


def test_read_routes_notes_malformed_line(tmp_path):
    route = f"{IPV4_HEADER}\neth0\t0000630A\t00000000\n"

    routes = read_routes(proc_tree(tmp_path, route, ""))

    assert routes.routes == ()
    assert routes.notes == (
        f"{tmp_path}/net/route line 2 skipped: 3 fields, expected at least 8",
    )


def test_routes_covers_address(tmp_path):
    routes = read_routes(proc_tree(tmp_path, IPV4_ROUTES, ""))

    assert routes.covers("10.99.0.7") is True
    assert routes.covers("10.96.0.1") is True  # through the default route


def test_routes_covers_nothing_without_default(tmp_path):
    route = "\n".join([IPV4_ROUTES.splitlines()[0], *IPV4_ROUTES.splitlines()[5:]])

    routes = read_routes(proc_tree(tmp_path, route, ""))

    assert routes.covers("10.99.0.7") is True
    assert routes.covers("10.96.0.1") is False


# A connected /16 with a /24 inside it through a gateway, two /20 routes of
# equal prefix where the lower metric goes through a gateway, a default route,
# and a connected IPv6 /64 with the link-local /64.
LAYERED = Routes(
    routes=(
        Route("0.0.0.0/0", "10.40.0.1", "eth0", 0),
        Route("10.40.0.0/16", None, "eth0", 0),
        Route("10.40.5.0/24", "10.40.0.1", "eth0", 0),
        Route("10.50.0.0/20", None, "eth1", 200),
        Route("10.50.0.0/20", "10.40.0.9", "eth0", 100),
        Route("fd00:40::/64", None, "eth0", 256),
        Route("fe80::/64", None, "eth0", 256),
    ),
    default_v4=True,
    default_v6=False,
)


def test_routes_on_link_longest_prefix():
    assert LAYERED.on_link("10.40.6.9") is True
    assert LAYERED.on_link("10.40.5.9") is False


def test_routes_on_link_lowest_metric():
    assert LAYERED.route_for("10.50.1.1") == Route(
        "10.50.0.0/20", "10.40.0.9", "eth0", 100
    )
    assert LAYERED.on_link("10.50.1.1") is False


def test_routes_on_link_not_default():
    assert LAYERED.on_link("192.0.2.1") is False
    tunnel = Routes(routes=(Route("0.0.0.0/0", None, "wg0", 0),), default_v4=True)
    assert tunnel.on_link("192.0.2.1") is False


def test_routes_on_link_ipv6_zone():
    assert LAYERED.on_link("fe80::1%eth0") is True
    assert LAYERED.on_link("fd00:40::7") is True
    assert LAYERED.on_link("fd00:41::7") is False


def test_routes_on_link_unread_table():
    routes = Routes(routes=(Route("10.60.0.0/24", None, "eth0", 0),), default_v4=None)

    assert routes.on_link("10.60.0.5") is None
    assert routes.route_for("10.60.0.5") == Route("10.60.0.0/24", None, "eth0", 0)


# resolv.conf


def test_read_resolvers_nameserver_lines(tmp_path):
    path = tmp_path / "resolv.conf"
    path.write_text(
        "# generated\n"
        "search example.internal\n"
        "nameserver 10.0.0.53\n"
        "; nameserver 10.0.0.54\n"
        "nameserver fd00::53\n"
        "options timeout:2 attempts:3\n"
        "nameserver\n"
    )

    assert read_resolvers(str(path)) == ["10.0.0.53", "fd00::53"]


def test_read_resolvers_missing_file(tmp_path):
    notes: list[str] = []
    path = tmp_path / "resolv.conf"

    assert read_resolvers(str(path), notes=notes) == []
    assert notes == [f"{path} not found, so no DNS resolvers are configured"]


def test_read_resolvers_without_nameserver(tmp_path):
    notes: list[str] = []
    path = tmp_path / "resolv.conf"
    path.write_text("search example.internal\n")

    assert read_resolvers(str(path), notes=notes) == []
    assert notes == [f"{path} lists no nameserver, so queries go to 127.0.0.1"]


# The judgement on results built by hand

NO_ROUTES = Routes(
    routes=(Route("10.30.0.0/28", None, "eth0", 0),), default_v4=False, default_v6=False
)


def result(
    name: str,
    expect: str,
    outcome: str,
    errno: str | None = None,
    address: str | None = "10.20.0.2",
) -> ProbeResult:
    attempts = () if address is None else (Attempt(address, outcome, errno, None, 1.0),)
    return ProbeResult(
        Probe(name, address or "platform.internal", 443, expect),
        outcome,
        address,
        errno,
        None,
        1.0,
        attempts,
    )


def test_judge_no_blocked_probes():
    isolation = judge_isolation([result("gw", "reachable", "reachable")], NO_ROUTES, [])

    assert isolation.value is None
    assert isolation.reason == (
        "no blocked probes are configured; configure probes at targets this segment "
        "must not reach and a control probe at one it must reach"
    )


def test_judge_leak_beats_failed_control():
    results = [
        result("platform", "blocked", "reachable"),
        result("gw", "reachable", "timed_out", address="10.30.0.1"),
    ]

    isolation = judge_isolation(results, NO_ROUTES, [])

    assert isolation.value is False


def test_judge_refused_blocked_inconclusive():
    results = [
        result("platform", "blocked", "refused", "ECONNREFUSED"),
        result("gw", "reachable", "reachable", address="10.30.0.1"),
    ]

    isolation = judge_isolation(results, NO_ROUTES, [])

    assert isolation.value is None
    assert isolation.reason == (
        "blocked probe 'platform' (10.20.0.2:443: refused ECONNREFUSED) got a "
        "refusal, which is inconclusive because a firewall reject and a closed port "
        "on the target look the same; aim the probe at a port that listens on the "
        "target"
    )


def test_judge_unresolved_blocked_inconclusive():
    results = [
        result("platform", "blocked", "unresolved", "EAI_NONAME", address=None),
        result("gw", "reachable", "reachable", address="10.30.0.1"),
    ]

    isolation = judge_isolation(results, NO_ROUTES, [])

    assert isolation.value is None
    assert isolation.reason == (
        "blocked probe 'platform' (platform.internal:443: unresolved EAI_NONAME) did "
        "not resolve, which says nothing about the path to the target; give the "
        "probe an IP address"
    )


def test_judge_timed_out_and_filtered_true():
    results = [
        result("platform", "blocked", "timed_out"),
        result("canary", "blocked", "filtered", "EHOSTUNREACH", "10.20.0.3"),
        result("gw", "reachable", "reachable", address="10.30.0.1"),
    ]

    isolation = judge_isolation(results, NO_ROUTES, [])

    assert isolation.value is True


def test_judge_no_route_without_control():
    results = [result("platform", "blocked", "filtered", "ENETUNREACH")]

    isolation = judge_isolation(results, NO_ROUTES, [])

    assert isolation.value is True


def test_judge_remote_net_unreachable_none():
    # A router's ICMP net unreachable also gives ENETUNREACH, but here the
    # local table has a default route, so the kernel did have a path.
    routes = Routes(
        routes=(Route("0.0.0.0/0", "10.30.0.1", "eth0", 0),),
        default_v4=True,
        default_v6=False,
    )
    results = [result("platform", "blocked", "filtered", "ENETUNREACH")]

    isolation = judge_isolation(results, routes, [])

    assert isolation.value is None
    assert isolation.reason.startswith("no control probe is configured")


def test_judge_unread_routes_without_control():
    routes = Routes(default_v4=None, default_v6=None)
    results = [result("platform", "blocked", "filtered", "ENETUNREACH")]

    isolation = judge_isolation(results, routes, [])

    assert isolation.value is None


def test_judge_timed_out_without_control():
    results = [result("platform", "blocked", "timed_out")]

    isolation = judge_isolation(results, NO_ROUTES, [])

    assert isolation.value is None
    assert isolation.reason == (
        "no control probe is configured, so blocked probes that timed out or were "
        "filtered may only show that the agent's own network is down; add a control "
        "probe at a target this segment must reach"
    )


def test_judge_public_name_caveat():
    resolutions = [
        {"name": "canary.test", "addresses": ["203.0.114.1"], "public": True},
        {"name": "plat.test", "addresses": ["10.20.0.2"], "public": False},
    ]
    results = [result("platform", "blocked", "filtered", "ENETUNREACH")]

    isolation = judge_isolation(
        results, NO_ROUTES, resolutions, resolvers=["10.30.0.53"]
    )

    caveat = (
        "canary.test resolved to public addresses (203.0.114.1) with this host's "
        "resolver configuration (the hosts file or the nameservers 10.30.0.53), so "
        "a path to public names may exist even when TCP is blocked"
    )
    assert isolation.details["caveats"] == [caveat]
    assert isolation.details["caveat"] == caveat


def test_judge_public_name_without_nameserver():
    resolutions = [
        {
            "name": "canary.test",
            "addresses": ["203.0.114.1", "203.0.114.2"],
            "public": True,
        },
    ]
    results = [result("platform", "blocked", "filtered", "ENETUNREACH")]

    isolation = judge_isolation(results, NO_ROUTES, resolutions)

    caveat = (
        "canary.test resolved to public addresses (203.0.114.1, 203.0.114.2) with "
        "this host's resolver configuration (the hosts file, or 127.0.0.1 as no "
        "nameserver is listed), so a path to public names may exist even when TCP "
        "is blocked"
    )
    assert isolation.details["caveats"] == [caveat]


def test_judge_default_route_caveat():
    routes = Routes(
        routes=(Route("0.0.0.0/0", "10.30.0.1", "eth0", 0),),
        default_v4=True,
        default_v6=False,
    )
    results = [
        result("platform", "blocked", "timed_out"),
        result("gw", "reachable", "reachable", address="10.30.0.1"),
    ]

    isolation = judge_isolation(results, routes, [])

    assert isolation.value is True
    caveat = (
        "a default route exists, so the isolation rests on filtering beyond this "
        "host rather than on the routing table"
    )
    assert isolation.details["caveats"] == [caveat]


def test_judge_caveat_joins_caveats():
    routes = Routes(
        routes=(Route("0.0.0.0/0", "10.30.0.1", "eth0", 0),),
        default_v4=True,
        default_v6=False,
    )
    resolutions = [
        {"name": "canary.test", "addresses": ["203.0.114.1"], "public": True}
    ]
    results = [
        result("platform", "blocked", "timed_out"),
        result("gw", "reachable", "reachable", address="10.30.0.1"),
    ]

    isolation = judge_isolation(results, routes, resolutions, resolvers=["10.30.0.53"])

    assert isolation.details["caveat"] == (
        "canary.test resolved to public addresses (203.0.114.1) with this host's "
        "resolver configuration (the hosts file or the nameservers 10.30.0.53), so "
        "a path to public names may exist even when TCP is blocked; a default "
        "route exists, so the isolation rests on filtering beyond this host rather "
        "than on the routing table"
    )
    assert len(isolation.details["caveats"]) == 2


def test_judge_onlink_refused_none():
    results = [
        result("platform", "blocked", "refused", "ECONNREFUSED", "10.30.0.5"),
        result("gw", "reachable", "reachable", address="10.30.0.1"),
    ]

    isolation = judge_isolation(results, NO_ROUTES, [])

    assert isolation.value is None
    assert isolation.reason == (
        "blocked probe 'platform' (10.30.0.5:443: refused ECONNREFUSED) failed on a "
        "directly connected subnet (10.30.0.0/28), so a failure there shows that "
        "the host is absent or silent, not that the segment is isolated from it; "
        "aim blocked probes at hosts beyond this host's directly connected subnets"
    )


def test_judge_onlink_timed_out_none():
    # Without a control, a failed on-link probe is still named for its subnet.
    results = [result("platform", "blocked", "timed_out", address="10.30.0.9")]

    isolation = judge_isolation(results, NO_ROUTES, [])

    assert isolation.value is None
    assert isolation.reason.startswith(
        "blocked probe 'platform' (10.30.0.9:443: timed_out) failed on a directly "
        "connected subnet (10.30.0.0/28)"
    )


def test_judge_onlink_reachable_false():
    results = [
        result("platform", "blocked", "reachable", address="10.30.0.5"),
        result("gw", "reachable", "reachable", address="10.30.0.1"),
    ]

    isolation = judge_isolation(results, NO_ROUTES, [])

    assert isolation.value is False
    assert isolation.details["probes"][0]["on_link"] is True


def test_judge_onlink_second_address():
    # A name with an off-link and an on-link address is judged by the on-link one.
    attempts = (
        Attempt("10.20.0.2", "timed_out", None, None, 500.0),
        Attempt("10.30.0.6", "filtered", "EHOSTUNREACH", None, 3000.0),
    )
    platform = ProbeResult(
        Probe("platform", "plat.test", 443, "blocked"),
        "timed_out",
        "10.20.0.2",
        None,
        None,
        3500.0,
        attempts,
    )
    results = [platform, result("gw", "reachable", "reachable", address="10.30.0.1")]

    isolation = judge_isolation(results, NO_ROUTES, [])

    assert isolation.value is None
    assert "(10.30.0.0/28)" in isolation.reason
    assert isolation.details["probes"][0]["on_link"] is True


def test_judge_broadcasts_on_two_subnets():
    routes = Routes(
        routes=(
            Route("10.30.0.0/28", None, "eth0", 0),
            Route("10.31.0.0/30", None, "eth1", 0),
        ),
        default_v4=False,
        default_v6=False,
    )
    results = [
        result("a", "blocked", "filtered", "ENETUNREACH", "10.30.0.15"),
        result("b", "blocked", "filtered", "ENETUNREACH", "10.31.0.3"),
        result("gw", "reachable", "reachable", address="10.30.0.1"),
    ]

    isolation = judge_isolation(results, routes, [])

    assert isolation.reason == (
        "blocked probes 'a' (10.30.0.15:443: filtered ENETUNREACH), 'b' "
        "(10.31.0.3:443: filtered ENETUNREACH) targeted a broadcast address on "
        "directly connected subnets (10.30.0.0/28, 10.31.0.0/30), and the kernel "
        "rejects every TCP connect to a broadcast address, so the failure proves "
        "nothing; aim blocked probes at hosts beyond this segment"
    )


def test_judge_point_to_point_not_broadcast():
    # A /31 has no broadcast address, so its upper address is a host.
    routes = Routes(
        routes=(Route("10.32.0.0/31", None, "eth0", 0),),
        default_v4=False,
        default_v6=False,
    )
    results = [
        result("platform", "blocked", "filtered", "EHOSTUNREACH", "10.32.0.1"),
        result("gw", "reachable", "reachable", address="10.32.0.0"),
    ]

    isolation = judge_isolation(results, routes, [])

    assert isolation.value is None
    assert "failed on a directly connected subnet (10.32.0.0/31)" in isolation.reason


def test_judge_unread_table_caveat():
    routes = Routes(default_v4=None, default_v6=False)
    results = [
        result("platform", "blocked", "timed_out"),
        result("gw", "reachable", "reachable", address="10.30.0.1"),
    ]

    isolation = judge_isolation(results, routes, [])

    assert isolation.value is True
    assert isolation.details["probes"][0]["on_link"] is None
    caveat = (
        "the routing table was not read for blocked probe 'platform', so whether an "
        "address tried lies on a directly connected subnet, where a failure proves "
        "nothing, is unknown"
    )
    assert isolation.details["caveats"] == [caveat]


def test_judge_details_keys():
    results = [result("platform", "blocked", "timed_out")]

    isolation = judge_isolation(results, NO_ROUTES, [], resolvers=["10.30.0.53"])

    assert sorted(isolation.details) == [
        "caveats",
        "names",
        "probes",
        "resolvers",
        "routes",
    ]
    assert isolation.details["probes"][0]["name"] == "platform"
    assert isolation.details["routes"]["default_v4"] is False
    assert isolation.details["resolvers"] == ["10.30.0.53"]
