"""`techcomplex scan` of loopback targets with real nmap: facts and failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jsonschema
import pytest

from tests.listeners import (
    ONVIF_REPLY,
    RTSP_REPLY,
    TNS_REPLY,
    Listener,
    loopback_address,
)
from tests.netns import REPO, NetnsLab

TNS_TRIGGER = b"(CONNECT_DATA=(COMMAND=version))"


def scan(tmp_path, network: str, *, env: dict | None = None) -> dict:
    config = tmp_path / "techcomplex.yaml"
    config.write_text(
        f"system: {{name: loopback}}\nsources:\n  network:\n{network}",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "agent", "scan", "--config", str(config)]
        + ["--format", "json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def targets(address: str, ports: str, extra: str = "") -> str:
    return (
        f"    targets: [{address}]\n"
        "    allowlist: [127.77.0.0/24]\n"
        f"    ports: [{ports}]\n"
        "    scan_type: connect\n"
        f"{extra}"
    )


def facts(report: dict, key: str) -> list[dict]:
    return [f for f in report["facts"] if f["key"] == key]


def only(report: dict, key: str) -> dict:
    found = facts(report, key)
    assert len(found) == 1, found
    return found[0]


def collector(report: dict) -> dict:
    return next(c for c in report["collectors"] if c["name"] == "network")


def criterion(report: dict, number: int) -> dict:
    return next(c for c in report["criteria"] if c["id"] == number)


def test_silent_oracle_port_is_a_port_match(tmp_path):
    address = loopback_address()
    with Listener(address, 1521):
        report = scan(
            tmp_path, targets(address, "1521", "    service_detection: false\n")
        )
    [item] = only(report, "software.proprietary")["value"]
    assert item["name"] == "Oracle Database"
    assert item["match"] == "port"
    [evidence] = item["evidence"]
    assert (evidence["host"], evidence["port"]) == (address, 1521)
    assert evidence["method"] == "table"
    assert evidence["match"] == "port"
    assert criterion(report, 5)["verdict"] == "unknown"
    [test] = criterion(report, 5)["thresholds"]
    assert test["note"].startswith("only port-number matches (Oracle Database)")


def test_tns_reply_is_a_version_match(tmp_path):
    address = loopback_address()
    with Listener(address, 1521, replies={TNS_TRIGGER: TNS_REPLY}):
        report = scan(tmp_path, targets(address, "1521"))
    [item] = only(report, "software.proprietary")["value"]
    assert item["name"] == "Oracle Database"
    assert item["version"] == "19.0.0.0.0"
    assert item["match"] == "version_detection"
    assert criterion(report, 5)["verdict"] == "met"
    [evidence] = item["evidence"]
    assert (evidence["host"], evidence["port"]) == (address, 1521)
    assert evidence["method"] == "probed"
    assert evidence["product"] == "Oracle TNS Listener"
    services = only(report, "network.services")
    assert [s["name"] for s in services["value"]] == [f"{address}:1521/tcp"]
    assert services["details"]["complete"] is True
    schema = json.loads((REPO / "agent/schema/report.schema.json").read_text())
    jsonschema.validate(report, schema)


def test_rtsp_with_inference_port_is_video(tmp_path):
    address = loopback_address()
    with (
        Listener(address, 554, replies={b"OPTIONS / RTSP/1.0": RTSP_REPLY}),
        Listener(address, 11434),
    ):
        report = scan(
            tmp_path, targets(address, "554, 11434", "    service_detection: false\n")
        )
    ai = only(report, "ai.components")["value"]
    assert [item["name"] for item in ai] == ["Ollama"]
    video = only(report, "video.analytics")["value"]
    assert [item["name"] for item in video] == [f"video stream {address}:554"]
    assert video[0]["ai"] == ["Ollama"]
    assert video[0]["evidence"][0]["method"] == "table"
    # Both parts were named by their port numbers only.
    assert video[0]["match"] == "port"
    assert criterion(report, 11)["verdict"] == "unknown"
    assert criterion(report, 13)["verdict"] == "unknown"


def test_closed_ports_give_no_components(tmp_path):
    address = loopback_address()
    report = scan(tmp_path, targets(address, "1521, 1433"))
    assert only(report, "network.services")["value"] == []
    assert facts(report, "software.proprietary") == []
    assert facts(report, "stack.components") == []
    assert only(report, "architecture.data_stores")["value"] == 0
    assert collector(report)["status"] == "ok"


def test_missing_nmap_costs_scan_facts_only(tmp_path):
    address = loopback_address()
    missing = tmp_path / "no-such-nmap"
    report = scan(tmp_path, targets(address, "1521", f"    nmap_path: {missing}\n"))
    assert facts(report, "network.services") == []
    assert len(facts(report, "infrastructure.dedicated_network")) == 1
    network = collector(report)
    assert network["status"] == "partial"
    gap = next(g for g in network["gaps"] if g["key"] == "network.services")
    assert gap["reason"] == "source_failed"
    assert str(missing) in gap["message"]
    assert "apt-get install nmap" in gap["message"]


def test_budget_cut_marks_scan_partial(tmp_path):
    address = loopback_address()
    # A silent port keeps version detection waiting well past the budget.
    with Listener(address, 1521):
        report = scan(tmp_path, targets(address, "1521", "    timeout: 4\n"))
    network = collector(report)
    assert network["status"] == "partial"
    gap = next(g for g in network["gaps"] if g["key"] == "network.services")
    assert gap["reason"] == "timed_out"
    assert address in gap["message"]
    services = only(report, "network.services")
    assert services["bound"] == "lower"
    assert services["details"]["complete"] is False
    assert services["details"]["unfinished"] == [address]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to compare scan types")
def test_auto_scan_type_as_root_is_syn(tmp_path):
    address = loopback_address()
    network = (
        f"    targets: [{address}]\n"
        "    allowlist: [127.77.0.0/24]\n"
        "    ports: [1521]\n"
        "    service_detection: false\n"
    )
    with Listener(address, 1521):
        report = scan(tmp_path, network)
    details = only(report, "network.services")["details"]
    assert details["scan_type_requested"] == "auto"
    assert details["scan_type"] == "syn"
    assert "-sS" in details["command"]


def test_no_dedicated_evidence_leaves_unknown(tmp_path):
    # A fresh namespace has only lo, so no interface shows a dedicated network.
    config = tmp_path / "techcomplex.yaml"
    config.write_text("system: {name: lo}\nsources:\n  network: {}\n", encoding="utf-8")
    with NetnsLab() as lab:
        namespace = lab.add_namespace("d")
        command = [sys.executable, "-m", "agent", "scan", "--config", str(config)]
        done = lab.run(namespace, [*command, "--format", "json"])
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    fact = only(report, "infrastructure.dedicated_network")
    assert fact["value"] is False
    assert fact["bound"] == "lower"
    assert [i["name"] for i in fact["details"]["interfaces"]] == ["lo"]
    test = next(
        t
        for t in criterion(report, 9)["thresholds"]
        if t["name"] == "dedicated_network"
    )
    assert test["result"] == "unknown"
    assert test["note"] == (
        "the value is a lower bound, so a negative result decides nothing; no "
        "evidence on this host's interfaces; switches, links and VLAN trunks beyond "
        "the host are not visible from it, so a dedicated network is not ruled out"
    )


def test_ipv4_and_ipv6_targets_scanned_apart(tmp_path):
    address = loopback_address()
    network = (
        f"    targets: [{address}, '::1']\n"
        "    allowlist: [127.77.0.0/24, '::1']\n"
        "    ports: [1521]\n"
        "    scan_type: connect\n"
        "    service_detection: false\n"
    )
    with Listener(address, 1521):
        report = scan(tmp_path, network)
    services = only(report, "network.services")
    assert [s["name"] for s in services["value"]] == [f"{address}:1521/tcp"]
    command = services["details"]["command"]
    # One nmap run per address family, joined by ";" in the details.
    assert command.count(";") == 1
    ipv6_run = command[command.index(";") + 1 :]
    assert "-6" in ipv6_run
    assert ipv6_run[-1] == "::1"
    assert services["details"]["complete"] is True


def test_repeated_targets_scanned_once(tmp_path):
    address = loopback_address()
    network = (
        f"    targets: [{address}, {address}, {address}/32, 127.77.1.0/30, "
        "127.77.1.2]\n"
        "    allowlist: [127.77.0.0/23]\n"
        "    ports: [1521]\n"
        "    scan_type: connect\n"
        "    service_detection: false\n"
    )
    with Listener(address, 1521):
        report = scan(tmp_path, network)
    services = only(report, "network.services")
    assert [s["name"] for s in services["value"]] == [f"{address}:1521/tcp"]
    details = services["details"]
    assert details["scanned"] == [address, "127.77.1.0/30"]
    assert details["repeated_targets"] == [address, f"{address}/32", "127.77.1.2"]


def test_data_stores_count_confirmed_products(tmp_path):
    # nmap's probes match the machine's own PostgreSQL and MariaDB. A listener
    # on the PostgreSQL port that sends an unknown banner is named by its port
    # only and is not counted.
    guess = loopback_address()
    network = (
        f"    targets: [127.0.0.1, {guess}]\n"
        "    allowlist: [127.0.0.1, 127.77.0.0/24]\n"
        "    ports: [3306, 5432]\n"
        "    scan_type: connect\n"
        "    version_intensity: 0\n"
    )
    with Listener(guess, 5432, banner=b"ready\r\n"):
        report = scan(tmp_path, network)
    stores = only(report, "architecture.data_stores")
    assert stores["value"] == 2
    assert stores["bound"] == "lower"
    assert stores["details"]["counted"] == ["MariaDB", "PostgreSQL"]
    endpoints = {
        (e["host"], e["port"]): e["match"] for e in stores["details"]["endpoints"]
    }
    assert endpoints == {
        ("127.0.0.1", 3306): "version_detection",
        ("127.0.0.1", 5432): "version_detection",
        (guess, 5432): "port",
    }


def test_onvif_camera_counts_as_stream(tmp_path):
    address = loopback_address()
    extra = "    version_intensity: 0\n"
    with (
        Listener(address, 80, replies={b"OPTIONS / HTTP/1.0": ONVIF_REPLY}),
        # A banner nmap does not recognise leaves the port number to decide.
        Listener(address, 11434, banner=b"ready\r\n"),
    ):
        report = scan(tmp_path, targets(address, "80, 11434", extra))
    services = {s["port"]: s for s in only(report, "network.services")["value"]}
    assert services[80]["product"] == "Avigilon webcam ONVIF NVT"
    assert services[80]["devicetype"] == "webcam"
    video = only(report, "video.analytics")
    [item] = video["value"]
    assert item["name"] == f"video stream {address}:80"
    assert item["evidence"][0]["method"] == "probed"
    # The AI service beside the camera was named by its port only.
    assert item["match"] == "port"
    assert [s["port"] for s in video["details"]["streams"]] == [80]


def test_supported_stack_seen_leaves_criterion_6_unknown(tmp_path):
    network = (
        "    targets: [127.0.0.1]\n"
        "    allowlist: [127.0.0.1]\n"
        "    ports: [5432]\n"
        "    scan_type: connect\n"
        "    version_intensity: 0\n"
    )
    report = scan(tmp_path, network)
    stack = only(report, "stack.components")
    assert [item["name"] for item in stack["value"]] == ["PostgreSQL"]
    assert stack["bound"] == "lower"
    # PostgreSQL is supported, but other components may hide behind ports
    # that were not scanned, so an empty list of unsupported ones decides nothing.
    assert report["resolved"]["stack.unsupported"]["value"] == []
    assert criterion(report, 6)["verdict"] == "unknown"
