"""CPU and memory readers of the host collector, on prepared trees and this machine."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from collectors.host import resources
from collectors.host.reading import NoData
from tests import host_trees as trees

GIB = 1024**3


def host_with_limits(tmp_path: Path) -> Path:
    trees.cpuinfo(tmp_path, 4, hypervisor=False)
    trees.meminfo(tmp_path)
    trees.self_status(tmp_path, "0-3")
    return tmp_path


def test_cpu_count_from_cpuinfo(tmp_path):
    trees.cpuinfo(tmp_path, 6, hypervisor=False)
    reading = resources.host_cpu_count(str(tmp_path), live=False)
    assert reading.value == 6


def test_cpu_count_falls_back_to_online_list(tmp_path):
    trees.write(tmp_path, "/sys/devices/system/cpu/online", "0-7,16-23\n")
    reading = resources.host_cpu_count(str(tmp_path), live=False)
    assert reading.value == 16


def test_cpu_count_without_files_raises(tmp_path):
    with pytest.raises(NoData):
        resources.host_cpu_count(str(tmp_path), live=False)


def test_v2_quota_gives_fractional_cpus(tmp_path):
    root = host_with_limits(tmp_path)
    trees.cgroup_v2(root, cpu_max="150000 100000", memory_max="536870912")
    reading = resources.cpus_usable(str(root), live=False)
    assert reading.value == 1.5
    assert reading.details["applied"] == "cgroup"
    assert reading.details["affinity_cpus"] == 4
    assert reading.uncertain is False


def test_v2_memory_limit_binds(tmp_path):
    root = host_with_limits(tmp_path)
    trees.cgroup_v2(root, cpu_max="150000 100000", memory_max="536870912")
    reading = resources.memory_usable_bytes(str(root), live=False)
    assert reading.value == 512 * 1024 * 1024
    assert reading.details["applied"] == "cgroup"


def test_v2_max_leaves_affinity(tmp_path):
    root = host_with_limits(tmp_path)
    trees.cgroup_v2(root, cpu_max="max 100000", memory_max="max")
    reading = resources.cpus_usable(str(root), live=False)
    assert reading.value == 4
    assert reading.details["applied"] == "affinity"
    assert reading.details["cgroup_cpu_quota"] is None


def test_v2_max_memory_is_host_memory(tmp_path):
    root = host_with_limits(tmp_path)
    trees.cgroup_v2(root, cpu_max="max 100000", memory_max="max")
    reading = resources.memory_usable_bytes(str(root), live=False)
    assert reading.value == trees.HOST_MEMTOTAL_KB * 1024
    assert reading.details["applied"] == "host"


def test_affinity_below_quota_wins(tmp_path):
    root = host_with_limits(tmp_path)
    trees.self_status(root, "0,2")
    trees.cgroup_v2(root, cpu_max="300000 100000", memory_max="max")
    reading = resources.cpus_usable(str(root), live=False)
    assert reading.value == 2
    assert reading.details["applied"] == "affinity"


def test_v1_unlimited_quota(tmp_path):
    root = host_with_limits(tmp_path)
    trees.cgroup_v1(
        root, quota_us=-1, period_us=100000, memory_limit=trees.V1_UNLIMITED_MEMORY
    )
    reading = resources.cpus_usable(str(root), live=False)
    assert reading.value == 4
    assert reading.details["cgroup"]["version"] == 1


def test_v1_near_max_memory_is_unlimited(tmp_path):
    root = host_with_limits(tmp_path)
    trees.cgroup_v1(
        root, quota_us=-1, period_us=100000, memory_limit=trees.V1_UNLIMITED_MEMORY
    )
    reading = resources.memory_usable_bytes(str(root), live=False)
    assert reading.value == trees.HOST_MEMTOTAL_KB * 1024
    assert reading.details["cgroup_memory_limit_bytes"] is None


def test_v1_limits_in_process_cgroup(tmp_path):
    root = host_with_limits(tmp_path)
    trees.cgroup_v1(
        root, quota_us=50000, period_us=100000, memory_limit=GIB, path="/docker/abc"
    )
    cpus = resources.cpus_usable(str(root), live=False)
    memory = resources.memory_usable_bytes(str(root), live=False)
    assert cpus.value == 0.5
    assert memory.value == GIB
    assert cpus.details["cgroup"]["fell_back_to_mount"] is False


def test_parent_limit_binds_child(tmp_path):
    root = host_with_limits(tmp_path)
    trees.cgroup_v2(root, cpu_max="max 100000", memory_max="max", path="/app/worker")
    trees.write(root, "/sys/fs/cgroup/app/memory.max", "1073741824\n")
    reading = resources.memory_usable_bytes(str(root), live=False)
    assert reading.value == GIB
    assert reading.details["cgroup"]["limit_source"] == "/sys/fs/cgroup/app/memory.max"


def test_missing_cgroup_dir_falls_back_to_mount(tmp_path):
    root = host_with_limits(tmp_path)
    trees.cgroup_v2(
        root,
        cpu_max="200000 100000",
        memory_max="max",
        path="/kubepods/pod1/abc",
        directory_exists=False,
    )
    reading = resources.cpus_usable(str(root), live=False)
    assert reading.value == 2
    assert reading.details["cgroup"]["fell_back_to_mount"] is True


def test_hybrid_layout_reads_v1_controller(tmp_path):
    root = host_with_limits(tmp_path)
    trees.cgroup_v1(
        root, quota_us=100000, period_us=100000, memory_limit=trees.V1_UNLIMITED_MEMORY
    )
    trees.write(root, "/sys/fs/cgroup/unified/cgroup.controllers", "\n")
    reading = resources.cpus_usable(str(root), live=False)
    assert reading.value == 1
    assert reading.details["cgroup"]["version"] == 1


def test_unreadable_cgroup_marks_uncertain(tmp_path):
    root = host_with_limits(tmp_path)
    reading = resources.cpus_usable(str(root), live=False)
    assert reading.value == 4
    assert reading.uncertain is True
    assert "cgroup_error" in reading.details


def test_malformed_cpu_max_marks_uncertain(tmp_path):
    root = host_with_limits(tmp_path)
    trees.cgroup_v2(root, cpu_max="lots", memory_max="max")
    reading = resources.cpus_usable(str(root), live=False)
    assert reading.value == 4
    assert reading.uncertain is True


def test_memory_from_meminfo(tmp_path):
    trees.meminfo(tmp_path, 2048)
    reading = resources.host_memory_bytes(str(tmp_path), live=False)
    assert reading.value == 2048 * 1024


def test_meminfo_without_memtotal_raises(tmp_path):
    trees.write(tmp_path, "/proc/meminfo", "MemFree: 10 kB\n")
    with pytest.raises(ValueError):
        resources.host_memory_bytes(str(tmp_path), live=False)


def test_live_cpu_count_is_os_cpu_count():
    reading = resources.host_cpu_count("/", live=True)
    assert reading.value == os.cpu_count()


def test_live_memory_is_memtotal():
    text = Path("/proc/meminfo").read_text()
    memtotal_kb = int(re.search(r"^MemTotal:\s+(\d+) kB", text, re.MULTILINE).group(1))
    reading = resources.host_memory_bytes("/", live=True)
    assert reading.value == memtotal_kb * 1024


def test_live_usable_cpus_within_host():
    reading = resources.cpus_usable("/", live=True)
    assert 0 < reading.value <= os.cpu_count()
    assert reading.details["affinity_cpus"] == len(os.sched_getaffinity(0))


def test_live_usable_memory_within_host():
    host = resources.host_memory_bytes("/", live=True).value
    reading = resources.memory_usable_bytes("/", live=True)
    assert 0 < reading.value <= host
