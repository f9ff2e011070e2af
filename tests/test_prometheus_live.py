"""The Prometheus collector against a real Prometheus serving 30 days of a model.

The expected values come from `LoadModel`, which computes them from the samples
it generated, never from the collector's code.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from collectors import errors
from collectors.base import Findings
from collectors.prometheus import PrometheusCollector
from tests.prometheus_fixtures import (
    DAY,
    END,
    THRESHOLDS,
    LoadModel,
    backfill,
    running_prometheus,
)


@pytest.fixture(scope="session")
def model() -> LoadModel:
    return LoadModel()


@pytest.fixture(scope="session")
def prometheus_url(model, tmp_path_factory) -> str:
    work = tmp_path_factory.mktemp("prometheus")
    openmetrics = work / "load.om"
    model.write_openmetrics(openmetrics)
    data_dir = work / "data"
    backfill(openmetrics, data_dir)
    with running_prometheus(data_dir, work) as url:
        yield url


def scan(url: str, **options) -> tuple[dict, dict, list[str], PrometheusCollector]:
    """Run one collect() at END; return facts and gaps by key, notes, collector."""
    options.setdefault("evaluation_time", END)
    options.setdefault("thresholds", THRESHOLDS)
    collector = PrometheusCollector(url, **options)
    findings = Findings()
    collector.collect(findings)
    facts, gaps, notes = findings.snapshot()
    return (
        {fact.key: fact for fact in facts},
        {gap.key: gap for gap in gaps},
        notes,
        collector,
    )


@pytest.fixture(scope="module")
def api_scan(prometheus_url):
    return scan(prometheus_url, selector='{job="api"}')


@pytest.fixture(scope="module")
def spring_scan(prometheus_url):
    return scan(prometheus_url, selector='job="spring"')


@pytest.fixture(scope="module")
def db_scan(prometheus_url):
    return scan(prometheus_url, selector='{job="db"}')


# -- peak TPS -------------------------------------------------------------------


def test_tps_peak_despite_counter_reset(api_scan, model):
    facts, _, _, _ = api_scan
    expected = model.api_peak_tps()
    assert facts["load.tps_peak"].value == pytest.approx(expected, rel=0.01)


def test_tps_peak_carries_promql(api_scan):
    facts, _, _, _ = api_scan
    details = facts["load.tps_peak"].details
    assert details["query"] == (
        'max_over_time(sum(rate(http_requests_total{job="api"}[5m]))[4m:1m])'
    )
    assert details["expression"] == 'sum(rate(http_requests_total{job="api"}[5m]))'
    assert details["profile"] == "generic_http"


def test_tps_peak_fact_fields(api_scan):
    facts, _, _, _ = api_scan
    fact = facts["load.tps_peak"]
    assert fact.unit == "tps"
    assert fact.provenance == "measured"
    assert fact.scope == '{job="api"}'
    assert fact.source.startswith("http://127.0.0.1:")
    assert fact.details["range"] == {
        "start": "2026-09-01T00:04:00Z",
        "end": "2026-10-01T00:00:00Z",
        "step_seconds": 240.0,
    }


def test_tps_peak_time_inside_spike(api_scan, model):
    facts, _, _, _ = api_scan
    peak_time = facts["load.tps_peak"].details["peak_time"]
    moment = dt.datetime.fromisoformat(peak_time).timestamp()
    assert model.SPIKE.start + 300 <= moment
    assert moment <= model.SPIKE.stop + 240


def test_tps_p95_of_window(api_scan, model):
    facts, _, _, _ = api_scan
    details = facts["load.tps_peak"].details
    # Prometheus also evaluates the windows the model skips (the scrape gap and
    # the first minutes), so the two quantiles differ slightly.
    assert details["p95"] == pytest.approx(model.api_p95_tps(), rel=0.01)
    assert details["p95_query"] == (
        "quantile_over_time(0.95, "
        'sum(rate(http_requests_total{job="api"}[5m]))[30d:1m])'
    )


def test_tps_full_coverage_not_short(api_scan):
    facts, _, _, _ = api_scan
    fact = facts["load.tps_peak"]
    assert fact.details["coverage"]["short"] is False
    assert "short window" not in fact.method


def test_micrometer_excludes_actuator(spring_scan, model):
    facts, _, _, _ = spring_scan
    fact = facts["load.tps_peak"]
    assert fact.value == pytest.approx(model.spring_peak_tps(), rel=0.01)
    assert fact.details["profile"] == "micrometer"
    assert fact.details["expression"] == (
        "sum(rate(http_server_requests_seconds_count"
        '{uri!~"/actuator/.*", job="spring"}[5m]))'
    )


def test_explicit_tps_query_wins(prometheus_url, model):
    query = 'sum(rate(http_requests_total{job="api"}[5m]))'
    facts, _, _, _ = scan(prometheus_url, queries={"tps": query})
    fact = facts["load.tps_peak"]
    assert fact.value == pytest.approx(model.api_peak_tps(), rel=0.01)
    assert fact.details["profile"] == "explicit"
    assert fact.details["expression"] == f"sum({query})"


def test_short_window_is_stated(prometheus_url):
    facts, _, _, _ = scan(prometheus_url, selector='{job="late"}')
    fact = facts["load.tps_peak"]
    assert fact.value == pytest.approx(5.0, rel=0.01)
    assert fact.details["coverage"]["short"] is True
    assert fact.details["coverage"]["first"] == "2026-09-21T00:04:00Z"
    assert "short window: data cover only 10 days" in fact.method
    assert fact.bound == "lower"
    assert fact.details["caveat"] == (
        "the observation window is short: data cover only 10 days of the 30 days asked for"
    )


# -- concurrent users -------------------------------------------------------------


def test_users_peak_equals_gauge_maximum(api_scan, model):
    facts, _, _, _ = api_scan
    fact = facts["load.concurrent_users_peak"]
    assert fact.value == model.users_peak_max_by_realm()
    assert fact.unit == "users"


def test_users_peak_carries_promql(api_scan):
    facts, _, _, _ = api_scan
    details = facts["load.concurrent_users_peak"].details
    assert details["query"] == (
        "max_over_time(sum(max by (realm) "
        '(keycloak_active_user_sessions{job="api"}))[4m:1m])'
    )
    assert details["profile"] == "keycloak"


def test_keycloak_users_are_lower_bound(api_scan):
    facts, _, _, _ = api_scan
    assert facts["load.concurrent_users_peak"].bound == "lower"


def test_explicit_users_query(prometheus_url, model):
    query = 'keycloak_active_user_sessions{job="api"}'
    facts, _, _, _ = scan(prometheus_url, queries={"concurrent_users": query})
    assert facts["load.concurrent_users_peak"].value == model.users_peak_sum()


def test_request_counters_never_users(spring_scan):
    facts, gaps, _, _ = spring_scan
    assert "load.concurrent_users_peak" not in facts
    gap = gaps["load.concurrent_users_peak"]
    assert gap.reason == errors.NO_DATA
    assert "http_server_requests_seconds_count count requests" in gap.message


def test_users_forecast_within_one_day(api_scan, model):
    facts, _, _, _ = api_scan
    fact = facts["load.concurrent_users_forecast"]
    forecast = dt.date.fromisoformat(fact.value)
    assert abs((forecast - model.users_crossing_date()).days) <= 1
    assert fact.provenance == "derived"
    assert fact.details["threshold"] == 5000.0
    assert fact.details["points_used"] == 30


# -- records ----------------------------------------------------------------------


def test_records_total_latest_sum(db_scan, model):
    facts, _, _, _ = db_scan
    fact = facts["data.records_total"]
    assert fact.value == model.rows_total_at_end()
    assert fact.unit == "rows"
    assert "from exporter metrics" in fact.method


def test_records_forecast_within_one_day(db_scan, model):
    facts, _, _, _ = db_scan
    fact = facts["data.records_forecast"]
    forecast = dt.date.fromisoformat(fact.value)
    assert abs((forecast - model.rows_crossing_date()).days) <= 1


def test_records_forecast_details(db_scan, model):
    facts, _, _, _ = db_scan
    details = facts["data.records_forecast"].details
    assert details["trend_per_day"] == pytest.approx(model.ROWS_GROWING[1], rel=1e-6)
    assert details["current_value"] == model.rows_total_at_end()
    assert details["threshold"] == 50_000_000.0
    assert details["points_used"] == 30


def test_flat_rows_give_no_forecast(prometheus_url, model):
    facts, gaps, _, _ = scan(prometheus_url, selector='{job="flatdb"}')
    assert facts["data.records_total"].value == model.ROWS_FLAT
    assert "data.records_forecast" not in facts
    gap = gaps["data.records_forecast"]
    assert gap.reason == errors.NO_DATA
    assert "flat or falling" in gap.message


def test_records_skipped_when_database_counts(prometheus_url):
    facts, gaps, notes, _ = scan(
        prometheus_url, selector='{job="db"}', collect_records=False
    )
    assert "data.records_total" not in facts
    assert "data.records_total" not in gaps
    assert "data.records_forecast" in facts
    assert any("database collector counts the records" in note for note in notes)


def test_value_above_threshold_gives_no_forecast(prometheus_url):
    facts, gaps, _, _ = scan(
        prometheus_url, selector='{job="db"}', thresholds={"records": 1_000_000}
    )
    assert "data.records_forecast" not in facts
    assert "already exceeds the threshold" in gaps["data.records_forecast"].message


def test_short_history_gives_no_forecast(prometheus_url):
    facts, gaps, _, _ = scan(
        prometheus_url, selector='{job="db"}', window_seconds=5 * DAY
    )
    assert "data.records_forecast" not in facts
    assert "at least 7" in gaps["data.records_forecast"].message


# -- the scan as a whole ----------------------------------------------------------


@pytest.fixture(scope="module")
def whole_scan(prometheus_url):
    return scan(prometheus_url)


def test_scan_sends_six_requests(whole_scan):
    _, _, _, collector = whole_scan
    assert collector.client.calls == 6


def test_records_profiles_are_added(whole_scan, model):
    facts, _, _, _ = whole_scan
    fact = facts["data.records_total"]
    assert fact.value == model.rows_total_at_end() + model.ROWS_FLAT
    assert fact.details["profile"] == "postgres_exporter + mysqld_exporter"


def test_first_tps_profile_wins(whole_scan):
    facts, _, _, _ = whole_scan
    details = facts["load.tps_peak"].details
    assert details["profile"] == "micrometer"
    assert details["other_profiles_found"] == ["generic_http"]


def test_missing_families_are_no_data(prometheus_url):
    facts, gaps, _, _ = scan(prometheus_url, selector='{job="nothing"}')
    assert facts == {}
    assert {gap.reason for gap in gaps.values()} == {errors.NO_DATA}
    assert len(gaps) == 6


def test_no_warning_logged_on_success(prometheus_url, caplog):
    with caplog.at_level(logging.WARNING, logger="collectors.prometheus"):
        scan(prometheus_url, selector='{job="db"}')
    assert caplog.records == []
