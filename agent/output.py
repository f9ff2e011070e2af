"""Writing a report so that a reader never sees half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from agent.errors import OutputError
from agent.logs import REDACTOR


def write_atomic(path: str | Path, text: str) -> None:
    """Write text to path through a temporary file in the same directory and a rename.

    The rename is atomic on POSIX filesystems, so the path contains either the old
    report or the complete new one. Known secrets are masked before writing.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=directory
        )
    except OSError as exc:
        raise OutputError(
            f"cannot write the report to {target}: {exc.strerror}; "
            "check that the directory exists and is writable"
        ) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(REDACTOR(text))
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException as exc:
        # Whatever stopped the write (a full disk, an encoding error, a signal),
        # the temporary file goes and the previous report stays as it was.
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(
                f"cannot write the report to {target}: {exc.strerror}"
            ) from None
        raise
