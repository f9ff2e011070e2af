"""The nmap part of the network collector: preflight, scan, facts."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from collectors import errors
from collectors.network import nmap
from collectors.network.evidence import ServiceMap
from collectors.network.services import identify
from collectors.network.targets import Plan, plan_targets

if TYPE_CHECKING:
    from collectors.network.collector import NetworkCollector, _Run

logger = logging.getLogger(__name__)

SERVICES = "network.services"
STACK = "stack.components"
PROPRIETARY = "software.proprietary"
AI = "ai.components"
VIDEO = "video.analytics"
DATA_STORES = "architecture.data_stores"
SCAN_KEYS = (SERVICES, STACK, PROPRIETARY, AI, VIDEO, DATA_STORES)

# Scan details repeated in every fact besides network.services.
SHORT_DETAILS = (
    "targets",
    "scanned",
    "ports",
    "scan_type",
    "complete",
    "unfinished",
    "caveat",
)

PARTIAL_VIEW = (
    "a port scan sees only what listens on the scanned ports of the targets, so "
    "this list is a lower bound"
)

# Characters of nmap's stderr kept in the details.
STDERR_LIMIT = 2000

# Seconds kept back from the budget for turning nmap's output into facts.
FINISH_MARGIN = 2.0


def record_scan(collector: NetworkCollector, run: _Run) -> None:
    """Scan the collector's targets and record the facts nmap's output gives."""
    settings = collector.scan
    checked = nmap.preflight(
        nmap_path=settings.nmap_path,
        scan_type=settings.scan_type,
        service_detection=settings.service_detection,
    )
    for problem in checked.problems:
        run.findings.note(f"{problem.message}; fix: {problem.fix}")
    if not checked.usable:
        message = "; ".join(
            f"{p.message} (fix: {p.fix})" for p in checked.problems if p.blocking
        )
        _gap_all(collector, run, errors.SOURCE_FAILED, f"nmap cannot run: {message}")
        return
    planned = plan_targets(
        settings.targets, settings.policy, timeout=settings.resolve_timeout
    )
    for problem in planned.problems:
        run.findings.note(problem)
    for entry in planned.names:
        if entry.get("error") or entry["rejected"]:
            # A target left out makes the scan partial, so a CI gate reports it.
            left_out = entry.get("error") or ", ".join(
                f"{r['address']} ({r['rule']})" for r in entry["rejected"]
            )
            message = f"target {entry['name']} was not fully scanned: {left_out}"
            run.findings.gap(SERVICES, errors.SOURCE_FAILED, message, entry["name"])
    if not planned.targets:
        message = "no target is left to scan: " + "; ".join(planned.problems)
        _gap_all(collector, run, errors.SOURCE_FAILED, message)
        return
    try:
        result = _scan_families(collector, run, checked, planned.targets)
    except nmap.NmapError as exc:
        stderr = f"; nmap stderr: {exc.stderr.strip()}" if exc.stderr.strip() else ""
        _gap_all(collector, run, errors.BAD_RESPONSE, f"{exc.message}{stderr}")
        return
    _record_result(collector, run, checked, result, planned)


def _scan_families(
    collector: NetworkCollector,
    run: _Run,
    checked: nmap.Preflight,
    targets: list[str],
) -> nmap.ScanResult:
    """Run one nmap per address family (nmap scans one family per run) and merge.

    A family left without budget is reported unfinished.
    """
    settings = collector.scan
    ipv6 = [target for target in targets if ":" in target]
    ipv4 = [target for target in targets if ":" not in target]
    results = []
    failures: list[nmap.NmapError] = []
    for group in (ipv4, ipv6):
        if not group:
            continue
        budget = run.remaining() - FINISH_MARGIN
        if budget <= 0:
            results.append(_not_run(group))
            continue
        try:
            result = nmap.run_scan(
                group,
                nmap.port_spec(settings.ports),
                preflight=checked,
                service_detection=settings.service_detection,
                budget=budget,
                host_timeout=settings.host_timeout,
                version_intensity=settings.version_intensity,
            )
        except nmap.NmapError as exc:
            failures.append(exc)
            stderr = exc.stderr.strip()
            reason = f"{exc.message}; nmap stderr: {stderr}" if stderr else exc.message
            result = _not_run(group, reason)
        results.append(result)
    if len(failures) == len(results):
        # Nothing was scanned at all: the whole scan failed.
        raise failures[0]
    return _merge(results)


def _not_run(
    targets: list[str], error: str = "no budget was left to scan them"
) -> nmap.ScanResult:
    return nmap.ScanResult(
        command=[],
        complete=False,
        elapsed=0.0,
        hosts=[],
        ports=[],
        unfinished=list(targets),
        stderr="",
        warnings=[],
        exit_code=None,
        pid=0,
        error=error,
    )


def _merge(results: list[nmap.ScanResult]) -> nmap.ScanResult:
    if len(results) == 1:
        return results[0]
    errors_seen = [r.error for r in results if r.error]
    return nmap.ScanResult(
        # Both commands, one after the other, for the details.
        command=[arg for r in results for arg in [*r.command, ";"]][:-1],
        complete=all(r.complete for r in results),
        elapsed=sum(r.elapsed for r in results),
        hosts=[h for r in results for h in r.hosts],
        ports=[p for r in results for p in r.ports],
        unfinished=[t for r in results for t in r.unfinished],
        stderr="".join(r.stderr for r in results),
        warnings=[w for r in results for w in r.warnings],
        exit_code=next((r.exit_code for r in results if r.exit_code), 0),
        pid=results[-1].pid,
        error="; ".join(errors_seen) or None,
    )


def _record_result(
    collector: NetworkCollector,
    run: _Run,
    checked: nmap.Preflight,
    result: nmap.ScanResult,
    planned: Plan,
) -> None:
    services = ServiceMap()
    for record in result.ports:
        if record.state == "open":
            services.add(_service(record), identify(record))
    details = _scan_details(collector, checked, result, planned)
    bound = None if result.complete else "lower"
    method = _method(checked)

    # The full scan record goes with network.services; the other facts name
    # the scan in short and point there.
    short = {key: details[key] for key in SHORT_DETAILS if key in details}
    short["scan"] = f"the nmap command and its readings are in {SERVICES}"

    def add(key: str, value: Any, extra: dict[str, Any] | None = None) -> None:
        fact_details = {**short, **(extra or {}), "caveat": PARTIAL_VIEW}
        # A lower bound always: components that listen on no scanned port stay
        # unseen, so what was found cannot rule out anything else.
        run.findings.add(
            collector.fact(key, value, method, fact_details, bound="lower")
        )

    run.findings.add(
        collector.fact(
            SERVICES,
            services.services,
            method,
            {**details, "filtered": _filtered(result)},
            bound=bound,
        )
    )
    # A port scan cannot show what runs behind closed ports or inside
    # processes, so an empty list here proves nothing and is left out.
    for key, items in (
        (STACK, services.components()),
        (PROPRIETARY, services.proprietary()),
        (AI, services.ai()),
    ):
        if items:
            add(key, items)
    video_items, video_details = services.video()
    if video_items:
        add(VIDEO, video_items, video_details)
    if collector.scan.count_data_stores:
        endpoints = services.data_store_endpoints()
        # One server can listen on several addresses (a cluster's node, virtual
        # and SCAN addresses), so distinct products are counted, not endpoints.
        # A port number alone names no product, so only confirmed ones count.
        products = sorted(
            {e["product"] for e in endpoints if e["match"] == "version_detection"}
        )
        run.findings.add(
            collector.fact(
                DATA_STORES,
                len(products),
                method,
                {**short, "counted": products, "endpoints": endpoints},
                unit="count",
                # Stores outside the targets or behind closed ports are not seen.
                bound="lower",
            )
        )
    if not result.complete:
        unfinished = ", ".join(result.unfinished) or "some targets"
        message = f"nmap did not finish {unfinished}: {result.error}"
        for key in SCAN_KEYS:
            run.findings.gap(key, errors.TIMED_OUT, message, unfinished)


def _service(record: nmap.PortRecord) -> dict[str, Any]:
    service: dict[str, Any] = {
        "name": f"{_host_text(record.host)}:{record.port}/{record.protocol}",
        "host": record.host,
        "port": record.port,
        "protocol": record.protocol,
        "state": record.state,
        "service": record.service,
        "product": record.product,
        "version": record.version,
        "method": record.method,
        "conf": record.conf,
    }
    if record.extrainfo:
        service["extrainfo"] = record.extrainfo
    if record.cpe:
        service["cpe"] = list(record.cpe)
    if record.devicetype:
        service["devicetype"] = record.devicetype
    if record.fingerprint:
        service["fingerprint"] = record.fingerprint
    return service


def _host_text(host: str) -> str:
    """Return the host in brackets when it is an IPv6 address, as URLs write it."""
    return f"[{host}]" if ":" in host else host


def _filtered(result: nmap.ScanResult) -> list[str]:
    return [
        f"{_host_text(r.host)}:{r.port}/{r.protocol}"
        for r in result.ports
        if r.state in ("filtered", "open|filtered")
    ]


def _method(checked: nmap.Preflight) -> str:
    kind = "TCP SYN" if checked.scan_type == "syn" else "TCP connect"
    detection = " with version detection (-sV)" if checked.service_detection else ""
    return f"nmap {checked.nmap_version or ''} {kind} scan{detection}".replace(
        "  ", " "
    )


def _scan_details(
    collector: NetworkCollector,
    checked: nmap.Preflight,
    result: nmap.ScanResult,
    planned: Plan,
) -> dict[str, Any]:
    details: dict[str, Any] = {
        "targets": list(collector.scan.targets),
        "scanned": planned.targets,
        "ports": nmap.port_spec(collector.scan.ports),
        "command": result.command,
        "scan_type": checked.scan_type,
        "scan_type_requested": checked.scan_type_requested,
        "elapsed_seconds": round(result.elapsed, 3),
        "complete": result.complete,
        # nmap runs with -Pn, so every address it finished is listed as up;
        # hosts with an open port are the ones known to exist.
        "hosts_with_open_ports": sorted(
            {r.host for r in result.ports if r.state == "open"}
        ),
    }
    if planned.names:
        details["names"] = planned.names
    if planned.repeated:
        details["repeated_targets"] = planned.repeated
    if result.warnings:
        details["nmap_warnings"] = result.warnings
    stderr = result.stderr.strip()
    if stderr:
        details["nmap_stderr"] = stderr[:STDERR_LIMIT]
    if not result.complete:
        details["unfinished"] = result.unfinished
        details["caveat"] = (
            f"the scan was cut ({result.error}), so hosts it did not finish are missing"
        )
    return details


def _gap_all(collector: NetworkCollector, run: _Run, reason: str, message: str) -> None:
    logger.warning("network collector: %s", message)
    for key in SCAN_KEYS:
        run.findings.gap(key, reason, message, collector.scope)
