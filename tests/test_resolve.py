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


def failed_gap(key, scope, reason="unreachable"):
    return {"key": key, "reason": reason, "message": "refused", "scope": scope}


def test_failed_scope_makes_sum_lower_bound(vocabulary):
    result = resolve(
        [fact("data.records_total", 14_577, scope="main")],
        vocabulary,
        today=TODAY,
        gaps=[failed_gap("data.records_total", "down")],
    )
    chosen = result.resolved["data.records_total"]
    assert chosen.bound == "lower"
    assert chosen.caveats == [
        "down could not be read (unreachable), so the value covers only main"
    ]


def test_no_data_gap_keeps_value_exact(vocabulary):
    result = resolve(
        [fact("data.records_total", 100, scope="main")],
        vocabulary,
        today=TODAY,
        gaps=[failed_gap("data.records_total", "copy", reason="no_data")],
    )
    assert result.resolved["data.records_total"].bound is None


def test_flag_true_survives_failed_scope(vocabulary):
    result = resolve(
        [fact("integrity.guaranteed_transactions", True, scope="a")],
        vocabulary,
        today=TODAY,
        gaps=[failed_gap("integrity.guaranteed_transactions", "b")],
    )
    assert result.resolved["integrity.guaranteed_transactions"].bound is None


def test_max_dominated_sample_not_a_bound(vocabulary):
    result = resolved(
        vocabulary,
        [
            fact("load.tps_peak", 350.0, scope="prometheus"),
            fact("load.tps_peak", 12.0, scope="main", bound="lower"),
        ],
    )
    assert result.resolved["load.tps_peak"].value == 350.0
    assert result.resolved["load.tps_peak"].bound is None


def test_max_from_sample_is_lower_bound(vocabulary):
    result = resolved(vocabulary, [fact("load.tps_peak", 0.0, bound="lower")])
    assert result.resolved["load.tps_peak"].bound == "lower"


def test_declared_kept_when_lower_bound_below(vocabulary):
    result = resolved(
        vocabulary,
        [
            fact("load.tps_peak", 500.0, provenance="declared"),
            fact("load.tps_peak", 0.0, bound="lower"),
        ],
    )
    chosen = result.resolved["load.tps_peak"]
    assert chosen.value == 500.0
    assert chosen.provenance == "declared"
    assert result.discrepancies == []
    assert chosen.caveats == [
        "the measured value 0 is a lower bound, consistent with this declaration"
    ]


def test_declared_flag_kept_over_lower_false(vocabulary):
    result = resolved(
        vocabulary,
        [
            fact("infrastructure.dedicated_network", True, provenance="declared"),
            fact("infrastructure.dedicated_network", False, bound="lower"),
        ],
    )
    chosen = result.resolved["infrastructure.dedicated_network"]
    assert chosen.value is True
    assert chosen.provenance == "declared"
    assert result.discrepancies == []
    assert chosen.caveats == [
        "the measured value false is a lower bound, consistent with this declaration"
    ]


def test_exact_false_flag_beats_declared(vocabulary):
    result = resolved(
        vocabulary,
        [
            fact("infrastructure.dedicated_network", True, provenance="declared"),
            fact("infrastructure.dedicated_network", False),
        ],
    )
    assert result.resolved["infrastructure.dedicated_network"].value is False
    assert result.discrepancies[0]["declared"] is True


def test_lower_bound_above_declared_is_discrepancy(vocabulary):
    result = resolved(
        vocabulary,
        [
            fact("load.tps_peak", 100.0, provenance="declared"),
            fact("load.tps_peak", 250.0, bound="lower"),
        ],
    )
    assert result.resolved["load.tps_peak"].value == 250.0
    assert result.discrepancies[0]["declared"] == 100.0


def test_known_minimum_sums_exact_parts(vocabulary):
    result = resolved(
        vocabulary,
        [
            fact(
                "data.records_total",
                16_577,
                scope="a",
                uncertain=True,
                details={"lower_bound": 16_077},
            ),
            fact("data.records_total", 1_000, scope="b"),
        ],
    )
    assert result.resolved["data.records_total"].known_minimum == 17_077


def test_nan_rejected(vocabulary):
    result = resolved(vocabulary, [fact("load.tps_peak", float("nan"))])
    assert "load.tps_peak" not in result.resolved
    assert (
        result.rejected[0]["reason"]
        == "value nan is not a finite number of zero or more"
    )


def test_negative_number_rejected(vocabulary):
    result = resolved(vocabulary, [fact("load.tps_peak", -5.0)])
    assert "load.tps_peak" not in result.resolved
    assert (
        result.rejected[0]["reason"]
        == "value -5.0 is not a finite number of zero or more"
    )


def test_invalid_date_rejected(vocabulary):
    result = resolved(vocabulary, [fact("data.records_forecast", "2026-02-30")])
    assert "data.records_forecast" not in result.resolved
