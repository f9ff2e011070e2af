"""Renderings of one report: table, Markdown, HTML and JSON carry the same verdicts."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from agent.render import classification_line, render
from agent.scan import judge
from tests.helpers import fact


@pytest.fixture
def report(pack, vocabulary):
    facts = [
        fact("system.domain", "payments", provenance="declared"),
        fact("load.tps_peak", 450.0),
        fact("hardware.specialized", []),
    ]
    collectors = [{"name": "database", "status": "ok", "gaps": [], "error": None}]
    judged = judge(
        facts,
        collectors,
        pack,
        vocabulary,
        today=dt.date(2026, 12, 4),
        uncertain_band=0.1,
    )
    return {
        "system": {"name": "e-licensing <prod>"},
        "scanned_at": "2026-12-04T10:00:00Z",
        "agent": {"name": "techcomplex-agent", "version": "0.1.0"},
        "rule_pack": {"id": "order-308", "version": "1.0.0"},
        "collectors": [{**collectors[0], "duration_seconds": 1.5}],
        "facts": facts,
        **judged,
    }


def test_table_lists_every_criterion(report):
    text = render(report, "table", width=400)
    for criterion_id in range(1, 14):
        assert f"│ {criterion_id:>3} │" in text
    assert "load.tps_peak = 450.00 (gt 300: true)" in text
    assert "hardware.specialized = none (nonempty: false)" in text


def test_table_shows_missing_reason(report):
    text = render(report, "table", width=400)
    assert "data.records_total missing (no_data)" in text


def test_markdown_quotes_russian_titles(report):
    text = render(report, "markdown")
    assert "| 2 | Срок разработки более 12 месяцев.<br>" in text
    assert classification_line(report) in text


def test_markdown_escapes_system_name(report):
    text = render(report, "markdown")
    assert text.splitlines()[0] == (
        "# e-licensing &lt;prod&gt;: Order No. 308/НҚ criteria"
    )


def test_html_escapes_values(report):
    text = render(report, "html")
    assert "<h1>e-licensing &lt;prod&gt;: Order No. 308/НҚ criteria</h1>" in text
    assert "<prod>" not in text


def test_json_round_trips(report):
    assert json.loads(render(report, "json")) == report


def test_classification_line(report):
    assert classification_line(report) == (
        "Technologically complex: YES (met: 10; unknown: 1, 2, 3, 4, 5, 6, 7, 9, 11, 12, 13;"
        " needs at least 1 met)"
    )


@pytest.fixture
def noticed(report):
    report["discrepancies"] = [
        {"key": "load.tps_peak", "used": "measured", "measured": 0.5, "declared": 500}
    ]
    report["expired_declarations"] = [
        {
            "key": "system.domain",
            "value": "payments",
            "expires": "2026-01-01",
            "declared_by": {"name": "A. Nurlanov", "role": "CTO"},
        }
    ]
    report["rule_pack"]["origin"] = "/etc/techcomplex/pack.yaml"
    report["rule_pack"]["sha256"] = "ab" * 32
    return report


EXPIRED_NOTICE = (
    "system.domain: the declaration by A. Nurlanov (CTO) expired on 2026-01-01 "
    "and was ignored"
)


@pytest.mark.parametrize("fmt", ["table", "markdown", "html"])
def test_notices_in_every_format(noticed, fmt):
    text = render(noticed, fmt, **({"width": 400} if fmt == "table" else {}))
    assert EXPIRED_NOTICE in text
    assert "the measured value 0.5 is used; the declared value 500 disagrees" in text
    assert (
        "Rule pack order-308 1.0.0 (file /etc/techcomplex/pack.yaml, sha256 abababababab)"
        in text
    )


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_missing_evidence_in_documents(report, fmt):
    text = render(report, fmt)
    assert "Missing evidence" in text
    assert "database (sources.databases)" in text


def test_mode_shown_in_summary(report):
    text = render(report, "table", width=400)
    assert "mode strict: load.concurrent_users_peak missing" in text


def test_json_rejects_nan(report):
    report["facts"].append({"key": "load.tps_peak", "value": float("nan")})
    with pytest.raises(ValueError, match="Out of range float values"):
        render(report, "json")
