"""Benchmark the network collector's nmap scan of a /24 inside test namespaces.

Run as root from the repository root:

    PYTHONPATH=. python bench/bench_network.py [--runs N]

It creates two network namespaces joined by a veth pair: "lan", which holds
five addresses of 10.254.77.0/24 (.10 to .14) with a TCP listener on ports 22,
443 and 5432 of each, and "scanner", which has 10.254.77.1. Every scan runs
inside "scanner" with `ip netns exec`, so no packet leaves the namespaces. For
each case (connect or SYN scan, with or without version detection) it runs
`python -m agent scan` --runs times on the whole /24 and prints the median
wall time of the network collector, the live hosts and the open ports found.
The listeners accept and close at once, so version detection sees a server
that hangs up ("tcpwrapped"), not one that stays silent.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from tests.netns import NetnsLab

SUBNET = "10.254.77.0/24"
SCANNER = "10.254.77.1"
HOSTS = [f"10.254.77.{n}" for n in range(10, 15)]
LISTENING = (22, 443, 5432)
PORTS = "22, 443, 1521, 5432, 8080"
CASES = (
    ("connect", False),
    ("connect", True),
    ("syn", False),
    ("syn", True),
)


def build(lab: NetnsLab) -> str:
    scanner = lab.add_namespace("s")
    lan = lab.add_namespace("l")
    link = lab.connect(scanner, lan)
    for namespace, interface, addresses in (
        (scanner, link.interfaces[0], [SCANNER]),
        (lan, link.interfaces[1], HOSTS),
    ):
        for address in addresses:
            lab.ip(namespace, "addr", "add", f"{address}/24", "dev", interface)
    for address in HOSTS:
        for port in LISTENING:
            lab.start_listener(lan, address, port)
    return scanner


def config(directory: Path, scan_type: str, detection: bool) -> Path:
    path = directory / f"{scan_type}-{detection}.yaml"
    path.write_text(
        "system: {name: bench}\n"
        "sources:\n"
        "  network:\n"
        f"    targets: [{SUBNET}]\n"
        f"    allowlist: [{SUBNET}]\n"
        f"    ports: [{PORTS}]\n"
        f"    scan_type: {scan_type}\n"
        f"    service_detection: {str(detection).lower()}\n"
        "    timeout: 600\n",
        encoding="utf-8",
    )
    return path


def run_once(lab: NetnsLab, scanner: str, path: Path) -> tuple[float, int, int]:
    command = [sys.executable, "-m", "agent", "scan", "--config", str(path)]
    done = lab.run(scanner, [*command, "--format", "json"], timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"scan failed: {done.stderr}")
    report = json.loads(done.stdout)
    network = next(c for c in report["collectors"] if c["name"] == "network")
    services = next(f for f in report["facts"] if f["key"] == "network.services")
    hosts_up = {s["host"] for s in services["value"]}
    return network["duration_seconds"], len(hosts_up), len(services["value"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with NetnsLab() as lab, tempfile.TemporaryDirectory() as directory:
        scanner = build(lab)
        for scan_type, detection in CASES:
            path = config(Path(directory), scan_type, detection)
            times = []
            for _ in range(args.runs):
                seconds, hosts, ports = run_once(lab, scanner, path)
                times.append(seconds)
            label = f"{scan_type}{' -sV' if detection else ''}"
            print(
                f"{label:12} median {statistics.median(times):6.2f} s "
                f"(min {min(times):.2f}, max {max(times):.2f}); "
                f"{hosts} hosts with open ports, {ports} open ports"
            )


if __name__ == "__main__":
    main()
