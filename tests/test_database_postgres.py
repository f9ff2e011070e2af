"""DatabaseCollector against the local PostgreSQL server, each test in its own database."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from collectors import errors
from collectors.base import Findings
from collectors.database import DatabaseCollector, DatabaseTarget
from collectors.database import collector as collector_module
from collectors.database.sampling import measure_transaction_rate
from tests.db_fixtures import (
    HOST,
    PG_PORT,
    all_recorded_text,
    facts_by_key,
    free_port,
    gaps_by_key,
    pg_connect,
    silent_listener,
    temporary_pg_database,
    unique_name,
)

pytestmark = pytest.mark.postgres

KEYS = (
    "data.records_total",
    "load.tps_peak",
    "load.client_sessions",
    "integrity.guaranteed_transactions",
    "architecture.data_stores",
    "stack.components",
)
BIG_ROWS = 1_000_000
PARTITIONED_ROWS = 200_000
CANARY = "canary-Pw-7f3c9e1d"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def pg_database(pg_roles: list[str]) -> Iterator[str]:
    """Create an empty PostgreSQL database and drop it after the test.

    It depends on `pg_roles` so that the roles are dropped after the database
    that contains their privileges.
    """
    with temporary_pg_database() as name:
        yield name


@pytest.fixture
def pg_roles() -> Iterator[list[str]]:
    """Collect PostgreSQL role names to drop after the test and its database."""
    roles: list[str] = []
    yield roles
    with pg_connect("postgres") as admin:
        for role in roles:
            admin.execute(
                sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role))
            )


def target_for(dbname: str, user: str = "postgres", port: int = PG_PORT, **kwargs):
    return DatabaseTarget(
        name="main", dsn=f"postgresql://{user}@{HOST}:{port}/{dbname}", **kwargs
    )


def collect_into(findings: Findings, target: DatabaseTarget, **settings) -> None:
    settings.setdefault("tps_sample_seconds", 0.2)
    DatabaseCollector([target], **settings).collect(findings)


def collect(target: DatabaseTarget, **settings) -> Findings:
    findings = Findings()
    collect_into(findings, target, **settings)
    return findings


def reltuples(dbname: str, table: str) -> float:
    with pg_connect(dbname) as conn:
        query = "SELECT reltuples FROM pg_class WHERE oid = %s::regclass"
        return conn.execute(query, (table,)).fetchone()[0]


def create_role(pg_roles: list[str], dbname: str) -> str:
    role = unique_name("tca_role")
    pg_roles.append(role)
    with pg_connect(dbname) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    return role


@pytest.fixture
def loaded_database(pg_database: str) -> str:
    """1,000,000 rows in one table and 200,000 in a table of 4 range partitions."""
    with pg_connect(pg_database) as conn:
        conn.execute("CREATE TABLE big (id int)")
        conn.execute("INSERT INTO big SELECT generate_series(1, %s)", (BIG_ROWS,))
        conn.execute("CREATE TABLE events (id int) PARTITION BY RANGE (id)")
        for part in range(4):
            low, high = part * 50_000 + 1, (part + 1) * 50_000 + 1
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {} PARTITION OF events FOR VALUES FROM ({}) TO ({})"
                ).format(
                    sql.Identifier(f"events_{part}"),
                    sql.Literal(low),
                    sql.Literal(high),
                )
            )
        conn.execute(
            "INSERT INTO events SELECT generate_series(1, %s)", (PARTITIONED_ROWS,)
        )
        conn.execute("ANALYZE")
    return pg_database


def test_estimate_within_one_percent(loaded_database):
    findings = collect(target_for(loaded_database))
    fact = facts_by_key(findings)["data.records_total"]
    expected = BIG_ROWS + PARTITIONED_ROWS
    assert abs(fact.value - expected) <= expected * 0.01
    assert fact.unit == "rows"
    assert fact.details["exact_phase"] is False
    assert fact.details["tables_exact"] == 0
    assert fact.method.startswith("pg_class.reltuples estimate for 5 tables")
    assert fact.bound is None
    assert fact.uncertain is False


def test_partitioned_table_counted_once(loaded_database):
    findings = collect(target_for(loaded_database))
    fact = facts_by_key(findings)["data.records_total"]
    names = {entry["table"] for entry in fact.details["largest_tables"]}
    assert names == {"big", "events_0", "events_1", "events_2", "events_3"}
    assert fact.details["tables_total"] == 5


def test_exact_count_inside_band(loaded_database):
    threshold = BIG_ROWS + PARTITIONED_ROWS
    findings = collect(target_for(loaded_database), records_threshold=threshold)
    fact = facts_by_key(findings)["data.records_total"]
    assert fact.value == threshold
    assert fact.details["exact_phase"] is True
    assert fact.details["tables_exact"] == 5
    assert fact.method.startswith("exact count(*) for 5 tables")
    assert fact.uncertain is False
    assert "lower_bound" not in fact.details


def test_never_analysed_table_counted_exactly(pg_database):
    with pg_connect(pg_database) as conn:
        conn.execute("CREATE TABLE fresh (id int) WITH (autovacuum_enabled = off)")
        conn.execute("INSERT INTO fresh SELECT generate_series(1, 12345)")
    assert reltuples(pg_database, "fresh") == -1
    fact = facts_by_key(collect(target_for(pg_database)))["data.records_total"]
    assert fact.value == 12345
    assert fact.details["tables_exact"] == 1
    assert "exact count(*) for 1 never-analysed table" in fact.method
    assert fact.details["largest_tables"][0]["how"] == "exact"


def test_unreadable_table_not_counted(pg_database, pg_roles):
    role = create_role(pg_roles, pg_database)
    with pg_connect(pg_database) as conn:
        conn.execute("CREATE TABLE open_rows (id int)")
        conn.execute("INSERT INTO open_rows SELECT generate_series(1, 1000)")
        conn.execute("ANALYZE open_rows")
        conn.execute(
            sql.SQL("GRANT SELECT ON open_rows TO {}").format(sql.Identifier(role))
        )
        conn.execute("CREATE TABLE secret (id int) WITH (autovacuum_enabled = off)")
        conn.execute("INSERT INTO secret SELECT generate_series(1, 500)")
    fact = facts_by_key(collect(target_for(pg_database, user=role)))[
        "data.records_total"
    ]
    assert fact.value == 1000
    assert fact.bound == "lower"
    # open_rows has a catalog estimate and no exact count, so it adds nothing.
    assert fact.details["lower_bound"] == 0
    assert fact.details["tables_not_counted"] == 1
    assert fact.details["not_counted"][0]["table"] == "secret"
    assert fact.details["not_counted"][0]["count_failure"] == "no SELECT privilege"
    assert "1 table not counted (no SELECT privilege)" in fact.method


def test_unreadable_analysed_table_keeps_estimate(pg_database, pg_roles):
    role = create_role(pg_roles, pg_database)
    with pg_connect(pg_database) as conn:
        conn.execute("CREATE TABLE secret (id int)")
        conn.execute("INSERT INTO secret SELECT generate_series(1, 800)")
        conn.execute("ANALYZE secret")
    fact = facts_by_key(collect(target_for(pg_database, user=role)))[
        "data.records_total"
    ]
    assert fact.value == 800
    assert fact.bound is None
    assert fact.details["largest_tables"][0]["how"] == "estimate"


def test_lower_bound_counts_exact_rows_only(pg_database, pg_roles):
    role = create_role(pg_roles, pg_database)
    with pg_connect(pg_database) as conn:
        conn.execute("CREATE TABLE open_rows (id int)")
        conn.execute("INSERT INTO open_rows SELECT generate_series(1, 1000)")
        conn.execute(
            sql.SQL("GRANT SELECT ON open_rows TO {}").format(sql.Identifier(role))
        )
        conn.execute("CREATE TABLE secret (id int)")
        conn.execute("INSERT INTO secret SELECT generate_series(1, 800)")
        conn.execute("ANALYZE")
    target = target_for(pg_database, user=role)
    fact = facts_by_key(collect(target, records_threshold=1800))["data.records_total"]
    assert fact.details["exact_phase"] is True
    assert fact.uncertain is True
    assert fact.value == 1800
    assert fact.details["lower_bound"] == 1000


def create_guarded_table(dbname: str, role: str, analysed: bool) -> None:
    """Create table `guarded` of 100 rows whose policy shows `role` the even ids."""
    with pg_connect(dbname) as conn:
        conn.execute("CREATE TABLE guarded (id int) WITH (autovacuum_enabled = off)")
        conn.execute("INSERT INTO guarded SELECT generate_series(1, 100)")
        if analysed:
            conn.execute("ANALYZE guarded")
        conn.execute("ALTER TABLE guarded ENABLE ROW LEVEL SECURITY")
        conn.execute("CREATE POLICY even ON guarded FOR SELECT USING (id % 2 = 0)")
        conn.execute(
            sql.SQL("GRANT SELECT ON guarded TO {}").format(sql.Identifier(role))
        )


def test_row_security_keeps_estimate(pg_database, pg_roles):
    role = create_role(pg_roles, pg_database)
    create_guarded_table(pg_database, role, analysed=True)
    target = target_for(pg_database, user=role)
    fact = facts_by_key(collect(target, records_threshold=100))["data.records_total"]
    entry = fact.details["largest_tables"][0]
    assert fact.value == 100
    assert entry["how"] == "estimate"
    assert entry["count_failure"] == "row-level security filters count(*)"
    assert fact.uncertain is True


def test_row_security_exact_count_is_lower_bound(pg_database, pg_roles):
    role = create_role(pg_roles, pg_database)
    create_guarded_table(pg_database, role, analysed=False)
    fact = facts_by_key(collect(target_for(pg_database, user=role)))[
        "data.records_total"
    ]
    assert fact.value == 50
    assert fact.bound == "lower"
    assert fact.details["lower_bound"] == 50
    assert fact.details["largest_tables"][0]["row_security"] is True


def test_statement_timeout_keeps_estimate(pg_database):
    with pg_connect(pg_database) as conn:
        conn.execute("CREATE TABLE held (id int)")
        conn.execute("INSERT INTO held SELECT generate_series(1, 10000)")
        conn.execute("ANALYZE held")
    # The lock makes count(*) wait until the 0.3 s statement timeout cancels it;
    # the 5 s lock timeout would fire later.
    with pg_connect(pg_database, autocommit=False) as locker:
        locker.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
        findings = collect(
            target_for(pg_database),
            records_threshold=10_000,
            statement_timeout=0.3,
            lock_timeout=5.0,
        )
        locker.rollback()
    fact = facts_by_key(findings)["data.records_total"]
    assert fact.value == 10_000
    assert fact.uncertain is True
    assert fact.bound is None
    assert fact.details["largest_tables"][0]["count_failure"] == "timed out"
    assert fact.details["lower_bound"] == 0
    assert "kept the estimate because count(*) failed (timed out)" in fact.method


def test_lock_timeout_keeps_estimate(pg_database):
    with pg_connect(pg_database) as conn:
        conn.execute("CREATE TABLE held (id int)")
        conn.execute("INSERT INTO held SELECT generate_series(1, 10000)")
        conn.execute("ANALYZE held")
    with pg_connect(pg_database, autocommit=False) as locker:
        locker.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
        findings = collect(
            target_for(pg_database),
            records_threshold=10_000,
            statement_timeout=5.0,
            lock_timeout=0.3,
        )
        locker.rollback()
    fact = facts_by_key(findings)["data.records_total"]
    assert fact.uncertain is True
    assert fact.details["largest_tables"][0]["count_failure"] == "timed out"


def test_schema_filter_limits_tables(pg_database):
    with pg_connect(pg_database) as conn:
        conn.execute("CREATE SCHEMA app")
        conn.execute("CREATE TABLE app.orders AS SELECT generate_series(1, 300) AS id")
        conn.execute(
            "CREATE TABLE public.other AS SELECT generate_series(1, 700) AS id"
        )
        conn.execute("ANALYZE")
    target = target_for(pg_database, schemas=("app",))
    fact = facts_by_key(collect(target))["data.records_total"]
    assert fact.value == 300
    assert fact.details["tables_total"] == 1


def test_wrong_port_is_unreachable(pg_database):
    target = target_for(pg_database, port=free_port())
    findings = Findings()
    with pytest.raises(errors.SourceUnreachable):
        DatabaseCollector([target], tps_sample_seconds=0.2).collect(findings)
    assert gaps_by_key(findings, "main") == dict.fromkeys(KEYS, errors.UNREACHABLE)


def test_one_failed_target_keeps_others(pg_database):
    good = target_for(pg_database)
    bad = DatabaseTarget("down", f"postgresql://postgres@{HOST}:{free_port()}/x")
    findings = Findings()
    DatabaseCollector([good, bad], tps_sample_seconds=0.2).collect(findings)
    assert set(facts_by_key(findings, "main")) == set(KEYS)
    assert gaps_by_key(findings, "down") == dict.fromkeys(KEYS, errors.UNREACHABLE)
    assert gaps_by_key(findings, "main") == {}


def test_unknown_role_is_authentication_failure(pg_database):
    target = target_for(pg_database, user=unique_name("tca_nobody"))
    findings = Findings()
    with pytest.raises(errors.AuthenticationFailed):
        collect_into(findings, target)
    assert gaps_by_key(findings)["data.records_total"] == errors.AUTHENTICATION_FAILED


def test_missing_connect_privilege_is_permission_denied(pg_database, pg_roles):
    role = create_role(pg_roles, pg_database)
    with pg_connect(pg_database) as conn:
        conn.execute(
            sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(
                sql.Identifier(pg_database)
            )
        )
    findings = Findings()
    with pytest.raises(errors.PermissionDenied):
        collect_into(findings, target_for(pg_database, user=role))
    assert gaps_by_key(findings)["load.tps_peak"] == errors.PERMISSION_DENIED


def test_silent_server_times_out():
    # A listening socket that never replies: libpq waits for the server's reply
    # to its startup packet until connect_timeout (2 s at least) expires.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((HOST, 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        findings = Findings()
        with pytest.raises(errors.SourceTimeout):
            collect_into(findings, target_for("x", port=port), connect_timeout=2)
    assert gaps_by_key(findings)["data.records_total"] == errors.TIMED_OUT


def test_silent_target_given_up_at_deadline(pg_database):
    deadline = 2.0
    findings = Findings()
    with silent_listener() as port:
        # Listed first, so the healthy target also waits for it to connect.
        silent = DatabaseTarget("silent", f"postgresql://postgres@{HOST}:{port}/x")
        healthy = DatabaseTarget("main", target_for(pg_database).dsn)
        collector = DatabaseCollector(
            [silent, healthy],
            tps_sample_seconds=0.2,
            connect_timeout=30,
            survey_deadline=deadline,
        )
        started = time.monotonic()
        collector.collect(findings)
        elapsed = time.monotonic() - started
    # The slack covers the band decision and closing the healthy session.
    assert elapsed < deadline + 1.0
    assert facts_by_key(findings, "main")["data.records_total"].value == 0
    assert gaps_by_key(findings, "main") == {}
    assert gaps_by_key(findings, "silent") == dict.fromkeys(KEYS, errors.TIMED_OUT)


def test_silent_target_gap_names_deadline(pg_database):
    findings = Findings()
    with silent_listener() as port:
        silent = DatabaseTarget("silent", f"postgresql://postgres@{HOST}:{port}/x")
        collector = DatabaseCollector(
            [target_for(pg_database), silent],
            tps_sample_seconds=0.2,
            connect_timeout=30,
            survey_deadline=1.0,
        )
        collector.collect(findings)
    _, gaps, _ = findings.snapshot()
    message = next(gap.message for gap in gaps if gap.scope == "silent")
    assert message == (
        f"postgresql://postgres@{HOST}:{port}/x: still connecting when the 1 s "
        "survey deadline passed; given up"
    )


EXIT_SCRIPT = """
import socket
import sys

