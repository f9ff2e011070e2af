"""The scan runner: collectors run concurrently, each under its own timeout.

A collector runs in a daemon thread. When its timeout passes, the runner stops
waiting and keeps what the collector recorded so far: status partial, or failed
when it recorded nothing. A hung driver call cannot be interrupted from Python, so
the thread is abandoned and ends with the process. TODO: a collector busy in C code
that holds the interpreter lock (a runaway regular expression) also stalls this
thread, so only running collectors in subprocesses would bound it. A collector that
raises costs only its own facts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.logs import REDACTOR
from collectors import errors
from collectors.base import Collector, Fact, Findings

log = logging.getLogger(__name__)

QUIET_REASONS = (errors.NO_DATA, errors.NOT_CONFIGURED)


@dataclass
class Planned:
    """A collector to run, or a source that is configured but cannot run."""

    name: str
    collector: Collector | None
    timeout: float
    skip_reason: str | None = None


@dataclass
class Outcome:
    name: str
    status: str
    duration_seconds: float
    facts: list[Fact] = field(default_factory=list)
    error: str | None = None
    reason: str | None = None
    gaps: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "duration_seconds": round(self.duration_seconds, 3),
            "error": self.error,
            "reason": self.reason,
            "facts": len(self.facts),
            "gaps": self.gaps,
            "notes": self.notes,
        }


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return REDACTOR(line if len(line) <= limit else line[: limit - 1] + "…")


class _Run:
    def __init__(self, planned: Planned) -> None:
        self.planned = planned
        self.findings = Findings()
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.started = time.monotonic()
        self.thread = threading.Thread(
            target=self._target, name=f"collector-{planned.name}", daemon=True
        )

    def _target(self) -> None:
        try:
            self.planned.collector.collect(self.findings)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a status
            self.error = exc
        finally:
            self.done.set()


def _finish(run: _Run, timed_out: bool) -> Outcome:
    name = run.planned.name
    duration = time.monotonic() - run.started
    facts, gaps, notes = run.findings.snapshot()
    outcome = Outcome(
        name=name,
        status="ok",
        duration_seconds=duration,
        facts=facts,
        gaps=[{**gap.to_dict(), "message": _one_line(gap.message)} for gap in gaps],
        notes=[_one_line(note) for note in notes],
    )
    if timed_out:
        outcome.status = "partial" if facts else "failed"
        outcome.reason = errors.TIMED_OUT
        outcome.error = f"timed out after {run.planned.timeout:g} s"
        log.error("collector %s timed out after %.1f s", name, duration)
    elif isinstance(run.error, errors.SourceError):
        outcome.status = "partial" if facts else "failed"
        outcome.reason = run.error.reason
        outcome.error = _one_line(run.error.message)
        log.error("collector %s failed: %s", name, outcome.error)
    elif run.error is not None:
        outcome.status = "partial" if facts else "failed"
        outcome.reason = errors.CRASHED
        outcome.error = _one_line(f"{type(run.error).__name__}: {run.error}")
        log.error("collector %s crashed: %s", name, outcome.error)
    else:
        # A key that was looked for and is simply not there (no_data) is a normal
        # outcome, so only a failed part of the source makes the run partial.
        if any(gap.reason not in QUIET_REASONS for gap in gaps):
            outcome.status = "partial"
        log.info(
            "collector %s finished in %.2f s: %d facts, %d gaps",
            name,
            duration,
            len(facts),
            len(gaps),
        )
    return outcome


def run_collectors(
    planned: list[Planned],
    *,
    on_finish: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run the planned collectors concurrently; return one outcome per plan, in order."""
    outcomes: dict[str, Outcome] = {}
    runs: list[_Run] = []
    for plan in planned:
        if plan.collector is None:
            outcome = Outcome(
                name=plan.name,
                status="skipped",
                duration_seconds=0.0,
                error=plan.skip_reason,
                reason=errors.NOT_CONFIGURED,
            )
            log.info("collector %s skipped: %s", plan.name, plan.skip_reason)
            outcomes[plan.name] = outcome
            if on_finish:
                on_finish(outcome)
            continue
        run = _Run(plan)
        log.info("collector %s started (timeout %g s)", plan.name, plan.timeout)
        run.thread.start()
        runs.append(run)

    for run in runs:
        deadline = run.started + run.planned.timeout
        finished = run.done.wait(max(0.0, deadline - time.monotonic()))
        outcome = _finish(run, timed_out=not finished)
        outcomes[run.planned.name] = outcome
        if on_finish:
            on_finish(outcome)
    return [outcomes[plan.name] for plan in planned]
