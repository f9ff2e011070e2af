"""Whole scans with a Prometheus source: load facts judged, failures explained."""

from __future__ import annotations

import datetime as dt

import pytest

from agent.config import parse_config
from agent.scan import run_scan
from tests.prometheus_fixtures import END, LoadModel, backfill, running_prometheus


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory):
    work = tmp_path_factory.mktemp("scan-prometheus")
    openmetrics = work / "load.om"
    LoadModel().write_openmetrics(openmetrics)
    backfill(openmetrics, work / "data")
    with running_prometheus(work / "data", work) as url:
        yield url


def scan(prometheus: dict) -> dict:
    config = parse_config(
        {
            "system": {"name": "e-licensing"},
            "declared": {
                "declared_by": {"name": "A. Nurlanov", "role": "CTO"},
                "declared_on": "2026-11-01",
                "development_started": "2024-01-01",
            },
            "sources": {"prometheus": prometheus},
        },
        "test config",
    )
    return run_scan(config)


def by_id(report: dict) -> dict:
    return {criterion["id"]: criterion for criterion in report["criteria"]}


def test_prometheus_down_leaves_criterion_4_unknown(free_port):
    report = scan({"url": f"http://127.0.0.1:{free_port}", "timeout": 3})
    criteria = by_id(report)
    missing = {m["key"]: m for m in criteria[4]["facts_missing"]}
    assert criteria[4]["verdict"] == "unknown"
    assert missing["load.tps_peak"]["reason"] == "unreachable"
    assert missing["load.concurrent_users_peak"]["reason"] == "unreachable"
    assert criteria[2]["verdict"] == "met"
    statuses = {c["name"]: c["status"] for c in report["collectors"]}
    assert statuses == {"declared": "ok", "prometheus": "failed"}


def test_load_facts_resolved_from_prometheus(prometheus_url):
    model = LoadModel()
    evaluation = dt.datetime.fromtimestamp(END, dt.UTC).isoformat()
    report = scan(
        {
            "url": prometheus_url,
            "selector": 'job="api"',
            "evaluation_time": evaluation,
        }
    )
    tps = report["resolved"]["load.tps_peak"]
    assert tps["value"] == pytest.approx(model.api_peak_tps(), rel=0.01)
    assert tps["provenance"] == "measured"
    assert tps["sources"] == [prometheus_url]
