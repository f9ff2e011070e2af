"""The rules engine: three-valued evaluation of a pack over resolved facts.

Every test is true, false or unknown (None). A test is unknown when its fact is
absent or cannot decide it, as a lower bound below the threshold or an unconfirmed
estimate near it cannot. Groups follow Kleene logic. `all` is false if any part is false, and true
if all are true. `any` is the dual. `at_least N` is true once N parts are true, and
false once fewer than N parts can still become true.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

from rules.pack import Criterion, Group, Pack, Test
from rules.resolve import Resolution, Resolved
from rules.vocabulary import Vocabulary

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"

_COMPARE = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
    "eq": operator.eq,
    "ne": operator.ne,
}

# Config section that enables each source, named in the message of a missing fact.
SOURCE_SETTINGS = {
    "declared": "the config's declared section",
    "host": "sources.host",
    "database": "sources.databases",
    "prometheus": "sources.prometheus",
    "kubernetes": "sources.kubernetes",
    "network": "sources.network",
    "software": "sources.software",
    "repository": "sources.repository",
}

# Reason codes that explain a failure better than "no data", in order of weight.
_FAILURE_ORDER = (
    "permission_denied",
    "authentication_failed",
    "unreachable",
    "timed_out",
    "bad_response",
    "crashed",
    "source_failed",
)


def _tri(value: bool | None) -> str:
    return {True: "true", False: "false", None: "unknown"}[value]


@dataclass
class TestResult:
    test: Test
    result: bool | None
    value: Any = None
    margin: float | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.test.name,
            "fact": self.test.fact,
            "op": self.test.op,
            "threshold": self.test.value,
            "basis": self.test.basis,
            "value": self.value,
            "result": _tri(self.result),
        }
        if self.test.reason:
            data["reason"] = self.test.reason
        if self.margin is not None:
            data["margin"] = self.margin
        if self.test.overridden_from is not None:
            data["pack_threshold"] = self.test.overridden_from
        if self.note:
            data["note"] = self.note
        return data


@dataclass
class Context:
    resolution: Resolution
    uncertain_band: float
    results: list[TestResult] = field(default_factory=list)


def _compare(test: Test, fact: Resolved, band: float) -> TestResult:
    result = _compare_value(test, fact, band)
    if fact.caveats:
        caveats = "; ".join(fact.caveats)
        result.note = f"{result.note}; {caveats}" if result.note else caveats
    return result


# A component item with this "match" was named only by the port it listens
# on, which any server can use.
PORT_MATCH = "port"
_PARTIAL = "the value is a lower bound, so a negative result decides nothing"


def _compare_value(test: Test, fact: Resolved, band: float) -> TestResult:
    value = fact.value
    partial = fact.bound == "lower"
    if test.op == "is_true":
        if value is not True and partial:
            return TestResult(test, None, value, note=_PARTIAL)
        return TestResult(test, value is True, value)
    if test.op == "nonempty":
        if not value and partial:
            return TestResult(test, None, value, note=_PARTIAL)
        weak = _port_matches(value)
        if value and len(weak) == len(value):
            return TestResult(test, None, value, note=_weak_note(weak))
        return TestResult(test, len(value) > 0, value)
    if test.op == "in":
        return TestResult(test, value in test.value, value)
    outcome = _COMPARE[test.op](value, test.value)
    margin = round(value / test.value, 6) if test.value else None
    if fact.bound == "lower" and not outcome and test.op in ("gt", "ge"):
        return TestResult(
            test,
            None,
            value,
            margin,
            "a lower bound below the threshold decides nothing",
        )
    known = fact.known_minimum
    exceeds = known is not None and _COMPARE[test.op](known, test.value)
    if fact.uncertain and exceeds and test.op in ("gt", "ge"):
        return TestResult(
            test, True, value, margin, f"the exactly counted part {known:,} decides"
        )
    if fact.uncertain and test.value and abs(value / test.value - 1) <= band:
        return TestResult(
            test,
            None,
            value,
            margin,
            f"an unconfirmed estimate within {band:.0%} of the threshold",
        )
    return TestResult(test, outcome, value, margin)


def _port_matches(items: list) -> list[dict]:
    """Return the components named only by a port number (match "port")."""
    return [i for i in items if isinstance(i, dict) and i.get("match") == PORT_MATCH]


def _weak_note(items: list[dict]) -> str:
    names = ", ".join(sorted({str(item.get("name")) for item in items}))
    return (
        f"only port-number matches ({names}); a service on a product's default "
        "port is not that product until version detection confirms it, so they "
        "decide nothing"
    )


def _evaluate(node: Test | Group, context: Context) -> bool | None:
    if isinstance(node, Test):
        fact = context.resolution.resolved.get(node.fact)
        if fact is None:
            result = TestResult(node, None)
        else:
            result = _compare(node, fact, context.uncertain_band)
        context.results.append(result)
        return result.result
    parts = [_evaluate(child, context) for child in node.children]
    if node.kind == "not":
        return None if parts[0] is None else not parts[0]
    if node.kind == "all":
        if False in parts:
            return False
        return True if all(part is True for part in parts) else None
    if node.kind == "any":
        if True in parts:
            return True
        return False if all(part is False for part in parts) else None
    true_count = parts.count(True)
    if true_count >= node.count:
        return True
    if true_count + parts.count(None) < node.count:
        return False
    return None


def _missing_reason(
    key: str,
    vocabulary: Vocabulary,
    collectors: list[dict[str, Any]],
    resolution: Resolution,
    available: set[str] | None,
) -> dict[str, Any]:
    spec = vocabulary[key]
    sources = list(spec.sources)
    supplied_by = [f"{name} ({SOURCE_SETTINGS.get(name, name)})" for name in sources]
    entry: dict[str, Any] = {"key": key, "supplied_by": supplied_by}
    rejected = [r for r in resolution.rejected if r["key"] == key]
    if rejected:
        source = f" from {rejected[0]['source']}" if rejected[0].get("source") else ""
        return {
            **entry,
            "reason": "bad_response",
            "message": f"an observation{source} was rejected: {rejected[0]['reason']}",
        }
    expired = [e for e in resolution.expired if e["key"] == key]
    if expired:
        return {
            **entry,
            "reason": "expired",
            "message": f"the declaration expired on {expired[0]['expires']}; "
            "renew it with a new declared_on and expires",
        }
    gaps = [
        gap
        for status in collectors
        for gap in status.get("gaps", [])
        if gap.get("key") == key
    ]
    failures = [gap for gap in gaps if gap["reason"] in _FAILURE_ORDER]
    if failures:
        failures.sort(key=lambda gap: _FAILURE_ORDER.index(gap["reason"]))
        return {
            **entry,
            "reason": failures[0]["reason"],
            "message": failures[0]["message"],
        }
    # The declared section runs whenever it exists; a key it does not declare is
    # still "not configured" unless a collector that can observe it ran.
    ran = [
        s
        for s in collectors
        if s["name"] in sources and s["name"] != "declared" and s["status"] != "skipped"
    ]
    failed = [s for s in ran if s["status"] == "failed" or s.get("reason")]
    if failed:
        failed.sort(
            key=lambda s: _FAILURE_ORDER.index(s.get("reason") or "source_failed")
        )
        status = failed[0]
        return {
            **entry,
            "reason": status.get("reason") or "source_failed",
            "message": f"collector {status['name']} failed: {status.get('error')}",
        }
    if gaps:
        return {**entry, "reason": gaps[0]["reason"], "message": gaps[0]["message"]}
    if not ran:
        return {
            **entry,
            "reason": "not_configured",
            "message": _configure_hint(sources, available),
        }
    names = ", ".join(s["name"] for s in ran)
    return {
        **entry,
        "reason": "no_data",
        "message": f"{names} ran but did not observe it",
    }


def _configure_hint(sources: list[str], available: set[str] | None) -> str:
    usable = [n for n in sources if available is None or n in available]
    missing = [n for n in sources if n not in usable]
    text = "no configured source supplies it"
    if usable:
        text += "; configure " + " or ".join(SOURCE_SETTINGS.get(n, n) for n in usable)
    if missing:
        text += f" (not available in this version: {', '.join(missing)})"
    return text


def _fact_used(key: str, resolved: Resolved) -> dict[str, Any]:
    data = {
        "key": key,
        "value": resolved.value,
        "unit": resolved.unit,
        "provenance": resolved.provenance,
        "sources": resolved.sources,
    }
    if resolved.bound:
        data["bound"] = resolved.bound
    if resolved.uncertain:
        data["uncertain"] = True
    if resolved.caveats:
        data["caveats"] = resolved.caveats
    return data


def _criterion_basis(criterion: Criterion) -> str:
    if criterion.mode and criterion.modes[criterion.mode].basis == "policy":
        return "policy"
    tests = criterion.tests()
    return "order" if all(test.basis == "order" for test in tests) else "policy"


def _explain(verdict: str, criterion: Criterion, results: list[TestResult]) -> str:
    parts = []
    for result in results:
        test = result.test
        if result.result is None and result.value is None:
            parts.append(f"{test.fact} unknown")
            continue
        shown = _format_value(result.value)
        if test.op in _COMPARE:
            text = f"{test.fact} = {shown} ({test.op} {_format_value(test.value)}"
            text += f": {_tri(result.result)})"
        else:
            text = f"{test.fact} = {shown} ({test.op}: {_tri(result.result)})"
        if result.note:
            text += f", {result.note}"
        parts.append(text)
    join = ""
    if criterion.modes and criterion.mode:
        join = f" [{criterion.mode}: {criterion.modes[criterion.mode].join} thresholds]"
    return f"{verdict}{join}: " + "; ".join(parts)


def _format_value(value: Any) -> str:
    if isinstance(value, list):
        names = [
            str(item.get("name")) if isinstance(item, dict) else str(item)
            for item in value
        ]
        if len(names) > 3:
            return "[" + ", ".join(names[:3]) + f", +{len(names) - 3} more]"
        return "[" + ", ".join(names) + "]"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _condition_for(criterion: Criterion) -> Test | Group:
    condition = criterion.condition
    if criterion.mode and isinstance(condition, Group):
        join = criterion.modes[criterion.mode].join
        return Group(
            join, condition.children, basis=condition.basis, reason=condition.reason
        )
    return condition


def evaluate_criterion(
    criterion: Criterion,
    resolution: Resolution,
    vocabulary: Vocabulary,
    collectors: list[dict[str, Any]],
    *,
    uncertain_band: float = 0.10,
    available: set[str] | None = None,
) -> dict[str, Any]:
    context = Context(resolution, uncertain_band)
    outcome = _evaluate(_condition_for(criterion), context)
    verdict = {True: MET, False: NOT_MET, None: UNKNOWN}[outcome]
    keys = list(dict.fromkeys(result.test.fact for result in context.results))
    used = [
        _fact_used(key, resolution.resolved[key])
        for key in keys
        if key in resolution.resolved
    ]
    missing = [
        _missing_reason(key, vocabulary, collectors, resolution, available)
        for key in keys
        if key not in resolution.resolved
    ]
    entry: dict[str, Any] = {
        "id": criterion.id,
        "title_ru": criterion.title_ru,
        "title_en": criterion.title_en,
        "verdict": verdict,
        "basis": _criterion_basis(criterion),
        "thresholds": [result.to_dict() for result in context.results],
        "facts_used": used,
        "facts_missing": missing,
        "explanation": _explain(verdict, criterion, context.results),
    }
    if criterion.mode:
        entry["mode"] = criterion.mode
    return entry


def classify(criteria: list[dict[str, Any]], min_met: int) -> dict[str, Any]:
    met = [c["id"] for c in criteria if c["verdict"] == MET]
    unknown = [c["id"] for c in criteria if c["verdict"] == UNKNOWN]
    not_met = [c["id"] for c in criteria if c["verdict"] == NOT_MET]
    if len(met) >= min_met:
        complex_ = True
    elif len(met) + len(unknown) < min_met:
        complex_ = False
    else:
        complex_ = None
    return {
        "technologically_complex": complex_,
        "met": met,
        "unknown": unknown,
        "not_met": not_met,
        "min_met": min_met,
    }


def evaluate(
    pack: Pack,
    resolution: Resolution,
    vocabulary: Vocabulary,
    collectors: list[dict[str, Any]],
    *,
    uncertain_band: float = 0.10,
    available: set[str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Evaluate every criterion of the pack; return the verdicts and the classification.

    `collectors` are the report's collector status entries, used to explain why a
    fact is missing; `available` names the sources this version can collect.
    """
    criteria = [
        evaluate_criterion(
            criterion,
            resolution,
            vocabulary,
            collectors,
            uncertain_band=uncertain_band,
            available=available,
        )
        for criterion in sorted(pack.criteria, key=lambda c: c.id)
    ]
    return criteria, classify(criteria, pack.min_met)
