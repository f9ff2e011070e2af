"""Profiles, PromQL text, the time grid and the forecast of the Prometheus collector."""

from __future__ import annotations

import pytest

from collectors.prometheus import PrometheusCollector, promql
from collectors.prometheus.client import Sample, public_url
from collectors.prometheus.forecast import MIN_DAYS, fit_trend, forecast_crossing
from collectors.prometheus.peaks import DailyValue, Grid, choose_step, daily_peaks
from collectors.prometheus.profiles import load_profiles, parse_profiles

SELECTOR = 'job="egov", namespace="prod"'

# Every built-in query, rendered with SELECTOR and a 5-minute rate window.
EXPECTED_QUERIES = {
    ("tps", "micrometer"): (
        "sum(rate(http_server_requests_seconds_count"
        '{uri!~"/actuator/.*", job="egov", namespace="prod"}[5m]))'
    ),
    ("tps", "generic_http"): (
        'sum(rate(http_requests_total{job="egov", namespace="prod"}[5m]))'
    ),
    ("tps", "ingress_nginx"): (
        'sum(rate(nginx_ingress_controller_requests{job="egov", namespace="prod"}[5m]))'
    ),
    ("tps", "traefik"): (
        'sum(rate(traefik_service_requests_total{job="egov", namespace="prod"}[5m]))'
    ),
    ("tps", "traefik_v1"): (
        'sum(rate(traefik_backend_requests_total{job="egov", namespace="prod"}[5m]))'
    ),
    ("tps", "istio"): (
        "sum(rate(istio_requests_total"
        '{reporter="destination", job="egov", namespace="prod"}[5m]))'
    ),
    ("tps", "envoy"): (
        'sum(rate(envoy_cluster_upstream_rq_total{job="egov", namespace="prod"}[5m]))'
    ),
    ("tps", "postgres_exporter"): (
        'sum(rate(pg_stat_database_xact_commit{job="egov", namespace="prod"}[5m]))'
        " + "
        'sum(rate(pg_stat_database_xact_rollback{job="egov", namespace="prod"}[5m]))'
    ),
    ("tps", "mysqld_exporter"): (
        "sum(rate(mysql_global_status_commands_total"
        '{command=~"commit|rollback", job="egov", namespace="prod"}[5m]))'
    ),
    ("concurrent_users", "keycloak"): (
        "sum(max by (realm) "
        '(keycloak_active_user_sessions{job="egov", namespace="prod"}))'
    ),
    ("concurrent_users", "tomcat_sessions"): (
        'sum(tomcat_sessions_active_current_sessions{job="egov", namespace="prod"})'
    ),
    ("records", "postgres_exporter"): (
        'sum(pg_stat_user_tables_n_live_tup{job="egov", namespace="prod"})'
    ),
    ("records", "mysqld_exporter"): (
        'sum(mysql_info_schema_table_rows{job="egov", namespace="prod"})'
    ),
}


def rendered_queries() -> dict[tuple[str, str], str]:
    return {
        (measure, profile.name): promql.render_profile_query(
            profile.query, SELECTOR, 300
        )
        for measure, catalog in load_profiles().items()
        for profile in catalog.profiles
    }


# -- profiles -------------------------------------------------------------------


def test_profiles_cover_expected_queries():
    assert set(rendered_queries()) == set(EXPECTED_QUERIES)


@pytest.mark.parametrize("profile", sorted(EXPECTED_QUERIES), ids="/".join)
def test_profile_query_text(profile):
    assert rendered_queries()[profile] == EXPECTED_QUERIES[profile]


def test_profile_without_selector():
    query = load_profiles()["tps"].profiles[1].query
    rendered = promql.render_profile_query(query, None, 120)
    assert rendered == "sum(rate(http_requests_total[2m]))"


def test_profile_order():
    catalog = load_profiles()
    assert [p.name for p in catalog["tps"].profiles] == [
        "micrometer",
        "generic_http",
        "ingress_nginx",
        "traefik",
        "traefik_v1",
        "istio",
        "envoy",
        "postgres_exporter",
        "mysqld_exporter",
    ]
    assert [p.name for p in catalog["concurrent_users"].profiles] == [
        "keycloak",
        "tomcat_sessions",
    ]


def test_every_profile_has_source():
    for catalog in load_profiles().values():
        for profile in catalog.profiles:
            assert profile.source.startswith("https://"), profile.name
            assert profile.why, profile.name
            assert profile.measures, profile.name


def test_applicable_needs_every_family():
    catalog = load_profiles()["tps"]
    found = catalog.applicable({"pg_stat_database_xact_commit"})
    assert found == []


def test_applicable_keeps_order():
    catalog = load_profiles()["tps"]
    families = {"mysql_global_status_commands_total", "http_requests_total"}
    assert [p.name for p in catalog.applicable(families)] == [
        "generic_http",
        "mysqld_exporter",
    ]


def test_profiles_reject_unknown_field():
    text = """
tps: {selection: first, order: x, profiles: [{name: a, metric_families: [m],
  query: q, measures: x, why: x, source: s, extra: 1}]}
concurrent_users: {selection: first, order: x, profiles: []}
records: {selection: sum, order: x, profiles: []}
"""
    with pytest.raises(ValueError, match="unknown fields"):
        parse_profiles(text)


# -- PromQL text ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "matchers"),
    [
        ('{job="api"}', 'job="api"'),
        ('job="api", env=~"prod|stage"', 'job="api", env=~"prod|stage"'),
        (' { job="a{1}" , } ', 'job="a{1}"'),
    ],
)
def test_parse_selector(selector, matchers):
    assert promql.parse_selector(selector) == matchers


