"""Renderings of the one report document: JSON, a terminal table, Markdown, HTML.

Every rendering carries the same sections: the verdicts with their evidence, the
facts that are missing and why, the collectors' status, and the rule pack that
judged. It also carries the notices an auditor must see: measured values that
contradict declarations, expired declarations and rejected observations.
"""

from __future__ import annotations

import html
import io
import json
from typing import Any

from rich.console import Console
from rich.markup import escape
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


def pack_line(report: dict[str, Any]) -> str:
    pack = report["rule_pack"]
    origin = pack.get("origin", "built-in")
    where = "built-in" if origin == "built-in" else f"file {origin}"
    return (
        f"Rule pack {pack['id']} {pack['version']} ({where}, "
        f"sha256 {pack.get('sha256', '')[:12]})"
    )


def _short(value: Any) -> str:
    if isinstance(value, list):
        names = [
            str(item.get("name", item)) if isinstance(item, dict) else str(item)
            for item in value
        ]
        return ", ".join(names) or "none"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


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
        text = f"{fact} = {_short(test['value'])} ({test['op']}{threshold}: "
        text += f"{test['result']})"
        if test.get("note"):
            text += f" [{test['note']}]"
        parts.append(text)
    summary = "; ".join(parts)
    if criterion.get("mode"):
        summary = f"mode {criterion['mode']}: {summary}"
    return summary


def notices(report: dict[str, Any]) -> list[str]:
    """Return what an auditor must see beside the verdicts, one line each."""
    lines = []
    for d in report.get("discrepancies", []):
        lines.append(
            f"{d['key']}: the {d['used']} value {d[d['used']]} is used; "
            f"the declared value {d['declared']} disagrees"
        )
    for e in report.get("expired_declarations", []):
        by = e.get("declared_by") or {}
        who = f" by {by.get('name')} ({by.get('role')})" if by else ""
        lines.append(
            f"{e['key']}: the declaration{who} expired on {e['expires']} and was ignored"
        )
    for status in report["collectors"]:
        for note in status.get("notes", []):
            lines.append(f"collector {status['name']}: {note}")
    for r in report.get("rejected_facts", []):
        source = f" from {r['source']}" if r.get("source") else ""
        lines.append(f"{r['key']}: an observation{source} was rejected: {r['reason']}")
    return lines


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def render_table(
    report: dict[str, Any], *, width: int | None = None, color: bool = False
) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width or 120, force_terminal=color, no_color=not color
    )
    table = Table(title=escape(f"{report['system']['name']}: Order No. 308 criteria"))
    table.add_column("No.", justify="right")
    table.add_column("Criterion")
    table.add_column("Verdict")
    table.add_column("Basis")
    table.add_column("Evidence")
    for criterion in report["criteria"]:
        verdict = criterion["verdict"]
        # Cell text is escaped: square brackets in notes or names are not markup.
        table.add_row(
            str(criterion["id"]),
            escape(criterion["title_en"]),
            f"[{_VERDICT_STYLE[verdict]}]{verdict}[/]",
            criterion["basis"],
            escape(_reason_summary(criterion)),
            end_section=False,
        )
    console.print(table)
    collectors = ", ".join(
        f"{c['name']} {c['status']}" + (f" ({c['error']})" if c["error"] else "")
        for c in report["collectors"]
    )
    console.print(f"Collectors: {collectors}", markup=False)
    for line in notices(report):
        console.print(f"Notice: {line}", markup=False)
    console.print(pack_line(report), markup=False)
    console.print(classification_line(report), markup=False)
    return buffer.getvalue()


