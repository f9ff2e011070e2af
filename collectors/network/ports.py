"""The ports scanned when the config lists none."""

from __future__ import annotations

from collectors import catalogues

# Common service ports beside the catalogue's: SSH, HTTP, HTTPS, RTSP, RDP and
# the usual alternative HTTP ports (IANA service name registry).
COMMON_PORTS = (22, 80, 443, 554, 3389, 8080, 8443)


def default_ports() -> list[tuple[int, int]]:
    """Return the common ports and every default port of the product catalogue.

    Entries the operator adds to the catalogue in the config count too, so
    `extend_catalogues` must run first.
    """
    ports = {(port, port) for port in COMMON_PORTS}
    ports.update(catalogues.catalogue_ports())
    return sorted(ports)
