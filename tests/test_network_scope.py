"""The network scope guard: each rule, its order, its messages and the config."""

from __future__ import annotations

import ipaddress

import pytest

from agent.config import load_config
from agent.errors import ConfigError
from collectors.network.scope import ScopeError, ScopePolicy, check_targets

POLICY = ScopePolicy(
    allowlist=("10.20.0.0/24", "100.64.0.0/24", "::1", "fd00:20::/120"),
    allowed_names=("app.gov.kz",),
)


def rejection(targets: list[str], policy: ScopePolicy = POLICY) -> ScopeError:
    with pytest.raises(ScopeError) as caught:
        check_targets(targets, policy)
    return caught.value


REJECTED = [
    (
        "10.0.0.300",
        "malformed",
        (
            "target '10.0.0.300' is not a valid IPv4 address: "
            "Octet 300 (> 255) not permitted in '10.0.0.300'"
        ),
    ),
    (
        "10.0.0.0/33",
        "malformed",
        "target '10.0.0.0/33' is not a valid IPv4 network: '33' is not a valid netmask",
    ),
    (
        "",
        "malformed",
        "target '' is empty; give an IP address, a CIDR network or a host name",
    ),
    (
        "bad name!",
        "malformed",
        (
            "target 'bad name!' is not a valid host name: label 'bad name!' must be "
            "1 to 63 letters, digits or hyphens, not starting or ending with a hyphen"
        ),
    ),
    (
        "-app.gov.kz",
        "malformed",
        (
            "target '-app.gov.kz' is not a valid host name: label '-app' must be "
            "1 to 63 letters, digits or hyphens, not starting or ending with a hyphen"
        ),
    ),
    (
        # nmap would read this as the addresses 10.20.0.1 to 10.20.0.5.
        "10.20.0.1-5",
        "malformed",
        (
            "target '10.20.0.1-5' is not a valid IPv4 address: "
            "Only decimal digits permitted in '1-5' in '10.20.0.1-5'"
        ),
    ),
    (
        # The C resolver reads this name as 127.0.0.1.
        "0x7f000001",
        "malformed",
        (
            "target '0x7f000001' is not a valid IPv4 address: "
            "Expected 4 octets in '0x7f000001'"
        ),
    ),
    (
        "::ffff:10.20.0.1",
        "malformed",
        (
            "target '::ffff:10.20.0.1' is an IPv4-mapped IPv6 address; "
            "give the IPv4 address instead"
        ),
    ),
    (
        "fe80::1%eth0",
        "malformed",
        (
            "target 'fe80::1%eth0' has an IPv6 zone index (%...); "
            "give the address without it"
        ),
    ),
    (
        "10.0.0.0/21",
        "too_large",
        (
            "target 10.0.0.0/21 has 2,048 addresses, more than the /22 maximum "
            "(1,024); split it or raise max_prefix_v4"
        ),
    ),
    (
        "2001:db8::/64",
        "too_large",
        (
            "target 2001:db8::/64 has 18,446,744,073,709,551,616 addresses, more than "
            "the /118 maximum (1,024); split it or raise max_prefix_v6"
        ),
    ),
    (
        "8.8.8.8",
        "public",
        (
            "target 8.8.8.8 is public address space; "
            "set allow_public_targets: true to scan it"
        ),
    ),
    (
        "2001:4860::8888",
        "public",
        (
            "target 2001:4860::8888 is public address space; "
            "set allow_public_targets: true to scan it"
        ),
    ),
    (
        # The last address before the shared address space 100.64.0.0/10.
        "100.63.255.255",
        "public",
        (
            "target 100.63.255.255 is public address space; "
            "set allow_public_targets: true to scan it"
        ),
    ),
    (
        "10.9.0.1",
        "outside_allowlist",
        (
            "target 10.9.0.1 is outside the allowlist [10.20.0.0/24, 100.64.0.0/24, "
            "::1, fd00:20::/120]; every address of a target must lie inside one "
            "allowlist entry"
        ),
    ),
    (
        # Overlaps the allowed /24 but does not fit inside it.
        "10.20.0.0/23",
        "outside_allowlist",
        (
            "target 10.20.0.0/23 is outside the allowlist [10.20.0.0/24, "
            "100.64.0.0/24, ::1, fd00:20::/120]; every address of a target must lie "
            "inside one allowlist entry"
        ),
    ),
    (
        "127.0.0.1",
        "outside_allowlist",
        (
            "target 127.0.0.1 is outside the allowlist [10.20.0.0/24, 100.64.0.0/24, "
            "::1, fd00:20::/120]; every address of a target must lie inside one "
            "allowlist entry"
        ),
    ),
    (
        "db.gov.kz",
        "name_not_allowed",
        (
            "target db.gov.kz is a host name not in allowed_names [app.gov.kz]; "
            "the guard never resolves names, so add it there to scan it"
        ),
    ),
]


