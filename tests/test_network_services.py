"""Naming products from nmap's port records, against real nmap and listeners.

The replies the listeners send are built from nmap 7.93's
nmap-service-probes: each reply responds to the probe nmap sends for its port
with bytes that one of that probe's match lines accepts, quoted next to it.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
from pathlib import Path

import pymysql
import pytest

from collectors import catalogues
from collectors.catalogues.products import parse_entry
from collectors.network.nmap import PortRecord, preflight, run_scan
from collectors.network.services import identify, product_version
from tests.listeners import (
    MSSQL_REPLY,
    ONE_C_BANNER,
    RTSP_REPLY,
    SSH_BANNER,
    TNS_REPLY,
    Listener,
    loopback_address,
)

NMAP = shutil.which("nmap")
NMAP_DATA = Path("/usr/share/nmap")

needs_nmap = pytest.mark.skipif(NMAP is None, reason="nmap is not installed")
needs_nmap_data = pytest.mark.skipif(
    not (NMAP_DATA / "nmap-service-probes").exists(),
    reason="nmap's data files are not in /usr/share/nmap",
)


@pytest.fixture(autouse=True)
def no_extensions():
    catalogues.reset_extensions()
    yield
    catalogues.reset_extensions()


def scan_one(address: str, port: int, *, service_detection: bool) -> PortRecord:
    found = preflight(nmap_path=NMAP, scan_type="connect", service_detection=True)
    result = run_scan(
        [address],
        str(port),
        preflight=found,
        service_detection=service_detection,
        budget=120,
    )
    assert len(result.ports) == 1, result
    return result.ports[0]


def record(**fields) -> PortRecord:
    base = {
        "host": "127.77.1.1",
        "port": 1,
        "protocol": "tcp",
        "state": "open",
        "reason": "syn-ack",
    }
    return PortRecord(**{**base, **fields})


# --- real nmap against listeners ---------------------------------------------


@needs_nmap
def test_silent_oracle_port_named_by_port():
    address = loopback_address()
    with Listener(address, 1521):
        port = scan_one(address, 1521, service_detection=False)
    found = identify(port)
    assert [(i.product.name, i.strength) for i in found] == [
        ("Oracle Database", "port")
    ]
    assert found[0].evidence["method"] == "table"
    assert found[0].evidence["reason"] == (
        "nmap's port table names 1521/tcp 'oracle', listed in the catalogue's "
        "services; the catalogue lists port 1521 as a default port"
    )
    assert found[0].version is None


@needs_nmap
def test_oracle_tns_reply_version_detection():
    address = loopback_address()
    trigger = b"(CONNECT_DATA=(COMMAND=version))"
    with Listener(address, 1521, replies={trigger: TNS_REPLY}):
        port = scan_one(address, 1521, service_detection=True)
    found = identify(port)
    assert [(i.product.name, i.strength) for i in found] == [
        ("Oracle Database", "version_detection")
    ]
    evidence = found[0].evidence
    assert (evidence["service"], evidence["product"], evidence["method"]) == (
        "oracle-tns",
        "Oracle TNS Listener",
        "probed",
    )
    assert found[0].version == "19.0.0.0.0"
    assert evidence["reason"] == (
        "nmap version detection: product 'Oracle TNS Listener' matches "
        "'oracle tns*' in the catalogue's service_products"
    )


@needs_nmap
def test_mssql_prelogin_reply_version_detection():
    address = loopback_address()
    with Listener(address, 1433, replies={b"MSSQLServer": MSSQL_REPLY}):
        port = scan_one(address, 1433, service_detection=True)
    found = identify(port)
    assert [(i.product.name, i.strength) for i in found] == [
        ("Microsoft SQL Server", "version_detection")
    ]
    assert found[0].version == "15.00.4300"
    assert found[0].evidence["product"] == "Microsoft SQL Server 2019"
    assert found[0].evidence["cpe"] == ["cpe:/a:microsoft:sql_server:2019"]
    assert found[0].evidence["method"] == "probed"


@needs_nmap
def test_rtsp_options_reply_names_rtsp():
    address = loopback_address()
    with Listener(address, 554, replies={b"OPTIONS / RTSP/1.0": RTSP_REPLY}):
        port = scan_one(address, 554, service_detection=True)
    found = identify(port)
    assert [(i.product.name, i.strength) for i in found] == [
        ("RTSP service", "version_detection")
    ]
    evidence = found[0].evidence
    assert (evidence["service"], evidence["method"]) == ("rtsp", "probed")
    assert evidence["reason"] == (
        "nmap version detection: service name 'rtsp' matches 'rtsp' in the "
        "catalogue's services"
    )
    # At intensity 2 nmap stops at the RTSP softmatch without a fingerprint.
    assert "fingerprint" not in evidence


@needs_nmap
def test_one_c_banner_on_connect():
    address = loopback_address()
    with Listener(address, 1541, banner=ONE_C_BANNER):
        port = scan_one(address, 1541, service_detection=True)
    found = identify(port)
    assert [(i.product.name, i.strength) for i in found] == [
        ("1C:Enterprise", "version_detection")
    ]
    assert found[0].evidence["product"] == "1C:Enterprise business management server"


@needs_nmap
def test_ssh_reply_outranks_oracle_port():
    address = loopback_address()
    with Listener(address, 1521, banner=SSH_BANNER):
        port = scan_one(address, 1521, service_detection=True)
    assert (port.service, port.method) == ("ssh", "probed")
    assert identify(port) == []


@needs_nmap
def test_shared_port_not_named_alone():
    # 3306 is MariaDB's and MySQL's, both with ports_identify: false.
    address = loopback_address()
    with Listener(address, 3306):
        port = scan_one(address, 3306, service_detection=False)
    assert (port.service, port.method) == ("mysql", "table")
    assert identify(port) == []


@needs_nmap
@pytest.mark.mariadb
def test_real_mariadb_named_by_cpe():
    port = scan_one("127.0.0.1", 3306, service_detection=True)
    found = identify(port)
    assert port.product == "MySQL"
    assert [(i.product.name, i.strength) for i in found] == [
        ("MariaDB", "version_detection")
    ]
    # The server reports e.g. "10.11.19-MariaDB-0+deb12u1"; nmap's field
    # carries it after the "5.5.5-" that MariaDB's handshake adds.
    assert found[0].version == mariadb_version().split("-")[0]


def mariadb_version() -> str:
    connection = pymysql.connect(host="127.0.0.1", port=3306, user="root")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            return cursor.fetchone()[0]
    finally:
        connection.close()


# --- records built by hand ----------------------------------------------------


def test_mariadb_cpe_beats_mysql_product():
    # As nmap 7.93 reported the MariaDB 10.11 server of this test suite.
    found = identify(
        record(
            port=3306,
            service="mysql",
            product="MySQL",
            version="5.5.5-10.11.19-MariaDB-0+deb12u1",
            method="probed",
            conf=10,
            cpe=("cpe:/a:mariadb:mariadb:5.5.5-10.11.19-mariadb-0%2bdeb12u1",),
        )
    )
    assert [i.product.name for i in found] == ["MariaDB"]


def test_probed_version_resolves_licence():
    # Redis 7.4 is under RSALv2 or SSPLv1 (source available).
    found = identify(
        record(
            port=6379,
            service="redis",
            product="Redis key-value store",
            version="7.4.1",
            method="probed",
            conf=10,
            cpe=("cpe:/a:redislabs:redis:7.4.1",),
        )
    )
    assert [(i.product.name, i.product.licence_class) for i in found] == [
        ("Redis", "source_available")
    ]


def test_filtered_port_names_nothing():
    filtered = record(
        port=1521, state="filtered", reason="no-response", service="oracle"
    )
    assert identify(filtered) == []


def test_tcpwrapped_falls_back_to_port():
    found = identify(record(port=1433, service="tcpwrapped", method="probed", conf=8))
    assert [(i.product.name, i.strength) for i in found] == [
        ("Microsoft SQL Server", "port")
    ]
    assert found[0].evidence["reason"] == (
        "the catalogue lists port 1433 as a default port"
    )


def test_unknown_product_names_nothing():
    found = identify(
        record(port=1521, service="http", product="Jetty", method="probed", conf=10)
    )
    assert found == []


def test_user_entry_takes_precedence():
    catalogues.extend(
        {
            "products": [
                {
                    "name": "Acme Listener",
                    "vendor": "Acme",
                    "kind": "database",
                    "licence_class": "proprietary",
                    "match": {"services": ["oracle-tns"]},
                    "source": "Acme licence agreement, contract 2024-17",
                }
            ]
        }
    )
    found = identify(record(port=1521, service="oracle-tns", method="probed", conf=10))
    assert [i.product.name for i in found] == ["Acme Listener"]


def test_evidence_keys_for_port_match():
    found = identify(record(port=1521, service="oracle", method="table", conf=3))
    assert sorted(found[0].evidence) == [
        "conf",
        "host",
        "match",
        "method",
        "port",
        "product",
        "protocol",
        "reason",
        "service",
        "version",
    ]
    assert found[0].evidence["match"] == "port"


# --- the catalogue's service fields ---------------------------------------------

ENTRY = {
    "name": "Acme Ledger",
    "vendor": "Acme",
    "kind": "database",
    "licence_class": "proprietary",
    "source": "Acme Ledger licence agreement, contract 2024-17",
}


def test_service_cpe_needs_cpe_prefix():
    raw = {**ENTRY, "match": {"service_cpes": ["a:acme:ledger*"]}}
    with pytest.raises(ValueError, match=r"'match.service_cpes' has 'a:acme:ledger\*'"):
        parse_entry(raw, "test")


def test_service_name_rejects_spaces():
    raw = {**ENTRY, "match": {"services": ["acme ledger"]}}
    with pytest.raises(ValueError, match="not an nmap service name"):
        parse_entry(raw, "test")


def test_service_fields_alone_recognise():
    raw = {**ENTRY, "match": {"service_products": ["Acme Ledger*"]}}
    assert parse_entry(raw, "test").service_products == ("acme ledger*",)


def nmap_names() -> tuple[set[str], set[str], set[str]]:
    """Service names, products and CPEs that nmap's data files contain."""
    services = set()
    for line in (NMAP_DATA / "nmap-services").read_text("latin-1").splitlines():
        if line and not line.startswith("#"):
            services.add(line.split()[0].lower())
    products, cpes = set(), set()
    probes = (NMAP_DATA / "nmap-service-probes").read_text("latin-1")
    for line in probes.splitlines():
        head = re.match(r"(?:soft)?match (\S+) ", line)
        if head:
            services.add(head.group(1).lower())
    products.update(p.lower() for p in re.findall(r" p/([^/]+)/", probes))
    cpes.update(c.lower() for c in re.findall(r"(cpe:/[^ /]+)", probes))
    # Scripts of the version category that -sV runs set products too.
    for script in (NMAP_DATA / "scripts").glob("*.nse"):
        text = script.read_text("latin-1")
        products.update(
            p.lower() for p in re.findall(r'version\.product = "([^"]+)"', text)
        )
    return services, products, cpes


