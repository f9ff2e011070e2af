"""Report files: atomic replacement, links, devices, modes and owners."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from agent.errors import OutputError
from agent.output import write_atomic


def test_new_file_written(tmp_path):
    target = tmp_path / "report.json"
    write_atomic(target, "{}\n")
    assert target.read_text("utf-8") == "{}\n"


def test_existing_mode_kept(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o600)
    write_atomic(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text("utf-8") == "new"


def test_existing_owner_kept(tmp_path):
    if os.getuid() != 0:
        pytest.skip("only root can give a file to another owner")
    target = tmp_path / "report.json"
    target.write_text("old", encoding="utf-8")
    os.chown(target, 65534, 65534)
    write_atomic(target, "new")
    assert (target.stat().st_uid, target.stat().st_gid) == (65534, 65534)


def test_new_file_respects_umask(tmp_path):
    target = tmp_path / "report.json"
    previous = os.umask(0o077)
    try:
        write_atomic(target, "{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_symlink_followed_and_kept(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert link.is_symlink()
    assert real.read_text("utf-8") == "new"


def test_fifo_written_not_replaced(tmp_path):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text("utf-8")))
    reader.start()
    write_atomic(fifo, "through the pipe")
    reader.join(10)
    assert received == ["through the pipe"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_character_device_written_not_replaced():
    write_atomic("/dev/null", "discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_full_device_is_an_error():
    with pytest.raises(OutputError, match="cannot write the report to /dev/full"):
        write_atomic("/dev/full", "x" * 100_000)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_directory_is_an_error(tmp_path):
    with pytest.raises(OutputError, match="it is a directory"):
        write_atomic(tmp_path, "{}")


def test_missing_directory_is_an_error(tmp_path):
    with pytest.raises(OutputError, match="check that the directory exists"):
        write_atomic(tmp_path / "absent" / "report.json", "{}")
