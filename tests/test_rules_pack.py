"""The built-in order-308 pack as data, pack validation and overrides."""

from __future__ import annotations

import pytest

from rules.pack import PackError, apply_overrides, load_pack, parse_pack

# Criterion titles as printed in the order's Russian text, criteria 1 to 13.
ORDER_TITLES_RU = {
    1: "Реализация проектов с длительным внедрением и поэтапным вводом в "
    "промышленную эксплуатацию.",
    2: "Срок разработки более 12 месяцев.",
    3: "Высокая функциональная и архитектурная сложность решения.",
    4: "Реализация высоконагруженных систем, предусматривающих одновременную работу "
    "более 5 000 пользователей, обработку более 300 транзакций в секунду и хранение "
    "более 50 000 000 записей в базе данных.",
    5: "Использование проприетарного лицензируемого (закрытого) программного "
    "обеспечения.",
    6: "Использование технологического стека, не поддерживаемого платформой Qaztech .",
    7: "Необходимость размещения в специализированных или изолированных контурах.",
    8: "Необходимость использования специализированной аппаратной инфраструктуры.",
    9: "Необходимость использования выделенной серверной или сетевой инфраструктуры.",
    10: "Реализация транзакционных цифровых систем с требованиями к гарантированной "
    "целостности данных и непрерывности обработки операций (финансовые, платежные "
    "системы).",
    11: "Реализация систем видеоаналитики.",
    12: "Межгосударственный характер проекта.",
    13: "Цифровые системы с применением искусственного интеллекта.",
}

# Thresholds the order states in numbers.
ORDER_THRESHOLDS = {
    (2, "development_months"): 12,
    (4, "concurrent_users"): 5000,
    (4, "tps"): 300,
    (4, "records"): 50_000_000,
}

VALID_PACK = """\
id: tiny
version: "1"
criteria:
  - id: 1
    title_ru: Первый
    title_en: First
    condition:
      fact: load.tps_peak
      op: gt
      value: 10
      name: tps
      basis: order
"""


def test_builtin_pack_has_criteria_1_to_13(pack):
    assert [c.id for c in pack.criteria] == list(range(1, 14))


@pytest.mark.parametrize("criterion_id", sorted(ORDER_TITLES_RU))
def test_builtin_titles_quote_the_order(pack, criterion_id):
    assert pack.criterion(criterion_id).title_ru == ORDER_TITLES_RU[criterion_id]


def test_builtin_english_titles_present(pack):
    assert all(c.title_en for c in pack.criteria)


def test_order_thresholds_have_order_basis(pack):
    for (criterion_id, name), value in ORDER_THRESHOLDS.items():
        test = next(t for t in pack.criterion(criterion_id).tests() if t.name == name)
        assert test.value == value, (criterion_id, name)
        assert test.basis == "order", (criterion_id, name)


def test_every_other_test_is_policy_with_reason(pack):
    for criterion in pack.criteria:
        for test in criterion.tests():
            if (criterion.id, test.name) in ORDER_THRESHOLDS:
                continue
            assert test.basis == "policy", (criterion.id, test.name)
            assert test.reason, (criterion.id, test.name)


def test_criterion_4_strict_by_default(pack):
    criterion = pack.criterion(4)
    assert criterion.mode == "strict"
    assert criterion.modes["strict"].join == "all"
    assert criterion.modes["strict"].basis == "order"
    assert criterion.modes["loose"].join == "any"
    assert criterion.modes["loose"].basis == "policy"


def test_pack_sha256_is_of_the_file(vocabulary):
    import hashlib
    from importlib import resources

    text = (
        resources.files("rules").joinpath("packs", "order-308.yaml").read_text("utf-8")
    )
    pack = load_pack("order-308", vocabulary)
    assert pack.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_user_pack_file_loads(tmp_path, vocabulary):
    path = tmp_path / "tiny.yaml"
    path.write_text(VALID_PACK, encoding="utf-8")
    pack = load_pack(str(path), vocabulary)
    assert pack.id == "tiny"
    assert pack.criterion(1).tests()[0].value == 10


def test_unknown_fact_key_rejected_with_line(vocabulary):
    text = VALID_PACK.replace("load.tps_peak", "load.tps_max")
    with pytest.raises(PackError) as caught:
        parse_pack(text, "tiny.yaml", vocabulary)
    assert caught.value.line == 8
    assert "unknown fact key 'load.tps_max'" in str(caught.value)
    assert str(caught.value).startswith("tiny.yaml:8:")


def test_unknown_op_rejected_with_line(vocabulary):
    text = VALID_PACK.replace("op: gt", "op: greater")
    with pytest.raises(PackError) as caught:
        parse_pack(text, "tiny.yaml", vocabulary)
    assert caught.value.line == 9
    assert "unknown op 'greater'" in str(caught.value)


