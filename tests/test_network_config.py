"""The network section of the config: ports, scan type and probes."""

from __future__ import annotations

import pytest

from agent.config import load_config
from agent.errors import ConfigError
from agent.plan import NETWORK_GRACE, _network_plan
from collectors.network import default_ports

CONFIG = """\
system:
  name: e-licensing
sources:
  network:
{network}
"""


def load(tmp_path, network: str):
    path = tmp_path / "techcomplex.yaml"
    path.write_text(CONFIG.format(network=network), encoding="utf-8")
    return load_config(str(path)).sources.network


def rejected(tmp_path, network: str) -> str:
    path = tmp_path / "techcomplex.yaml"
    path.write_text(CONFIG.format(network=network), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    assert caught.value.exit_code == 2
    return str(caught.value).removeprefix(f"{path}: ")


def test_defaults_scan_nothing(tmp_path):
    network = load(tmp_path, "    targets: []")
    assert network.targets == []
    assert network.port_ranges() == []
    assert network.scan_type == "auto"
    assert network.service_detection is True
    assert network.probes.blocked == []
    assert network.probes.reachable == []
    assert network.probes.resolve == []
    assert network.probes.timeout == 3.0


def test_ports_and_ranges_parsed(tmp_path):
    network = load(tmp_path, '    ports: [1521, "1560-1591", " 8000-8002 "]')
    assert network.port_ranges() == [(1521, 1521), (1560, 1591), (8000, 8002)]


PORTS_REJECTED = [
    (
        "[0]",
        (
            "sources.network.ports: port 0 must lie from 1 to 65535, "
            "with the first port of a range not above the last"
        ),
    ),
    (
        '["1591-1560"]',
        (
            "sources.network.ports: port '1591-1560' must lie from 1 to "
            "65535, with the first port of a range not above the last"
        ),
    ),
    (
        "[true]",
        (
            "sources.network.ports: port True is true/false; give a number "
            "from 1 to 65535"
        ),
    ),
    (
        '["ssh"]',
        (
            "sources.network.ports: port 'ssh' is not a port number or a "
            'range such as "1560-1591"'
        ),
    ),
    (
        "[70000]",
        (
            "sources.network.ports: port 70000 must lie from 1 to 65535, "
            "with the first port of a range not above the last"
        ),
    ),
]


@pytest.mark.parametrize(
    ("ports", "message"),
    PORTS_REJECTED,
    ids=["zero", "reversed", "bool", "name", "too-high"],
)
def test_bad_port_rejected(tmp_path, ports, message):
    assert rejected(tmp_path, f"    ports: {ports}") == message


def test_scan_type_checked(tmp_path):
    message = rejected(tmp_path, "    scan_type: udp")
    assert message.startswith("sources.network.scan_type: Input should be 'auto'")


def test_probes_loaded(tmp_path):
    network = load(
        tmp_path,
        "    probes:\n"
        "      blocked:\n"
        "        - {name: platform, host: 10.30.0.5, port: 443}\n"
        "        - {name: canary, host: canary.example.org, port: 443}\n"
        "      reachable:\n"
        "        - {name: gateway, host: 10.20.0.1, port: 22}\n"
        "      resolve: [example.org]\n"
        "      timeout: 1.5",
    )
    probes = network.probes
    assert [p.name for p in probes.blocked] == ["platform", "canary"]
    assert probes.blocked[1].host == "canary.example.org"
    assert probes.reachable[0].port == 22
    assert probes.resolve == ["example.org"]
    assert probes.timeout == 1.5


PROBES_REJECTED = [
    (
        "      blocked: [{name: p, host: 10.30.0.0/24, port: 443}]",
        (
            "sources.network.probes.blocked[0].host: probe host '10.30.0.0/24' is a "
            "network; a probe connects to one address or host name (got '10.30.0.0/24')"
        ),
    ),
    (
        "      blocked: [{name: p, host: 10.30.0.300, port: 443}]",
        (
            "sources.network.probes.blocked[0].host: probe host '10.30.0.300' is not a "
            "valid IPv4 address: Octet 300 (> 255) not permitted in '10.30.0.300' "
            "(got '10.30.0.300')"
        ),
    ),
    (
        "      blocked: [{name: p, host: 10.30.0.5, port: 0}]",
        (
            "sources.network.probes.blocked[0].port: Input should be greater than or "
            "equal to 1 (got 0)"
        ),
    ),
    (
        (
            "      blocked: [{name: p, host: 10.30.0.5, port: 1}]\n"
            "      reachable: [{name: p, host: 10.20.0.1, port: 1}]"
        ),
        ("sources.network.probes: probe names must be unique; repeated: ['p']"),
    ),
    (
        "      resolve: [10.0.0.1]",
        (
            "sources.network.probes.resolve: resolve entry '10.0.0.1' is "
            "an address, not a name"
        ),
    ),
]


@pytest.mark.parametrize(
    ("probes", "message"),
    PROBES_REJECTED,
    ids=["network", "malformed", "port", "repeated", "address"],
)
def test_bad_probe_rejected(tmp_path, probes, message):
    assert rejected(tmp_path, f"    probes:\n{probes}") == message


def test_plan_counts_stores_without_databases(tmp_path):
    network = "    targets: [10.20.0.5]\n    allowlist: [10.20.0.0/24]"
    collector = plan(tmp_path, network).collector
    assert collector.scan.count_data_stores is True
    assert collector.scan.targets == ("10.20.0.5",)
    assert collector.scan.ports == tuple(default_ports())


def test_plan_leaves_stores_to_databases(tmp_path):
    network = (
        "    targets: [10.20.0.5]\n    allowlist: [10.20.0.0/24]\n    ports: [5432]\n"
        "  databases:\n    - {name: main, dsn: 'postgresql://reader@10.20.0.5/app'}"
    )
    collector = plan(tmp_path, network).collector
    assert collector.scan.count_data_stores is False
    assert collector.scan.ports == ((5432, 5432),)


def test_plan_splits_probes_by_expectation(tmp_path):
    network = (
        "    probes:\n"
        "      blocked: [{name: platform, host: 10.30.0.5, port: 443}]\n"
        "      reachable: [{name: gateway, host: 10.20.0.1, port: 22}]"
    )
    planned = plan(tmp_path, network)
    probes = planned.collector.probe
    assert [(p.name, p.expect) for p in probes.blocked] == [("platform", "blocked")]
    assert [(p.name, p.expect) for p in probes.reachable] == [("gateway", "reachable")]
    assert planned.timeout == 300.0 + NETWORK_GRACE


def plan(tmp_path, network: str):
    path = tmp_path / "techcomplex.yaml"
    path.write_text(CONFIG.format(network=network), encoding="utf-8")
    return _network_plan(load_config(str(path)))


def test_unquoted_numeric_target_explained(tmp_path):
    message = rejected(tmp_path, "    targets: [127.1]\n    allowlist: [127.0.0.0/24]")
    assert message == (
        "sources.network.targets[0]: YAML read 127.1 as a number, not an address; "
        "write the address in quotes (got 127.1)"
    )
