"""DatabaseCollector against the local PostgreSQL server, each test in its own database."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

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
    assert "not the peak over a window" in fact.method


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
    targets = [
        DatabaseTarget(
            f"db{i}", f"postgresql://postgres@{HOST}:{PG_PORT}/{pg_database}"
        )
        for i in range(3)
    ]
    findings = Findings()
    started = time.monotonic()
    DatabaseCollector(targets, tps_sample_seconds=1.0).collect(findings)
    elapsed = time.monotonic() - started
    assert elapsed < 2.5
    assert len([f for f in findings.snapshot()[0] if f.key == "load.tps_peak"]) == 3
