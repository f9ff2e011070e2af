"""Planning a scan: the collectors the config enables, built and ready to run.

Every collector is built here, before anything is scanned, so that a secret that
cannot be read or a setting a collector rejects stops the scan with exit 2.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from agent import __version__
from agent.config import Config, parse_duration, read_secret
from agent.errors import ConfigError
from agent.logs import REDACTOR
from agent.runner import Planned
from collectors import declared as declared_collector
from rules.pack import Pack
from rules.vocabulary import Vocabulary

# Seconds the runner waits past the network collector's own budget.
NETWORK_GRACE = 10.0


def _threshold(pack: Pack, fact: str) -> float | None:
    """Return the pack's lower threshold on a fact (the first gt or ge test of it)."""
    for criterion in pack.criteria:
        for test in criterion.tests():
            if test.fact == fact and test.op in ("gt", "ge"):
                return test.value
    return None


def _declarations(
    config: Config, vocabulary: Vocabulary
) -> declared_collector.Declarations:
    section = config.declared
    facts: dict[str, tuple[Any, str | None]] = {}
    for key, value in section.facts.items():
        if key not in vocabulary:
            raise ConfigError(
                config.origin,
                f"declared.facts.{key}: unknown fact key; expected one of the "
                "vocabulary keys listed by `techcomplex facts`",
            )
        spec = vocabulary[key]
        if not spec.accepts(value):
            raise ConfigError(
                config.origin,
                f"declared.facts.{key}: expected {spec.expectation}, got {value!r}",
            )
        facts[key] = (value, spec.unit)
    dedicated = {"load.concurrent_users_peak": "expected_users"}
    for key, field_name in dedicated.items():
        if key in facts and getattr(section, field_name) is not None:
            raise ConfigError(
                config.origin,
                f"declared.facts.{key}: also declared as declared.{field_name}; "
                "declare it once",
            )
    return declared_collector.Declarations(
        declarant=declared_collector.Declarant(
            section.declared_by.name, section.declared_by.role
        ),
        declared_on=section.declared_on,
        expires=section.expires,
        development_started=section.development_started,
        development_finished=section.development_finished,
        commissioning_phases=None
        if section.commissioning_phases is None
        else [
            declared_collector.Stage(s.name, s.commissioned)
            for s in section.commissioning_phases
        ],
        domain=section.domain,
        interstate_partners=None
        if section.interstate_partners is None
        else [
            declared_collector.Partner(p.name, p.country, p.endpoint)
            for p in section.interstate_partners
        ],
        expected_users=section.expected_users,
        facts=facts,
    )


def _database_plan(config: Config, pack: Pack) -> Planned:
    from collectors.database import DatabaseCollector, DatabaseTarget

    settings = config.sources.database_settings
    targets = []
    for index, db in enumerate(config.sources.databases):
        password = read_secret(
            f"{config.origin}: sources.databases[{index}]",
            file=db.password_file,
            env=db.password_env,
        )
        REDACTOR.add(password)
        targets.append(
            DatabaseTarget(
                name=db.name,
                dsn=db.dsn,
                password=password,
                schemas=tuple(db.schemas) if db.schemas else None,
            )
        )
    threshold = _threshold(pack, "data.records_total")
    try:
        collector = DatabaseCollector(
            targets,
            records_threshold=int(threshold) if threshold is not None else 50_000_000,
            exact_band=settings.exact_band,
            tps_sample_seconds=settings.tps_sample_seconds,
            statement_timeout=settings.statement_timeout,
            lock_timeout=settings.lock_timeout,
            connect_timeout=settings.connect_timeout,
        )
    except ValueError as exc:
        raise ConfigError(config.origin, f"sources.databases: {exc}") from None
    return Planned("database", collector, settings.timeout)


def _prometheus_plan(config: Config, pack: Pack) -> Planned:
    source = config.sources.prometheus
    where = f"{config.origin}: sources.prometheus"
    token = read_secret(where, file=source.token_file, env=source.token_env)
    password = read_secret(where, file=source.password_file, env=source.password_env)
    REDACTOR.add(token)
    REDACTOR.add(password)
    thresholds = {
        name: value
        for name, value in (
            ("concurrent_users", _threshold(pack, "load.concurrent_users_peak")),
            ("tps", _threshold(pack, "load.tps_peak")),
            ("records", _threshold(pack, "data.records_total")),
        )
        # A forecast needs a level to cross; a zero threshold has none.
        if value is not None and value > 0
    }
    try:
        collector = _build_prometheus(source, token, password, thresholds, config)
    except ValueError as exc:
        raise ConfigError(config.origin, f"sources.prometheus: {exc}") from None
    # Each request is bounded by the timeout, and a scan sends at most 8.
    return Planned("prometheus", collector, source.timeout * 8)


