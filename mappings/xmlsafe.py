"""Hardened XML parsing of outside documents: no DTD, no entities, no network, bounded size and depth."""

from __future__ import annotations

import re

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


_NOT_ASCII_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_DECLARED_ENCODING = re.compile(
    rb"""^(?:\xef\xbb\xbf)?<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']"""
)
_ASCII_MARKUP = frozenset({"UTF-8", "UTF8", "US-ASCII", "ASCII", "ISO-8859-1", "LATIN1"})


class _RefuseExternal(etree.Resolver):  # type: ignore[misc]
    """No file or URL is ever read, not even for a DTD about to be refused."""

    def resolve(self, url: str, pubid: str, context: object) -> None:
        raise ValueError(f"external resource {str(url)[:100]!r} refused")


def _check_encoding(data: bytes) -> None:
    # The byte scan for a DOCTYPE only holds where markup is ASCII bytes: UTF-16/32 (a BOM or NULs)
    # and other declared encodings (UTF-7 spells '<' otherwise) are refused before libxml2 reads them.
    declared = _DECLARED_ENCODING.match(data)
    if (
        data.startswith(_NOT_ASCII_BOMS)
        or b"\x00" in data[:4]
        or (declared is not None and declared.group(1).decode("ascii").upper() not in _ASCII_MARKUP)
    ):
        raise MappingError(
            "xml-encoding-refused", "the document must be UTF-8 (or another ASCII-compatible encoding)"
        )


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
    _check_encoding(data)
    # Refuse DTDs before libxml2 sees them: an internal subset is where entity bombs and XXE live.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise MappingError("xml-dtd-forbidden", "a DOCTYPE or ENTITY declaration is not allowed")
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    parser.resolvers.add(_RefuseExternal())
    try:
        element = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise MappingError(
            "xml-not-well-formed", f"not well-formed XML: {getattr(exc, 'msg', exc)}"
        ) from None
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
