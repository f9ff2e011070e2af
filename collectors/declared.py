"""The owner's declarations as facts with provenance "declared".

Some criteria rest on what no probe can see: when development started, which
stages went into industrial operation, the business domain, foreign partners.
Each statement becomes a fact that records who declared it, when, and until when
it is valid. The rules ignore an expired statement, and the report lists it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from collectors.base import Collector, Fact, Findings

# Average days per month of the Gregorian calendar (365.2425 / 12).
DAYS_PER_MONTH = 30.436875


@dataclass(frozen=True)
class Declarant:
    name: str
    role: str


@dataclass(frozen=True)
class Stage:
    name: str
    commissioned: dt.date


@dataclass(frozen=True)
class Partner:
    name: str
    country: str | None = None
    endpoint: str | None = None


@dataclass
class Declarations:
    """The declared section of the config, already validated."""

    declarant: Declarant
    declared_on: dt.date
    expires: dt.date | None = None
    development_started: dt.date | None = None
    development_finished: dt.date | None = None
    commissioning_phases: list[Stage] | None = None
    domain: str | None = None
    interstate_partners: list[Partner] | None = None
    expected_users: int | None = None
    # Any other vocabulary key, as KEY: (value, unit).
    facts: dict[str, tuple[Any, str | None]] = field(default_factory=dict)


def months_between(start: dt.date, end: dt.date) -> float:
    """Return calendar months from start to end, to one decimal."""
    return round((end - start).days / DAYS_PER_MONTH, 1)


class DeclaredCollector(Collector):
    name = "declared"
    provides = (
        "project.development_months",
        "project.commissioning_phases",
        "system.domain",
        "integration.interstate",
        "load.concurrent_users_peak",
    )
    default_timeout = 5.0

    def __init__(self, declarations: Declarations, *, source: str, today: dt.date):
        self.declarations = declarations
        self.source = source
        self.today = today

    def _fact(
        self,
        key: str,
        value: Any,
        method: str,
        unit: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Fact:
        d = self.declarations
        provenance = {
            "declared_by": {"name": d.declarant.name, "role": d.declarant.role},
            "declared_on": d.declared_on.isoformat(),
        }
        if d.expires:
            provenance["expires"] = d.expires.isoformat()
        return Fact(
            key=key,
            value=value,
            unit=unit,
            provenance="declared",
            source=f"declared {self.source}",
            method=method,
            scope="system",
            details={**provenance, **(details or {})},
        )

    def collect(self, findings: Findings) -> None:
        d = self.declarations
        if d.development_started:
            end = d.development_finished or self.today
            still = "" if d.development_finished else " (still in development)"
            findings.add(
                self._fact(
                    "project.development_months",
                    months_between(d.development_started, end),
                    f"declared start {d.development_started}, end {end}{still}",
                    unit="months",
                    details={
                        "development_started": d.development_started.isoformat(),
                        "development_finished": end.isoformat(),
                    },
                )
            )
        if d.commissioning_phases is not None:
            self._add_stages(findings, d.commissioning_phases)
        if d.domain:
            findings.add(self._fact("system.domain", d.domain, "declared domain"))
        if d.interstate_partners is not None:
            partners = [
                {k: v for k, v in vars(p).items() if v is not None}
                for p in d.interstate_partners
            ]
            findings.add(
                self._fact(
                    "integration.interstate", partners, "declared interstate partners"
                )
            )
        if d.expected_users is not None:
            findings.add(
                self._fact(
                    "load.concurrent_users_peak",
                    d.expected_users,
                    "declared design capacity: users working at the same time",
                    unit="users",
                )
            )
        for key, (value, unit) in d.facts.items():
            findings.add(self._fact(key, value, "declared by the owner", unit=unit))

    def _add_stages(self, findings: Findings, stages: list[Stage]) -> None:
        # A stage dated in the future is planned, not yet in industrial operation.
        done = [s for s in stages if s.commissioned <= self.today]
        planned = [s for s in stages if s.commissioned > self.today]
        findings.add(
            self._fact(
                "project.commissioning_phases",
                len(done),
                f"{len(done)} declared stages commissioned by {self.today}"
                + (f", {len(planned)} planned" if planned else ""),
                unit="count",
                details={
                    "stages": [
                        {"name": s.name, "commissioned": s.commissioned.isoformat()}
                        for s in stages
                    ]
                },
            )
        )
