"""The database collector: rows, transaction rate, sessions and integrity settings.

Every target is read over its own read-only connection, all targets at once,
each in a daemon thread: a driver call that never returns holds up neither the
other targets nor the exit of the process. A target that fails costs only its
own facts, which become gaps scoped by the target's name. The collector raises
only when every target fails.

The survey (connection, transaction rate, catalog estimates, sessions and
integrity) has an overall deadline. Targets not done by then are given up, and
the rest go on to the row totals. Two targets that reach the same database, as
the server identifies it, are counted once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from collectors import errors
from collectors.base import Collector, Fact, Findings
from collectors.database import mysql, postgres
from collectors.database.readings import DatabaseSession, Observation
from collectors.database.records import (
    NOT_COUNTED,
    DatabaseTally,
    count_all_tables,
    count_tables_without_estimate,
    describe_details,
    describe_method,
    within_band,
)
from collectors.database.sampling import InvalidSample, measure_transaction_rate
from collectors.database.target import POSTGRESQL, DatabaseTarget, scrub

logger = logging.getLogger(__name__)

RECORDS = "data.records_total"
TPS = "load.tps_peak"
SESSIONS = "load.client_sessions"
INTEGRITY = "integrity.guaranteed_transactions"
DATA_STORES = "architecture.data_stores"
COMPONENTS = "stack.components"

# Targets surveyed at once; more targets wait for a free slot. Every session
# stays open until the row totals are recorded.
MAX_PARALLEL_TARGETS = 16

# Stages of a target's survey, named in its gaps when the survey deadline passes.
WAITING = "still waiting for a free survey slot"
CONNECTING = "still connecting"
READING = "still reading"


class TargetFindings:
    """One target's share of the findings, closed when the target is given up.

    A target given up at the survey deadline may still be blocked in a driver
    call. Whatever its thread records after that is dropped, so the gaps
    recorded for the target stand.
    """

    def __init__(self, findings: Findings) -> None:
        self._findings = findings
        self._lock = threading.Lock()
        self._closed = False
        self._finished = False
        self.keys: set[str] = set()

    def add(self, fact: Fact) -> None:
        with self._lock:
            if not self._closed:
                self.keys.add(fact.key)
                self._findings.add(fact)

    def gap(self, key: str, reason: str, message: str, scope: str = "") -> None:
        with self._lock:
            if not self._closed:
                self.keys.add(key)
                self._findings.gap(key, reason, message, scope)

    def note(self, message: str) -> None:
        with self._lock:
            if not self._closed:
                self._findings.note(message)

    def give_up(
        self, keys: Iterable[str], reason: str, message: str, scope: str
    ) -> bool:
        """Record a gap for each key not recorded yet, then drop what follows.

        Return False, and record nothing, when the target's thread has finished
        or the target was given up before.
        """
        with self._lock:
            if self._finished or self._closed:
                return False
            for key in keys:
                if key not in self.keys:
                    self._findings.gap(key, reason, message, scope)
            self._closed = True
            return True

    def finish(self) -> bool:
        """Mark the target's thread done; return False when it was given up."""
        with self._lock:
            self._finished = True
            return not self._closed

    @property
    def given_up(self) -> bool:
        with self._lock:
            return self._closed


@dataclass
class TargetRun:
    """One target's session, or the error that prevented it, and its tables."""

    target: DatabaseTarget
    index: int
    findings: TargetFindings
    session: DatabaseSession | None = None
    error: errors.SourceError | None = None
    tally: DatabaseTally | None = None
    # The server's identity of the data read, or None when it could not be read.
    identity: dict[str, Any] | None = None
    # True once the identity was read or found unreadable, or the connection
    # failed. Targets listed later stop waiting for this one then.
    settled: bool = False
    # True when this target is the one counted for its identity.
    claimed: bool = False
    stage: str = WAITING
    # An exception that is not a SourceError, re-raised after the facts are in.
    crash: Exception | None = None
    thread: threading.Thread | None = field(default=None, repr=False)


