"""Hardened XML parsing of outside documents: no DTD, no entities, no network, bounded size and depth."""

from __future__ import annotations

from lxml import etree

from mappings.errors import MappingError

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_DEPTH", "parse"]

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "collect_ids": False,
    "remove_pis": True,
}


def parse(
    data: bytes,
    *,
    root: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> etree._Element:
    """Parse `data` and return its root element, or raise MappingError naming what was refused.

    `root` is the expected root element in Clark notation (`{namespace}local`).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MappingError("xml-not-bytes", "the document must be given as bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise MappingError("xml-too-large", f"document is {len(data)} bytes, the limit is {max_bytes}")
    # Refuse DTDs before libxml2 sees them: an internal subset is where entity bombs and XXE live.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise MappingError("xml-dtd-forbidden", "a DOCTYPE or ENTITY declaration is not allowed")
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        element = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise MappingError("xml-not-well-formed", f"not well-formed XML: {exc.msg}") from None
    tree = element.getroottree()
    # The byte scan above misses a DOCTYPE in UTF-16/32; libxml2 still reports it here.
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise MappingError("xml-dtd-forbidden", "a DOCTYPE declaration is not allowed")
    depth = 0
    for event, _ in etree.iterwalk(element, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth > max_depth:
            raise MappingError("xml-too-deep", f"elements nest deeper than {max_depth} levels")
    if root is not None and element.tag != root:
        raise MappingError("wrong-root", f"expected root element {root}, got {element.tag}")
    return element
