"""Turn nmap's port records and their catalogue matches into fact values.

Each open port becomes one `network.services` item named host:port/tcp, so two
hosts serving the same protocol stay apart when scopes are joined. Products
named on ports become components grouped by name and version, each listing
every endpoint that showed it and how strongly it was matched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collectors import catalogues
from collectors.catalogues import RESTRICTED_CLASSES, Product
from collectors.network.services import STRENGTHS, Identification

AI_KINDS = ("ai_framework", "inference_server")
# Brokers keep messages on disk (Kafka logs, durable RabbitMQ queues), so they
# count as data stores beside databases.
DATA_STORE_KINDS = ("database", "broker")
STREAM_SERVICES = ("rtsp", "rtsp-alt")
CAMERA_DEVICE = "webcam"

VIDEO_CONDITION = (
    "a video management or analytics product on a scanned port; or a video "
    "stream endpoint (RTSP, or a server nmap marks as a webcam, such as an ONVIF "
    "camera) while an AI inference service is also found on the targets"
)


@dataclass
class Found:
    """Every endpoint at which one product in one version was seen."""

    product: Product
    version: str | None
    evidence: list[dict[str, Any]] = field(default_factory=list)

    @property
    def strength(self) -> str:
        return min((item["match"] for item in self.evidence), key=STRENGTHS.index)

    def to_dict(self) -> dict[str, Any]:
        product = catalogues.for_version(self.product, self.version)
        item: dict[str, Any] = {
            "name": self.product.name,
            "version": self.version,
            "kind": self.product.kind,
            "vendor": self.product.vendor,
            "usage": "serving",
            "licence": catalogues.catalogue_licence(self.product.name, self.version),
            "licence_class": product.licence_class,
            "licence_source": "catalogue",
            "match": self.strength,
        }
        if product.note:
            item["note"] = product.note
        item["evidence"] = self.evidence
        return item


@dataclass
class ServiceMap:
    """Open ports and the products named on them, ready to become facts."""

    services: list[dict[str, Any]] = field(default_factory=list)
    found: dict[tuple[str, str | None], Found] = field(default_factory=dict)

    def add(self, service: dict[str, Any], matches: list[Identification]) -> None:
        service["products"] = [match.product.name for match in matches]
        self.services.append(service)
        for match in matches:
            key = (match.product.name, match.version)
            entry = self.found.setdefault(key, Found(match.product, match.version))
            entry.evidence.append(match.evidence)

    def components(self) -> list[dict[str, Any]]:
        return [found.to_dict() for found in self.found.values()]

    def proprietary(self) -> list[dict[str, Any]]:
        return [
            item
            for item in self.components()
            if item["licence_class"] in RESTRICTED_CLASSES
        ]

    def ai(self) -> list[dict[str, Any]]:
        return [item for item in self.components() if item["kind"] in AI_KINDS]

    def data_store_endpoints(self) -> list[dict[str, Any]]:
        endpoints = {}
        for found in self.found.values():
            if found.product.kind not in DATA_STORE_KINDS:
                continue
            for evidence in found.evidence:
                address = (evidence["host"], evidence["port"])
                endpoints.setdefault(
                    address,
                    {
                        "host": evidence["host"],
                        "port": evidence["port"],
                        "product": found.product.name,
                        "match": evidence["match"],
                    },
                )
        return sorted(endpoints.values(), key=lambda e: (e["host"], e["port"]))

    def streams(self) -> list[dict[str, Any]]:
        streams = []
        for service in self.services:
            entries = [catalogues.entry(name) for name in service["products"]]
            # nmap marks cameras' RTSP and ONVIF (HTTP/SOAP) servers with the
            # device type "webcam" in its match lines.
            is_stream = (
                service.get("service") in STREAM_SERVICES
                or service.get("devicetype") == CAMERA_DEVICE
                or any(
                    entry is not None and entry.video_role == "stream"
                    for entry in entries
                )
            )
            if is_stream:
                streams.append(
                    {
                        "host": service["host"],
                        "port": service["port"],
                        "service": service.get("service"),
                        "product": service.get("product"),
                        "devicetype": service.get("devicetype"),
                        # "table": named by its port number only.
                        "method": service.get("method"),
                    }
                )
        return streams

    def video(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Return video analytics items and the details of the decision."""
        items = []
        for found in self.found.values():
            entry = catalogues.entry(found.product.name)
            if entry is not None and entry.video_role == "analytics":
                item = found.to_dict()
                item["role"] = "analytics"
                items.append(item)
        streams = self.streams()
        ai = self.ai()
        if streams and ai:
            names = [item["name"] for item in ai]
            ai_confirmed = any(item["match"] == "version_detection" for item in ai)
            for stream in streams:
                # As strong as the weaker of its two parts: the stream endpoint
                # and the AI service beside it.
                confirmed = ai_confirmed and stream["method"] == "probed"
                items.append(
                    {
                        "name": f"video stream {stream['host']}:{stream['port']}",
                        "kind": "video",
                        "role": "stream",
                        "usage": "serving",
                        "match": "version_detection" if confirmed else "port",
                        "ai": names,
                        "evidence": [stream],
                    }
                )
        details = {"condition": VIDEO_CONDITION, "streams": streams}
        return items, details