@pytest.mark.parametrize("selector", ['up{job="api"}', "{}", "job", '{a="1"}{b="2"}'])
def test_parse_selector_rejects(selector):
    with pytest.raises(ValueError):
        promql.parse_selector(selector)


def test_add_matchers_skips_quoted_braces():
    template = 'sum(rate(x{path=~"/a/{id}"}[5m]))'
    expected = 'sum(rate(x{path=~"/a/{id}", job="api"}[5m]))'
    assert promql.add_matchers(template, 'job="api"') == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (300, "5m"),
        (2592000, "30d"),
        (5400, "90m"),
        (7200, "2h"),
        (45, "45s"),
        (1.5, "1500ms"),
    ],
)
def test_format_duration(seconds, text):
    assert promql.format_duration(seconds) == text


def test_subquery_keeps_single_call_bare():
    assert promql.subquery("sum(x)", 240, 60) == "sum(x)[4m:1m]"


def test_subquery_wraps_binary_expression():
    assert promql.subquery("sum(a) + sum(b)", 240, 60) == "(sum(a) + sum(b))[4m:1m]"


def test_subquery_wraps_by_clause_aggregation():
    expr = "sum by (realm) (x)"
    assert promql.subquery(expr, 86400, 60) == "(sum by (realm) (x))[1d:1m]"


def test_window_quantile_query():
    query = promql.window_quantile_query("sum(x)", 0.95, 2592000, 60)
    assert query == "quantile_over_time(0.95, sum(x)[30d:1m])"


def test_day_last_query():
    assert promql.day_last_query("sum(x)", 60) == "last_over_time(sum(x)[1d:1m])"


# -- the time grid ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "step"),
    [
        (30 * 86400, 240.0),
        (7 * 86400, 60.0),
        (90 * 86400, 720.0),
        (365 * 86400, 2880.0),
    ],
)
def test_choose_step(window, step):
    assert choose_step(window, 60) == step


def test_grid_points_end_at_end():
    grid = Grid(end=864000.0, window=86400.0, step=3600.0)
    assert grid.steps == 24
    assert grid.first_point == 864000.0 - 23 * 3600
    assert grid.start == 864000.0 - 86400


def test_daily_peaks_drop_thin_day():
    grid = Grid(end=10 * 86400.0, window=3 * 86400.0, step=21600.0)
    # Day 0 has all four steps, day 1 only one of four.
    samples = [Sample(10 * 86400.0 - k * 21600, float(k)) for k in range(4)]
    samples.append(Sample(9 * 86400.0 - 21600, 99.0))
    daily = daily_peaks(sorted(samples, key=lambda s: s.time), grid)
    assert daily == [DailyValue(10 * 86400.0 - 3 * 21600, 3.0)]


# -- forecast ---------------------------------------------------------------------


def line(days: int, start: float, per_day: float) -> list[DailyValue]:
    return [DailyValue(d * 86400.0, start + per_day * d) for d in range(days)]


def test_trend_of_exact_line():
    trend = fit_trend(line(10, 100.0, 5.0))
    assert trend.slope_per_day == pytest.approx(5.0)
    assert trend.intercept == pytest.approx(100.0)


def test_crossing_date_of_exact_line():
    # 1000 + 100 per day passes 5000 on day 40: 1970-01-01 + 40 days.
    forecast = forecast_crossing(line(10, 1000.0, 100.0), 1900.0, 5000.0, "values")
    assert forecast.date == "1970-02-10"


def test_falling_trend_has_no_date():
    forecast = forecast_crossing(line(10, 1000.0, -1.0), 1000.0, 5000.0, "values")
    assert forecast.date is None
    assert "flat or falling" in forecast.reason


def test_too_few_days_have_no_date():
    forecast = forecast_crossing(line(MIN_DAYS - 1, 1.0, 1.0), 6.0, 5000.0, "values")
    assert forecast.date is None
    assert f"needs at least {MIN_DAYS}" in forecast.reason


def test_distant_crossing_has_no_date():
    forecast = forecast_crossing(line(10, 1.0, 0.001), 1.0, 5000.0, "values")
    assert forecast.date is None
    assert "more than 10 years" in forecast.reason


# -- construction ------------------------------------------------------------------


def test_public_url_drops_user_info():
    assert public_url("https://bob@prom.example:9443/prom/") == (
        "https://prom.example:9443/prom"
    )


def test_scope_is_selector():
    collector = PrometheusCollector("http://127.0.0.1:9090", selector='job="api"')
    assert collector.scope == '{job="api"}'


def test_scope_defaults_to_prometheus():
    assert PrometheusCollector("http://127.0.0.1:9090").scope == "prometheus"


def test_unknown_query_measure_rejected():
    with pytest.raises(ValueError, match="unknown measures"):
        PrometheusCollector("http://127.0.0.1:9090", queries={"rps": "sum(x)"})


def test_url_with_password_rejected():
    with pytest.raises(ValueError, match="contains a password"):
        PrometheusCollector("http://bob:secret@127.0.0.1:9090")


def test_thresholds_merge_with_defaults():
    collector = PrometheusCollector("http://127.0.0.1:9090", thresholds={"tps": 100})
    assert collector.thresholds == {
        "concurrent_users": 5000.0,
        "tps": 100.0,
        "records": 50_000_000.0,
    }
