"""Rule packs: loading, validation and the user's overrides.

A pack is YAML: an id, a version, the legal source it encodes, and one entry per
criterion with a condition tree. Validation names the file, the line and the value
at fault, so a user who writes their own pack can fix it at once.
"""

from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from rules.vocabulary import Vocabulary
from rules.yamlload import line_of, load_with_lines

BUILTIN_PACKS = ("order-308",)
COMPARISONS = ("gt", "ge", "lt", "le", "eq", "ne")
OPS = (*COMPARISONS, "in", "is_true", "nonempty")
BASES = ("order", "policy")
GROUPS = ("all", "any", "not", "at_least")

# Fields each part of a pack may have; anything else is a typo to report.
PACK_FIELDS = {
    "id",
    "version",
    "source",
    "min_met",
    "min_met_basis",
    "min_met_reason",
    "criteria",
}
CRITERION_FIELDS = {"id", "title_ru", "title_en", "condition", "modes", "mode"}
MODE_FIELDS = {"join", "basis", "reason"}
TEST_FIELDS = {"fact", "op", "value", "name", "basis", "reason"}
GROUP_FIELDS = {"all", "any", "not", "at_least", "of", "basis", "reason"}


class PackError(Exception):
    """A rule pack that cannot be used; the message names file, line and value."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line


@dataclass
class Test:
    """A leaf of a condition: one fact compared with one threshold."""

    fact: str
    op: str
    name: str
    basis: str
    value: Any = None
    reason: str | None = None
    # The pack's own threshold when the user's config replaced it.
    overridden_from: Any = None


@dataclass
class Group:
    kind: str
    children: list[Test | Group]
    count: int = 0
    basis: str | None = None
    reason: str | None = None


@dataclass
class Mode:
    """One way to join a criterion's top-level tests, with the basis of that choice."""

    join: str
    basis: str
    reason: str | None = None


@dataclass
class Criterion:
    id: int
    title_ru: str
    title_en: str
    condition: Test | Group
    modes: dict[str, Mode] = field(default_factory=dict)
    mode: str | None = None

    def tests(self) -> list[Test]:
        return list(_iter_tests(self.condition))


@dataclass
class Pack:
    id: str
    version: str
    source: str
    sha256: str
    criteria: list[Criterion]
    min_met: int = 1
    # "built-in" for a pack shipped with the agent, else the file it was read from.
    origin: str = "built-in"

    def criterion(self, criterion_id: int) -> Criterion:
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise KeyError(criterion_id)


def _iter_tests(node: Test | Group):
    if isinstance(node, Test):
        yield node
        return
    for child in node.children:
        yield from _iter_tests(child)


