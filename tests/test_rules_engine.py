"""Three-valued evaluation of the order-308 pack over resolved facts."""

from __future__ import annotations

import pytest

from rules.engine import classify, evaluate
from rules.pack import apply_overrides
from rules.resolve import resolve
from tests.helpers import TODAY, fact

RAN_ALL = [
    {"name": name, "status": "ok", "gaps": []}
    for name in ("host", "database", "prometheus", "software", "network", "kubernetes")
]


def verdicts(pack, vocabulary, facts, collectors=RAN_ALL):
    resolution = resolve(facts, vocabulary, today=TODAY)
    criteria, classification = evaluate(pack, resolution, vocabulary, collectors)
    return {c["id"]: c for c in criteria}, classification


def load_facts(users, tps, records):
    facts = []
    if users is not None:
        facts.append(fact("load.concurrent_users_peak", users))
    if tps is not None:
        facts.append(fact("load.tps_peak", tps))
    if records is not None:
        facts.append(fact("data.records_total", records))
    return facts


@pytest.mark.parametrize(
    ("users", "tps", "records", "expected"),
    [
        (6000, 400.0, 60_000_000, "met"),
        (
            6000,
            400.0,
            50_000_000,
            "not_met",
        ),  # "more than" 50,000,000: equal is not met
        (6000, None, 60_000_000, "unknown"),
        (4000, None, None, "not_met"),  # one false part decides an "all"
        (None, None, None, "unknown"),
    ],
)
def test_criterion_4_strict(pack, vocabulary, users, tps, records, expected):
    by_id, _ = verdicts(pack, vocabulary, load_facts(users, tps, records))
    assert by_id[4]["verdict"] == expected


@pytest.mark.parametrize(
    ("users", "tps", "records", "expected"),
    [
        (6000, None, None, "met"),  # one true part decides an "any"
        (100, 10.0, 1000, "not_met"),
        (100, None, 1000, "unknown"),
    ],
)
def test_criterion_4_loose(pack, vocabulary, users, tps, records, expected):
    loose = apply_overrides(pack, modes={4: "loose"})
    by_id, _ = verdicts(loose, vocabulary, load_facts(users, tps, records))
    assert by_id[4]["verdict"] == expected
    assert by_id[4]["mode"] == "loose"


def test_criterion_4_sub_results_and_margin(pack, vocabulary):
    by_id, _ = verdicts(pack, vocabulary, load_facts(2500, 600.0, None))
    thresholds = {t["name"]: t for t in by_id[4]["thresholds"]}
    assert thresholds["concurrent_users"]["result"] == "false"
    assert thresholds["concurrent_users"]["margin"] == 0.5
    assert thresholds["tps"]["result"] == "true"
    assert thresholds["tps"]["margin"] == 2.0
    assert thresholds["records"]["result"] == "unknown"
    assert "margin" not in thresholds["records"]
    assert {t["basis"] for t in thresholds.values()} == {"order"}
    assert by_id[4]["basis"] == "order"


def test_lower_bound_below_threshold_is_unknown(pack, vocabulary):
    facts = load_facts(6000, 400.0, None)
    facts.append(fact("data.records_total", 10_000_000, bound="lower"))
    by_id, _ = verdicts(pack, vocabulary, facts)
    records = {t["name"]: t for t in by_id[4]["thresholds"]}["records"]
    assert records["result"] == "unknown"
    assert by_id[4]["verdict"] == "unknown"


def test_lower_bound_above_threshold_is_met(pack, vocabulary):
    facts = load_facts(6000, 400.0, None)
    facts.append(fact("data.records_total", 70_000_000, bound="lower"))
    by_id, _ = verdicts(pack, vocabulary, facts)
    assert by_id[4]["verdict"] == "met"


def test_uncertain_estimate_near_threshold_is_unknown(pack, vocabulary):
    facts = load_facts(6000, 400.0, None)
    facts.append(fact("data.records_total", 52_000_000, uncertain=True))
    by_id, _ = verdicts(pack, vocabulary, facts)
    assert by_id[4]["verdict"] == "unknown"


def test_uncertain_estimate_far_from_threshold_decides(pack, vocabulary):
    facts = load_facts(6000, 400.0, None)
    facts.append(fact("data.records_total", 90_000_000, uncertain=True))
    by_id, _ = verdicts(pack, vocabulary, facts)
    assert by_id[4]["verdict"] == "met"


