"""HostCollector as a whole: facts, gaps and isolation of failing readers."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from collectors import errors
from collectors.base import Findings
from collectors.host import HostCollector
from tests import host_trees as trees


def run(collector: HostCollector) -> tuple[dict, dict]:
    findings = Findings()
    collector.collect(findings)
    facts, gaps, _ = findings.snapshot()
    return {f.key: f for f in facts}, {g.key: g for g in gaps}


def gpu_container_tree(root: Path) -> Path:
    trees.plain_host(root, cpus=8, hypervisor=False)
    trees.dmi(root, sys_vendor="Supermicro", product_name="SYS-4029GP-TRT")
    trees.cgroup_v2(root, cpu_max="150000 100000", memory_max="536870912")
    trees.write(root, "/.dockerenv")
    trees.pci_function(
        root, "0000:3b:00.0", class_code="0x030200", vendor="0x10de", device="0x20b0"
    )
    trees.dev_nodes(root, "nvidia0")
    return root


def test_tree_facts(tmp_path):
    facts, gaps = run(HostCollector(str(gpu_container_tree(tmp_path))))
    assert gaps == {}
    assert facts["host.cpu_count"].value == 8
    assert facts["host.cpus_usable"].value == 1.5
    assert facts["host.memory_bytes"].value == trees.HOST_MEMTOTAL_KB * 1024
    assert facts["host.memory_usable_bytes"].value == 536870912
    assert facts["host.container"].value == "docker"
    assert facts["host.hypervisor"].value == "none"
    assert facts["host.bare_metal"].value is True
    assert facts["infrastructure.dedicated_servers"].value is True
    assert [c["kind"] for c in facts["hardware.specialized"].value] == ["gpu"]
    assert facts["host.process_count"].value == 1


def test_tree_units(tmp_path):
    facts, _ = run(HostCollector(str(gpu_container_tree(tmp_path))))
    assert facts["host.cpu_count"].unit == "count"
    assert facts["host.cpus_usable"].unit == "count"
    assert facts["host.memory_bytes"].unit == "bytes"
    assert facts["host.memory_usable_bytes"].unit == "bytes"
    assert facts["host.process_count"].unit == "count"


def test_tree_source_and_scope(tmp_path):
    root = str(gpu_container_tree(tmp_path))
    facts, _ = run(HostCollector(root, hostname="db-01"))
    fact = facts["host.cpu_count"]
    assert fact.source == f"host {root}"
    assert fact.scope == "db-01"
    assert fact.provenance == "measured"


def test_tree_scope_defaults_to_root(tmp_path):
    root = str(gpu_container_tree(tmp_path))
    facts, _ = run(HostCollector(root))
    assert facts["host.memory_bytes"].scope == root


def test_dedicated_servers_is_derived(tmp_path):
    facts, _ = run(HostCollector(str(gpu_container_tree(tmp_path))))
    assert facts["infrastructure.dedicated_servers"].provenance == "derived"


def test_virtual_machine_is_not_dedicated(tmp_path):
    trees.plain_host(tmp_path, hypervisor=True)
    facts, _ = run(HostCollector(str(tmp_path)))
    assert facts["host.bare_metal"].value is False
    assert facts["infrastructure.dedicated_servers"].value is False


def test_tree_without_dmi_or_pci_gives_gaps(tmp_path):
    trees.plain_host(tmp_path, hypervisor=False)
    (tmp_path / "sys/bus/pci/devices").rmdir()
    facts, gaps = run(HostCollector(str(tmp_path)))
    assert gaps["hardware.specialized"].reason == errors.NO_DATA
    assert gaps["host.hypervisor"].reason == errors.NO_DATA
    assert gaps["host.bare_metal"].reason == errors.NO_DATA
    assert gaps["infrastructure.dedicated_servers"].reason == errors.NO_DATA
    assert "hardware.specialized" not in facts
    assert facts["host.cpu_count"].value == 4


def test_empty_root_never_raises(tmp_path):
    facts, gaps = run(HostCollector(str(tmp_path)))
    assert set(facts) | set(gaps) == set(HostCollector.provides)


def test_bad_meminfo_costs_only_memory(tmp_path):
    trees.plain_host(tmp_path)
    trees.write(tmp_path, "/proc/meminfo", "garbage\n")
    facts, gaps = run(HostCollector(str(tmp_path)))
    assert gaps["host.memory_bytes"].reason == errors.BAD_RESPONSE
    assert gaps["host.memory_usable_bytes"].reason == errors.BAD_RESPONSE
    assert facts["host.cpu_count"].value == 4
    assert facts["host.process_count"].value == 1


def test_live_collect_covers_every_key():
    facts, gaps = run(HostCollector("/"))
    assert set(facts) | set(gaps) == set(HostCollector.provides)


def test_live_values():
    facts, _ = run(HostCollector("/"))
    text = Path("/proc/meminfo").read_text()
    memtotal_kb = int(re.search(r"^MemTotal:\s+(\d+) kB", text, re.MULTILINE).group(1))
    assert facts["host.cpu_count"].value == os.cpu_count()
    assert facts["host.memory_bytes"].value == memtotal_kb * 1024
    assert facts["host.process_count"].value > 0


def test_live_scope_is_hostname():
    facts, _ = run(HostCollector("/"))
    assert facts["host.cpu_count"].scope == socket.gethostname()
    assert facts["host.cpu_count"].source == "host /"
