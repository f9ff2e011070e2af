"""Resolution of observations into one value per key."""

from __future__ import annotations

from rules.resolve import resolve
from tests.helpers import TODAY, fact


def resolved(vocabulary, facts):
    return resolve(facts, vocabulary, today=TODAY)


def test_records_sum_over_databases(vocabulary):
    result = resolved(
        vocabulary,
        [
            fact("data.records_total", 1_000_000, scope="main"),
            fact("data.records_total", 200_000, scope="archive"),
        ],
    )
    assert result.resolved["data.records_total"].value == 1_200_000
    assert result.resolved["data.records_total"].scopes == ["main", "archive"]


def test_same_scope_counted_once(vocabulary):
    result = resolved(
        vocabulary,
        [
            fact("data.records_total", 1_000_000, scope="main", source="database"),
            fact("data.records_total", 990_000, scope="main", source="exporter"),
        ],
    )
    assert result.resolved["data.records_total"].value == 1_000_000


def test_peak_is_max(vocabulary):
    result = resolved(
        vocabulary,
        [
            fact("load.tps_peak", 120.5, scope="a"),
            fact("load.tps_peak", 80.0, scope="b"),
        ],
    )
    assert result.resolved["load.tps_peak"].value == 120.5


def test_components_union_deduplicated(vocabulary):
    result = resolved(
        vocabulary,
        [
            fact(
                "stack.components", [{"name": "PostgreSQL", "version": "15"}], scope="a"
            ),
            fact(
                "stack.components",
                [{"name": "PostgreSQL", "version": "15"}, {"name": "MariaDB"}],
                scope="b",
            ),
        ],
    )
    names = [item["name"] for item in result.resolved["stack.components"].value]
    assert names == ["PostgreSQL", "MariaDB"]


def test_flag_any(vocabulary):
    result = resolved(
        vocabulary,
        [
            fact("integrity.guaranteed_transactions", False, scope="a"),
            fact("integrity.guaranteed_transactions", True, scope="b"),
        ],
    )
    assert result.resolved["integrity.guaranteed_transactions"].value is True


def test_measured_wins_over_declared_with_discrepancy(vocabulary):
    result = resolved(
        vocabulary,
        [
            fact("load.concurrent_users_peak", 8000, provenance="declared"),
            fact("load.concurrent_users_peak", 3100, scope="prod"),
        ],
    )
    chosen = result.resolved["load.concurrent_users_peak"]
    assert chosen.value == 3100
    assert chosen.provenance == "measured"
    assert result.discrepancies == [
        {
            "key": "load.concurrent_users_peak",
            "used": "measured",
            "measured": 3100,
            "declared": 8000,
            "unit": "users",
        }
    ]


def test_declared_used_when_nothing_measured(vocabulary):
    result = resolved(
        vocabulary, [fact("load.concurrent_users_peak", 8000, provenance="declared")]
    )
    assert result.resolved["load.concurrent_users_peak"].provenance == "declared"
    assert result.discrepancies == []


def test_expired_declaration_ignored(vocabulary):
    stale = fact(
        "system.domain",
        "payments",
        provenance="declared",
        details={"expires": "2026-12-03", "declared_by": {"name": "A", "role": "CTO"}},
    )
    result = resolved(vocabulary, [stale])
    assert "system.domain" not in result.resolved
    assert result.expired[0]["key"] == "system.domain"
    assert result.expired[0]["expires"] == "2026-12-03"


def test_declaration_valid_on_expiry_day(vocabulary):
    current = fact(
        "system.domain",
        "payments",
        provenance="declared",
        details={"expires": "2026-12-04"},
    )
    assert resolved(vocabulary, [current]).resolved["system.domain"].value == "payments"


def test_wrong_type_rejected(vocabulary):
    result = resolved(vocabulary, [fact("data.records_total", "many")])
    assert "data.records_total" not in result.resolved
    assert result.rejected[0]["key"] == "data.records_total"


def test_bool_is_not_a_number(vocabulary):
    result = resolved(vocabulary, [fact("data.records_total", True)])
    assert "data.records_total" not in result.resolved


def test_unknown_key_rejected(vocabulary):
    result = resolved(vocabulary, [fact("load.magic", 1)])
    assert result.rejected == [{"key": "load.magic", "reason": "not in the vocabulary"}]


def test_lower_bound_carried(vocabulary):
    result = resolved(
        vocabulary,
        [
            fact("data.records_total", 100, scope="a", bound="lower"),
            fact("data.records_total", 50, scope="b"),
        ],
    )
    assert result.resolved["data.records_total"].bound == "lower"
    assert result.resolved["data.records_total"].value == 150
