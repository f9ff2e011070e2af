"""Small ElementTree helpers for build files whose tags may carry a namespace."""

from __future__ import annotations

from xml.etree import ElementTree

from collectors.repository.records import MalformedFile


def parse_xml(text: str) -> ElementTree.Element:
    """Parse a build file; raise MalformedFile on invalid XML or entity declarations.

    ElementTree never fetches external entities, but internal ones can still
    expand without bound on old expat releases, and build files need none.
    """
    if "<!ENTITY" in text:
        raise MalformedFile("entity declarations are not accepted")
    try:
        return ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise MalformedFile(f"invalid XML: {exc}") from None


def local_name(element: ElementTree.Element) -> str:
    """Return an element's tag without its {namespace} prefix ("" for comments)."""
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def child(element: ElementTree.Element | None, name: str) -> ElementTree.Element | None:
    if element is None:
        return None
    for item in element:
        if local_name(item) == name:
            return item
    return None


def children(
    element: ElementTree.Element | None, name: str
) -> list[ElementTree.Element]:
    if element is None:
        return []
    return [item for item in element if local_name(item) == name]


def child_text(element: ElementTree.Element | None, name: str) -> str | None:
    """Return the stripped text of a child element, or None when absent or empty."""
    item = child(element, name)
    if item is None or item.text is None:
        return None
    return item.text.strip() or None
