"""Fact resolution: one value per key from every observation of it.

Observations are split into tiers by provenance: measured, then derived, then
declared. The first tier with observations gives the value, combined over scopes
by the key's rule in the vocabulary. A declared value that disagrees with the one
used is listed as a discrepancy; a declaration past its expiry is ignored and
listed as expired. Resolution reads plain dicts (the report's `facts` entries), so
it judges a saved report the same way as a live scan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from rules.vocabulary import KeySpec, Vocabulary

TIERS = ("measured", "derived", "declared")
# Gap reasons that do not mean a scope failed: nothing was there, or nothing asked.
QUIET_REASONS = ("no_data", "not_configured")


@dataclass
class Resolved:
    key: str
    value: Any
    unit: str | None
    provenance: str
    scopes: list[str]
    sources: list[str]
    bound: str | None = None
    uncertain: bool = False
    # Warnings a collector attached to an observation (details.caveat), such as an
    # observation window shorter than the one configured.
    caveats: list[str] = field(default_factory=list)
    # For an uncertain total: the part known for certain (exact counts only).
    known_minimum: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "value": self.value,
            "unit": self.unit,
            "provenance": self.provenance,
            "scopes": self.scopes,
            "sources": self.sources,
        }
        if self.bound:
            data["bound"] = self.bound
        if self.uncertain:
            data["uncertain"] = True
        if self.caveats:
            data["caveats"] = self.caveats
        if self.known_minimum is not None:
            data["known_minimum"] = self.known_minimum
        return data


@dataclass
class Resolution:
    resolved: dict[str, Resolved] = field(default_factory=dict)
    discrepancies: list[dict[str, Any]] = field(default_factory=list)
    expired: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


def _is_expired(fact: dict[str, Any], today: dt.date) -> bool:
    expires = (fact.get("details") or {}).get("expires")
    if not expires:
        return False
    return dt.date.fromisoformat(str(expires)[:10]) < today


def _combine(spec: KeySpec, facts: list[dict[str, Any]]) -> Any:
    values = [fact["value"] for fact in facts]
    if spec.combine == "sum":
        return sum(values)
    if spec.combine == "max":
        return max(values)
    if spec.combine == "min":
        return min(values)
    if spec.combine == "any":
        return any(values)
    if spec.combine == "union":
        merged: list[dict[str, Any]] = []
        seen: set[tuple[str, Any]] = set()
        for value in values:
            for item in value:
                identity = (item["name"], item.get("version"))
                if identity not in seen:
                    seen.add(identity)
                    merged.append(item)
        return merged
    distinct = sorted({str(value) for value in values})
    return distinct[0] if len(distinct) == 1 else distinct


def _one_per_scope(facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Two observations of one scope (e.g. a database read directly and through an
    # exporter) describe the same thing: keep the first, which is the most direct.
    by_scope: dict[str, dict[str, Any]] = {}
    for fact in facts:
        by_scope.setdefault(str(fact.get("scope", "")), fact)
    return list(by_scope.values())


def _is_lower(fact: dict[str, Any]) -> bool:
    return fact.get("bound") == "lower"


def _combined_bound(spec: KeySpec, chosen: list[dict[str, Any]], value: Any) -> bool:
    """Tell whether the combined value is only a lower bound."""
    if spec.combine == "max":
        # A short sample below a window peak of another scope adds nothing: the
        # peak is a lower bound only when it comes from a lower-bound observation.
        exact_values = [f["value"] for f in chosen if not _is_lower(f)]
        return value not in exact_values
    if spec.combine == "any" and value is True:
        return False
    return any(_is_lower(f) for f in chosen)


def _known_minimum(spec: KeySpec, chosen: list[dict[str, Any]]) -> float | None:
    """Sum what is known for certain of an uncertain total (details.lower_bound)."""
    if spec.combine != "sum" or not any(f.get("uncertain") for f in chosen):
        return None
    total = 0
    for fact in chosen:
        if fact.get("uncertain"):
            minimum = (fact.get("details") or {}).get("lower_bound")
            if not isinstance(minimum, int | float) or isinstance(minimum, bool):
                return None
            total += minimum
        else:
            total += fact["value"]
    return total


def _resolve_tier(spec: KeySpec, tier: str, facts: list[dict[str, Any]]) -> Resolved:
    chosen = _one_per_scope(facts)
    value = _combine(spec, chosen)
    return Resolved(
        key=spec.key,
        value=value,
        unit=spec.unit,
        provenance=tier,
        scopes=[str(fact.get("scope", "")) for fact in chosen],
        sources=sorted({str(fact.get("source", "")) for fact in chosen}),
        bound="lower" if _combined_bound(spec, chosen, value) else None,
        uncertain=any(bool(f.get("uncertain")) for f in chosen),
        caveats=[
            str(f["details"]["caveat"])
            for f in chosen
            if isinstance(f.get("details"), dict) and f["details"].get("caveat")
        ],
        known_minimum=_known_minimum(spec, chosen),
    )


def _mark_missing_scopes(
    resolved: Resolved, gaps: list[dict[str, Any]], spec: KeySpec
) -> None:
    """Make a value a lower bound when a scope that should add to it failed."""
    for gap in gaps:
        scope = gap.get("scope") or ""
        if gap.get("reason") in QUIET_REASONS or not scope or scope in resolved.scopes:
            continue
        if spec.combine == "any" and resolved.value is True:
            continue
        resolved.bound = "lower"
        resolved.caveats.append(
            f"{scope} could not be read ({gap['reason']}), so the value covers "
            f"only {', '.join(resolved.scopes)}"
        )


def _prefer_consistent_declaration(
    chosen: Resolved, declared: Resolved, spec: KeySpec
) -> Resolved | None:
    """Return the declared value when a measured lower bound does not refute it.

    A lower-bound number is consistent with any declared number at or above it. A
    lower-bound false flag means no evidence was seen where the collector could
    look, so a declared true is consistent with it.
    """
    if chosen.bound != "lower":
        return None
    if spec.type == "number" and declared.value >= chosen.value:
        shown = f"{chosen.value:g}"
    elif spec.type == "bool" and chosen.value is False and declared.value is True:
        shown = "false"
    else:
        return None
    declared.caveats.append(
        f"the measured value {shown} is a lower bound, consistent with this declaration"
    )
    return declared


def resolve(
    facts: list[dict[str, Any]],
    vocabulary: Vocabulary,
    *,
    today: dt.date,
    gaps: list[dict[str, Any]] | None = None,
) -> Resolution:
    """Resolve report fact entries into one value per vocabulary key.

    `gaps` are the collectors' gap entries; a failed scope makes the combined
    value of its key a lower bound.
    """
    result = Resolution()
    by_key: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for fact in facts:
        key = fact.get("key")
        if key not in vocabulary:
            result.rejected.append({"key": key, "reason": "not in the vocabulary"})
            continue
        spec = vocabulary[key]
        if not spec.accepts(fact.get("value")):
            result.rejected.append(
                {
                    "key": key,
                    "source": fact.get("source"),
                    "reason": f"value {fact.get('value')!r} is not {spec.expectation}",
                }
            )
            continue
        provenance = fact.get("provenance", "measured")
        if provenance == "declared" and _is_expired(fact, today):
            result.expired.append(
                {
                    "key": key,
                    "value": fact["value"],
                    "expires": fact["details"]["expires"],
                    "declared_by": fact["details"].get("declared_by"),
                }
            )
            continue
        by_key.setdefault(key, {}).setdefault(provenance, []).append(fact)

    gaps_by_key: dict[str, list[dict[str, Any]]] = {}
    for gap in gaps or []:
        gaps_by_key.setdefault(str(gap.get("key")), []).append(gap)
    for key, tiers in by_key.items():
        spec = vocabulary[key]
        tier = next(name for name in TIERS if name in tiers)
        chosen = _resolve_tier(spec, tier, tiers[tier])
        if tier != "declared":
            _mark_missing_scopes(chosen, gaps_by_key.get(key, []), spec)
        result.resolved[key] = chosen
        if tier == "declared" or "declared" not in tiers:
            continue
        declared = _resolve_tier(spec, "declared", tiers["declared"])
        if declared.value == chosen.value:
            continue
        consistent = _prefer_consistent_declaration(chosen, declared, spec)
        if consistent is not None:
            result.resolved[key] = consistent
            continue
        result.discrepancies.append(
            {
                "key": key,
                "used": tier,
                tier: chosen.value,
                "declared": declared.value,
                "unit": spec.unit,
            }
        )
    return result