class Survey:
    """State shared by the target threads of one `collect` call."""

    def __init__(self, runs: list[TargetRun], settle_by: float) -> None:
        self.runs = runs
        # Monotonic time until which a target waits for the targets listed
        # before it to settle, so that the first one listed is the one counted.
        self.settle_by = settle_by
        self.condition = threading.Condition()
        self.slots = threading.BoundedSemaphore(MAX_PARALLEL_TARGETS)

    def settle(self, run: TargetRun) -> None:
        with self.condition:
            run.settled = True
            self.condition.notify_all()

    def find_original(self, run: TargetRun) -> TargetRun | None:
        """Settle `run` and return the target counted for its identity, if not `run`.

        The first target listed wins among those that settle within settle_by.
        A target that settles later is a repeat of whichever target claimed
        the identity first.
        """
        engine = run.target.engine
        with self.condition:
            run.settled = True
            self.condition.notify_all()
            earlier = [
                other
                for other in self.runs[: run.index]
                if other.target.engine == engine
            ]
            self.condition.wait_for(
                lambda: all(other.settled for other in earlier),
                timeout=max(0.0, self.settle_by - time.monotonic()),
            )
            if run.identity is None:
                return None
            same = [
                other
                for other in self.runs
                if other is not run
                and other.settled
                and other.identity == run.identity
                and not other.findings.given_up
            ]
            claimed = [other for other in same if other.claimed]
            if claimed:
                return claimed[0]
            listed_before = [other for other in same if other.index < run.index]
            if listed_before:
                return listed_before[0]
            run.claimed = True
            return None


