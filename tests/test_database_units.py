"""Database collector parts that need no server: targets, rules and messages."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pymysql
import pytest

from collectors import errors
from collectors.base import Findings
from collectors.database import DatabaseCollector, DatabaseTarget, mysql, postgres
from collectors.database.readings import CounterReading, TableEstimate
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