@pytest.mark.parametrize(
    ("target", "rule", "message"), REJECTED, ids=[row[0] for row in REJECTED]
)
def test_target_rejected_by_rule(target, rule, message):
    error = rejection([target])
    assert error.rule == rule
    assert error.target == target
    assert str(error) == message


ACCEPTED = [
    ("10.20.0.7", ipaddress.ip_network("10.20.0.7/32"), 1),
    ("10.20.0.0/24", ipaddress.ip_network("10.20.0.0/24"), 256),
    ("10.20.0.128/25", ipaddress.ip_network("10.20.0.128/25"), 128),
    ("100.64.0.1", ipaddress.ip_network("100.64.0.1/32"), 1),
    ("::1", ipaddress.ip_network("::1/128"), 1),
    ("fd00:20::5", ipaddress.ip_network("fd00:20::5/128"), 1),
    ("10.20.0.0/255.255.255.0", ipaddress.ip_network("10.20.0.0/24"), 256),
]


@pytest.mark.parametrize(
    ("text", "network", "count"), ACCEPTED, ids=[row[0] for row in ACCEPTED]
)
def test_target_accepted(text, network, count):
    [target] = check_targets([text], POLICY)
    assert target.text == text
    assert target.network == network
    assert target.address_count == count
    assert target.name is None
    assert target.note is None


def test_host_bits_normalised_and_noted():
    [target] = check_targets(["10.20.0.5/24"], POLICY)
    assert target.network == ipaddress.ip_network("10.20.0.0/24")
    assert target.note == "10.20.0.5/24 has host bits set; normalised to 10.20.0.0/24"


def test_allowed_name_not_resolved():
    [target] = check_targets(["App.Gov.KZ."], POLICY)
    assert target.name == "app.gov.kz"
    assert target.network is None
    assert target.address_count is None


def test_empty_target_list():
    assert check_targets([], POLICY) == []


def test_empty_allowlist_rejects_private():
    error = rejection(["10.20.0.1"], ScopePolicy(allowlist=()))
    assert error.rule == "outside_allowlist"
    assert str(error) == (
        "target 10.20.0.1 is outside the allowlist, which is empty; "
        "list the networks to scan in allowlist"
    )


def test_empty_allowlist_rejects_loopback():
    error = rejection(["::1"], ScopePolicy(allowlist=()))
    assert error.rule == "outside_allowlist"


def test_first_bad_target_named():
    error = rejection(["10.20.0.1", "10.9.0.1", "8.8.8.8", "bad name!"])
    assert error.target == "10.9.0.1"
    assert error.rule == "outside_allowlist"


def test_rules_checked_in_order():
    # 8.0.0.0/16 is too large, public and outside the allowlist; size comes first.
    assert rejection(["8.0.0.0/16"]).rule == "too_large"
    # 8.8.8.0/24 is public and outside the allowlist; public comes first.
    assert rejection(["8.8.8.0/24"]).rule == "public"


def test_public_allowed_with_flag():
    policy = ScopePolicy(allowlist=("8.8.8.0/24",), allow_public=True)
    [target] = check_targets(["8.8.8.8"], policy)
    assert target.network == ipaddress.ip_network("8.8.8.8/32")


def test_range_overlapping_public_is_public():
    # 100.0.0.0/9 starts in public space and ends in the shared address space.
    policy = ScopePolicy(allowlist=("100.64.0.0/24",), max_prefix_v4=8)
    error = rejection(["100.0.0.0/9"], policy)
    assert error.rule == "public"