from collectors.base import Findings
from collectors.database import DatabaseCollector, DatabaseTarget

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(8)
port = listener.getsockname()[1]
targets = [
    DatabaseTarget("main", sys.argv[1]),
    DatabaseTarget("silent", f"postgresql://postgres@127.0.0.1:{port}/x"),
]
findings = Findings()
DatabaseCollector(
    targets, tps_sample_seconds=0.2, connect_timeout=30, survey_deadline=1.0
).collect(findings)
facts, _, _ = findings.snapshot()
print(sorted(f.scope for f in facts if f.key == "data.records_total"))
"""


def test_process_exit_not_held_by_silent_target(pg_database):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, target_for(pg_database).dsn],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    elapsed = time.monotonic() - started
    assert result.stdout.strip() == "['main']"
    # The silent target's thread would hold the exit for the 30 s connect
    # timeout; 1 s deadline plus interpreter start-up and imports stays below 10.
    assert elapsed < 10


def database_oid(dbname: str) -> int:
    with pg_connect(dbname) as conn:
        query = "SELECT oid FROM pg_database WHERE datname = current_database()"
        return conn.execute(query).fetchone()[0]


def system_identifier() -> str:
    with pg_connect("postgres") as conn:
        query = "SELECT system_identifier::text FROM pg_control_system()"
        return conn.execute(query).fetchone()[0]


def aliases(dbname: str) -> list[DatabaseTarget]:
    """Three names for one database: an address, a host name and a DSN option."""
    return [
        DatabaseTarget("main", f"postgresql://postgres@127.0.0.1:{PG_PORT}/{dbname}"),
        DatabaseTarget("alias", f"postgresql://postgres@localhost:{PG_PORT}/{dbname}"),
        DatabaseTarget(
            "third",
            f"postgresql://postgres@127.0.0.1:{PG_PORT}/{dbname}?sslmode=disable",
        ),
    ]


def test_same_database_counted_once(loaded_database):
    findings = Findings()
    collector = DatabaseCollector(aliases(loaded_database), tps_sample_seconds=0.2)
    collector.collect(findings)
    facts, _, _ = findings.snapshot()
    records = [fact for fact in facts if fact.key == "data.records_total"]
    stores = [fact for fact in facts if fact.key == "architecture.data_stores"]
    assert [fact.scope for fact in records] == ["main"]
    assert [fact.scope for fact in stores] == ["main"]
    assert gaps_by_key(findings, "alias") == dict.fromkeys(KEYS, errors.NO_DATA)
    assert gaps_by_key(findings, "third") == dict.fromkeys(KEYS, errors.NO_DATA)


def test_repeat_recorded_as_note(pg_database):
    findings = Findings()
    DatabaseCollector(aliases(pg_database), tps_sample_seconds=0.2).collect(findings)
    _, gaps, notes = findings.snapshot()
    message = next(gap.message for gap in gaps if gap.scope == "alias")
    assert message.endswith("same database as target 'main'; counted once")
    assert sorted(notes) == [
        "database 'alias': same database as target 'main'; counted once",
        "database 'third': same database as target 'main'; counted once",
    ]


def test_records_details_identify_database(pg_database):
    fact = facts_by_key(collect(target_for(pg_database)))["data.records_total"]
    assert fact.details["database_identity"] == {
        "system_identifier": system_identifier(),
        "database_oid": database_oid(pg_database),
        "schemas": None,
    }


def test_other_database_counted_separately(pg_database):
    with temporary_pg_database() as other:
        targets = [target_for(pg_database), target_for(other)]
        targets[1] = DatabaseTarget("other", targets[1].dsn)
        findings = Findings()
        DatabaseCollector(targets, tps_sample_seconds=0.2).collect(findings)
    assert "data.records_total" in facts_by_key(findings, "main")
    assert "data.records_total" in facts_by_key(findings, "other")
    assert gaps_by_key(findings) == {}


def test_other_schema_counted_separately(pg_database):
    with pg_connect(pg_database) as conn:
        conn.execute("CREATE SCHEMA app")
    targets = [
        target_for(pg_database, schemas=("app",)),
        DatabaseTarget("rest", target_for(pg_database).dsn, schemas=("public",)),
    ]
    findings = Findings()
    DatabaseCollector(targets, tps_sample_seconds=0.2).collect(findings)
    assert "data.records_total" in facts_by_key(findings, "main")
    assert "data.records_total" in facts_by_key(findings, "rest")


def test_canary_password_never_recorded(pg_database, caplog):
    caplog.set_level(logging.DEBUG)
    target = target_for(pg_database, port=free_port(), password=CANARY)
    findings = Findings()
    with pytest.raises(errors.SourceUnreachable) as raised:
        collect_into(findings, target)
    assert CANARY not in all_recorded_text(findings)
    assert CANARY not in caplog.text
    assert CANARY not in str(raised.value)


def test_canary_password_absent_on_auth_failure(pg_database, caplog):
    caplog.set_level(logging.DEBUG)
    target = target_for(pg_database, user=unique_name("tca_nobody"), password=CANARY)
    findings = Findings()
    with pytest.raises(errors.AuthenticationFailed) as raised:
        collect_into(findings, target)
    assert CANARY not in all_recorded_text(findings)
    assert CANARY not in caplog.text
    assert CANARY not in str(raised.value)
    assert CANARY not in repr(target)


def test_session_rejects_write(pg_database):
    session = DatabaseCollector([]).connect(target_for(pg_database))
    try:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            session.connection.execute("CREATE TABLE intruder (id int)")
    finally:
        session.close()


def test_read_only_without_default_setting(pg_database):
    # BEGIN READ ONLY still protects a session whose default was switched off.
    session = DatabaseCollector([]).connect(target_for(pg_database))
    try:
        session.connection.execute("SET default_transaction_read_only = off")
        session.connection.commit()
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            session.connection.execute("CREATE TABLE intruder (id int)")
    finally:
        session.close()


def test_session_settings(pg_database):
    collector = DatabaseCollector([], statement_timeout=30.0, lock_timeout=5.0)
    session = collector.connect(target_for(pg_database))
    try:
        row = session.connection.execute(
            "SELECT current_setting('statement_timeout'),"
            " current_setting('lock_timeout'),"
            " current_setting('application_name')"
        ).fetchone()
    finally:
        session.close()
    assert row == ("30s", "5s", "techcomplex-agent")


def test_tps_idle_database_is_not_negative(pg_database):
    fact = facts_by_key(collect(target_for(pg_database)))["load.tps_peak"]
    assert isinstance(fact.value, float)
    assert fact.value >= 0
    assert fact.unit == "tps"
    assert fact.bound == "lower"
    assert "so a lower bound on the peak over a window" in fact.method
    assert "at most once a second" in fact.method


def backend_exited(pid: int) -> bool:
    with pg_connect("postgres") as admin:
        query = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
        return admin.execute(query, (pid,)).fetchone()[0] == 0


def test_tps_counts_commits_during_sample(pg_database):
    commits = 300
    with pg_connect(pg_database) as conn:
        conn.execute("CREATE TABLE ticks (id int) WITH (autovacuum_enabled = off)")

    def commit_then_wait(seconds: float) -> None:
        started = time.monotonic()
        with pg_connect(pg_database) as writer:
            pid = writer.info.backend_pid
            for i in range(commits):
                writer.execute("INSERT INTO ticks VALUES (%s)", (i,))
        # A backend publishes its last counters when it exits.
        while not backend_exited(pid):
            time.sleep(0.05)
        time.sleep(0.2)
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))

    session = DatabaseCollector([]).connect(target_for(pg_database))
    try:
        observation = measure_transaction_rate(session, 3.0, wait=commit_then_wait)
    finally:
        session.close()
    seen = observation.details["transactions"]
    seconds = observation.details["seconds"]
    # The session's own first reading and background workers add a few.
    assert commits <= seen <= commits + 5
    assert abs(observation.value - commits / seconds) <= 5 / seconds


def test_tps_reading_inside_open_transaction(pg_database):
    commits = 50

    def commit_then_wait(seconds: float) -> None:
        with pg_connect(pg_database) as writer:
            pid = writer.info.backend_pid
            for _ in range(commits):
                writer.execute("SELECT txid_current()")
        # A backend publishes its last counters when it exits.
        while not backend_exited(pid):
            time.sleep(0.05)
        time.sleep(0.2)

    session = DatabaseCollector([]).connect(target_for(pg_database))
    try:
        # Left open, this transaction would keep the first reading's statistics
        # and serve them again as the second reading.
        session.connection.execute("SELECT 1")
        observation = measure_transaction_rate(session, 0.5, wait=commit_then_wait)
    finally:
        session.close()
    assert observation.details["transactions"] >= commits


def test_tps_reset_during_sample_is_gap(pg_database, monkeypatch):
    def reset_then_wait(seconds: float) -> None:
        with pg_connect(pg_database) as conn:
            conn.execute("SELECT pg_stat_reset()")
        time.sleep(seconds)

    def sample_with_reset(session, seconds):
        return measure_transaction_rate(session, seconds, wait=reset_then_wait)

    monkeypatch.setattr(collector_module, "measure_transaction_rate", sample_with_reset)
    findings = collect(target_for(pg_database))
    assert gaps_by_key(findings)["load.tps_peak"] == errors.NO_DATA
    assert "load.tps_peak" not in facts_by_key(findings)


def test_client_sessions_exclude_agent(pg_database):
    others = [pg_connect(pg_database) for _ in range(3)]
    try:
        fact = facts_by_key(collect(target_for(pg_database)))["load.client_sessions"]
    finally:
        for conn in others:
            conn.close()
    assert fact.value == 3
    assert fact.unit == "count"


def test_integrity_false_without_replication(pg_database):
    fact = facts_by_key(collect(target_for(pg_database)))[
        "integrity.guaranteed_transactions"
    ]
    with pg_connect(pg_database) as conn:
        max_prepared = int(conn.execute("SHOW max_prepared_transactions").fetchone()[0])
    assert fact.value is False
    assert fact.details["max_prepared_transactions"] == max_prepared
    assert fact.details["sync_standbys"] == 0


def test_server_version_in_components(pg_database):
    facts = facts_by_key(collect(target_for(pg_database)))
    with pg_connect(pg_database) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
    assert facts["stack.components"].value == [
        {"name": "PostgreSQL", "version": version, "kind": "database"}
    ]
    assert facts["architecture.data_stores"].value == 1
    assert facts["architecture.data_stores"].details["engine"] == "PostgreSQL"


def test_targets_sampled_concurrently(pg_database):
    with temporary_pg_database() as second, temporary_pg_database() as third:
        targets = [
            DatabaseTarget(f"db{i}", f"postgresql://postgres@{HOST}:{PG_PORT}/{name}")
            for i, name in enumerate((pg_database, second, third))
        ]
        findings = Findings()
        started = time.monotonic()
        DatabaseCollector(targets, tps_sample_seconds=1.0).collect(findings)
        elapsed = time.monotonic() - started
    assert elapsed < 2.5
    assert len([f for f in findings.snapshot()[0] if f.key == "load.tps_peak"]) == 3
