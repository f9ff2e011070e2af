"""Database collector parts that need no server: targets, rules and messages."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pymysql
import pytest

from collectors import errors
from collectors.base import Findings
from collectors.database import DatabaseCollector, DatabaseTarget, mysql, postgres
from collectors.database.readings import (
    CounterReading,
    Observation,
    ServerInfo,
    TableCatalog,
    TableEstimate,
)
from collectors.database.records import (
    DatabaseTally,
    TableTally,
    describe_details,
    describe_method,
    within_band,
)
from collectors.database.sampling import InvalidSample, transaction_rate
from collectors.database.target import scrub

ROOT = Path(__file__).resolve().parent.parent


class FakeSession:
    estimate_source = "pg_class.reltuples"
    no_estimate_template = "{count} never-analysed {tables}"


def test_target_source_omits_query():
    target = DatabaseTarget(
        "main", "postgresql://app@db.example:6432/core?sslmode=require"
    )
    assert target.source == "postgresql://app@db.example:6432/core"


def test_target_default_ports():
    pg = DatabaseTarget("a", "postgres://app@db/core")
    my = DatabaseTarget("b", "mariadb://app@db/core")
    assert pg.port == 5432
    assert my.port == 3306
    assert my.source == "mysql://app@db:3306/core"


def test_target_ipv6_host_in_brackets():
    target = DatabaseTarget("a", "postgresql://app@[::1]:5432/core")
    assert target.source == "postgresql://app@[::1]:5432/core"


def test_target_rejects_password_in_dsn():
    with pytest.raises(ValueError) as raised:
        DatabaseTarget("a", "postgresql://app:s3cret-in-dsn@db/core")
    assert "s3cret-in-dsn" not in str(raised.value)


def test_target_rejects_unknown_scheme():
    with pytest.raises(ValueError):
        DatabaseTarget("a", "oracle://app@db/core")


def test_target_repr_hides_password():
    target = DatabaseTarget("a", "postgresql://app@db/core", password="hunter2-xyz")
    assert "hunter2-xyz" not in repr(target)


def test_target_schemas_become_tuple():
    target = DatabaseTarget("a", "postgresql://app@db/core", schemas=["app", "audit"])
    assert target.schemas == ("app", "audit")


def test_scrub_removes_plain_and_encoded_password():
    text = "failed for p@ss/word and p%40ss%2Fword"
    assert scrub(text, "p@ss/word") == "failed for *** and ***"


def test_scrub_joins_lines_and_cuts():
    assert scrub("a\n\tb", None) == "a b"
    assert len(scrub("x" * 1000, None)) == 300


def test_band_edges():
    assert within_band(90, 100, 0.10)
    assert within_band(110, 100, 0.10)
    assert not within_band(89, 100, 0.10)
    assert not within_band(111, 100, 0.10)


def reading(transactions, epoch=None, at=0.0):
    return CounterReading(transactions, epoch, at)


def test_rate_is_delta_over_seconds():
    observation = transaction_rate(reading(100), reading(1100, at=4.0), "counters")
    assert observation.value == 250.0
    assert observation.details["transactions"] == 1000
    assert observation.details["seconds"] == 4.0


def test_rate_is_lower_bound_on_peak():
    observation = transaction_rate(reading(0), reading(10, at=2.0), "counters")
    assert observation.method == (
        "counters, read twice 2.0 s apart: a short sample at scan time, so a "
        "lower bound on the peak over a window"
    )


def test_rate_method_names_counter_delay():
    observation = transaction_rate(
        reading(0), reading(10, at=2.0), "counters", "published late"
    )
    assert observation.method.endswith("over a window; published late")


def test_rate_rejects_changed_reset_marker():
    first = reading(100, dt.datetime(2024, 1, 1))
    second = reading(200, dt.datetime(2024, 1, 2), at=5.0)
    with pytest.raises(InvalidSample, match="reset"):
        transaction_rate(first, second, "counters")


def test_rate_rejects_falling_counter():
    with pytest.raises(InvalidSample, match="went down"):
        transaction_rate(reading(500), reading(20, at=5.0), "counters")


def test_rate_rejects_zero_interval():
    with pytest.raises(InvalidSample):
        transaction_rate(reading(1, at=3.0), reading(2, at=3.0), "counters")


def pg_integrity(**overrides):
    values = {
        "standby_names": "",
        "synchronous_commit": "on",
        "max_prepared": 0,
        "standbys": 0,
        "sync_standbys": 0,
        "standbys_state_hidden": 0,
        "prepared": 0,
    }
    values.update(overrides)
    return postgres.judge_integrity(**values)


def test_pg_integrity_sync_standby_active():
    observation = pg_integrity(
        standby_names="ANY 1 (s1, s2)", standbys=2, sync_standbys=1
    )
    assert observation.value is True


def test_pg_integrity_local_commit_does_not_wait():
    observation = pg_integrity(
        standby_names="s1", synchronous_commit="local", standbys=1, sync_standbys=1
    )
    assert observation.value is False


def test_pg_integrity_configured_without_standby():
    assert pg_integrity(standby_names="s1").value is False


def test_pg_integrity_prepared_transaction_in_use():
    assert pg_integrity(max_prepared=10, prepared=1).value is True


def test_pg_integrity_two_phase_enabled_unused():
    assert pg_integrity(max_prepared=10, prepared=0).value is False


def test_pg_integrity_hidden_standby_uncertain():
    observation = pg_integrity(standby_names="s1", standbys=1, standbys_state_hidden=1)
    assert observation.value is False
    assert observation.uncertain is True


def test_mysql_integrity_semi_sync_active():
    observation = mysql.judge_integrity(
        {"rpl_semi_sync_master_enabled": "ON", "wsrep_on": "OFF"},
        {"Rpl_semi_sync_master_status": "ON", "Rpl_semi_sync_master_clients": "1"},
    )
    assert observation.value is True


def test_mysql_integrity_semi_sync_without_replica():
    observation = mysql.judge_integrity(
        {"rpl_semi_sync_master_enabled": "ON"},
        {"Rpl_semi_sync_master_status": "ON", "Rpl_semi_sync_master_clients": "0"},
    )
    assert observation.value is False


def test_mysql_integrity_galera_cluster():
    observation = mysql.judge_integrity(
        {"wsrep_on": "ON"}, {"wsrep_ready": "ON", "wsrep_cluster_size": "3"}
    )
    assert observation.value is True


def test_mysql_integrity_galera_single_node():
    observation = mysql.judge_integrity(
        {"wsrep_on": "ON"}, {"wsrep_ready": "ON", "wsrep_cluster_size": "1"}
    )
    assert observation.value is False


def test_mysql_integrity_xa_commits():
    assert mysql.judge_integrity({}, {"Com_xa_commit": "7"}).value is True


def test_mysql_integrity_source_names():
    observation = mysql.judge_integrity(
        {"rpl_semi_sync_source_enabled": "ON"},
        {"Rpl_semi_sync_source_status": "ON", "Rpl_semi_sync_source_clients": "2"},
    )
    assert observation.value is True


PG_TARGET = DatabaseTarget("main", "postgresql://app@db:5432/core", password="pw-123")


@pytest.mark.parametrize(
    ("message", "error_class"),
    [
        (
            'connection to server at "db", port 5432 failed: Connection refused',
            errors.SourceUnreachable,
        ),
        ('could not translate host name "nohost" to address', errors.SourceUnreachable),
        ("connection timeout expired", errors.SourceTimeout),
        (
            'FATAL:  password authentication failed for user "app"',
            errors.AuthenticationFailed,
        ),
        ('FATAL:  role "app" does not exist', errors.AuthenticationFailed),
        (
            'FATAL:  no pg_hba.conf entry for host "10.0.0.1"',
            errors.AuthenticationFailed,
        ),
        (
            'FATAL:  permission denied for database "core"',
            errors.PermissionDenied,
        ),
        ('FATAL:  database "core" does not exist', errors.SourceError),
    ],
)
def test_pg_connect_message_kind(message, error_class):
    error = postgres.translate_error(Exception(message), PG_TARGET, "connect")
    assert type(error) is error_class


class SqlstateError(Exception):
    def __init__(self, message: str, sqlstate: str):
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "error_class"),
    [
        ("57014", errors.SourceTimeout),
        ("55P03", errors.SourceTimeout),
        ("42501", errors.PermissionDenied),
        ("28P01", errors.AuthenticationFailed),
        ("08006", errors.SourceUnreachable),
        ("42P01", errors.SourceError),
    ],
)
def test_pg_sqlstate_kind(sqlstate, error_class):
    error = postgres.translate_error(SqlstateError("x", sqlstate), PG_TARGET, "query")
    assert type(error) is error_class


def test_pg_error_message_scrubbed():
    exc = Exception("failed with password pw-123 echoed")
    error = postgres.translate_error(exc, PG_TARGET, "connect")
    assert "pw-123" not in str(error)
    assert str(error).startswith("postgresql://app@db:5432/core: connect failed")


MY_TARGET = DatabaseTarget("main", "mysql://app@db:3306/core", password="pw-456")


@pytest.mark.parametrize(
    ("errno", "error_class"),
    [
        (1045, errors.AuthenticationFailed),
        (1044, errors.PermissionDenied),
        (1142, errors.PermissionDenied),
        (1969, errors.SourceTimeout),
        (3024, errors.SourceTimeout),
        (2003, errors.SourceUnreachable),
        (1049, errors.SourceError),
    ],
)
def test_mysql_errno_kind(errno, error_class):
    exc = pymysql.err.OperationalError(errno, "message")
    assert type(mysql.translate_error(exc, MY_TARGET, "query")) is error_class


def test_mysql_connect_timeout_kind():
    exc = pymysql.err.OperationalError(2003, "Can't connect (timed out)")
    exc.original_exception = TimeoutError("timed out")
    assert (
        type(mysql.translate_error(exc, MY_TARGET, "connect")) is errors.SourceTimeout
    )


def tally_of(*tables: TableTally, exact_phase: bool = False) -> DatabaseTally:
    tally = DatabaseTally(list(tables), exact_phase=exact_phase)
    tally.band_check = {"estimated_total_all_databases": 1_000}
    return tally


def test_method_names_estimates_and_exact_counts():
    tally = tally_of(
        TableTally(TableEstimate("public", "a", 100)),
        TableTally(TableEstimate("public", "b", None), exact=7),
    )
    method = describe_method(FakeSession(), tally, 50_000_000, 0.1)
    assert method == (
        "pg_class.reltuples estimate for 1 table, exact count(*) for 1 "
        "never-analysed table"
    )


def test_method_exact_phase_gives_band():
    tally = tally_of(
        TableTally(TableEstimate("public", "a", 990), exact=1_000), exact_phase=True
    )
    method = describe_method(FakeSession(), tally, 1_000, 0.1)
    assert method == (
        "exact count(*) for 1 table, because the estimated total over all "
        "databases (1,000) was within 10% of the 1,000-row threshold"
    )


def test_details_list_largest_first():
    tally = tally_of(
        TableTally(TableEstimate("s", "small", 5)),
        TableTally(TableEstimate("s", "large", 500)),
        TableTally(TableEstimate("s", "locked", None, readable=False)),
    )
    details = describe_details(tally, None)
    assert [entry["table"] for entry in details["largest_tables"]] == ["large", "small"]
    assert details["tables_not_counted"] == 1
    assert details["tables_total"] == 3


def test_lower_bound_when_table_not_counted():
    tally = tally_of(
        TableTally(TableEstimate("s", "t", None), count_failure="timed out")
    )
    assert tally.is_lower_bound is True
    assert tally.is_uncertain is False


def test_uncertain_when_estimate_kept():
    tally = tally_of(TableTally(TableEstimate("s", "t", 10), count_failure="timed out"))
    assert tally.is_uncertain is True
    assert tally.is_lower_bound is False


def test_exact_total_ignores_estimates():
    tally = tally_of(
        TableTally(TableEstimate("s", "a", 90), exact=100),
        TableTally(TableEstimate("s", "b", 40), count_failure="timed out"),
    )
    assert tally.total == 140
    assert tally.exact_total == 100


def test_details_lower_bound_when_uncertain():
    tally = tally_of(
        TableTally(TableEstimate("s", "a", 90), exact=100),
        TableTally(TableEstimate("s", "b", 40), count_failure="permission denied"),
        exact_phase=True,
    )
    details = describe_details(tally, None)
    assert tally.is_uncertain is True
    assert details["lower_bound"] == 100
    assert type(details["lower_bound"]) is int


def test_details_lower_bound_when_table_missing():
    tally = tally_of(
        TableTally(TableEstimate("s", "a", None), exact=7),
        TableTally(TableEstimate("s", "b", 500)),
        TableTally(TableEstimate("s", "c", None, readable=False)),
    )
    details = describe_details(tally, None)
    assert tally.is_lower_bound is True
    assert details["lower_bound"] == 7


def test_details_no_lower_bound_when_exact():
    tally = tally_of(TableTally(TableEstimate("s", "a", 90), exact=100))
    assert "lower_bound" not in describe_details(tally, None)


def test_no_targets_records_not_configured():
    findings = Findings()
    DatabaseCollector([]).collect(findings)
    _, gaps, _ = findings.snapshot()
    assert {gap.reason for gap in gaps} == {errors.NOT_CONFIGURED}
    assert len(gaps) == len(DatabaseCollector.provides)


def test_duplicate_target_names_rejected():
    target = DatabaseTarget("same", "postgresql://app@db/core")
    with pytest.raises(ValueError, match="unique"):
        DatabaseCollector([target, target])


def test_survey_deadline_default():
    collector = DatabaseCollector(
        [], connect_timeout=4, tps_sample_seconds=2, statement_timeout=9
    )
    assert collector.survey_deadline == 15


def test_survey_deadline_must_be_positive():
    with pytest.raises(ValueError, match="survey_deadline"):
        DatabaseCollector([], survey_deadline=0)


ROWS = 1_234


class StubSession:
    """A session that returns fixed readings, optionally blocking in one of them."""

    estimate_source = "pg_class.reltuples"
    no_estimate_template = "{count} never-analysed {tables}"
    transactions_method = "stub counters"
    transactions_delay = None

    def __init__(self, target, identity, block=None, crash=False):
        self.source = target.source
        self.identity = identity
        self.block = block
        self.crash = crash
        self.closed = False

    def server_info(self):
        return ServerInfo("PostgreSQL", "15.0", "15.0 (stub)", "core")

    def read_identity(self, schemas):
        return self.identity

    def read_table_catalog(self, schemas):
        return TableCatalog([TableEstimate("public", "t", ROWS)])

    def count_rows(self, schema, table):
        return ROWS

    def read_transaction_counters(self):
        return CounterReading(0, None, time.monotonic())

    def read_client_sessions(self):
        if self.crash:
            raise RuntimeError("stub failure")
        return Observation(1, "stub sessions", {})

    def read_integrity(self):
        if self.block is not None:
            self.block.wait()
        return Observation(False, "stub integrity", {})

    def close(self):
        self.closed = True


class StubCollector(DatabaseCollector):
    """Connects each target to a stub session, after an optional delay."""

    def __init__(self, sessions, delays=None, **settings):
        settings.setdefault("tps_sample_seconds", 0.05)
        super().__init__([target for target, _ in sessions], **settings)
        self.sessions = {target.name: session for target, session in sessions}
        self.delays = delays or {}

    def connect(self, target):
        time.sleep(self.delays.get(target.name, 0.0))
        return self.sessions[target.name]


def stub(name, identity=None, **kwargs):
    target = DatabaseTarget(name, f"postgresql://app@{name}.example/core")
    return target, StubSession(target, identity or {"server": name}, **kwargs)


def keys_of(findings, scope):
    facts, gaps, _ = findings.snapshot()
    recorded = {fact.key for fact in facts if fact.scope == scope}
    missing = {gap.key: gap.reason for gap in gaps if gap.scope == scope}
    return recorded, missing


def test_deadline_gives_up_reading_target():
    release = threading.Event()
    collector = StubCollector(
        [stub("main"), stub("stuck", block=release)], survey_deadline=0.5
    )
    findings = Findings()
    try:
        started = time.monotonic()
        collector.collect(findings)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    facts, missing = keys_of(findings, "stuck")
    assert elapsed < 0.5 + 0.5
    assert "data.records_total" in keys_of(findings, "main")[0]
    assert "load.client_sessions" in facts
    assert missing == {
        "integrity.guaranteed_transactions": errors.TIMED_OUT,
        "data.records_total": errors.TIMED_OUT,
    }


def test_given_up_target_records_nothing_later():
    release = threading.Event()
    target, session = stub("stuck", block=release)
    collector = StubCollector([stub("main"), (target, session)], survey_deadline=0.3)
    findings = Findings()
    collector.collect(findings)
    release.set()
    for thread in threading.enumerate():
        if thread.name == "database-stuck":
            thread.join(5)
    facts, _ = keys_of(findings, "stuck")
    assert "integrity.guaranteed_transactions" not in facts
    assert session.closed is True


def test_survey_threads_are_daemons():
    release = threading.Event()
    collector = StubCollector([stub("stuck", block=release)], survey_deadline=0.3)
    try:
        with pytest.raises(errors.SourceTimeout):
            collector.collect(Findings())
        stuck = [t for t in threading.enumerate() if t.name == "database-stuck"]
    finally:
        release.set()
    assert len(stuck) == 1
    assert stuck[0].daemon is True


def test_repeat_keeps_first_listed():
    same = {"server": "one", "database": 1}
    # The first target connects later than the second, yet it is the one kept.
    collector = StubCollector(
        [stub("main", same), stub("alias", same)], delays={"main": 0.3}
    )
    findings = Findings()
    collector.collect(findings)
    kept, _ = keys_of(findings, "main")
    facts, missing = keys_of(findings, "alias")
    assert "data.records_total" in kept
    assert facts == set()
    assert missing == dict.fromkeys(DatabaseCollector.provides, errors.NO_DATA)


def test_repeat_message_names_original():
    same = {"server": "one", "database": 1}
    findings = Findings()
    StubCollector([stub("main", same), stub("alias", same)]).collect(findings)
    _, gaps, notes = findings.snapshot()
    messages = {gap.message for gap in gaps if gap.scope == "alias"}
    expected = (
        "postgresql://app@alias.example:5432/core: same database as target "
        "'main'; counted once"
    )
    assert messages == {expected}
    assert notes == ["database 'alias': same database as target 'main'; counted once"]


def test_records_details_carry_identity():
    identity = {"server": "one", "database": 1}
    findings = Findings()
    StubCollector([stub("main", identity)]).collect(findings)
    facts, _, _ = findings.snapshot()
    records = next(f for f in facts if f.key == "data.records_total")
    assert records.details["database_identity"] == identity


def test_crash_keeps_other_targets_facts():
    collector = StubCollector([stub("main"), stub("broken", crash=True)])
    findings = Findings()
    with pytest.raises(RuntimeError, match="stub failure"):
        collector.collect(findings)
    _, missing = keys_of(findings, "broken")
    assert "data.records_total" in keys_of(findings, "main")[0]
    assert missing["data.records_total"] == errors.CRASHED


def test_import_loads_no_driver():
    code = (
        "import sys, collectors.database; "
        "print('psycopg' in sys.modules, 'pymysql' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    assert result.stdout.strip() == "False False"