class DatabaseCollector(Collector):
    """Observes PostgreSQL, MySQL and MariaDB databases over read-only sessions.

    `records_threshold` and `exact_band` (a fraction) decide when catalog
    estimates are not precise enough: when the estimated total over all targets
    lies within ±exact_band of the threshold, every table is counted exactly.
    `survey_deadline` bounds the survey of all targets and defaults to
    connect_timeout + tps_sample_seconds + statement_timeout. Times are in
    seconds.
    """

    name = "database"
    provides = (RECORDS, TPS, SESSIONS, INTEGRITY, DATA_STORES, COMPONENTS)

    def __init__(
        self,
        targets: Iterable[DatabaseTarget],
        *,
        records_threshold: int = 50_000_000,
        exact_band: float = 0.10,
        tps_sample_seconds: float = 5.0,
        statement_timeout: float = 30.0,
        lock_timeout: float = 5.0,
        connect_timeout: float = 10.0,
        survey_deadline: float | None = None,
    ) -> None:
        self.targets = tuple(targets)
        names = [target.name for target in self.targets]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"database names must be unique; repeated: {repeated}")
        if records_threshold <= 0:
            raise ValueError(
                f"records_threshold must be positive, got {records_threshold}"
            )
        if exact_band < 0:
            raise ValueError(f"exact_band must not be negative, got {exact_band}")
        if tps_sample_seconds < 0:
            raise ValueError(
                f"tps_sample_seconds must not be negative, got {tps_sample_seconds}"
            )
        if survey_deadline is None:
            survey_deadline = connect_timeout + tps_sample_seconds + statement_timeout
        for label, seconds in (
            ("statement_timeout", statement_timeout),
            ("lock_timeout", lock_timeout),
            ("connect_timeout", connect_timeout),
            ("survey_deadline", survey_deadline),
        ):
            if seconds <= 0:
                raise ValueError(f"{label} must be positive, got {seconds}")
        self.records_threshold = records_threshold
        self.exact_band = exact_band
        self.tps_sample_seconds = tps_sample_seconds
        self.statement_timeout = statement_timeout
        self.lock_timeout = lock_timeout
        self.connect_timeout = connect_timeout
        self.survey_deadline = survey_deadline

    def collect(self, findings: Findings) -> None:
        if not self.targets:
            for key in self.provides:
                findings.gap(key, errors.NOT_CONFIGURED, "no database is configured")
            return
        started = time.monotonic()
        runs = [
            TargetRun(target, index, TargetFindings(findings))
            for index, target in enumerate(self.targets)
        ]
        # A target waits for the targets listed before it at most connect_timeout,
        # and never so long that the rest of its survey (the rate sample and
        # statements bounded by statement_timeout) could miss the deadline.
        settle_wait = min(
            self.connect_timeout,
            self.survey_deadline - self.tps_sample_seconds - self.statement_timeout,
        )
        survey = Survey(runs, started + max(0.0, settle_wait))
        try:
            self._survey_all(survey, started + self.survey_deadline)
            counted = [
                run
                for run in runs
                if run.tally is not None and not run.findings.given_up
            ]
            self._record_row_totals(counted)
        finally:
            for run in runs:
                # A given-up target's thread closes its own session when its
                # driver call returns.
                if run.session is not None and not run.findings.given_up:
                    run.session.close()
        self._raise_if_crashed(runs)
        self._raise_if_all_failed(runs)

    def connect(self, target: DatabaseTarget) -> DatabaseSession:
        """Open a read-only session on `target`; raise a SourceError on failure."""
        engine = postgres if target.engine == POSTGRESQL else mysql
        return engine.connect(
            target,
            statement_timeout=self.statement_timeout,
            lock_timeout=self.lock_timeout,
            connect_timeout=self.connect_timeout,
        )

    def _survey_all(self, survey: Survey, deadline: float) -> None:
        """Survey every target in its own daemon thread until `deadline`."""
        for run in survey.runs:
            run.thread = threading.Thread(
                target=self._survey_in_thread,
                args=(run, survey),
                name=f"database-{run.target.name}",
                daemon=True,
            )
            run.thread.start()
        for run in survey.runs:
            run.thread.join(max(0.0, deadline - time.monotonic()))
        for run in survey.runs:
            self._give_up_if_running(run)

    def _survey_in_thread(self, run: TargetRun, survey: Survey) -> None:
        try:
            with survey.slots:
                self._survey(run, survey)
        except Exception as exc:  # a bug, not a source failure, so collect re-raises it
            logger.exception("database %s: survey crashed", run.target.name)
            # Set before give_up, so that collect finds it once the findings close.
            run.crash = exc
            message = scrub(f"{type(exc).__name__}: {exc}", run.target.password)
            run.findings.give_up(
                self.provides, errors.CRASHED, message, run.target.name
            )
        finally:
            survey.settle(run)
            if not run.findings.finish() and run.session is not None:
                run.session.close()

    def _give_up_if_running(self, run: TargetRun) -> None:
        target = run.target
        error = errors.SourceTimeout(
            target.source,
            f"{run.stage} when the {self.survey_deadline:g} s survey deadline "
            "passed; given up",
        )
        if run.findings.give_up(self.provides, error.reason, str(error), target.name):
            run.error = error
            logger.warning("database %s: %s", target.name, error.message)

    def _survey(self, run: TargetRun, survey: Survey) -> None:
        """Phase 1 for one target: every fact but the row total, and the estimates."""
        target, findings = run.target, run.findings
        if findings.given_up:
            # The deadline passed while this target waited for a survey slot.
            return
        run.stage = CONNECTING
        try:
            run.session = self.connect(target)
        except errors.SourceError as exc:
            run.error = exc
            logger.warning("database %s: connection failed: %s", target.name, exc)
            for key in self.provides:
                findings.gap(key, exc.reason, str(exc), scope=target.name)
            return
        if findings.given_up:
            return
        run.stage = READING
        run.identity = self._read_identity(run)
        original = survey.find_original(run)
        if original is not None:
            self._record_repeat(run, original)
            return
        self._record_rate(run)
        self._record_server(run)
        self._read_tables(run)
        session = run.session
        self._record_observation(run, SESSIONS, "count", session.read_client_sessions)
        self._record_observation(run, INTEGRITY, None, session.read_integrity)

    def _read_identity(self, run: TargetRun) -> dict[str, Any] | None:
        target = run.target
        try:
            return run.session.read_identity(target.schemas)
        except errors.SourceError as exc:
            logger.warning("database %s: identity not read: %s", target.name, exc)
            run.findings.note(
                f"database {target.name!r}: the server's identity of the database "
                f"was not read ({exc}), so another target that reaches the same "
                "database would be counted again"
            )
            return None

    def _record_repeat(self, run: TargetRun, original: TargetRun) -> None:
        target = run.target
        message = f"same database as target {original.target.name!r}; counted once"
        logger.info("database %s: %s", target.name, message)
        run.findings.note(f"database {target.name!r}: {message}")
        for key in self.provides:
            run.findings.gap(
                key, errors.NO_DATA, f"{target.source}: {message}", target.name
            )
        session, run.session = run.session, None
        session.close()

    def _gap(self, run: TargetRun, key: str, exc: errors.SourceError) -> None:
        logger.warning("database %s: %s not read: %s", run.target.name, key, exc)
        run.findings.gap(key, exc.reason, str(exc), scope=run.target.name)

    def _record_rate(self, run: TargetRun) -> None:
        session, target = run.session, run.target
        try:
            observation = measure_transaction_rate(session, self.tps_sample_seconds)
        except InvalidSample as exc:
            logger.warning("database %s: no transaction rate: %s", target.name, exc)
            run.findings.gap(
                TPS, errors.NO_DATA, f"{session.source}: {exc}", target.name
            )
            return
        except errors.SourceError as exc:
            self._gap(run, TPS, exc)
            return
        # A few seconds sampled at scan time stand for the peak over a whole
        # window only as a lower bound, because the sample rarely falls on the
        # peak. PostgreSQL's counters also lag behind the commits (sampling.py).
        run.findings.add(self._fact(run, TPS, observation, "tps", bound="lower"))

    def _record_server(self, run: TargetRun) -> None:
        session = run.session
        try:
            info = session.server_info()
        except errors.SourceError as exc:
            self._gap(run, DATA_STORES, exc)
            self._gap(run, COMPONENTS, exc)
            return
        store = Observation(
            1,
            "one database reached over a read-only session",
            {
                "engine": info.product,
                "version": info.version,
                "version_full": info.version_full,
                "database": info.database,
            },
        )
        run.findings.add(self._fact(run, DATA_STORES, store, "count"))
        component = {"name": info.product, "version": info.version, "kind": "database"}
        stack = Observation([component], "server version reported by the database", {})
        run.findings.add(self._fact(run, COMPONENTS, stack, None))

    def _read_tables(self, run: TargetRun) -> None:
        session = run.session
        try:
            catalog = session.read_table_catalog(run.target.schemas)
        except errors.SourceError as exc:
            self._gap(run, RECORDS, exc)
            return
        tally = DatabaseTally.from_catalog(catalog)
        count_tables_without_estimate(session, tally)
        run.tally = tally

    def _record_observation(
        self,
        run: TargetRun,
        key: str,
        unit: str | None,
        read: Callable[[], Observation],
    ) -> None:
        try:
            observation = read()
        except errors.SourceError as exc:
            self._gap(run, key, exc)
            return
        run.findings.add(self._fact(run, key, observation, unit))

    def _fact(
        self,
        run: TargetRun,
        key: str,
        observation: Observation,
        unit: str | None,
        bound: str | None = None,
    ) -> Fact:
        return Fact(
            key=key,
            value=observation.value,
            unit=unit,
            source=run.session.source,
            method=observation.method,
            scope=run.target.name,
            details=observation.details or None,
            bound=bound,
            uncertain=observation.uncertain,
        )

    def _record_row_totals(self, runs: list[TargetRun]) -> None:
        """Phase 2 when the grand total is near the threshold, then the row facts."""
        grand_total = sum(run.tally.total for run in runs)
        band_check: dict[str, Any] = {
            "estimated_total_all_databases": grand_total,
            "records_threshold": self.records_threshold,
            "exact_band": self.exact_band,
        }
        for run in runs:
            run.tally.band_check = band_check
        # TODO: InnoDB's TABLE_ROWS can be off by more than exact_band, so a
        # MySQL/MariaDB total just outside the band may lie across the threshold.
        # TODO: phase 2 has no overall deadline; many tables that each run into
        # the statement timeout can outlast the runner's timeout for the collector.
        if runs and within_band(grand_total, self.records_threshold, self.exact_band):
            logger.info(
                "estimated %d rows is within %.0f%% of the %d-row threshold; "
                "counting every table exactly",
                grand_total,
                self.exact_band * 100,
                self.records_threshold,
            )
            threads = [
                threading.Thread(
                    target=self._count_all,
                    args=(run,),
                    name=f"database-count-{run.target.name}",
                    daemon=True,
                )
                for run in runs
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        for run in runs:
            if run.crash is None:
                run.findings.add(self._records_fact(run))
                self._note_uncounted(run)

    def _count_all(self, run: TargetRun) -> None:
        try:
            count_all_tables(run.session, run.tally)
        except Exception as exc:  # a bug, not a source failure, so collect re-raises it
            run.crash = exc
            logger.exception("database %s: exact counts crashed", run.target.name)
            message = scrub(f"{type(exc).__name__}: {exc}", run.target.password)
            run.findings.gap(RECORDS, errors.CRASHED, message, run.target.name)

    def _records_fact(self, run: TargetRun) -> Fact:
        tally = run.tally
        details = describe_details(tally, run.target.schemas)
        details["database_identity"] = run.identity
        return Fact(
            key=RECORDS,
            value=tally.total,
            unit="rows",
            source=run.session.source,
            method=describe_method(
                run.session, tally, self.records_threshold, self.exact_band
            ),
            scope=run.target.name,
            details=details,
            bound="lower" if tally.is_lower_bound else None,
            uncertain=tally.is_uncertain,
        )

    def _note_uncounted(self, run: TargetRun) -> None:
        # The fact carries the detail; the note puts it beside the collector's
        # status, where an operator looks first.
        uncounted = run.tally.by_how(NOT_COUNTED)
        if uncounted:
            run.findings.note(
                f"database {run.target.name!r}: {len(uncounted)} tables not counted, "
                "so its row count is a lower bound"
            )

    def _raise_if_crashed(self, runs: list[TargetRun]) -> None:
        for run in runs:
            # A target given up at the deadline keeps its timed_out gaps, even
            # when its thread crashed afterwards.
            if run.crash is not None and run.error is None:
                raise run.crash

    def _raise_if_all_failed(self, runs: list[TargetRun]) -> None:
        failures = [run.error for run in runs]
        if not all(failures):
            return
        kinds = {type(error) for error in failures}
        error_class = kinds.pop() if len(kinds) == 1 else errors.SourceError
        if len(runs) == 1:
            raise error_class(failures[0].source, failures[0].message)
        message = "; ".join(f"{run.target.name}: {run.error.message}" for run in runs)
        raise error_class(", ".join(run.target.source for run in runs), message)
