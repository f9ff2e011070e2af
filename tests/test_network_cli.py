"""`techcomplex scan` with network targets the scope guard rejects: exit 2 first."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.netns import REPO

FAKE_NMAP = """#!/bin/sh
echo "$@" >> {marker}
exit 1
"""


@pytest.fixture
def fake_nmap(tmp_path):
    """A program named nmap, first on PATH, that records every start in a file."""
    marker = tmp_path / "nmap-started"
    directory = tmp_path / "bin"
    directory.mkdir()
    program = directory / "nmap"
    program.write_text(FAKE_NMAP.format(marker=marker), encoding="utf-8")
    program.chmod(0o755)
    return program, marker


def scan(tmp_path, network: str, program) -> subprocess.CompletedProcess:
    config = tmp_path / "techcomplex.yaml"
    config.write_text(
        "system: {name: guard}\n"
        "sources:\n"
        "  network:\n"
        f"    nmap_path: {program}\n"
        f"{network}",
        encoding="utf-8",
    )
    env = {**os.environ, "PATH": f"{program.parent}:{os.environ['PATH']}"}
    return subprocess.run(
        [sys.executable, "-m", "agent", "scan", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )


REJECTED = [
    (
        "    targets: [198.51.99.0/24]\n    allowlist: [10.1.0.0/22]\n",
        (
            "target 198.51.99.0/24 is public address space; set "
            "allow_public_targets: true to scan it"
        ),
    ),
    (
        "    targets: [10.1.2.0/33]\n    allowlist: [10.1.0.0/22]\n",
        "target '10.1.2.0/33' is not a valid IPv4 network",
    ),
    (
        "    targets: [10.1.0.0/16]\n    allowlist: [10.1.0.0/22]\n",
        (
            "target 10.1.0.0/16 has 65,536 addresses, more than the /22 maximum "
            "(1,024); split it or raise max_prefix_v4"
        ),
    ),
    (
        "    targets: [10.9.0.7]\n    allowlist: [10.1.0.0/24]\n",
        "target 10.9.0.7 is outside the allowlist [10.1.0.0/24]",
    ),
]


@pytest.mark.parametrize(
    ("network", "message"), REJECTED, ids=["public", "malformed", "large", "outside"]
)
def test_rejected_target_exits_2(tmp_path, fake_nmap, network, message):
    program, marker = fake_nmap
    done = scan(tmp_path, network, program)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""
    assert not marker.exists()
