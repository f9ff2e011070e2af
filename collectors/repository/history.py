"""Git history of a source tree: first and last commit, commit count and tags.

git runs as a subprocess with an argument list, never through a shell, with a
timeout per command and the C locale so its error messages can be recognised.
Only read commands run (rev-parse, rev-list, log, ls-tree, for-each-ref).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass

from collectors import errors
from collectors.declared import DAYS_PER_MONTH

logger = logging.getLogger(__name__)

# Seconds one git command may take before the history facts get a timed_out gap.
# Every command here reads commit metadata only, so a minute allows for very
# large histories on slow disks.
GIT_TIMEOUT_SECONDS = 60.0
# Environment variables that would point git at another repository than the one
# in the working directory.
_REDIRECTING_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
)
_COMMIT_FORMAT = "--format=%H%x00%aI%x00%cI"
_TAG_FORMAT = (
    "--format=%(refname:lstrip=2)%00%(objecttype)%00%(creatordate:iso-strict)"
    "%00%(*objectname)%00%(objectname)"
)


class NotARepository(errors.SourceError):
    """The directory is not inside a git work tree."""

    reason = errors.NO_DATA


class NoCommits(errors.SourceError):
    """The repository has no commit yet."""

    reason = errors.NO_DATA


@dataclass(frozen=True)
class Commit:
    hash: str
    author_date: dt.datetime
    committer_date: dt.datetime


@dataclass(frozen=True)
class Tag:
    """A tag with its date: the tagger date of an annotated tag, else the
    committer date of the commit a lightweight tag points to."""

    name: str
    date: str
    commit: str
    annotated: bool


@dataclass(frozen=True)
class History:
    toplevel: str
    shallow: bool
    commit_count: int
    first: Commit
    last: Commit
    tags: list[Tag]


def months_between(start: dt.datetime, end: dt.datetime) -> float:
    """Return the months from start to end, to one decimal.

    A month is the mean Gregorian month (30.436875 days), and fractions of a
    day count.
    """
    days = (end - start).total_seconds() / 86400
    return round(days / DAYS_PER_MONTH, 1)


def _environment() -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in _REDIRECTING_VARIABLES
    }
    environment.update(
        {
            "LC_ALL": "C",
            "LANG": "C",
            "GIT_TERMINAL_PROMPT": "0",
            # Reads must not take the index lock that a concurrent git may hold.
            "GIT_OPTIONAL_LOCKS": "0",
            "GIT_PAGER": "cat",
        }
    )
    return environment


class Git:
    """Runs read-only git commands in one directory."""

    def __init__(self, path: str, *, timeout: float = GIT_TIMEOUT_SECONDS) -> None:
        self.path = path
        self.timeout = timeout
        self.source = f"git in {path}"

    def run(self, *arguments: str) -> tuple[int, str, str]:
        """Run git; return (exit code, stdout, stderr) or raise SourceError."""
        if shutil.which("git") is None:
            raise errors.SourceError(
                self.source,
                "git not found on PATH; install git where the scan runs "
                "(Debian and Ubuntu: apt-get install git)",
            )
        command = ["git", *arguments]
        try:
            completed = subprocess.run(
                command,
                cwd=self.path,
                check=False,
                capture_output=True,
                timeout=self.timeout,
                env=_environment(),
            )
        except subprocess.TimeoutExpired:
            raise errors.SourceTimeout(
                self.source, f"git {arguments[0]} timed out after {self.timeout:g} s"
            ) from None
        except OSError as exc:
            raise errors.SourceError(
                self.source, f"git {arguments[0]} could not start: {exc.strerror}"
            ) from None
        stdout = completed.stdout.decode("utf-8", errors="replace")
        stderr = completed.stderr.decode("utf-8", errors="replace").strip()
        return completed.returncode, stdout, stderr

    def output(self, *arguments: str) -> str:
        """Run git and return its output; raise SourceError when it fails."""
        code, stdout, stderr = self.run(*arguments)
        if code == 0:
            return stdout
        if "not a git repository" in stderr:
            raise NotARepository(self.source, "not inside a git repository")
        if "dubious ownership" in stderr:
            raise errors.PermissionDenied(
                self.source,
                "git rejects a repository owned by another user; run "
                f"`git config --global --add safe.directory {self.path}` as the "
                "user that scans, if the checkout is trusted",
            )
        first_line = stderr.splitlines()[0] if stderr else "no message"
        raise errors.SourceError(
            self.source, f"git {arguments[0]} failed (exit {code}): {first_line}"
        )


def _commit(line: str) -> Commit:
    try:
        commit_hash, author, committer = line.strip().split("\x00")
        return Commit(
            commit_hash,
            dt.datetime.fromisoformat(author),
            dt.datetime.fromisoformat(committer),
        )
    except ValueError:
        raise errors.BadResponse("git log", f"unexpected line {line!r}") from None


def _tags(output: str) -> list[Tag]:
    tags = []
    for line in output.splitlines():
        fields = line.split("\x00")
        if len(fields) != 5:
            logger.warning("git for-each-ref: unexpected line %r", line)
            continue
        name, object_type, date, peeled, target = fields
        annotated = object_type == "tag"
        tags.append(Tag(name, date, peeled if annotated else target, annotated))
    return tags


def read_history(path: str, *, timeout: float = GIT_TIMEOUT_SECONDS) -> History:
    """Read the history of the repository that contains `path`.

    Raise NotARepository or NoCommits (reason no_data) when there is no history,
    and SourceError when git is missing or fails.
    """
    git = Git(path, timeout=timeout)
    lines = git.output(
        "rev-parse", "--show-toplevel", "--is-shallow-repository", "--show-prefix"
    ).splitlines()
    toplevel, shallow = lines[0], lines[1]
    prefix = lines[2] if len(lines) > 2 else ""
    code, _, _ = git.run("rev-parse", "--verify", "--quiet", "HEAD")
    if code != 0:
        raise NoCommits(git.source, "the repository has no commits")
    # ls-tree paths are relative to the working directory, so "." is the tree.
    if prefix and not git.output("ls-tree", "--name-only", "HEAD", "--", "."):
        # A source export unpacked inside another checkout is not part of that
        # checkout's history.
        raise NotARepository(
            git.source,
            f"not tracked by the git repository at {toplevel} that contains it",
        )
    count = int(git.output("rev-list", "--count", "HEAD").strip())
    # Root commits: more than one when unrelated histories were merged. In a
    # shallow clone the commits at the depth boundary show up here instead.
    roots = [
        _commit(line)
        for line in git.output(
            "log", "--max-parents=0", _COMMIT_FORMAT, "HEAD"
        ).splitlines()
        if line.strip()
    ]
    last = _commit(git.output("log", "-1", _COMMIT_FORMAT, "HEAD"))
    first = min(roots, key=lambda commit: commit.author_date) if roots else last
    tags = _tags(git.output("for-each-ref", "refs/tags", _TAG_FORMAT))
    return History(toplevel, shallow == "true", count, first, last, tags)