def shipped_entries():
    for name in catalogues.product_files():
        yield from catalogues.load_file(name)


@needs_nmap_data
def test_catalogue_services_exist_in_nmap():
    services, _, _ = nmap_names()
    missing = [
        (entry.name, name)
        for entry in shipped_entries()
        for name in entry.services
        if name not in services
    ]
    assert missing == []


@needs_nmap_data
def test_catalogue_products_exist_in_nmap():
    _, products, _ = nmap_names()
    missing = [
        (entry.name, pattern)
        for entry in shipped_entries()
        for pattern in entry.service_products
        if not fnmatch.filter(products, pattern)
    ]
    assert missing == []


@needs_nmap_data
def test_catalogue_cpes_exist_in_nmap():
    _, _, cpes = nmap_names()
    missing = [
        (entry.name, pattern)
        for entry in shipped_entries()
        for pattern in entry.service_cpes
        if not fnmatch.filter(cpes, pattern)
    ]
    assert missing == []


VERSIONS = [
    ("5.5.5-10.11.19-MariaDB-0+deb12u1", "10.11.19"),
    ("9.6.0 or later", None),
    ("2.X", None),
    ("7.0.15", "7.0.15"),
    ("15.00.4300", "15.00.4300"),
    ("8.4p1", "8.4p1"),
    ("8.0.36-0ubuntu0.22.04.1", "8.0.36-0ubuntu0.22.04.1"),
    ("", None),
]


@pytest.mark.parametrize(("text", "version"), VERSIONS)
def test_product_version_from_nmap_field(text, version):
    assert product_version(text) == version
