"""The addresses a scan is given: targets without repeats, names resolved.

The scope guard checks the config's text when it is loaded and never resolves a
name. When the scan starts, each name is resolved and every address it gives
passes the guard again. So a name cannot lead the scan outside the allowlist or
into public address space, and nmap receives addresses only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from collectors.network import probes
from collectors.network.scope import ScopeError, ScopePolicy, Target, check_targets

logger = logging.getLogger(__name__)


@dataclass
class Plan:
    """The targets for nmap, and those left out with the reason."""

    targets: list[str] = field(default_factory=list)
    # Names resolved: name, addresses scanned, addresses rejected with the rule.
    names: list[dict[str, Any]] = field(default_factory=list)
    # Targets dropped because another target already covers them.
    repeated: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def plan_targets(
    texts: tuple[str, ...], policy: ScopePolicy | None, *, timeout: float
) -> Plan:
    """Turn the configured targets into distinct addresses and networks for nmap."""
    plan = Plan()
    if policy is None:
        plan.targets = list(dict.fromkeys(texts))
        return plan
    accepted = check_targets(list(texts), policy)
    networks = [t for t in accepted if t.network is not None]
    names = list(dict.fromkeys(t.name for t in accepted if t.name is not None))
    for entry in probes.resolve_names(names, timeout=timeout) if names else []:
        networks.extend(_recheck(entry, policy, plan))
    kept = _distinct(networks, plan)
    plan.targets = [_nmap_text(target) for target in kept]
    return plan


def _recheck(entry: dict[str, Any], policy: ScopePolicy, plan: Plan) -> list[Target]:
    record: dict[str, Any] = {"name": entry["name"], "scanned": [], "rejected": []}
    plan.names.append(record)
    if entry.get("error"):
        record["error"] = entry["error"]
        plan.problems.append(
            f"target {entry['name']} did not resolve ({entry['error']}), so it "
            "was not scanned"
        )
        return []
    kept = []
    for address in entry["addresses"]:
        try:
            [target] = check_targets([address.split("%", 1)[0]], policy)
        except ScopeError as exc:
            record["rejected"].append({"address": address, "rule": exc.rule})
            plan.problems.append(
                f"target {entry['name']} resolved to {address}, which the scope "
                f"guard rejects ({exc.rule}: {exc.message}); it was not scanned"
            )
            continue
        record["scanned"].append(address)
        kept.append(target)
    return kept


def _distinct(targets: list[Target], plan: Plan) -> list[Target]:
    """Drop a target that equals or lies inside another, keeping the first of equals."""
    kept: list[Target] = []
    for index, target in enumerate(targets):
        network = target.network
        assert network is not None
        covered = any(
            other.network is not None
            and other.network.version == network.version
            and network.subnet_of(other.network)
            and (other.network != network or other_index < index)
            for other_index, other in enumerate(targets)
            if other_index != index
        )
        if covered:
            plan.repeated.append(target.text)
        else:
            kept.append(target)
    return kept


def _nmap_text(target: Target) -> str:
    network = target.network
    assert network is not None
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)
