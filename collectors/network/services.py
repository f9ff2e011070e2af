"""Name the products on open ports from nmap's port records and the catalogue.

An identification has a strength, strongest first:

- "version_detection": nmap matched a probe response (method "probed"), and
  the catalogue lists its CPE, product or service name in `service_cpes`,
  `service_products` or `services` (docs/catalogues.md).
- "port": nmap only looked the port up in its table (method "table") and the
  catalogue lists that service name, or the catalogue lists the port itself.
  Entries with `ports_identify: false` are never named by a port alone.

A probe response outranks the port number: a port that responded as HTTP is
not Oracle because it is 1521, so a probed record is named by its response or
not at all. Only a response that identifies nothing ("tcpwrapped": the server
closed the connection before sending data) leaves the port to decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from collectors import catalogues
from collectors.catalogues import Product
from collectors.network.nmap import PortRecord

STRENGTHS = ("version_detection", "port")

_MARIADB_VERSION = re.compile(r"5\.5\.5-(\d+\.\d+\.\d+)-MariaDB")
# A dotted version, an optional OpenSSH-style "p1", and an optional suffix after
# "-", "+" or "~" such as "-1ubuntu1".
_VERSION = re.compile(r"\d+(?:\.\d+)*(?:p\d+)?(?:[-+~][\w.+~-]*)?")

# Service names nmap gives a probed port whose response matched no product.
_UNNAMED = ("tcpwrapped", "unknown")


@dataclass(frozen=True)
class Identification:
    """A catalogue product named on one port, how strongly, and the evidence.

    `version` is nmap's version field when nmap probed the port, else None;
    the product's licence class is resolved for it. `evidence["match"]` is the
    strength, and `evidence["reason"]` names the nmap field or port that matched
    and the catalogue field it matched.
    """

    product: Product
    strength: str
    evidence: dict[str, Any]
    version: str | None = None


def identify(record: PortRecord) -> list[Identification]:
    """Return the catalogue products nmap's record of one port shows.

    Only open ports are named: a filtered port proves nothing listens there.
    """
    if record.state != "open":
        return []
    if record.method == "probed" and record.service not in _UNNAMED:
        return _by_answer(record)
    return _by_port(record)


def _by_answer(record: PortRecord) -> list[Identification]:
    found = catalogues.match_service(
        record.service, record.product, record.cpe, version=record.version
    )
    if found is None:
        return []
    label = {
        "service_cpes": "CPE",
        "service_products": "product",
        "services": "service name",
    }[found.field]
    reason = (
        f"nmap version detection: {label} {found.value!r} matches "
        f"{found.pattern!r} in the catalogue's {found.field}"
    )
    return [
        Identification(
            product=found.product,
            strength="version_detection",
            evidence=_evidence(record, "version_detection", reason),
            version=product_version(record.version),
        )
    ]


def product_version(text: str | None) -> str | None:
    """Return the product version in nmap's version field, or None.

    MariaDB's handshake puts "5.5.5-" before its real version so that old
    MySQL clients accept it. nmap reports the field as sent
    ("5.5.5-10.11.19-MariaDB-0+deb12u1"), and the real version is kept. A field that
    is a guess or a range ("9.6.0 or later", "2.X") names no version.
    """
    if not text:
        return None
    if match := _MARIADB_VERSION.match(text):
        return match.group(1)
    if _VERSION.fullmatch(text):
        return text
    return None


def _by_port(record: PortRecord) -> list[Identification]:
    reasons: dict[str, tuple[Product, list[str]]] = {}
    if record.method == "table" and record.service:
        found = catalogues.match_service(record.service)
        if found is not None and _ports_identify(found.product):
            reasons.setdefault(found.product.name, (found.product, []))[1].append(
                f"nmap's port table names {record.port}/{record.protocol} "
                f"{record.service!r}, listed in the catalogue's services"
            )
    for product in catalogues.match_port(record.port):
        if _ports_identify(product):
            reasons.setdefault(product.name, (product, []))[1].append(
                f"the catalogue lists port {record.port} as a default port"
            )
    return [
        Identification(
            product=product,
            strength="port",
            evidence=_evidence(record, "port", "; ".join(why)),
        )
        for product, why in reasons.values()
    ]


def _ports_identify(product: Product) -> bool:
    entry = catalogues.entry(product.name)
    return entry is not None and entry.ports_identify


def _evidence(record: PortRecord, strength: str, reason: str) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "host": record.host,
        "port": record.port,
        "protocol": record.protocol,
        "service": record.service,
        "product": record.product,
        "version": record.version,
        "method": record.method,
        "conf": record.conf,
        "match": strength,
        "reason": reason,
    }
    if record.extrainfo:
        evidence["extrainfo"] = record.extrainfo
    if record.cpe:
        evidence["cpe"] = list(record.cpe)
    if record.fingerprint:
        evidence["fingerprint"] = record.fingerprint
    return evidence