def _md_cell(text: Any) -> str:
    # Markdown renders inline HTML, so values are escaped like in the HTML report.
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def _missing_rows(report: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return [(c["id"], m) for c in report["criteria"] for m in c["facts_missing"]]


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# {_md_cell(report['system']['name'])}: Order No. 308/НҚ criteria",
        "",
        (
            f"Scanned at {report['scanned_at']} by {report['agent']['name']} "
            f"{report['agent']['version']}. {pack_line(report)}."
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
    missing = _missing_rows(report)
    if missing:
        lines += ["", "## Missing evidence", ""]
        lines += [
            "| No. | Fact | Reason | Detail | Supplied by |",
            "|---:|---|---|---|---|",
        ]
        for criterion_id, m in missing:
            lines.append(
                f"| {criterion_id} | `{m['key']}` | {m['reason']} "
                f"| {_md_cell(m['message'])} | {_md_cell(', '.join(m['supplied_by']))} |"
            )
    if notices(report):
        lines += ["", "## Notices", ""]
        lines += [f"- {_md_cell(line)}" for line in notices(report)]
    lines += ["", "## Collectors", "", "| Collector | Status | Seconds | Error |"]
    lines.append("|---|---|---:|---|")
    for s in report["collectors"]:
        lines.append(
            f"| {s['name']} | {s['status']} | {s['duration_seconds']} "
            f"| {_md_cell(s['error'] or '')} |"
        )
    lines += ["", "## Resolved facts", "", "| Key | Value | Unit | Provenance |"]
    lines.append("|---|---|---|---|")
    for key, r in report["resolved"].items():
        bound = " (lower bound)" if r.get("bound") == "lower" else ""
        lines.append(
            f"| `{key}` | {_md_cell(_short(r['value']))}{bound} | {r['unit'] or ''} "
            f"| {r['provenance']} |"
        )
    return "\n".join(lines) + "\n"


def _html_table(
    headers: list[str], rows: list[list[str]], css: list[str] | None = None
) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        cls = f" class='{e(css[index])}'" if css else ""
        body.append(
            f"<tr{cls}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
        )
    return f"<table><tr>{head}</tr>\n" + "\n".join(body) + "\n</table>"


def render_html(report: dict[str, Any]) -> str:
    e = html.escape
    criteria = _html_table(
        ["No.", "Criterion", "Verdict", "Basis", "Evidence"],
        [
            [
                str(c["id"]),
                f"{e(c['title_ru'])}<br><small>{e(c['title_en'])}</small>",
                e(c["verdict"]),
                e(c["basis"]),
                e(_reason_summary(c)),
            ]
            for c in report["criteria"]
        ],
        [c["verdict"] for c in report["criteria"]],
    )
    missing = _html_table(
        ["No.", "Fact", "Reason", "Detail", "Supplied by"],
        [
            [
                str(i),
                e(m["key"]),
                e(m["reason"]),
                e(m["message"]),
                e(", ".join(m["supplied_by"])),
            ]
            for i, m in _missing_rows(report)
        ],
    )
    collectors = _html_table(
        ["Collector", "Status", "Seconds", "Error"],
        [
            [
                e(s["name"]),
                e(s["status"]),
                str(s["duration_seconds"]),
                e(s["error"] or ""),
            ]
            for s in report["collectors"]
        ],
    )
    resolved = _html_table(
        ["Key", "Value", "Unit", "Provenance"],
        [
            [
                e(key),
                e(_short(r["value"]) + (" (lower bound)" if r.get("bound") else "")),
                e(r["unit"] or ""),
                e(r["provenance"]),
            ]
            for key, r in report["resolved"].items()
        ],
    )
    notice_items = "".join(f"<li>{e(line)}</li>" for line in notices(report))
    name = e(report["system"]["name"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{name}: Order No. 308 criteria</title>
<style>body{{font-family:sans-serif}}td{{vertical-align:top;padding:4px}}
tr.met td:nth-child(3){{color:#060;font-weight:bold}}
tr.unknown td:nth-child(3){{color:#a60}}</style>
</head><body>
<h1>{name}: Order No. 308/НҚ criteria</h1>
<p>Scanned at {e(report["scanned_at"])}. {e(pack_line(report))}.</p>
<p><strong>{e(classification_line(report))}</strong></p>
{criteria}
<h2>Missing evidence</h2>
{missing}
<h2>Notices</h2>
<ul>{notice_items or "<li>none</li>"}</ul>
<h2>Collectors</h2>
{collectors}
<h2>Resolved facts</h2>
{resolved}
</body></html>
"""


def render(report: dict[str, Any], fmt: str, **options: Any) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "html":
        return render_html(report)
    return render_table(report, **options)
