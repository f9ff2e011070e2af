"""The stack outside the supported-stack catalogue, derived by the rules."""

from __future__ import annotations

import pytest

from rules.derive import CatalogueError, derive_unsupported, load_catalogue
from rules.resolve import resolve
from tests.helpers import TODAY, fact

STACK = [
    {"name": "PostgreSQL", "version": "15.20", "kind": "database"},
    {"name": "Python", "version": "3.11.7", "kind": "runtime"},
    {"name": "MariaDB", "version": "10.11.19", "kind": "database"},
    {"name": "Oracle Database", "version": "21.3.0", "kind": "database"},
    {"name": "Debian GNU/Linux 12", "kind": "os"},
]


def derived(vocabulary, catalogue, components=STACK):
    resolution = resolve(
        [fact("stack.components", components)], vocabulary, today=TODAY
    )
    entry = derive_unsupported(resolution, catalogue)
    return resolution, entry


def test_builtin_catalogue_entries_have_sources():
    catalogue = load_catalogue()
    assert catalogue.official is False
    assert catalogue.supported_as("postgresql") == "PostgreSQL"


def test_unsupported_components_listed(vocabulary):
    resolution, entry = derived(vocabulary, load_catalogue())
    names = [item["name"] for item in resolution.resolved["stack.unsupported"].value]
    assert names == ["MariaDB", "Oracle Database"]
    assert entry["provenance"] == "derived"


def test_host_os_not_compared(vocabulary):
    resolution, entry = derived(vocabulary, load_catalogue())
    names = [item["name"] for item in resolution.resolved["stack.unsupported"].value]
    assert "Debian GNU/Linux 12" not in names
    assert entry["details"]["ignored_kinds"] == ["library", "os"]


def test_unknown_vendor_not_compared(vocabulary):
    rtsp = {"name": "RTSP service", "kind": "video", "vendor": "unknown"}
    resolution, _ = derived(vocabulary, load_catalogue(), [rtsp])
    assert resolution.resolved["stack.unsupported"].value == []


def test_default_catalogue_needs_confirmation(vocabulary):
    resolution, _ = derived(vocabulary, load_catalogue())
    assert resolution.resolved["stack.unsupported"].caveats == [
        (
            "the supported-stack catalogue is the tool's unofficial default; confirm it "
            "against the platform operator's current list"
        )
    ]


def test_versioned_name_matches_alias(vocabulary):
    catalogue = load_catalogue()
    assert catalogue.supported_as("python3.11") == "Python"
    assert catalogue.supported_as("PostgreSQL 15") == "PostgreSQL"
    assert catalogue.supported_as("postgres-exporter-fork") == "PostgreSQL"
    assert catalogue.supported_as("Pythonic") is None


def test_extra_entries_extend(vocabulary):
    extra = [
        {"name": "MariaDB", "kind": "database", "source": "operator letter 2026-11-01"}
    ]
    resolution, _ = derived(vocabulary, load_catalogue(extra=extra))
    names = [item["name"] for item in resolution.resolved["stack.unsupported"].value]
    assert names == ["Oracle Database"]


def test_user_catalogue_file(tmp_path, vocabulary):
    path = tmp_path / "stack.yaml"
    path.write_text(
        "profile: operator-2026\nofficial: true\nentries:\n"
        "  - {name: Oracle Database, source: operator list 2026-11}\n",
        encoding="utf-8",
    )
    resolution, _ = derived(vocabulary, load_catalogue(str(path)))
    chosen = resolution.resolved["stack.unsupported"]
    assert [item["name"] for item in chosen.value] == [
        "PostgreSQL",
        "Python",
        "MariaDB",
        "Debian GNU/Linux 12",
    ]
    assert chosen.caveats == []


def test_entry_without_source_rejected(tmp_path):
    path = tmp_path / "stack.yaml"
    path.write_text("entries:\n  - {name: Oracle Database}\n", encoding="utf-8")
    with pytest.raises(
        CatalogueError,
        match=r"entries\[0\] \(Oracle Database\): each entry needs a 'source'",
    ):
        load_catalogue(str(path))


def test_nothing_derived_without_components(vocabulary):
    resolution = resolve([], vocabulary, today=TODAY)
    assert derive_unsupported(resolution, load_catalogue()) is None
    assert "stack.unsupported" not in resolution.resolved


def test_criterion_6_met_with_caveat(pack, vocabulary):
    from rules.engine import evaluate

    resolution, _ = derived(vocabulary, load_catalogue())
    criteria, _ = evaluate(pack, resolution, vocabulary, [])
    assert criteria[5]["verdict"] == "met"
    assert (
        "confirm it against the platform operator's current list"
        in criteria[5]["explanation"]
    )


def test_installed_only_not_compared(vocabulary):
    components = [
        {"name": "GStreamer", "kind": "video", "usage": "installed"},
        {"name": "MariaDB", "kind": "database", "usage": "running"},
    ]
    resolution, _ = derived(vocabulary, load_catalogue(), components)
    names = [item["name"] for item in resolution.resolved["stack.unsupported"].value]
    assert names == ["MariaDB"]
