"""The choice of one expression per measure: explicit PromQL or built-in profiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collectors import errors
from collectors.prometheus import promql
from collectors.prometheus.profiles import load_profiles


@dataclass
class Plan:
    """The expression chosen for one measure, or why there is none."""

    measure: str
    expression: str | None = None
    profile: str | None = None
    description: str | None = None
    families: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    bound: str | None = None
    # Why there is no expression, and the gap's reason code.
    missing: str | None = None
    missing_reason: str = errors.NO_DATA

    def details(self) -> dict[str, Any]:
        data: dict[str, Any] = {"profile": self.profile, "expression": self.expression}
        if self.description:
            data["profile_measures"] = self.description
        if self.families:
            data["metric_families"] = self.families
        if self.others:
            data["other_profiles_found"] = self.others
        return data


def explicit_plan(measure: str, query: str) -> Plan:
    """Return the plan that runs the caller's PromQL, summed into one series."""
    return Plan(measure, expression=promql.summed(query), profile="explicit")


def unlisted_plan(measure: str, exc: errors.SourceError) -> Plan:
    """Return the plan of a measure whose profiles could not be checked."""
    return Plan(
        measure,
        missing=f"metric families not listed: {exc}",
        missing_reason=exc.reason,
    )


def profile_plan(
    measure: str,
    families: set[str],
    matchers: str | None,
    rate_window: float,
) -> Plan:
    """Choose the built-in profiles of `measure` that the metric families allow."""
    catalog = load_profiles()[measure]
    found = catalog.applicable(families)
    if not found:
        return Plan(measure, missing=no_profile_message(measure, families))
    if catalog.selection == "first":
        # TODO: services instrumented by a later profile (for example Go services
        # next to Spring ones) are not added; details list those profiles.
        chosen, others = found[:1], [profile.name for profile in found[1:]]
    else:
        chosen, others = found, []
    queries = [
        promql.render_profile_query(profile.query, matchers, rate_window)
        for profile in chosen
    ]
    return Plan(
        measure,
        expression=" + ".join(queries),
        profile=" + ".join(profile.name for profile in chosen),
        description=" ".join(profile.measures for profile in chosen),
        families=sorted({name for p in chosen for name in p.metric_families}),
        others=others,
        bound="lower" if any(profile.bound for profile in chosen) else None,
    )


def no_profile_message(measure: str, families: set[str]) -> str:
    """Say which families were looked for, and why request counters are not users."""
    catalog = load_profiles()[measure]
    looked_for = ", ".join(sorted(catalog.families()))
    message = f"no known metric family found (looked for {looked_for})"
    if measure == "concurrent_users":
        request_families = sorted(families & load_profiles()["tps"].families())
        if request_families:
            message += (
                f"; {', '.join(request_families)} count requests or "
                "transactions, not users, so they are not used"
            )
    return message
