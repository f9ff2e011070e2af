"""RepositoryCollector: facts a source tree and its git history declare."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from collectors import errors
from collectors.base import Collector, Fact, Findings
from collectors.host.reading import Missing, Reading
from collectors.repository import history as git_history
from collectors.repository import kubernetes, readings
from collectors.repository.declarations import parse_file
from collectors.repository.readings import Outcome
from collectors.repository.tree import Tree, walk

logger = logging.getLogger(__name__)

STACK_KEYS = (
    readings.STACK,
    readings.PROPRIETARY,
    readings.AI,
    readings.RUNTIMES,
)
KUBERNETES_KEYS = (
    readings.SERVICES,
    readings.HARDWARE,
    readings.DEDICATED,
    readings.ISOLATED,
)
HISTORY_KEYS = (readings.MONTHS, readings.PHASES)

# Release tags by default: a major version ("v2.0.0", "3.0.0"), "release-…" or
# "stage-…".
DEFAULT_STAGE_TAG_PATTERN = r"^(v?\d+\.0\.0|release-.*|stage-.*)$"

T = TypeVar("T")


class RepositoryCollector(Collector):
    """Record the stack, licences, deployment settings and history of a source tree.

    `path` is the checkout to scan, and the scope of every fact is its directory
    name. `stage_tag_pattern` is a regular expression, searched as re.search
    does, for the git tags that mark a stage put into operation. `now` is the
    scan time as a Unix timestamp. It sets observed_at and the limit for commit
    dates, and defaults to the time `collect` starts.
    """

    name = "repository"
    provides = STACK_KEYS + KUBERNETES_KEYS + HISTORY_KEYS
    # Walking a large monorepo and reading its lock files takes tens of seconds;
    # each git command has its own timeout (history.GIT_TIMEOUT_SECONDS).
    default_timeout = 300.0

    def __init__(
        self,
        path: str,
        *,
        stage_tag_pattern: str = DEFAULT_STAGE_TAG_PATTERN,
        now: float | None = None,
    ) -> None:
        try:
            self.stage_tags = re.compile(stage_tag_pattern)
        except re.error as exc:
            raise ValueError(
                f"stage tag pattern {stage_tag_pattern!r} is not a valid regular "
                f"expression: {exc}"
            ) from None
        self.path = path
        self.now = now
        self.scope = os.path.basename(os.path.normpath(os.path.abspath(path))) or path
        self.source = f"repository {path}"
        self._observed_at = ""

    def collect(self, findings: Findings) -> None:
        now = self.now if self.now is not None else time.time()
        moment = dt.datetime.fromtimestamp(now, dt.UTC).replace(microsecond=0)
        self._observed_at = moment.isoformat().replace("+00:00", "Z")
        tree = walk(self.path)
        kube = self._attempt(findings, KUBERNETES_KEYS, partial(_read_kubernetes, tree))
        if kube is not None:
            self._run(
                findings,
                KUBERNETES_KEYS,
                partial(readings.kubernetes_readings, kube, tree),
            )
        images = kube.images if kube is not None else []
        self._run(findings, STACK_KEYS, partial(readings.stack_readings, tree, images))
        self._run(findings, HISTORY_KEYS, partial(self._history, moment))
        for note in readings.tree_notes(tree, kube):
            findings.note(note)

    def _history(self, moment: dt.datetime) -> list[Outcome]:
        try:
            found = git_history.read_history(self.path)
        except (git_history.NotARepository, git_history.NoCommits) as exc:
            message = (
                f"{exc.message}; development months and stage tags need a clone "
                "with its .git directory"
            )
            return [Missing(key, errors.NO_DATA, message) for key in HISTORY_KEYS]
        return readings.history_readings(found, moment, self.stage_tags)

    def _attempt(
        self, findings: Findings, keys: tuple[str, ...], produce: Callable[[], T]
    ) -> T | None:
        """Run one reader; on failure record a gap per key and return None."""
        try:
            return produce()
        except errors.SourceError as exc:
            reason, message = exc.reason, exc.message
        except PermissionError as exc:
            reason = errors.PERMISSION_DENIED
            message = f"permission denied: {exc.filename}"
        except OSError as exc:
            reason, message = errors.SOURCE_FAILED, f"read failed: {exc}"
        except Exception as exc:
            # A bug in one reader must cost only its own keys; the gap and the
            # logged traceback make it visible.
            logger.exception(
                "repository collector: reader for %s crashed", ", ".join(keys)
            )
            reason, message = errors.CRASHED, f"{type(exc).__name__}: {exc}"
        logger.warning(
            "repository collector: %s not established (%s): %s",
            ", ".join(keys),
            reason,
            message,
        )
        for key in keys:
            findings.gap(key, reason, message, self.scope)
        return None

    def _run(
        self,
        findings: Findings,
        keys: tuple[str, ...],
        produce: Callable[[], list[Outcome]],
    ) -> None:
        """Record one section's facts and gaps, or a gap per key when it fails."""
        for outcome in self._attempt(findings, keys, produce) or []:
            if isinstance(outcome, Missing):
                findings.gap(outcome.key, outcome.reason, outcome.message, self.scope)
                continue
            key, unit, reading = outcome
            findings.add(self._fact(key, unit, reading))

    def _fact(self, key: str, unit: str | None, reading: Reading) -> Fact:
        return Fact(
            key=key,
            value=reading.value,
            source=self.source,
            method=reading.method,
            scope=self.scope,
            unit=unit,
            provenance=reading.provenance,
            observed_at=self._observed_at,
            details=reading.details,
            bound=reading.bound,
            uncertain=reading.uncertain,
        )


def _read_kubernetes(tree: Tree) -> kubernetes.KubernetesRead:
    """Read the manifests, chart values and Compose files of the tree."""
    result = kubernetes.KubernetesRead()
    candidates, values, compose, templates = kubernetes.classify(tree.files)
    result.templates_skipped = templates
    for path in candidates:
        if parse_file(tree, path, partial(kubernetes.read_manifest, result=result)):
            result.manifests.append(path)
    for path in values:
        if parse_file(tree, path, partial(kubernetes.read_values, result=result)):
            result.values_files.append(path)
    for path in compose:
        if parse_file(tree, path, partial(kubernetes.read_compose, result=result)):
            result.compose_files.append(path)
    return result