def _build_prometheus(source, token, password, thresholds, config):
    from collectors.prometheus import PrometheusCollector

    evaluation_time = source.evaluation_time
    if evaluation_time is not None and evaluation_time.tzinfo is None:
        evaluation_time = evaluation_time.replace(tzinfo=dt.UTC)
    return PrometheusCollector(
        source.url,
        token=token,
        username=source.username,
        password=password,
        ca_file=str(source.ca_file) if source.ca_file else None,
        insecure=source.insecure_skip_verify,
        headers=dict(source.headers),
        timeout=source.timeout,
        window_seconds=parse_duration(source.window),
        rate_window_seconds=parse_duration(source.rate_window),
        selector=source.selector,
        queries=source.queries.model_dump(exclude_none=True),
        evaluation_time=evaluation_time.timestamp() if evaluation_time else None,
        thresholds=thresholds,
        # Row counts read from the databases themselves are exact where the
        # exporters' are not; reading both would count each table twice.
        collect_records=not config.sources.databases,
    )


def _software_plan(config: Config) -> Planned:
    from collectors.software import SoftwareCollector

    source = config.sources.software
    endpoints: dict[str, Any] = {
        "rtsp": source.rtsp_endpoints,
        "llm_apis": source.llm_apis,
    }
    if config.declared is not None and config.declared.interstate_partners:
        endpoints["interstate"] = [
            {"name": p.name, "url": p.endpoint, "country": p.country}
            for p in config.declared.interstate_partners
            if p.endpoint
        ]
    collector = SoftwareCollector(
        root=source.root, paths=source.paths, endpoints=endpoints
    )
    return Planned("software", collector, source.timeout)


def _repository_plan(config: Config) -> Planned:
    from collectors.repository import RepositoryCollector

    source = config.sources.repository
    try:
        collector = RepositoryCollector(
            source.path, stage_tag_pattern=source.stage_tag_pattern, now=time.time()
        )
    except ValueError as exc:
        raise ConfigError(config.origin, f"sources.repository: {exc}") from None
    return Planned("repository", collector, source.timeout)


def _network_plan(config: Config) -> Planned:
    from collectors.network import (
        HostPaths,
        NetworkCollector,
        Probe,
        ProbeSettings,
        ScanSettings,
        default_ports,
    )

    source = config.sources.network
    listed = source.probes
    scan = ScanSettings(
        targets=tuple(source.targets),
        ports=tuple(source.port_ranges() or default_ports()),
        scan_type=source.scan_type,
        service_detection=source.service_detection,
        version_intensity=source.version_intensity,
        host_timeout=source.host_timeout,
        nmap_path=source.nmap_path,
        # The database collector counts the servers it reads; counting their
        # ports again here would add each one twice.
        count_data_stores=not config.sources.databases,
        policy=source.scope_policy(),
    )
    probe = ProbeSettings(
        blocked=tuple(Probe(p.name, p.host, p.port, "blocked") for p in listed.blocked),
        reachable=tuple(
            Probe(p.name, p.host, p.port, "reachable") for p in listed.reachable
        ),
        resolve=tuple(listed.resolve),
        timeout=listed.timeout,
    )
    collector = NetworkCollector(
        scan=scan, probe=probe, paths=HostPaths(), budget=source.timeout
    )
    # The collector keeps to its budget and records what it has; the runner's
    # cut is the backstop for a collector that does not return.
    return Planned("network", collector, source.timeout + NETWORK_GRACE)


def extend_catalogues(config: Config) -> None:
    """Add the config's own product entries to the detection catalogues."""
    if not config.catalogues:
        return
    from collectors import catalogues

    catalogues.reset_extensions()
    try:
        catalogues.extend(config.catalogues)
    except ValueError as exc:
        raise ConfigError(config.origin, f"catalogues: {exc}") from None


def plan_collectors(
    config: Config, pack: Pack, vocabulary: Vocabulary, today: dt.date
) -> list[Planned]:
    """Build the collectors the config enables; raise ConfigError before any scanning."""
    plans: list[Planned] = []
    if config.declared is not None:
        collector = declared_collector.DeclaredCollector(
            _declarations(config, vocabulary), source=config.origin, today=today
        )
        plans.append(Planned("declared", collector, collector.default_timeout))
    sources = config.sources
    if sources.host is not None:
        from collectors.host import HostCollector

        plans.append(
            Planned("host", HostCollector(root=sources.host.root), sources.host.timeout)
        )
    if sources.databases:
        plans.append(_database_plan(config, pack))
    if sources.prometheus is not None:
        plans.append(_prometheus_plan(config, pack))
    if sources.software is not None:
        plans.append(_software_plan(config))
    if sources.repository is not None:
        plans.append(_repository_plan(config))
    if sources.network is not None:
        plans.append(_network_plan(config))
    if sources.kubernetes is not None:
        plans.append(
            Planned(
                "kubernetes",
                None,
                0.0,
                skip_reason="the kubernetes collector is not available in "
                f"techcomplex-agent {__version__}",
            )
        )
    return plans
