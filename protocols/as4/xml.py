"""Hardened XML parsing: no DTD, no entities, no network, bounded size and depth."""

from __future__ import annotations

import functools
import re
import threading

from lxml import etree

from protocols.as4.errors import EbmsError, EbmsException

__all__ = [
    "DEFAULT_MAX_ATTRIBUTES",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_NAMESPACE_PREFIXES",
    "DEFAULT_MAX_NODES",
    "parse_xml",
    "serialize",
]

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64
# Exclusive c14n costs (attributes of an element)^2 and (elements x namespaces in scope):
# 100,000 attributes on one element (1 MiB) took 30 s. Real documents stay far below these.
DEFAULT_MAX_ATTRIBUTES = 256
DEFAULT_MAX_NAMESPACE_PREFIXES = 256
DEFAULT_MAX_NODES = 4_000_000
# Encodings that write ASCII markup as the ASCII bytes, so counting bytes counts markup.
_ASCII_MARKUP_ENCODINGS = frozenset({"UTF-8", "UTF8", "US-ASCII", "ASCII", "ISO-8859-1", "LATIN1"})


_local = threading.local()


def _parser() -> etree.XMLParser:
    # One parser per thread, reused: setting up a parser costs more than parsing a small document.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _new_parser()
    return parser


class _RefuseExternal(etree.Resolver):  # type: ignore[misc]
    """Nothing outside the document is ever read: no file, no URL, not even for a DTD being refused."""

    def resolve(self, url: str, pubid: str, context: object) -> None:
        raise ValueError(f"external resource {str(url)[:100]!r} refused")


def _new_parser() -> etree.XMLParser:
    parser = etree.XMLParser(
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
    parser.resolvers.add(_RefuseExternal())
    return parser


_BOMS_NOT_ASCII = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_DECLARED_ENCODING = re.compile(
    rb"""^(?:\xef\xbb\xbf)?<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']"""
)


def _check_encoding(data: bytes, error: EbmsError) -> None:
    """Only encodings that write markup as ASCII bytes: the byte checks below (a document type
    declaration, the counts) hold for them alone. UTF-16/32 (a BOM or NULs) and any other declared
    encoding (UTF-7 can spell '<' without the byte) are refused before the parser sees them."""
    if data.startswith(_BOMS_NOT_ASCII) or b"\x00" in data[:4]:
        raise EbmsException(error, "XML must be UTF-8 (UTF-16 and UTF-32 are refused)")
    declared = _DECLARED_ENCODING.match(data)
    if declared is not None and declared.group(1).decode("ascii").upper() not in _ASCII_MARKUP_ENCODINGS:
        raise EbmsException(error, f"XML encoding {declared.group(1).decode('ascii')!r} is refused (UTF-8)")


def parse_xml(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_attributes: int = DEFAULT_MAX_ATTRIBUTES,
    max_namespace_prefixes: int = DEFAULT_MAX_NAMESPACE_PREFIXES,
    max_nodes: int = DEFAULT_MAX_NODES,
    error: EbmsError = EbmsError.OTHER,
) -> etree._Element:
    """The root element of `data`, refusing what a hostile sender could abuse.

    A document type declaration of any kind is refused (XXE and entity expansion
    both need one), as are processing instructions outside the root, documents over
    `max_bytes`, nesting deeper than `max_depth`, an element with more than `max_attributes`
    attributes, more than `max_namespace_prefixes` distinct namespace prefixes declared (which bounds the
    namespaces in scope of any element) and
    more than `max_nodes` elements and attributes in all (each checked in C or with an early
    exit, so the checks stay cheap on a hostile document). Failures raise `error`
    (EBMS:0004 by default; the envelope reader passes EBMS:0009 for a bad header).
    """
    if len(data) > max_bytes:
        raise EbmsException(error, f"XML document of {len(data)} bytes is over the limit of {max_bytes}")
    _check_encoding(data, error)
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
    # Each attribute needs an "=", each element a "<" and each namespace declaration an "xmlns":
    # in an encoding that writes them as those bytes, their counts bound the attributes, nodes and
    # prefixes from above, so a document under a limit is not walked for it.
    if (docinfo.encoding or "").upper() in _ASCII_MARKUP_ENCODINGS:
        equals, opens, declarations = data.count(b"="), data.count(b"<"), data.count(b"xmlns")
    else:
        equals = opens = declarations = max_nodes + max_attributes + max_namespace_prefixes + 1
    if equals > max_attributes and _attributes_over(max_attributes)(tree):
        raise EbmsException(error, f"an XML element has more than {max_attributes} attributes")
    if declarations > max_namespace_prefixes and _prefixes_over(tree, max_namespace_prefixes):
        raise EbmsException(error, f"XML declares more than {max_namespace_prefixes} namespace prefixes")
    if equals + opens > max_nodes and _NODES(tree) > max_nodes:
        raise EbmsException(error, f"XML has more than {max_nodes} elements and attributes")
    return tree


def serialize(element: etree._Element) -> bytes:
    """Bytes of `element` as UTF-8 with an XML declaration."""
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8")


@functools.lru_cache(maxsize=8)
def _deeper_than(max_depth: int) -> etree.XPath:
    # One compiled path of max_depth + 1 steps: true when any element is that deep (libxml2 walks it in C).
    return etree.XPath("boolean(" + "/*" * (max_depth + 1) + ")")


@functools.lru_cache(maxsize=8)
def _attributes_over(max_attributes: int) -> etree.XPath:
    return etree.XPath(f"boolean(//*[count(@*) > {int(max_attributes)}])")


def _prefixes_over(tree: etree._Element, limit: int) -> bool:
    # Redeclaring one prefix on every element is common and harmless; only distinct prefixes add up.
    prefixes: set[str | None] = set()
    for _event, (prefix, _uri) in etree.iterwalk(tree, events=("start-ns",)):
        prefixes.add(prefix)
        if len(prefixes) > limit:
            return True
    return False


_NODES = etree.XPath("count(//*) + count(//@*)")


def _first_line(text: str) -> str:
    return text.splitlines()[0][:200] if text else "unknown error"
