"""One scan: plan the collectors from the config, run them, judge, assemble the report."""

from __future__ import annotations

import datetime as dt
import logging
import platform
import time
from collections.abc import Callable
from typing import Any

from agent import __version__
from agent.config import Config
from agent.errors import ConfigError
from agent.plan import extend_catalogues, plan_collectors
from agent.runner import Outcome, Planned, run_collectors
from rules.derive import (
    CatalogueError,
    StackCatalogue,
    derive_unsupported,
    load_catalogue,
)
from rules.engine import evaluate
from rules.pack import Pack, PackError, apply_overrides, load_pack
from rules.resolve import resolve
from rules.vocabulary import Vocabulary, load_vocabulary

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1.0"
# Sources this version can collect from; the rules name only these as a fix.
AVAILABLE_SOURCES = {
    "declared",
    "host",
    "database",
    "prometheus",
    "software",
    "repository",
    "network",
}


def load_rules(config: Config, vocabulary: Vocabulary) -> Pack:
    """Load the configured pack with the config's overrides; ConfigError if invalid."""
    rules = config.rules
    try:
        pack = load_pack(rules.pack, vocabulary)
        return apply_overrides(
            pack, thresholds=rules.thresholds, modes=rules.modes, min_met=rules.min_met
        )
    except PackError as exc:
        where = "" if exc.source.startswith("rules.") else "rules.pack: "
        raise ConfigError(config.origin, f"{where}{exc}") from None


def load_stack_catalogue(config: Config) -> StackCatalogue:
    """Load the supported-stack catalogue the config names; ConfigError if invalid."""
    rules = config.rules
    try:
        extra = [
            entry.model_dump(exclude_none=True) for entry in rules.supported_stack_extra
        ]
        return load_catalogue(rules.supported_stack, extra)
    except CatalogueError as exc:
        raise ConfigError(config.origin, f"rules.supported_stack: {exc}") from None


def _utc(timestamp: float) -> str:
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def judge(
    facts: list[dict[str, Any]],
    collectors: list[dict[str, Any]],
    pack: Pack,
    vocabulary: Vocabulary,
    *,
    today: dt.date,
    uncertain_band: float,
    catalogue: StackCatalogue | None = None,
    derived_at: str = "",
) -> dict[str, Any]:
    """Resolve facts and evaluate the pack; return the report's judged sections.

    Facts the rules derive (the stack outside the supported catalogue) are
    appended to `facts`, so the report lists every observation a verdict used.
    """
    gaps = [gap for status in collectors for gap in status.get("gaps", [])]
    resolution = resolve(facts, vocabulary, today=today, gaps=gaps)
    derived = derive_unsupported(resolution, catalogue or load_catalogue())
    if derived is not None:
        derived["observed_at"] = derived_at
        facts.append(derived)
    criteria, classification = evaluate(
        pack,
        resolution,
        vocabulary,
        collectors,
        uncertain_band=uncertain_band,
        available=AVAILABLE_SOURCES,
    )
    return {
        "resolved": {
            key: r.to_dict() for key, r in sorted(resolution.resolved.items())
        },
        "discrepancies": resolution.discrepancies,
        "expired_declarations": resolution.expired,
        "rejected_facts": resolution.rejected,
        "criteria": criteria,
        "classification": classification,
    }


def run_scan(
    config: Config,
    *,
    on_planned: Callable[[list[Planned]], None] | None = None,
    on_finish: Callable[[Outcome], None] | None = None,
) -> dict[str, Any]:
    """Scan the configured system and return the report as a dict."""
    started = time.time()
    today = dt.datetime.fromtimestamp(started, dt.UTC).date()
    vocabulary = load_vocabulary()
    pack = load_rules(config, vocabulary)
    catalogue = load_stack_catalogue(config)
    extend_catalogues(config)
    plans = plan_collectors(config, pack, vocabulary, today)
    if on_planned:
        on_planned(plans)
    log.info("scan of %s started: %d collectors", config.system.name, len(plans))
    outcomes = run_collectors(plans, on_finish=on_finish)
    collectors = [outcome.to_status() for outcome in outcomes]
    facts = [fact.to_dict() for outcome in outcomes for fact in outcome.facts]
    judged = judge(
        facts,
        collectors,
        pack,
        vocabulary,
        today=today,
        uncertain_band=config.rules.uncertain_band,
        catalogue=catalogue,
        derived_at=_utc(time.time()),
    )
    duration = time.time() - started
    log.info("scan of %s finished in %.2f s", config.system.name, duration)
    system = config.system.model_dump(exclude_none=True)
    return {
        "schema_version": SCHEMA_VERSION,
        "agent": {"name": "techcomplex-agent", "version": __version__},
        "rule_pack": {
            "id": pack.id,
            "version": pack.version,
            "sha256": pack.sha256,
            "source": pack.source,
            "origin": pack.origin,
            "min_met": pack.min_met,
        },
        "system": {**system, "config": config.origin, "scanned_from": platform.node()},
        "scanned_at": _utc(started),
        "duration_seconds": round(duration, 3),
        "collectors": collectors,
        "facts": facts,
        **judged,
    }