class _Parser:
    def __init__(self, source: str, vocabulary: Vocabulary) -> None:
        self.source = source
        self.vocabulary = vocabulary

    def fail(self, node: Any, message: str, key: str | None = None) -> PackError:
        return PackError(self.source, line_of(node, key), message)

    def known_fields(self, node: dict, allowed: set[str], what: str) -> None:
        for key in node:
            if key not in allowed:
                expected = ", ".join(sorted(allowed))
                raise self.fail(
                    node, f"unknown field {key!r} in a {what}; expected {expected}", key
                )

    def require(self, node: dict, key: str, kind: type | tuple[type, ...]) -> Any:
        if key not in node:
            raise self.fail(node, f"missing field '{key}'")
        value = node[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
            raise self.fail(node, f"field '{key}' has an invalid value {value!r}", key)
        return value

    def pack(self, data: Any, sha256: str) -> Pack:
        if not isinstance(data, dict):
            raise PackError(self.source, None, "a rule pack must be a YAML mapping")
        self.known_fields(data, PACK_FIELDS, "pack")
        raw_criteria = self.require(data, "criteria", list)
        criteria = [self.criterion(entry) for entry in raw_criteria]
        seen: set[int] = set()
        for entry, criterion in zip(raw_criteria, criteria, strict=True):
            if criterion.id in seen:
                raise self.fail(entry, f"criterion id {criterion.id} appears twice")
            seen.add(criterion.id)
        min_met = data.get("min_met", 1)
        if not isinstance(min_met, int) or isinstance(min_met, bool) or min_met < 1:
            raise self.fail(
                data, f"min_met must be a positive integer, got {min_met!r}", "min_met"
            )
        if min_met > len(criteria):
            raise self.fail(
                data,
                f"min_met {min_met} is more than the pack's {len(criteria)} criteria",
                "min_met",
            )
        return Pack(
            id=str(self.require(data, "id", str)),
            version=str(self.require(data, "version", str | int | float)),
            source=str(data.get("source", "")),
            sha256=sha256,
            criteria=criteria,
            min_met=min_met,
        )

    def criterion(self, entry: Any) -> Criterion:
        if not isinstance(entry, dict):
            raise self.fail(entry, f"a criterion must be a mapping, got {entry!r}")
        self.known_fields(entry, CRITERION_FIELDS, "criterion")
        criterion_id = self.require(entry, "id", int)
        condition = self.node(self.require(entry, "condition", dict))
        modes = self.modes(entry)
        mode = entry.get("mode")
        if mode is not None and mode not in modes:
            raise self.fail(
                entry, f"mode {mode!r} is not one of the listed modes", "mode"
            )
        if modes and mode is None:
            raise self.fail(entry, "a criterion with modes needs a default 'mode'")
        joins = {m.join for m in modes.values()}
        if modes and not (isinstance(condition, Group) and condition.kind in joins):
            raise self.fail(entry, "modes need a top-level all or any condition")
        criterion = Criterion(
            id=criterion_id,
            title_ru=str(self.require(entry, "title_ru", str)).strip(),
            title_en=str(self.require(entry, "title_en", str)).strip(),
            condition=condition,
            modes=modes,
            mode=mode,
        )
        names = [test.name for test in criterion.tests()]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise self.fail(
                entry, f"test names repeat within the criterion: {duplicates}"
            )
        return criterion

    def modes(self, entry: dict) -> dict[str, Mode]:
        raw = entry.get("modes") or {}
        if not isinstance(raw, dict):
            raise self.fail(entry, "modes must map a mode name to its join", "modes")
        modes = {}
        for name, spec in raw.items():
            if not isinstance(spec, dict):
                raise self.fail(raw, f"mode {name!r} needs join and basis", name)
            self.known_fields(spec, MODE_FIELDS, "mode")
            join = spec.get("join")
            if join not in ("all", "any"):
                raise self.fail(
                    spec, f"mode {name!r} must join with all or any", "join"
                )
            basis, reason = self.basis(spec, required=True)
            modes[str(name)] = Mode(join, basis, reason)
        return modes

    def node(self, node: dict) -> Test | Group:
        kinds = [kind for kind in GROUPS if kind in node]
        if "fact" in node and kinds:
            raise self.fail(node, "a condition is either a test or a group, not both")
        if "fact" in node:
            self.known_fields(node, TEST_FIELDS, "test")
            return self.test(node)
        self.known_fields(node, GROUP_FIELDS, "group")
        if len(kinds) != 1:
            raise self.fail(
                node, f"a condition needs 'fact' or exactly one of {', '.join(GROUPS)}"
            )
        kind = kinds[0]
        basis, reason = self.basis(node, required=False)
        if kind == "not":
            return Group("not", [self.node(self.require(node, "not", dict))])
        if kind == "at_least":
            count = self.require(node, "at_least", int)
            children = self.children(node, "of")
            if not 1 <= count <= len(children):
                raise self.fail(node, f"at_least {count} of {len(children)} tests")
            return Group("at_least", children, count, basis, reason)
        return Group(kind, self.children(node, kind), basis=basis, reason=reason)

    def children(self, node: dict, key: str) -> list[Test | Group]:
        items = self.require(node, key, list)
        if not items:
            raise self.fail(node, f"'{key}' needs at least one condition", key)
        for item in items:
            if not isinstance(item, dict):
                raise self.fail(node, f"'{key}' contains a non-mapping item {item!r}")
        return [self.node(item) for item in items]

    def basis(self, node: dict, *, required: bool) -> tuple[str | None, str | None]:
        basis = node.get("basis")
        if basis is None and not required:
            return None, None
        if basis not in BASES:
            raise self.fail(node, f"basis must be 'order' or 'policy', got {basis!r}")
        reason = node.get("reason")
        if basis == "policy" and not reason:
            raise self.fail(node, "a policy threshold needs a one-line 'reason'")
        return basis, reason

    def test(self, node: dict) -> Test:
        fact = self.require(node, "fact", str)
        if fact not in self.vocabulary:
            raise self.fail(node, f"unknown fact key {fact!r}", "fact")
        op = self.require(node, "op", str)
        if op not in OPS:
            raise self.fail(
                node, f"unknown op {op!r}; expected one of {', '.join(OPS)}", "op"
            )
        spec = self.vocabulary[fact]
        value = node.get("value")
        ordering = op in COMPARISONS and op not in ("eq", "ne")
        if ordering and spec.type != "number":
            raise self.fail(node, f"op {op} needs a number fact; {fact} is {spec.type}")
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if ordering and not (numeric and math.isfinite(value)):
            raise self.fail(
                node, f"op {op} needs a finite numeric 'value', got {value!r}", "value"
            )
        if op == "in" and not isinstance(value, list):
            raise self.fail(node, f"op in needs a list 'value', got {value!r}")
        if op == "is_true" and spec.type != "bool":
            raise self.fail(
                node, f"op is_true needs a bool fact; {fact} is {spec.type}"
            )
        if op == "nonempty" and spec.type != "components":
            raise self.fail(
                node, f"op nonempty needs a list fact; {fact} is {spec.type}"
            )
        basis, reason = self.basis(node, required=True)
        return Test(
            fact=fact,
            op=op,
            name=str(self.require(node, "name", str)),
            basis=basis,
            value=value,
            reason=reason,
        )


def parse_pack(text: str, source: str, vocabulary: Vocabulary) -> Pack:
    """Parse and validate a pack's YAML text; raises PackError."""
    try:
        data = load_with_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or "invalid syntax"
        raise PackError(source, line, f"not valid YAML: {problem}") from None
    sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return _Parser(source, vocabulary).pack(data, sha256)


def load_pack(name_or_path: str, vocabulary: Vocabulary) -> Pack:
    """Load a built-in pack by id, or a pack file by path."""
    if name_or_path in BUILTIN_PACKS:
        resource = resources.files("rules").joinpath("packs", f"{name_or_path}.yaml")
        return parse_pack(resource.read_text("utf-8"), name_or_path, vocabulary)
    path = Path(name_or_path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise PackError(
            str(path),
            None,
            f"cannot read the rule pack ({exc.strerror}); give a built-in pack id "
            f"({', '.join(BUILTIN_PACKS)}) or a readable YAML file",
        ) from exc
    pack = parse_pack(text, str(path), vocabulary)
    pack.origin = str(path.resolve())
    return pack


def apply_overrides(
    pack: Pack,
    *,
    thresholds: dict[str, Any] | None = None,
    modes: dict[int, str] | None = None,
    min_met: int | None = None,
) -> Pack:
    """Return a copy of the pack with the user's thresholds, modes and min_met.

    A threshold is addressed as CRITERION.NAME, e.g. "4.tps". An overridden
    threshold is a choice of the user, so its basis becomes policy.
    """
    result = copy.deepcopy(pack)
    if min_met is not None:
        if min_met > len(result.criteria):
            raise PackError(
                "rules.min_met",
                None,
                f"{min_met} is more than the {len(result.criteria)} criteria of "
                f"pack {result.id}",
            )
        result.min_met = min_met
    for address, value in (thresholds or {}).items():
        test = _find_test(result, address)
        _check_threshold(address, test, value)
        test.overridden_from = test.value
        test.value = value
        test.basis = "policy"
        test.reason = (
            f"Set in the configuration; the pack's value is {test.overridden_from!r}."
        )
    for criterion_id, mode in (modes or {}).items():
        criterion = _find_criterion(result, criterion_id, "rules.modes")
        if mode not in criterion.modes:
            known = ", ".join(criterion.modes) or "none"
            raise PackError(
                "rules.modes",
                None,
                f"criterion {criterion_id} has no mode {mode!r} (modes: {known})",
            )
        criterion.mode = mode
    return result


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_threshold(address: str, test: Test, value: Any) -> None:
    if _is_number(test.value):
        if not _is_number(value) or not math.isfinite(value) or value < 0:
            raise PackError(
                "rules.thresholds",
                None,
                f"{address}: expected a finite number of zero or more, got {value!r}",
            )
        return
    if not isinstance(value, type(test.value)):
        raise PackError(
            "rules.thresholds",
            None,
            f"{address}: expected a {type(test.value).__name__} like the pack's "
            f"{test.value!r}, got {value!r}",
        )


def _find_criterion(pack: Pack, criterion_id: int, where: str) -> Criterion:
    try:
        return pack.criterion(criterion_id)
    except KeyError:
        ids = ", ".join(str(c.id) for c in pack.criteria)
        raise PackError(
            where, None, f"no criterion {criterion_id} in pack {pack.id} (ids: {ids})"
        ) from None


def _find_test(pack: Pack, address: str) -> Test:
    criterion_part, _, name = str(address).partition(".")
    if not criterion_part.isdigit() or not name:
        raise PackError(
            "rules.thresholds",
            None,
            f"{address!r}: expected CRITERION.NAME, e.g. 4.tps",
        )
    criterion = _find_criterion(pack, int(criterion_part), "rules.thresholds")
    for test in criterion.tests():
        if test.name == name:
            if test.value is None:
                raise PackError(
                    "rules.thresholds", None, f"{address}: this test has no threshold"
                )
            return test
    names = ", ".join(test.name for test in criterion.tests())
    raise PackError(
        "rules.thresholds",
        None,
        f"{address}: criterion {criterion.id} has no test {name!r} (tests: {names})",
    )