def test_group_without_children_rejected(vocabulary):
    condition = VALID_PACK.index("    condition:")
    text = VALID_PACK[:condition] + "    condition:\n      all: []\n"
    with pytest.raises(PackError) as caught:
        parse_pack(text, "tiny.yaml", vocabulary)
    assert caught.value.line == 8
    assert "'all' needs at least one condition" in str(caught.value)


def test_unknown_field_rejected_with_line(vocabulary):
    text = VALID_PACK.replace(
        "      basis: order", "      basis: order\n      colour: red"
    )
    with pytest.raises(PackError) as caught:
        parse_pack(text, "tiny.yaml", vocabulary)
    assert caught.value.line == 13
    assert "unknown field 'colour' in a test" in str(caught.value)


def test_repeated_key_rejected_with_line(vocabulary):
    text = VALID_PACK.replace("      op: gt", "      op: gt\n      op: lt")
    with pytest.raises(PackError) as caught:
        parse_pack(text, "tiny.yaml", vocabulary)
    assert caught.value.line == 10
    assert "key 'op' appears twice" in str(caught.value)


def test_policy_without_reason_rejected(vocabulary):
    text = VALID_PACK.replace("basis: order", "basis: policy")
    with pytest.raises(PackError, match="needs a one-line 'reason'"):
        parse_pack(text, "tiny.yaml", vocabulary)


def test_numeric_op_on_flag_rejected(vocabulary):
    text = VALID_PACK.replace("load.tps_peak", "network.isolated_segment")
    with pytest.raises(PackError, match="needs a number fact"):
        parse_pack(text, "tiny.yaml", vocabulary)


def test_invalid_yaml_rejected_with_line(vocabulary):
    with pytest.raises(PackError) as caught:
        parse_pack("id: x\ncriteria: [\n", "bad.yaml", vocabulary)
    assert caught.value.line == 3


def test_missing_pack_file_names_path(vocabulary, tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(PackError, match="cannot read the rule pack"):
        load_pack(str(missing), vocabulary)


def test_threshold_override_becomes_policy(pack):
    changed = apply_overrides(pack, thresholds={"4.tps": 1000})
    test = next(t for t in changed.criterion(4).tests() if t.name == "tps")
    assert test.value == 1000
    assert test.basis == "policy"
    assert test.overridden_from == 300


def test_threshold_override_leaves_original_pack(pack):
    apply_overrides(pack, thresholds={"4.tps": 1000})
    test = next(t for t in pack.criterion(4).tests() if t.name == "tps")
    assert test.value == 300


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("4.speed", "criterion 4 has no test 'speed'"),
        ("99.tps", "no criterion 99"),
        ("tps", "expected CRITERION.NAME"),
    ],
)
def test_threshold_override_bad_address(pack, address, message):
    with pytest.raises(PackError, match=message):
        apply_overrides(pack, thresholds={address: 1})


def test_unknown_mode_rejected(pack):
    with pytest.raises(PackError, match="criterion 4 has no mode 'lax'"):
        apply_overrides(pack, modes={4: "lax"})


def test_min_met_override(pack):
    assert apply_overrides(pack, min_met=3).min_met == 3


def test_min_met_above_criteria_count_rejected(pack):
    with pytest.raises(PackError, match="14 is more than the 13 criteria"):
        apply_overrides(pack, min_met=14)


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), -10, "300"])
def test_threshold_override_rejects_non_numbers(pack, value):
    with pytest.raises(PackError, match="expected a finite number of zero or more"):
        apply_overrides(pack, thresholds={"4.tps": value})


def test_loose_mode_is_policy(pack, vocabulary):
    from rules.engine import evaluate_criterion
    from rules.resolve import Resolution

    loose = apply_overrides(pack, modes={4: "loose"})
    entry = evaluate_criterion(loose.criterion(4), Resolution(), vocabulary, [])
    assert entry["basis"] == "policy"
    assert entry["mode"] == "loose"


def test_nan_threshold_in_pack_rejected(vocabulary):
    text = VALID_PACK.replace("value: 10", "value: .nan")
    with pytest.raises(PackError) as caught:
        parse_pack(text, "tiny.yaml", vocabulary)
    assert caught.value.line == 10
    assert "needs a finite numeric 'value'" in str(caught.value)


def test_pack_min_met_above_criteria_rejected(vocabulary):
    text = VALID_PACK.replace("criteria:", "min_met: 2\ncriteria:")
    with pytest.raises(PackError, match="min_met 2 is more than the pack's 1 criteria"):
        parse_pack(text, "tiny.yaml", vocabulary)
