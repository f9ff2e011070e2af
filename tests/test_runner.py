"""Concurrent collectors: timeouts, crashes and failures cost only their own facts."""

from __future__ import annotations

import threading
import time

from agent.runner import Planned, run_collectors
from collectors import errors
from collectors.base import Collector, Fact, Findings


def _fact(key: str, value) -> Fact:
    return Fact(
        key=key, value=value, source="test", method="set by the test", scope="t"
    )


class Quick(Collector):
    name = "quick"

    def collect(self, findings: Findings) -> None:
        findings.add(_fact("host.cpu_count", 4))


class Hangs(Collector):
    """Records one fact, then blocks until the test releases it."""

    name = "hangs"

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def collect(self, findings: Findings) -> None:
        findings.add(_fact("host.process_count", 10))
        self.release.wait(30)


class Crashes(Collector):
    name = "crashes"

    def collect(self, findings: Findings) -> None:
        raise ZeroDivisionError("division by zero")


class Unreachable(Collector):
    name = "unreachable"

    def collect(self, findings: Findings) -> None:
        raise errors.SourceUnreachable("db 127.0.0.1:1", "connection refused")


class HalfWorks(Collector):
    name = "half"

    def collect(self, findings: Findings) -> None:
        findings.add(_fact("data.records_total", 5))
        findings.gap("load.tps_peak", errors.NO_DATA, "stats were reset mid-sample")


def by_name(outcomes):
    return {outcome.name: outcome for outcome in outcomes}


def test_hanging_collector_cut_by_timeout():
    release = threading.Event()
    started = time.monotonic()
    outcomes = by_name(
        run_collectors(
            [Planned("hangs", Hangs(release), 0.5), Planned("quick", Quick(), 5.0)]
        )
    )
    elapsed = time.monotonic() - started
    release.set()
    assert outcomes["hangs"].status == "partial"
    assert outcomes["hangs"].reason == "timed_out"
    assert [f.key for f in outcomes["hangs"].facts] == ["host.process_count"]
    assert outcomes["quick"].status == "ok"
    assert elapsed < 5.0


def test_crash_costs_only_its_facts():
    outcomes = by_name(
        run_collectors([Planned("crashes", Crashes(), 5), Planned("quick", Quick(), 5)])
    )
    assert outcomes["crashes"].status == "failed"
    assert outcomes["crashes"].reason == "crashed"
    assert outcomes["crashes"].error == "ZeroDivisionError: division by zero"
    assert len(outcomes["quick"].facts) == 1


def test_source_error_reason_kept():
    outcome = run_collectors([Planned("unreachable", Unreachable(), 5)])[0]
    assert outcome.status == "failed"
    assert outcome.reason == "unreachable"
    assert outcome.error == "connection refused"


def test_no_data_gap_keeps_ok():
    outcome = run_collectors([Planned("half", HalfWorks(), 5)])[0]
    assert outcome.status == "ok"
    assert outcome.gaps[0]["key"] == "load.tps_peak"
    assert outcome.gaps[0]["reason"] == "no_data"


def test_skipped_plan_not_run():
    outcome = run_collectors(
        [Planned("network", None, 0, skip_reason="not available")]
    )[0]
    assert outcome.status == "skipped"
    assert outcome.reason == "not_configured"
    assert outcome.error == "not available"


def test_collectors_run_concurrently():
    class Sleeps(Collector):
        def collect(self, findings: Findings) -> None:
            time.sleep(0.5)

    started = time.monotonic()
    run_collectors([Planned(f"s{i}", Sleeps(), 5) for i in range(4)])
    assert time.monotonic() - started < 1.5


def test_outcomes_in_plan_order():
    names = [
        o.name
        for o in run_collectors([Planned("b", Quick(), 5), Planned("a", Quick(), 5)])
    ]
    assert names == ["b", "a"]