def test_range_across_special_blocks_not_public():
    # :: (unspecified) and ::1 (loopback) are separate non-global blocks.
    policy = ScopePolicy(allowlist=("::/127",))
    [target] = check_targets(["::/127"], policy)
    assert target.address_count == 2


def test_public_allowlist_entry_rejected():
    with pytest.raises(ScopeError) as caught:
        ScopePolicy(allowlist=("8.8.8.0/24",))
    assert caught.value.rule == "public"
    assert str(caught.value) == (
        "allowlist entry 8.8.8.0/24 is public address space; "
        "set allow_public_targets: true to scan it"
    )


def test_large_allowlist_entry_rejected():
    with pytest.raises(ScopeError) as caught:
        ScopePolicy(allowlist=("10.0.0.0/8",))
    assert caught.value.rule == "too_large"


def test_name_in_allowlist_rejected():
    with pytest.raises(ScopeError) as caught:
        ScopePolicy(allowlist=("app.gov.kz",))
    assert caught.value.rule == "malformed"
    assert str(caught.value) == (
        "allowlist entry 'app.gov.kz' is a host name; the allowlist takes "
        "addresses and CIDR networks, and names go in allowed_names"
    )


def test_address_in_allowed_names_rejected():
    with pytest.raises(ScopeError) as caught:
        ScopePolicy(allowlist=(), allowed_names=("10.20.0.1",))
    assert caught.value.rule == "malformed"


def test_max_prefix_bounds():
    with pytest.raises(ValueError, match="max_prefix_v4 must be from 8 to 32, got 7"):
        ScopePolicy(allowlist=(), max_prefix_v4=7)


CONFIG = """\
system:
  name: e-licensing
sources:
  network:
{network}
"""


def write_config(tmp_path, network: str) -> str:
    path = tmp_path / "techcomplex.yaml"
    path.write_text(CONFIG.format(network=network), encoding="utf-8")
    return str(path)


def test_config_network_loads(tmp_path):
    path = write_config(
        tmp_path,
        "    targets: [10.20.0.5/24, app.gov.kz]\n"
        "    allowlist: [10.20.0.0/24]\n"
        "    allowed_names: [app.gov.kz]",
    )
    network = load_config(path).sources.network
    assert network.targets == ["10.20.0.5/24", "app.gov.kz"]
    assert network.timeout == 300.0
    assert network.allow_public_targets is False


CONFIG_REJECTED = [
    (
        "    targets: [8.8.8.0/24]\n    allowlist: [10.20.0.0/24]",
        (
            "sources.network: target 8.8.8.0/24 is public address space; "
            "set allow_public_targets: true to scan it"
        ),
    ),
    (
        "    targets: [10.20.0.0/16]\n    allowlist: [10.20.0.0/24]",
        (
            "sources.network: target 10.20.0.0/16 has 65,536 addresses, more than the "
            "/22 maximum (1,024); split it or raise max_prefix_v4"
        ),
    ),
    (
        "    targets: [10.9.0.1]\n    allowlist: [10.20.0.0/24]",
        (
            "sources.network: target 10.9.0.1 is outside the allowlist [10.20.0.0/24]; "
            "every address of a target must lie inside one allowlist entry"
        ),
    ),
    (
        "    targets: []\n    allowlist: [8.8.8.0/24]",
        (
            "sources.network: allowlist entry 8.8.8.0/24 is public address space; "
            "set allow_public_targets: true to scan it"
        ),
    ),
]


@pytest.mark.parametrize(
    ("network", "message"), CONFIG_REJECTED, ids=["public", "large", "outside", "entry"]
)
def test_config_network_rejected(tmp_path, network, message):
    path = write_config(tmp_path, network)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.exit_code == 2
    assert str(caught.value) == f"{path}: {message}"


def test_config_max_prefix_bounded(tmp_path):
    path = write_config(
        tmp_path, "    targets: []\n    allowlist: []\n    max_prefix_v4: 4"
    )
    with pytest.raises(ConfigError, match=r"sources\.network\.max_prefix_v4"):
        load_config(path)


def test_config_unknown_field_rejected(tmp_path):
    path = write_config(
        tmp_path, "    targets: []\n    allowlist: []\n    arguments: -sU -O"
    )
    with pytest.raises(ConfigError, match=r"sources\.network\.arguments: Extra inputs"):
        load_config(path)