def test_development_months_boundary(pack, vocabulary):
    exactly = verdicts(pack, vocabulary, [fact("project.development_months", 12.0)])[0]
    longer = verdicts(pack, vocabulary, [fact("project.development_months", 12.1)])[0]
    assert exactly[2]["verdict"] == "not_met"
    assert longer[2]["verdict"] == "met"
    assert longer[2]["basis"] == "order"


def test_at_least_two_of_four_for_complexity(pack, vocabulary):
    two_true = [
        fact("architecture.services", 25),
        fact("architecture.data_stores", 4),
    ]
    one_true_rest_false = [
        fact("architecture.services", 25),
        fact("architecture.data_stores", 1),
        fact("architecture.integrations", 2),
        fact("architecture.runtimes", 1),
    ]
    one_true_two_unknown = [
        fact("architecture.services", 25),
        fact("architecture.data_stores", 1),
    ]
    assert verdicts(pack, vocabulary, two_true)[0][3]["verdict"] == "met"
    assert verdicts(pack, vocabulary, one_true_rest_false)[0][3]["verdict"] == "not_met"
    assert (
        verdicts(pack, vocabulary, one_true_two_unknown)[0][3]["verdict"] == "unknown"
    )


def test_empty_component_list_is_not_met(pack, vocabulary):
    by_id, _ = verdicts(pack, vocabulary, [fact("hardware.specialized", [])])
    assert by_id[8]["verdict"] == "not_met"


def test_component_list_is_met(pack, vocabulary):
    gpu = [{"name": "NVIDIA A100", "kind": "gpu"}]
    by_id, _ = verdicts(pack, vocabulary, [fact("hardware.specialized", gpu)])
    assert by_id[8]["verdict"] == "met"
    assert by_id[8]["facts_used"][0]["value"] == gpu


def test_port_matches_alone_decide_nothing(pack, vocabulary):
    guesses = [
        {"name": "Oracle Database", "match": "port"},
        {"name": "Microsoft SQL Server", "match": "port"},
    ]
    by_id, _ = verdicts(pack, vocabulary, [fact("software.proprietary", guesses)])
    assert by_id[5]["verdict"] == "unknown"
    [test] = by_id[5]["thresholds"]
    assert test["note"] == (
        "only port-number matches (Microsoft SQL Server, Oracle Database); a "
        "service on a product's default port is not that product until version "
        "detection confirms it, so they decide nothing"
    )


def test_confirmed_match_beside_port_guess_is_met(pack, vocabulary):
    items = [
        {"name": "Oracle Database", "match": "port"},
        {"name": "Microsoft SQL Server", "match": "version_detection"},
    ]
    by_id, _ = verdicts(pack, vocabulary, [fact("software.proprietary", items)])
    assert by_id[5]["verdict"] == "met"


def test_declared_domain_meets_criterion_10(pack, vocabulary):
    facts = [
        fact("integrity.guaranteed_transactions", False),
        fact("system.domain", "payments", provenance="declared"),
    ]
    by_id, _ = verdicts(pack, vocabulary, facts)
    assert by_id[10]["verdict"] == "met"


def test_missing_fact_reason_not_configured(pack, vocabulary):
    by_id, _ = verdicts(pack, vocabulary, [], collectors=[])
    missing = {m["key"]: m for m in by_id[4]["facts_missing"]}
    assert missing["data.records_total"]["reason"] == "not_configured"
    assert "sources.databases" in missing["data.records_total"]["message"]


def test_missing_fact_reason_from_failed_collector(pack, vocabulary):
    collectors = [
        {
            "name": "database",
            "status": "failed",
            "reason": "unreachable",
            "error": "127.0.0.1:1: connection refused",
            "gaps": [],
        }
    ]
    by_id, _ = verdicts(pack, vocabulary, [], collectors=collectors)
    missing = {m["key"]: m for m in by_id[4]["facts_missing"]}
    assert missing["data.records_total"]["reason"] == "unreachable"
    assert "connection refused" in missing["data.records_total"]["message"]


def test_missing_fact_reason_from_gap(pack, vocabulary):
    gap = {
        "key": "data.records_total",
        "reason": "permission_denied",
        "message": "permission denied for table secrets",
    }
    collectors = [{"name": "database", "status": "partial", "gaps": [gap]}]
    by_id, _ = verdicts(pack, vocabulary, [], collectors=collectors)
    missing = {m["key"]: m for m in by_id[4]["facts_missing"]}
    assert missing["data.records_total"]["reason"] == "permission_denied"


def test_missing_fact_reason_no_data(pack, vocabulary):
    by_id, _ = verdicts(pack, vocabulary, [])
    missing = {m["key"]: m for m in by_id[8]["facts_missing"]}
    assert missing["hardware.specialized"]["reason"] == "no_data"


