"""The software collector on this machine (root "/"), with real processes."""

from __future__ import annotations

import platform
import sys

import pytest

from collectors.base import Findings
from collectors.software import SoftwareCollector
from tests import software_trees as trees


def collect(**options):
    findings = Findings()
    SoftwareCollector("/", **options).collect(findings)
    facts, gaps, _ = findings.snapshot()
    return {fact.key: fact for fact in facts}, {gap.key: gap for gap in gaps}


def components(facts, name):
    return [item for item in facts["stack.components"].value if item["name"] == name]


def test_python_is_this_interpreter():
    facts, _ = collect()
    expected = "{}.{}.{}".format(*sys.version_info[:3])
    pythons = [c for c in components(facts, "Python") if c["version"] == expected]
    assert len(pythons) == 1
    own = [e for e in pythons[0]["evidence"] if e.get("self")]
    assert own[0]["version_from"].startswith("sys.version")
    assert platform.python_version() == expected


@pytest.mark.postgres
def test_postgresql_process_and_package():
    facts, _ = collect()
    (postgres,) = [
        c for c in components(facts, "PostgreSQL") if c["usage"] == "serving"
    ]
    sources = {e["source"] for e in postgres["evidence"]}
    assert sources == {"dpkg", "process"}
    process = next(e for e in postgres["evidence"] if e["source"] == "process")
    assert process["path_version"] == "15"
    assert process["package"] == "postgresql-15"
    assert postgres["version"] == process["package_version"].split("-")[0]


@pytest.mark.mariadb
def test_mariadb_process_and_package():
    facts, _ = collect()
    (mariadb,) = [c for c in components(facts, "MariaDB") if c["usage"] == "serving"]
    process = next(e for e in mariadb["evidence"] if e["source"] == "process")
    assert process["exe"] == "/usr/sbin/mariadbd"
    packages = {e["package"] for e in mariadb["evidence"] if e["source"] == "dpkg"}
    assert "mariadb-server" in packages
    assert mariadb["version"] == process["package_version"].split(":")[1].split("-")[0]


def test_processes_counted():
    facts, _ = collect()
    coverage = facts["stack.components"].details["coverage"]["processes"]
    assert coverage["status"] == "ok"
    assert set(coverage["skipped"]) == {
        "zombie",
        "vanished",
        "access_denied",
        "kernel_threads",
    }


def test_agent_interpreter_not_a_runtime():
    facts, _ = collect()
    evidence = facts["architecture.runtimes"].details["runtimes"].get("python", [])
    pids = {pid for entry in evidence for pid in entry.get("pids") or []}
    import os

    assert os.getpid() not in pids


@pytest.fixture
def video_process(tmp_path):
    library = trees.library_copy(tmp_path, "libopencv_core.so.4.5")
    child, port = trees.library_process([library])
    try:
        yield child, port, library
    finally:
        trees.stop(child)


def find_process(item, pid):
    return [p for p in item["processes"] if p["pid"] == pid]


def test_video_library_with_stream(video_process):
    child, port, _ = video_process
    facts, _ = collect(endpoints={"rtsp": ["rtsp://admin:pw@camera.local:554/live"]})
    opencv = [i for i in facts["video.analytics"].value if i["name"] == "OpenCV"]
    assert len(opencv) == 1
    (entry,) = find_process(opencv[0], child.pid)
    assert entry["ports"] == [port]
    assert opencv[0]["streams"][0]["url"] == "rtsp://camera.local:554/live"


def test_video_library_without_stream(video_process):
    child, _, _ = video_process
    facts, _ = collect()
    fact = facts["video.analytics"]
    assert "OpenCV" not in [i["name"] for i in fact.value]
    seen = [v for v in fact.details["video_libraries"] if v.get("pid") == child.pid]
    assert seen[0]["service"] is True
    assert seen[0]["counted"] is False


def test_video_library_with_ai(tmp_path):
    opencv = trees.library_copy(tmp_path, "libopencv_core.so.4.5")
    onnx = trees.library_copy(tmp_path, "libonnxruntime.so.1.16.3")
    child, _ = trees.library_process([opencv, onnx])
    try:
        facts, _ = collect()
    finally:
        trees.stop(child)
    ai = [i for i in facts["ai.components"].value if i["name"] == "ONNX Runtime"]
    assert ai[0]["usage"] == "loaded"
    assert child.pid in ai[0]["pids"]
    video = [i for i in facts["video.analytics"].value if i["name"] == "OpenCV"]
    assert "ONNX Runtime" in video[0]["ai"]


def test_library_evidence_names_path(video_process):
    child, _, library = video_process
    facts, _ = collect()
    (opencv,) = [c for c in components(facts, "OpenCV") if c["usage"] == "loaded"]
    (entry,) = [e for e in opencv["evidence"] if e.get("path") == str(library)]
    assert entry["pids"] == [child.pid]
    assert opencv["version"] == "4.5"


def test_zombie_counted_not_raised():
    import subprocess
    import time

    import psutil

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "child did not exit"
            time.sleep(0.05)
        facts, _ = collect()
    finally:
        child.wait(timeout=10)
    skipped = facts["stack.components"].details["coverage"]["processes"]["skipped"]
    assert skipped["zombie"] >= 1
