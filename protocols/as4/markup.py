"""XML we build from text: escaping values into markup, and parsing our own markup into elements.

Parsing one template costs a fraction of creating its elements one by one with lxml. Only our own
markup is parsed here (never a peer's: that is `xml.parse_xml`); every value is escaped on the way
in, and a value that is not XML text is refused with ValueError, as lxml refuses it on an element.
Values are escaped exactly as exclusive c14n writes them, so a template written in canonical form
(sorted attributes, explicit end tags) is its own canonical form and can be digested as it is.
"""

from __future__ import annotations

import re
import threading

from lxml import etree

__all__ = ["attribute", "fragment", "fragments", "text"]

# Anything that needs escaping, or is not an XML 1.0 character at all.
_NOT_PLAIN_TEXT = re.compile("[&<>\r]|[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NOT_PLAIN_ATTRIBUTE = re.compile('[&<"\t\n\r]|[^\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]')
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# As exclusive c14n escapes (XML-C14N 1.0 §2.3): tab, line feed and carriage return in an
# attribute as references survive attribute-value normalisation.
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;"})
_ATTRIBUTE = str.maketrans(
    {"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#x9;", "\n": "&#xA;", "\r": "&#xD;"}
)
_local = threading.local()


def _parser() -> etree.XMLParser:
    # One parser per thread: a parser is cheap to keep, and is never shared while it parses.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, collect_ids=False
        )
        _local.parser = parser
    return parser


def _escape(value: str, table: dict[int, str]) -> str:
    if _NOT_XML.search(value) is not None:
        raise ValueError(
            "All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters"
        )
    return value.translate(table)


def text(value: str) -> str:
    """`value` as element content."""
    return value if _NOT_PLAIN_TEXT.search(value) is None else _escape(value, _TEXT)


def attribute(value: str) -> str:
    """`value` inside a double-quoted attribute."""
    return value if _NOT_PLAIN_ATTRIBUTE.search(value) is None else _escape(value, _ATTRIBUTE)


def fragment(markup: str) -> etree._Element:
    """The element our `markup` (one element, values escaped by `text`/`attribute`) describes."""
    try:
        return etree.fromstring(markup, _parser())
    except etree.XMLSyntaxError as bad:  # only a bug in a template gets here
        raise ValueError(f"bad markup: {bad}") from None


def fragments(markup: str) -> list[etree._Element]:
    """The sibling elements of `markup`, each ready to be moved into another tree."""
    return list(fragment(f"<_>{markup}</_>"))
