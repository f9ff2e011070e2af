"""Writing a report so that a reader never sees half of one."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from agent.errors import OutputError
from agent.logs import REDACTOR


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_stream(path: Path, text: str) -> None:
    # A character device, FIFO or socket (e.g. /dev/stdout in a container) cannot
    # be replaced by a rename: write to it directly, as the user asked.
    try:
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as exc:
        raise OutputError(
            f"cannot write the report to {path}: {exc.strerror}"
        ) from None


def write_atomic(path: str | Path, text: str) -> None:
    """Write text to path through a temporary file in the same directory and a rename.

    The rename is atomic on POSIX filesystems, so the path contains either the old
    report or the complete new one. A symbolic link is followed and its target
    replaced; a device, FIFO or socket is written to directly. An existing file
    keeps its mode and owner; a new one gets the mode the umask allows. Known
    secrets are masked before writing.
    """
    target = Path(os.path.realpath(path))
    text = REDACTOR(text)
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise OutputError(
            f"cannot write the report to {path}: {exc.strerror}"
        ) from None
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise OutputError(f"cannot write the report to {path}: it is a directory")
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        _write_stream(target, text)
        return
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        raise OutputError(
            f"cannot write the report to {path}: {exc.strerror}; "
            "check that the directory exists and is writable"
        ) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        if existing is not None:
            os.chmod(temporary, stat.S_IMODE(existing.st_mode))
            if (existing.st_uid, existing.st_gid) != (os.getuid(), os.getgid()):
                os.chown(temporary, existing.st_uid, existing.st_gid)
        else:
            os.chmod(temporary, 0o666 & ~_current_umask())
        os.replace(temporary, target)
    except BaseException as exc:
        # Whatever stopped the write (a full disk, an encoding error, a signal),
        # the temporary file goes and the previous report stays as it was.
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(
                f"cannot write the report to {path}: {exc.strerror}"
            ) from None
        raise
