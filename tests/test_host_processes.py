"""Process counting from a /proc tree and from psutil with real child processes."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from collectors.host import processes
from tests import host_trees as trees


def test_tree_counts_numeric_dirs(tmp_path):
    trees.proc_stat(tmp_path, 1, "systemd", "S")
    trees.proc_stat(tmp_path, 42, "postgres", "R")
    trees.write(tmp_path, "/proc/meminfo", "MemTotal: 1 kB\n")
    reading = processes.count_proc_tree(str(tmp_path))
    assert reading.value == 2


def test_tree_counts_zombies(tmp_path):
    trees.proc_stat(tmp_path, 1, "systemd", "S")
    trees.proc_stat(tmp_path, 77, "worker (old) job", "Z")
    reading = processes.count_proc_tree(str(tmp_path))
    assert reading.value == 2
    assert reading.details["zombie"] == 1


def test_tree_skips_vanished(tmp_path):
    trees.proc_stat(tmp_path, 1, "systemd", "S")
    (tmp_path / "proc/99").mkdir()
    reading = processes.count_proc_tree(str(tmp_path))
    assert reading.value == 1
    assert reading.details["vanished"] == 1


def wait_for_zombie(pid: int) -> psutil.Process:
    process = psutil.Process(pid)
    deadline = time.monotonic() + 10
    while process.status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "child did not become a zombie"
        time.sleep(0.01)
    return process


def test_psutil_counts_zombie():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        zombie = wait_for_zombie(child.pid)
        reading = processes.count_psutil_processes([zombie])
        assert reading.value == 1
        assert reading.details["zombie"] == 1
    finally:
        child.wait()


def test_psutil_skips_vanished():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    process = psutil.Process(child.pid)
    child.wait()
    reading = processes.count_psutil_processes([process])
    assert reading.value == 0
    assert reading.details["vanished"] == 1


def test_live_count_positive():
    reading = processes.process_count("/", live=True)
    assert reading.value > 0