@pytest.mark.parametrize(
    ("verdict_list", "min_met", "expected"),
    [
        (["met", "unknown", "not_met"], 1, True),
        (["not_met", "not_met"], 1, False),
        (["not_met", "unknown"], 1, None),
        (["met", "unknown"], 2, None),
        (["met", "not_met"], 2, False),
    ],
)
def test_classification(verdict_list, min_met, expected):
    criteria = [{"id": i + 1, "verdict": v} for i, v in enumerate(verdict_list)]
    assert classify(criteria, min_met)["technologically_complex"] is expected


def test_thirteen_verdicts_all_unknown_without_facts(pack, vocabulary):
    by_id, classification = verdicts(pack, vocabulary, [], collectors=[])
    assert sorted(by_id) == list(range(1, 14))
    assert {c["verdict"] for c in by_id.values()} == {"unknown"}
    assert classification["technologically_complex"] is None


def test_caveat_shown_in_explanation(pack, vocabulary):
    facts = load_facts(6000, None, None)
    facts.append(
        fact("load.tps_peak", 400.0, details={"caveat": "window covers 3 of 30 days"})
    )
    by_id, _ = verdicts(pack, vocabulary, facts)
    tps = {t["name"]: t for t in by_id[4]["thresholds"]}["tps"]
    assert tps["note"] == "window covers 3 of 30 days"
    assert "window covers 3 of 30 days" in by_id[4]["explanation"]
    used = {f["key"]: f for f in by_id[4]["facts_used"]}
    assert used["load.tps_peak"]["caveats"] == ["window covers 3 of 30 days"]


def test_exact_part_over_threshold_decides(pack, vocabulary):
    facts = load_facts(6000, 400.0, None)
    facts.append(
        fact(
            "data.records_total",
            52_000_000,
            uncertain=True,
            details={"lower_bound": 50_500_000},
        )
    )
    by_id, _ = verdicts(pack, vocabulary, facts)
    records = {t["name"]: t for t in by_id[4]["thresholds"]}["records"]
    assert records["result"] == "true"
    assert by_id[4]["verdict"] == "met"


def test_empty_list_with_failed_scope_is_unknown(pack, vocabulary):
    resolution = resolve(
        [fact("hardware.specialized", [], scope="node-1")],
        vocabulary,
        today=TODAY,
        gaps=[
            {
                "key": "hardware.specialized",
                "reason": "timed_out",
                "scope": "node-2",
                "message": "timed out",
            }
        ],
    )
    criteria, _ = evaluate(pack, resolution, vocabulary, RAN_ALL)
    assert criteria[7]["verdict"] == "unknown"


def test_expired_declaration_reason(pack, vocabulary):
    stale = fact(
        "system.domain",
        "payments",
        provenance="declared",
        details={"expires": "2026-01-01"},
    )
    by_id, _ = verdicts(pack, vocabulary, [stale], collectors=[])
    missing = {m["key"]: m for m in by_id[10]["facts_missing"]}
    assert missing["system.domain"]["reason"] == "expired"
    assert "expired on 2026-01-01" in missing["system.domain"]["message"]


def test_timed_out_partial_collector_explains_missing(pack, vocabulary):
    collectors = [
        {
            "name": "database",
            "status": "partial",
            "reason": "timed_out",
            "error": "timed out after 8 s",
            "gaps": [],
        }
    ]
    by_id, _ = verdicts(pack, vocabulary, [], collectors=collectors)
    missing = {m["key"]: m for m in by_id[4]["facts_missing"]}
    assert missing["data.records_total"]["reason"] == "timed_out"


def test_hint_names_only_available_sources(pack, vocabulary):
    resolution = resolve([], vocabulary, today=TODAY)
    criteria, _ = evaluate(
        pack, resolution, vocabulary, [], available={"declared", "host", "database"}
    )
    missing = {m["key"]: m for m in criteria[4]["facts_missing"]}
    assert missing["software.proprietary"]["message"] == (
        "no configured source supplies it; configure the config's declared section"
        " (not available in this version: software, repository, network)"
    )


def test_rejected_value_explains_missing(pack, vocabulary):
    by_id, _ = verdicts(pack, vocabulary, [fact("load.tps_peak", -5.0, source="prom")])
    missing = {m["key"]: m for m in by_id[4]["facts_missing"]}
    assert missing["load.tps_peak"]["reason"] == "bad_response"
    assert missing["load.tps_peak"]["message"] == (
        "an observation from prom was rejected: value -5.0 is not a finite number of zero or more"
    )
