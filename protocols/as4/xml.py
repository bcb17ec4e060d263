"""Hardened XML parsing: no DTD, no entities, no network, bounded size and depth."""

from __future__ import annotations

import functools

from lxml import etree

from protocols.as4.errors import EbmsError, EbmsException

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_DEPTH", "parse_xml", "serialize"]

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        dtd_validation=False,
        load_dtd=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
        strip_cdata=False,
        collect_ids=False,
    )


def parse_xml(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    error: EbmsError = EbmsError.OTHER,
) -> etree._Element:
    """The root element of `data`, refusing what a hostile sender could abuse.

    A document type declaration of any kind is refused (XXE and entity expansion
    both need one), as are processing instructions outside the root, documents over
    `max_bytes` and nesting deeper than `max_depth`. Failures raise `error`
    (EBMS:0004 by default; the envelope reader passes EBMS:0009 for a bad header).
    """
    if len(data) > max_bytes:
        raise EbmsException(error, f"XML document of {len(data)} bytes is over the limit of {max_bytes}")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data or b"<!doctype" in data:
        raise EbmsException(error, "XML with a document type declaration is refused")
    try:
        tree = etree.fromstring(data, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise EbmsException(error, f"XML is not well-formed: {_first_line(str(exc))}") from None
    docinfo = tree.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise EbmsException(error, "XML with a document type declaration is refused")
    if _deeper_than(max_depth)(tree):
        raise EbmsException(error, f"XML nesting is deeper than {max_depth}")
    for _entity in tree.iter(etree.Entity):
        raise EbmsException(error, "XML entity references are refused")
    return tree


def serialize(element: etree._Element) -> bytes:
    """Bytes of `element` as UTF-8 with an XML declaration."""
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8")


@functools.lru_cache(maxsize=8)
def _deeper_than(max_depth: int) -> etree.XPath:
    # One compiled path of max_depth + 1 steps: true when any element is that deep (libxml2 walks it in C).
    return etree.XPath("boolean(" + "/*" * (max_depth + 1) + ")")


def _first_line(text: str) -> str:
    return text.splitlines()[0][:200] if text else "unknown error"
