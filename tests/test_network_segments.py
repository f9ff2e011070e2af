"""`techcomplex scan` run inside test network namespaces: isolation verdicts.

Each scan runs with `ip netns exec` inside a segment namespace, so every probe
starts there; no command reaches a namespace address from the root namespace.
"""

from __future__ import annotations

import json
import sys

import pytest

from tests.netns import NetnsLab, build_segments

ISOLATED = "network.isolated_segment"


@pytest.fixture
def lab():
    with NetnsLab() as built:
        yield built


def write_config(tmp_path, blocked: str, reachable: str) -> str:
    path = tmp_path / "techcomplex.yaml"
    path.write_text(
        "system:\n"
        "  name: segment\n"
        "sources:\n"
        "  network:\n"
        "    probes:\n"
        f"      blocked: [{blocked}]\n"
        f"      reachable: [{reachable}]\n"
        "      timeout: 1\n",
        encoding="utf-8",
    )
    return str(path)


def scan_in(lab, namespace: str, config: str) -> dict:
    command = [sys.executable, "-m", "agent", "scan", "--config", config]
    done = lab.run(namespace, [*command, "--format", "json"], timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def network_fact(report: dict, key: str) -> dict:
    facts = [
        f
        for f in report["facts"]
        if f["key"] == key and f["source"].startswith("network")
    ]
    assert len(facts) == 1, facts
    return facts[0]


def criterion(report: dict, number: int) -> dict:
    return next(c for c in report["criteria"] if c["id"] == number)


def probe(fact: dict, name: str) -> dict:
    return next(p for p in fact["details"]["probes"] if p["name"] == name)


def segment_config(tmp_path, segments, gateway: str) -> str:
    blocked = (
        f"{{name: platform, host: {segments.platform_address}, "
        f"port: {segments.platform_port}}}"
    )
    reachable = f"{{name: router, host: {gateway}, port: {segments.control_port}}}"
    return write_config(tmp_path, blocked, reachable)


def test_isolated_segment_without_route(lab, tmp_path):
    segments = build_segments(lab)
    config = segment_config(tmp_path, segments, segments.isolated_gateway)
    report = scan_in(lab, segments.isolated, config)
    fact = network_fact(report, ISOLATED)
    assert fact["value"] is True
    assert probe(fact, "platform")["outcome"] == "filtered"
    assert probe(fact, "platform")["errno"] == "ENETUNREACH"
    assert probe(fact, "router")["outcome"] == "reachable"
    assert fact["details"]["routes"]["default_v4"] is False
    assert criterion(report, 7)["verdict"] == "met"


def test_routed_segment_not_isolated(lab, tmp_path):
    segments = build_segments(lab)
    config = segment_config(tmp_path, segments, segments.routed_gateway)
    report = scan_in(lab, segments.routed, config)
    fact = network_fact(report, ISOLATED)
    assert fact["value"] is False
    assert probe(fact, "platform")["outcome"] == "reachable"
    assert probe(fact, "platform")["address"] == segments.platform_address
    assert criterion(report, 7)["verdict"] == "not_met"


def test_dropped_platform_counts_as_blocked(lab, tmp_path):
    segments = build_segments(lab)
    lab.iptables(
        segments.platform,
        "-A",
        "INPUT",
        "-p",
        "tcp",
        "--dport",
        str(segments.platform_port),
        "-j",
        "DROP",
    )
    config = segment_config(tmp_path, segments, segments.routed_gateway)
    report = scan_in(lab, segments.routed, config)
    fact = network_fact(report, ISOLATED)
    assert probe(fact, "platform")["outcome"] == "timed_out"
    assert fact["value"] is True


def test_no_probes_leaves_isolation_unknown(lab, tmp_path):
    segments = build_segments(lab)
    path = tmp_path / "techcomplex.yaml"
    path.write_text("system: {name: s}\nsources:\n  network: {}\n", encoding="utf-8")
    report = scan_in(lab, segments.isolated, str(path))
    facts = [f for f in report["facts"] if f["key"] == ISOLATED]
    assert facts == []
    assert criterion(report, 7)["verdict"] == "unknown"
    network = next(c for c in report["collectors"] if c["name"] == "network")
    assert network["status"] == "ok"


def test_target_name_rechecked_after_resolving(lab, tmp_path):
    namespace = lab.add_namespace("n")
    lab.set_etc_file(namespace, "nsswitch.conf", "hosts: files\n")
    lab.set_etc_file(
        namespace, "hosts", "127.77.9.5 inside.test\n10.99.0.1 outside.test\n"
    )
    lab.set_etc_file(namespace, "resolv.conf", "nameserver 127.0.0.1\n")
    path = tmp_path / "techcomplex.yaml"
    path.write_text(
        "system: {name: names}\n"
        "sources:\n"
        "  network:\n"
        "    targets: [inside.test, outside.test]\n"
        "    allowed_names: [inside.test, outside.test]\n"
        "    allowlist: [127.77.9.0/24]\n"
        "    ports: [1521]\n"
        "    scan_type: connect\n"
        "    service_detection: false\n",
        encoding="utf-8",
    )
    report = scan_in(lab, namespace, str(path))
    services = network_fact(report, "network.services")
    assert services["details"]["scanned"] == ["127.77.9.5"]
    names = {entry["name"]: entry for entry in services["details"]["names"]}
    assert names["inside.test"]["scanned"] == ["127.77.9.5"]
    assert names["outside.test"]["scanned"] == []
    assert names["outside.test"]["rejected"] == [
        {"address": "10.99.0.1", "rule": "outside_allowlist"}
    ]
    network = next(c for c in report["collectors"] if c["name"] == "network")
    assert any(
        note.startswith("target outside.test resolved to 10.99.0.1, which the scope")
        for note in network["notes"]
    )
    assert "outside.test" not in services["details"]["command"]
    assert network["status"] == "partial"
    [gap] = [g for g in network["gaps"] if g["scope"] == "outside.test"]
    assert gap["message"] == (
        "target outside.test was not fully scanned: 10.99.0.1 (outside_allowlist)"
    )


def test_nmap_reports_dropped_port_filtered(lab, tmp_path):
    segments = build_segments(lab)
    dropped = lab.start_listener(segments.platform, segments.platform_address)
    lab.iptables(
        segments.platform,
        "-A", "INPUT", "-p", "tcp", "--dport", str(dropped.port), "-j", "DROP",
    )  # fmt: skip
    path = tmp_path / "techcomplex.yaml"
    path.write_text(
        "system: {name: platform scan}\n"
        "sources:\n"
        "  network:\n"
        f"    targets: [{segments.platform_address}]\n"
        f"    allowlist: [{segments.platform_subnet}]\n"
        f"    ports: [{segments.platform_port}, {dropped.port}]\n"
        "    scan_type: connect\n"
        "    service_detection: false\n"
        "    timeout: 60\n",
        encoding="utf-8",
    )
    # nmap runs inside the routed segment, like the agent itself.
    report = scan_in(lab, segments.routed, str(path))
    services = network_fact(report, "network.services")
    address = segments.platform_address
    assert [s["name"] for s in services["value"]] == [
        f"{address}:{segments.platform_port}/tcp"
    ]
    assert services["details"]["filtered"] == [f"{address}:{dropped.port}/tcp"]
    assert services["details"]["complete"] is True
