"""Renderings of the one report document: JSON, a terminal table, Markdown, HTML."""

from __future__ import annotations

import html
import io
import json
from typing import Any

from rich.console import Console
from rich.table import Table

FORMATS = ("table", "json", "markdown", "html")

_VERDICT_STYLE = {"met": "bold green", "not_met": "dim", "unknown": "yellow"}


def classification_line(report: dict[str, Any]) -> str:
    c = report["classification"]
    answer = {True: "YES", False: "NO", None: "UNDECIDED"}[c["technologically_complex"]]
    met = ", ".join(str(i) for i in c["met"]) or "none"
    unknown = ", ".join(str(i) for i in c["unknown"]) or "none"
    return (
        f"Technologically complex: {answer} (met: {met}; unknown: {unknown}; "
        f"needs at least {c['min_met']} met)"
    )


def _reason_summary(criterion: dict[str, Any]) -> str:
    """Summarise the evidence: each test's value and result, or why it is missing."""
    reasons = {m["key"]: m["reason"] for m in criterion["facts_missing"]}
    parts = []
    for test in criterion.get("thresholds", []):
        fact = test["fact"]
        if fact in reasons:
            parts.append(f"{fact} missing ({reasons[fact]})")
            continue
        value = test.get("threshold")
        threshold = f" {value:,}" if isinstance(value, int | float) else ""
        parts.append(
            f"{fact} = {_short(test['value'])} ({test['op']}{threshold}: {test['result']})"
        )
    return "; ".join(parts)


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def render_table(
    report: dict[str, Any], *, width: int | None = None, color: bool = False
) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width or 120, force_terminal=color, no_color=not color
    )
    table = Table(title=f"{report['system']['name']}: Order No. 308 criteria")
    table.add_column("No.", justify="right")
    table.add_column("Criterion")
    table.add_column("Verdict")
    table.add_column("Basis")
    table.add_column("Evidence")
    for criterion in report["criteria"]:
        verdict = criterion["verdict"]
        table.add_row(
            str(criterion["id"]),
            criterion["title_en"],
            f"[{_VERDICT_STYLE[verdict]}]{verdict}[/]",
            criterion["basis"],
            _reason_summary(criterion),
        )
    console.print(table)
    collectors = ", ".join(
        f"{c['name']} {c['status']}" + (f" ({c['error']})" if c["error"] else "")
        for c in report["collectors"]
    )
    console.print(f"Collectors: {collectors}", markup=False)
    console.print(classification_line(report), markup=False)
    return buffer.getvalue()


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# {report['system']['name']}: Order No. 308/НҚ criteria",
        "",
        (
            f"Scanned at {report['scanned_at']} by {report['agent']['name']} "
            f"{report['agent']['version']}, rule pack {report['rule_pack']['id']} "
            f"{report['rule_pack']['version']}."
        ),
        "",
        f"**{classification_line(report)}**",
        "",
        "| No. | Criterion | Verdict | Basis | Evidence |",
        "|---:|---|---|---|---|",
    ]
    for c in report["criteria"]:
        lines.append(
            f"| {c['id']} | {_md_cell(c['title_ru'])}<br>{_md_cell(c['title_en'])} "
            f"| {c['verdict']} | {c['basis']} | {_md_cell(_reason_summary(c))} |"
        )
    lines += ["", "## Collectors", "", "| Collector | Status | Seconds | Error |"]
    lines.append("|---|---|---:|---|")
    for s in report["collectors"]:
        lines.append(
            f"| {s['name']} | {s['status']} | {s['duration_seconds']} "
            f"| {_md_cell(s['error'] or '')} |"
        )
    if report.get("discrepancies"):
        lines += ["", "## Measured and declared values that disagree", ""]
        for d in report["discrepancies"]:
            lines.append(
                f"- `{d['key']}`: used {d['used']} {d[d['used']]}, declared {d['declared']}"
            )
    lines += ["", "## Resolved facts", "", "| Key | Value | Unit | Provenance |"]
    lines.append("|---|---|---|---|")
    for key, r in report["resolved"].items():
        lines.append(
            f"| `{key}` | {_md_cell(_short(r['value']))} | {r['unit'] or ''} "
            f"| {r['provenance']} |"
        )
    return "\n".join(lines) + "\n"


def _short(value: Any) -> str:
    if isinstance(value, list):
        return (
            ", ".join(
                str(v.get("name", v)) if isinstance(v, dict) else str(v) for v in value
            )
            or "none"
        )
    return str(value)


def render_html(report: dict[str, Any]) -> str:
    e = html.escape
    rows = "\n".join(
        f"<tr class='{e(c['verdict'])}'><td>{c['id']}</td><td>{e(c['title_ru'])}"
        f"<br><small>{e(c['title_en'])}</small></td><td>{e(c['verdict'])}</td>"
        f"<td>{e(c['basis'])}</td><td>{e(_reason_summary(c))}</td></tr>"
        for c in report["criteria"]
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{e(report["system"]["name"])}: Order No. 308 criteria</title>
<style>body{{font-family:sans-serif}}td{{vertical-align:top;padding:4px}}
tr.met td:nth-child(3){{color:#060;font-weight:bold}}tr.unknown td:nth-child(3){{color:#a60}}</style>
</head><body>
<h1>{e(report["system"]["name"])}: Order No. 308/НҚ criteria</h1>
<p>Scanned at {e(report["scanned_at"])}, rule pack {e(report["rule_pack"]["id"])}
{e(str(report["rule_pack"]["version"]))}.</p>
<p><strong>{e(classification_line(report))}</strong></p>
<table><tr><th>No.</th><th>Criterion</th><th>Verdict</th><th>Basis</th><th>Evidence</th></tr>
{rows}
</table></body></html>
"""


def render(report: dict[str, Any], fmt: str, **options: Any) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "html":
        return render_html(report)
    return render_table(report, **options)
