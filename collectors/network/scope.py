"""The scope guard: which network targets the operator allows to be probed.

The config validates every network target with `check_targets`, so an invalid
target stops the run before any packet is sent. The guard is pure computation on
address text with the ipaddress module. It sends no traffic and never resolves a
host name, so a name is accepted only when the operator lists it in
`allowed_names`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Rule = Literal[
    "malformed",
    "not_unicast",
    "too_large",
    "public",
    "outside_allowlist",
    "name_not_allowed",
    "loopback",
]

# Bounds of the largest-range settings. A /8 has 2**24 addresses; /104 is the
# IPv6 prefix with the same count.
MIN_PREFIX_V4 = 8
MIN_PREFIX_V6 = 104

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# inet_aton(3) accepts 127.1 and 0x7f000001 as IPv4 addresses, so a name whose
# last label is a decimal or 0x-hex number is parsed as an address instead.
# nmap reads a last label of digits and hyphens (10.0.0.1-5) as an octet range.
_NUMERIC_LABEL = re.compile(r"[0-9-]+|0x[0-9a-f]*")
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


@dataclass(frozen=True)
class _SpecialBlock:
    """A special-purpose address block and the words messages use for it."""

    network: Network
    # Phrases for one address of the block, and for several.
    singular: str
    plural: str


# Blocks of the IANA IPv4 and IPv6 special-purpose address registries that name
# no single host. A scan of them finds no host, and a packet to a broadcast or
# multicast address can reach many hosts on the link at once. The limited broadcast
# address comes before the reserved block that contains it, so that messages
# name it.
_NOT_UNICAST = (
    _SpecialBlock(
        ipaddress.IPv4Network("0.0.0.0/8"),
        "a 'this network' address",
        "'this network' addresses",
    ),
    _SpecialBlock(
        ipaddress.IPv4Network("224.0.0.0/4"),
        "a multicast address",
        "multicast addresses",
    ),
    _SpecialBlock(
        ipaddress.IPv4Network("255.255.255.255/32"),
        "the limited broadcast address",
        "the limited broadcast address",
    ),
    _SpecialBlock(
        ipaddress.IPv4Network("240.0.0.0/4"),
        "a reserved address",
        "reserved addresses",
    ),
    _SpecialBlock(
        ipaddress.IPv6Network("::/128"),
        "the unspecified address",
        "the unspecified address",
    ),
    _SpecialBlock(
        ipaddress.IPv6Network("ff00::/8"),
        "a multicast address",
        "multicast addresses",
    ),
)


class ScopeError(ValueError):
    """A target or allowlist entry that the guard rejects, with the rule it broke."""

    def __init__(self, target: str, rule: Rule, message: str) -> None:
        super().__init__(message)
        self.target = target
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class Target:
    """One accepted target: a network (a single address is a /32 or /128) or a name."""

    text: str
    network: Network | None = None
    # Lower-case, without a trailing dot; set only for a host name.
    name: str | None = None
    # None for a host name, whose addresses are unknown until it is resolved.
    address_count: int | None = None
    # Set when the text was changed, e.g. host bits cleared from a CIDR.
    note: str | None = None


@dataclass(frozen=True)
class ScopePolicy:
    """The operator's limits on targets; the allowlist is validated on creation.

    Allowlist entries are checked for the rules malformed, not_unicast and
    public, but not for size. Raises ScopeError for an invalid allowlist entry or
    allowed name, and ValueError for a maximum prefix outside its bounds.
    """

    # CIDR networks and addresses, IPv4 and IPv6. An empty allowlist rejects
    # every address target.
    allowlist: tuple[str, ...]
    # Host names allowed as targets; the guard never resolves them.
    allowed_names: tuple[str, ...] = ()
    # Prefix lengths of the largest target ranges accepted: /22 is 1,024 IPv4
    # addresses and /118 is the same count of IPv6 addresses. They limit how much
    # one run scans. Allowlist entries only bound where targets may lie, so they
    # may be larger.
    max_prefix_v4: int = 22
    max_prefix_v6: int = 118
    # Addresses that ipaddress marks is_global are rejected unless this is set.
    allow_public: bool = False
    allowed_networks: tuple[Network, ...] = field(init=False, repr=False, compare=False)
    normalised_names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not MIN_PREFIX_V4 <= self.max_prefix_v4 <= 32:
            raise ValueError(
                f"max_prefix_v4 must be from {MIN_PREFIX_V4} to 32, "
                f"got {self.max_prefix_v4}"
            )
        if not MIN_PREFIX_V6 <= self.max_prefix_v6 <= 128:
            raise ValueError(
                f"max_prefix_v6 must be from {MIN_PREFIX_V6} to 128, "
                f"got {self.max_prefix_v6}"
            )
        networks = [_allowed_network(entry, self) for entry in self.allowlist]
        names = set()
        for entry in self.allowed_names:
            parsed = _parse(entry, "allowed name")
            if parsed.name is None:
                raise ScopeError(
                    entry,
                    "malformed",
                    f"allowed name {entry!r} is an address; addresses and networks "
                    "go in the allowlist",
                )
            names.add(parsed.name)
        # The dataclass is frozen, so the derived fields are set this way once.
        object.__setattr__(self, "allowed_networks", tuple(networks))
        object.__setattr__(self, "normalised_names", frozenset(names))


def _allowed_network(entry: str, policy: ScopePolicy) -> Network:
    parsed = _parse(entry, "allowlist entry")
    if parsed.network is None:
        raise ScopeError(
            entry,
            "malformed",
            f"allowlist entry {entry!r} is a host name; the allowlist takes "
            "addresses and CIDR networks, and names go in allowed_names",
        )
    _check_unicast(parsed, "allowlist entry")
    _check_public(parsed, policy, "allowlist entry")
    return parsed.network


def check_targets(targets: list[str], policy: ScopePolicy) -> list[Target]:
    """Parse and check each target against the policy, in order.

    Raises ScopeError for the first target that breaks a rule. The rules are
    checked in this order: malformed, not_unicast, too_large, public,
    outside_allowlist, and name_not_allowed for host names. An empty list returns
    an empty list.
    """
    accepted = []
    for text in targets:
        target = _parse(text, "target")
        if target.name is not None:
            _check_name(target, policy)
        else:
            _check_unicast(target, "target")
            _check_size(target, policy)
            _check_public(target, policy, "target")
            _check_allowlist(target, policy)
        accepted.append(target)
    return accepted


def check_probe_host(text: str) -> Target:
    """Parse the host of a reachability probe: one address or one host name.

    Probes are single connections the operator lists by hand, often to addresses
    outside the allowlist on purpose (an internet canary), so neither the
    allowlist nor the public rule applies. Raises ScopeError with rule
    "malformed" for a network or invalid text, "not_unicast" for an address that
    is not one host's, and "loopback" for a loopback address.
    """
    target = _parse(text, "probe host")
    if target.network is None:
        # TODO: a name such as localhost that resolves to loopback passes, because
        # the guard never resolves names.
        return target
    if target.network.num_addresses > 1:
        raise ScopeError(
            text,
            "malformed",
            f"probe host {text!r} is a network; a probe connects to one address "
            "or host name",
        )
    _check_unicast(target, "probe host")
    if target.network.network_address.is_loopback:
        # A connection to loopback never leaves this host, so a control there
        # would connect even when the network is down.
        raise ScopeError(
            text,
            "loopback",
            f"probe host {_network_text(target)} is a loopback address; give an "
            "address on the network, because a probe to loopback never leaves this "
            "host and shows nothing about the segment",
        )
    return target


def _parse(text: str, kind: str) -> Target:
    if not text.strip():
        raise ScopeError(
            text,
            "malformed",
            f"{kind} {text!r} is empty; give an IP address, a CIDR network "
            "or a host name",
        )
    if "/" in text:
        return _parse_network(text, kind)
    if ":" in text or _looks_like_ipv4(text):
        return _parse_address(text, kind)
    return _parse_name(text, kind)


def _looks_like_ipv4(text: str) -> bool:
    last_label = text.rstrip(".").rsplit(".", 1)[-1].lower()
    return bool(_NUMERIC_LABEL.fullmatch(last_label))


def _parse_address(text: str, kind: str) -> Target:
    version = ipaddress.IPv6Address if ":" in text else ipaddress.IPv4Address
    try:
        address = version(text)
    except ValueError as exc:
        raise _malformed(text, kind, f"not a valid {_family(version)} address", exc)
    network = ipaddress.ip_network(address)
    _reject_special_forms(text, kind, network)
    return Target(text=text, network=network, address_count=1)


def _parse_network(text: str, kind: str) -> Target:
    version = ipaddress.IPv6Network if ":" in text else ipaddress.IPv4Network
    try:
        network = version(text, strict=False)
    except ValueError as exc:
        raise _malformed(text, kind, f"not a valid {_family(version)} network", exc)
    _reject_special_forms(text, kind, network)
    note = None
    address = ipaddress.ip_address(text.split("/")[0])
    if address != network.network_address:
        note = f"{text} has host bits set; normalised to {network}"
    return Target(
        text=text, network=network, address_count=network.num_addresses, note=note
    )


def _reject_special_forms(text: str, kind: str, network: Network) -> None:
    if isinstance(network, ipaddress.IPv6Network):
        if network.network_address.scope_id is not None:
            raise ScopeError(
                text,
                "malformed",
                f"{kind} {text!r} has an IPv6 zone index (%...); give the address "
                "without it",
            )
        if network.subnet_of(_IPV4_MAPPED):
            # An IPv4-mapped address reaches an IPv4 host, which an IPv4 allowlist
            # entry would not match.
            raise ScopeError(
                text,
                "malformed",
                f"{kind} {text!r} is an IPv4-mapped IPv6 address; give the IPv4 "
                "address instead",
            )


def _parse_name(text: str, kind: str) -> Target:
    # Names follow RFC 1123: labels of 1 to 63 letters, digits and hyphens that
    # neither start nor end with a hyphen, at most 253 characters in all.
    name = text.lower().removesuffix(".")
    if len(name) > 253:
        raise _malformed(
            text, kind, "not a valid host name", "longer than 253 characters"
        )
    for label in name.split("."):
        if not _LABEL.fullmatch(label):
            reason = (
                f"label {label!r} must be 1 to 63 letters, digits or hyphens, "
                "not starting or ending with a hyphen"
            )
            raise _malformed(text, kind, "not a valid host name", reason)
    return Target(text=text, name=name)


def _malformed(text: str, kind: str, problem: str, reason: object) -> ScopeError:
    return ScopeError(text, "malformed", f"{kind} {text!r} is {problem}: {reason}")


def _family(version: type) -> str:
    return (
        "IPv6" if version in (ipaddress.IPv6Address, ipaddress.IPv6Network) else "IPv4"
    )


def _check_unicast(target: Target, kind: str) -> None:
    network = target.network
    assert network is not None
    for block in _NOT_UNICAST:
        if block.network.version != network.version:
            continue
        if not network.overlaps(block.network):
            continue
        where = "" if block.network.num_addresses == 1 else f" ({block.network})"
        if network.num_addresses == 1:
            problem = f"is {block.singular}{where}"
            fix = "give a unicast host address"
        else:
            problem = f"contains {block.plural}{where}"
            fix = f"give a range outside {_display(block.network)}"
        raise ScopeError(
            target.text,
            "not_unicast",
            f"{kind} {_network_text(target)} {problem}; {fix}, because scans and "
            "probes must address single hosts",
        )


def _check_size(target: Target, policy: ScopePolicy) -> None:
    network = target.network
    assert network is not None
    if network.version == 4:
        max_prefix, setting = policy.max_prefix_v4, "max_prefix_v4"
    else:
        max_prefix, setting = policy.max_prefix_v6, "max_prefix_v6"
    if network.prefixlen < max_prefix:
        limit = 2 ** (network.max_prefixlen - max_prefix)
        raise ScopeError(
            target.text,
            "too_large",
            f"target {_network_text(target)} has {network.num_addresses:,} "
            f"addresses, more than the /{max_prefix} maximum ({limit:,}); split it "
            f"or raise {setting}",
        )


def _check_public(target: Target, policy: ScopePolicy, kind: str) -> None:
    network = target.network
    assert network is not None
    if not policy.allow_public and _contains_public(network):
        raise ScopeError(
            target.text,
            "public",
            f"{kind} {_network_text(target)} is public address space; set "
            "allow_public_targets: true to scan it",
        )


def _network_text(target: Target) -> str:
    """Return the target's network for a message, with the text given if it differs.

    A CIDR with host bits set (127.88.0.1/24) is normalised to its network, so
    the message also shows the text the operator wrote.
    """
    network = target.network
    assert network is not None
    display = _display(network)
    if target.text.lower() in (display, str(network)):
        return display
    return f"{target.text} (normalised to {display})"


def _display(network: Network) -> str:
    """Return the network in CIDR form, or a single address without its /32 or /128."""
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)


def _contains_public(network: Network) -> bool:
    """Return whether any address of the network is public (ipaddress is_global)."""
    if network.network_address.is_global or network.broadcast_address.is_global:
        return True
    # A network is not is_global when both ends lie in one special-purpose block,
    # and a block is a CIDR network, so every address between lies in it too.
    # NOTE: this assumes is_global is constant inside each block, as in the
    # ipaddress of Python 3.11. A version that exempts single addresses inside a
    # block would let a range containing such an address pass as not public.
    if not network.is_global or network.num_addresses == 1:
        return False
    # The ends are not public, but the range spans block edges, so check each half.
    return any(_contains_public(half) for half in network.subnets(prefixlen_diff=1))


def _check_allowlist(target: Target, policy: ScopePolicy) -> None:
    network = target.network
    assert network is not None
    for allowed in policy.allowed_networks:
        if allowed.version == network.version and network.subnet_of(allowed):
            return
    if not policy.allowlist:
        raise ScopeError(
            target.text,
            "outside_allowlist",
            f"target {_network_text(target)} is outside the allowlist, which is empty; "
            "list the networks to scan in allowlist",
        )
    entries = ", ".join(policy.allowlist)
    raise ScopeError(
        target.text,
        "outside_allowlist",
        f"target {_network_text(target)} is outside the allowlist [{entries}]; every "
        "address of a target must lie inside one allowlist entry",
    )


def _check_name(target: Target, policy: ScopePolicy) -> None:
    if target.name in policy.normalised_names:
        return
    names = ", ".join(sorted(policy.normalised_names))
    raise ScopeError(
        target.text,
        "name_not_allowed",
        f"target {target.name} is a host name not in allowed_names [{names}]; the "
        "guard never resolves names, so add it there to scan it",
    )
