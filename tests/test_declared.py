"""The owner's declarations become declared facts with who, when and until when."""

from __future__ import annotations

import datetime as dt

from collectors.base import Findings
from collectors.declared import (
    Declarant,
    Declarations,
    DeclaredCollector,
    Partner,
    Stage,
    months_between,
)

TODAY = dt.date(2026, 12, 4)


def collect(declarations):
    findings = Findings()
    DeclaredCollector(declarations, source="test.yaml", today=TODAY).collect(findings)
    facts, gaps, _ = findings.snapshot()
    assert gaps == []
    return {fact.key: fact for fact in facts}


def base(**fields):
    return Declarations(
        declarant=Declarant("A. Nurlanov", "CTO"),
        declared_on=dt.date(2026, 11, 1),
        **fields,
    )


def test_development_months_until_today():
    facts = collect(base(development_started=dt.date(2024, 12, 4)))
    # 2024-12-04 to 2026-12-04 is 730 days; 730 / 30.436875 = 23.98
    assert facts["project.development_months"].value == 24.0
    assert facts["project.development_months"].provenance == "declared"


def test_development_months_until_finished():
    facts = collect(
        base(
            development_started=dt.date(2025, 1, 1),
            development_finished=dt.date(2025, 7, 1),
        )
    )
    # 181 days / 30.436875 = 5.95
    assert facts["project.development_months"].value == 5.9


def test_months_between_one_year():
    assert months_between(dt.date(2025, 1, 1), dt.date(2026, 1, 1)) == 12.0


def test_future_stage_not_counted():
    stages = [
        Stage("first", dt.date(2025, 3, 1)),
        Stage("second", dt.date(2026, 3, 1)),
        Stage("third", dt.date(2027, 3, 1)),
    ]
    fact = collect(base(commissioning_phases=stages))["project.commissioning_phases"]
    assert fact.value == 2
    assert len(fact.details["stages"]) == 3


def test_declarant_and_expiry_recorded():
    declarations = base(domain="payments")
    declarations.expires = dt.date(2027, 11, 1)
    fact = collect(declarations)["system.domain"]
    assert fact.details["declared_by"] == {"name": "A. Nurlanov", "role": "CTO"}
    assert fact.details["declared_on"] == "2026-11-01"
    assert fact.details["expires"] == "2027-11-01"


def test_partners_become_interstate_components():
    partners = [Partner("EAEU integrated information system", "EAEU")]
    fact = collect(base(interstate_partners=partners))["integration.interstate"]
    assert fact.value == [
        {"name": "EAEU integrated information system", "country": "EAEU"}
    ]


def test_expected_users_declared_as_peak():
    fact = collect(base(expected_users=8000))["load.concurrent_users_peak"]
    assert fact.value == 8000
    assert fact.unit == "users"


def test_nothing_declared_gives_no_facts():
    assert collect(base()) == {}


def test_generic_fact():
    facts = collect(base(facts={"architecture.services": (42, "count")}))
    assert facts["architecture.services"].value == 42
