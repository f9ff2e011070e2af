"""The network scope guard: each rule, its order, its messages and the config."""

from __future__ import annotations

import ipaddress

import pytest

from agent.config import load_config
from agent.errors import ConfigError
from collectors.network.scope import (
    ScopeError,
    ScopePolicy,
    _contains_public,
    check_probe_host,
    check_targets,
)

POLICY = ScopePolicy(
    allowlist=("10.20.0.0/24", "100.64.0.0/24", "::1", "fd00:20::/120"),
    allowed_names=("app.gov.kz",),
)


def rejection(targets: list[str], policy: ScopePolicy = POLICY) -> ScopeError:
    with pytest.raises(ScopeError) as caught:
        check_targets(targets, policy)
    return caught.value


UNICAST_FIX = ", because scans and probes must address single hosts"

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
        "255.255.255.255",
        "not_unicast",
        "target 255.255.255.255 is the limited broadcast address; "
        "give a unicast host address" + UNICAST_FIX,
    ),
    (
        "0.0.0.0",
        "not_unicast",
        "target 0.0.0.0 is a 'this network' address (0.0.0.0/8); "
        "give a unicast host address" + UNICAST_FIX,
    ),
    (
        "0.0.0.0/8",
        "not_unicast",
        "target 0.0.0.0/8 contains 'this network' addresses (0.0.0.0/8); "
        "give a range outside 0.0.0.0/8" + UNICAST_FIX,
    ),
    (
        # Only its first half, 0.0.0.0/8, is special. The second is public.
        "0.0.0.0/7",
        "not_unicast",
        "target 0.0.0.0/7 contains 'this network' addresses (0.0.0.0/8); "
        "give a range outside 0.0.0.0/8" + UNICAST_FIX,
    ),
    (
        # The SSDP group address.
        "239.255.255.250",
        "not_unicast",
        "target 239.255.255.250 is a multicast address (224.0.0.0/4); "
        "give a unicast host address" + UNICAST_FIX,
    ),
    (
        "224.0.0.0/24",
        "not_unicast",
        "target 224.0.0.0/24 contains multicast addresses (224.0.0.0/4); "
        "give a range outside 224.0.0.0/4" + UNICAST_FIX,
    ),
    (
        "240.0.0.1",
        "not_unicast",
        "target 240.0.0.1 is a reserved address (240.0.0.0/4); "
        "give a unicast host address" + UNICAST_FIX,
    ),
    (
        # It lies in the reserved block too, but the broadcast address is named.
        "255.255.255.0/24",
        "not_unicast",
        "target 255.255.255.0/24 contains the limited broadcast address; "
        "give a range outside 255.255.255.255" + UNICAST_FIX,
    ),
    (
        "::",
        "not_unicast",
        "target :: is the unspecified address; "
        "give a unicast host address" + UNICAST_FIX,
    ),
    (
        # :: and the loopback address ::1.
        "::/127",
        "not_unicast",
        "target ::/127 contains the unspecified address; "
        "give a range outside ::" + UNICAST_FIX,
    ),
    (
        "ff02::1",
        "not_unicast",
        "target ff02::1 is a multicast address (ff00::/8); "
        "give a unicast host address" + UNICAST_FIX,
    ),
    (
        "ff02::/120",
        "not_unicast",
        "target ff02::/120 contains multicast addresses (ff00::/8); "
        "give a range outside ff00::/8" + UNICAST_FIX,
    ),
    (
        "224.0.0.7/24",
        "not_unicast",
        "target 224.0.0.7/24 (normalised to 224.0.0.0/24) contains multicast "
        "addresses (224.0.0.0/4); give a range outside 224.0.0.0/4" + UNICAST_FIX,
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
        "10.0.0.9/21",
        "too_large",
        (
            "target 10.0.0.9/21 (normalised to 10.0.0.0/21) has 2,048 addresses, "
            "more than the /22 maximum (1,024); split it or raise max_prefix_v4"
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
        "8.8.8.8/24",
        "public",
        (
            "target 8.8.8.8/24 (normalised to 8.8.8.0/24) is public address space; "
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
        "127.88.0.1/24",
        "outside_allowlist",
        (
            "target 127.88.0.1/24 (normalised to 127.88.0.0/24) is outside the "
            "allowlist [10.20.0.0/24, 100.64.0.0/24, ::1, fd00:20::/120]; every "
            "address of a target must lie inside one allowlist entry"
        ),
    ),
    (
        "10.9.0.0/255.255.255.0",
        "outside_allowlist",
        (
            "target 10.9.0.0/255.255.255.0 (normalised to 10.9.0.0/24) is outside "
            "the allowlist [10.20.0.0/24, 100.64.0.0/24, ::1, fd00:20::/120]; every "
            "address of a target must lie inside one allowlist entry"
        ),
    ),
    (
        # A /32 suffix and upper-case hex are not repeated in the message.
        "10.9.0.1/32",
        "outside_allowlist",
        (
            "target 10.9.0.1 is outside the allowlist [10.20.0.0/24, 100.64.0.0/24, "
            "::1, fd00:20::/120]; every address of a target must lie inside one "
            "allowlist entry"
        ),
    ),
    (
        "FD00:21::1",
        "outside_allowlist",
        (
            "target fd00:21::1 is outside the allowlist [10.20.0.0/24, "
            "100.64.0.0/24, ::1, fd00:20::/120]; every address of a target must lie "
            "inside one allowlist entry"
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
    # A zone index is malformed, though the address is also multicast.
    assert rejection(["ff02::1%eth0"]).rule == "malformed"
    # 224.0.0.0/16 is multicast, too large, global to ipaddress and outside the
    # allowlist, and not_unicast comes first.
    assert rejection(["224.0.0.0/16"]).rule == "not_unicast"
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


def test_multicast_rejected_with_public_allowed():
    # ipaddress marks 224.0.0.0/4 is_global, so allow_public must not admit it.
    policy = ScopePolicy(allowlist=("8.8.8.0/24",), allow_public=True)
    assert rejection(["224.0.0.0/24"], policy).rule == "not_unicast"


def test_contains_public_across_special_blocks():
    # :: (unspecified) and ::1 (loopback) are separate non-global blocks, so the
    # range is global to ipaddress while neither of its addresses is.
    assert _contains_public(ipaddress.ip_network("::/127")) is False


@pytest.mark.parametrize(
    ("text", "count"),
    [("169.254.10.0/24", 256), ("fe80::1", 1), ("100.127.255.0/24", 256)],
    ids=["link-local-v4", "link-local-v6", "shared"],
)
def test_special_unicast_accepted_when_allowlisted(text, count):
    policy = ScopePolicy(allowlist=("169.254.0.0/16", "fe80::/10", "100.64.0.0/10"))
    [target] = check_targets([text], policy)
    assert target.address_count == count


def test_public_allowlist_entry_rejected():
    with pytest.raises(ScopeError) as caught:
        ScopePolicy(allowlist=("8.8.8.0/24",))
    assert caught.value.rule == "public"
    assert str(caught.value) == (
        "allowlist entry 8.8.8.0/24 is public address space; "
        "set allow_public_targets: true to scan it"
    )


def test_large_allowlist_entry_accepted():
    policy = ScopePolicy(allowlist=("10.0.0.0/8", "fd00::/8"))
    [v4, v6] = check_targets(["10.200.0.0/22", "fd00:7::/118"], policy)
    assert v4.address_count == 1024
    assert v6.address_count == 1024


def test_large_allowlist_keeps_target_limit():
    policy = ScopePolicy(allowlist=("10.0.0.0/8",))
    error = rejection(["10.200.0.0/21"], policy)
    assert error.rule == "too_large"


def test_large_public_allowlist_entry_rejected():
    # 10.0.0.0/7 ends in 11.0.0.0/8, which is public.
    with pytest.raises(ScopeError) as caught:
        ScopePolicy(allowlist=("10.0.0.0/7",))
    assert caught.value.rule == "public"


def test_host_bits_shown_in_allowlist_error():
    with pytest.raises(ScopeError) as caught:
        ScopePolicy(allowlist=("8.8.8.8/24",))
    assert caught.value.target == "8.8.8.8/24"
    assert str(caught.value) == (
        "allowlist entry 8.8.8.8/24 (normalised to 8.8.8.0/24) is public address "
        "space; set allow_public_targets: true to scan it"
    )


ALLOWLIST_NOT_UNICAST = [
    (
        "0.0.0.0/0",
        "allowlist entry 0.0.0.0/0 contains 'this network' addresses (0.0.0.0/8); "
        "give a range outside 0.0.0.0/8" + UNICAST_FIX,
    ),
    (
        "::/0",
        "allowlist entry ::/0 contains the unspecified address; "
        "give a range outside ::" + UNICAST_FIX,
    ),
    (
        "224.0.0.0/24",
        "allowlist entry 224.0.0.0/24 contains multicast addresses (224.0.0.0/4); "
        "give a range outside 224.0.0.0/4" + UNICAST_FIX,
    ),
    (
        "255.255.255.255",
        "allowlist entry 255.255.255.255 is the limited broadcast address; "
        "give a unicast host address" + UNICAST_FIX,
    ),
    (
        "ff05::/16",
        "allowlist entry ff05::/16 contains multicast addresses (ff00::/8); "
        "give a range outside ff00::/8" + UNICAST_FIX,
    ),
]


@pytest.mark.parametrize(
    ("entry", "message"),
    ALLOWLIST_NOT_UNICAST,
    ids=[row[0] for row in ALLOWLIST_NOT_UNICAST],
)
def test_allowlist_entry_not_unicast(entry, message):
    with pytest.raises(ScopeError) as caught:
        ScopePolicy(allowlist=(entry,), allow_public=True)
    assert caught.value.rule == "not_unicast"
    assert caught.value.target == entry
    assert str(caught.value) == message


PROBE_REJECTED = [
    (
        "255.255.255.255",
        "not_unicast",
        "probe host 255.255.255.255 is the limited broadcast address; "
        "give a unicast host address" + UNICAST_FIX,
    ),
    (
        "224.0.0.1",
        "not_unicast",
        "probe host 224.0.0.1 is a multicast address (224.0.0.0/4); "
        "give a unicast host address" + UNICAST_FIX,
    ),
    (
        "0.0.0.0",
        "not_unicast",
        "probe host 0.0.0.0 is a 'this network' address (0.0.0.0/8); "
        "give a unicast host address" + UNICAST_FIX,
    ),
    (
        "::",
        "not_unicast",
        "probe host :: is the unspecified address; "
        "give a unicast host address" + UNICAST_FIX,
    ),
    (
        "ff02::1",
        "not_unicast",
        "probe host ff02::1 is a multicast address (ff00::/8); "
        "give a unicast host address" + UNICAST_FIX,
    ),
    (
        "127.0.0.1",
        "loopback",
        (
            "probe host 127.0.0.1 is a loopback address; give an address on the "
            "network, because a probe to loopback never leaves this host and "
            "shows nothing about the segment"
        ),
    ),
    (
        "127.88.0.1",
        "loopback",
        (
            "probe host 127.88.0.1 is a loopback address; give an address on the "
            "network, because a probe to loopback never leaves this host and "
            "shows nothing about the segment"
        ),
    ),
    (
        "::1",
        "loopback",
        (
            "probe host ::1 is a loopback address; give an address on the "
            "network, because a probe to loopback never leaves this host and "
            "shows nothing about the segment"
        ),
    ),
    (
        # The network form is reported before the multicast block.
        "224.0.0.0/24",
        "malformed",
        (
            "probe host '224.0.0.0/24' is a network; a probe connects to one "
            "address or host name"
        ),
    ),
]


@pytest.mark.parametrize(
    ("host", "rule", "message"), PROBE_REJECTED, ids=[row[0] for row in PROBE_REJECTED]
)
def test_probe_host_rejected(host, rule, message):
    with pytest.raises(ScopeError) as caught:
        check_probe_host(host)
    assert caught.value.rule == rule
    assert caught.value.target == host
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "host", ["10.30.0.5", "8.8.8.8", "169.254.1.1", "fe80::1", "canary.example.org"]
)
def test_probe_host_accepted(host):
    assert check_probe_host(host).text == host


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


def test_config_large_allowlist_loads(tmp_path):
    path = write_config(
        tmp_path, "    targets: [10.200.0.0/24]\n    allowlist: [10.0.0.0/8]"
    )
    network = load_config(path).sources.network
    assert network.allowlist == ["10.0.0.0/8"]


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
    (
        "    targets: []\n    allowlist: [224.0.0.0/4]",
        (
            "sources.network: allowlist entry 224.0.0.0/4 contains multicast "
            "addresses (224.0.0.0/4); give a range outside 224.0.0.0/4" + UNICAST_FIX
        ),
    ),
    (
        "    probes:\n      reachable: [{name: self, host: 127.0.0.1, port: 22}]",
        (
            "sources.network.probes.reachable[0].host: probe host 127.0.0.1 is a "
            "loopback address; give an address on the network, because a probe to "
            "loopback never leaves this host and shows nothing about the segment "
            "(got '127.0.0.1')"
        ),
    ),
]


@pytest.mark.parametrize(
    ("network", "message"),
    CONFIG_REJECTED,
    ids=["public", "large", "outside", "entry", "multicast-entry", "loopback-probe"],
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
