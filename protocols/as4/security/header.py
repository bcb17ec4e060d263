"""Where things live in a SOAP envelope: Header, Body, eb:Messaging, wsse:Security, and their Ids."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from lxml import etree

from protocols.as4 import namespaces as ns

__all__ = [
    "ID_ATTRIBUTES",
    "body",
    "ensure_id",
    "header",
    "id_index",
    "messaging",
    "new_id",
    "qname",
    "security",
    "soap_namespace",
]

# Attributes that name an element for a same-document reference (`URI="#id"`); WSS4J and
# Santuario resolve all of them, so a duplicate across any two of them is a duplicate.
ID_ATTRIBUTES = (f"{{{ns.NS_WSU}}}Id", "Id", "ID", f"{{{ns.NS_XML}}}id")


_SECURITY = f"{{{ns.NS_WSSE}}}Security"


def qname(namespace: str, local: str) -> str:
    return f"{{{namespace}}}{local}"


def soap_namespace(envelope: etree._Element) -> str:
    if envelope.tag == qname(ns.NS_S12, "Envelope"):
        return ns.NS_S12
    if envelope.tag == qname(ns.NS_S11, "Envelope"):
        return ns.NS_S11
    raise ValueError(f"not a SOAP envelope: {envelope.tag}")


def _soap(envelope: etree._Element, fail: Callable[[str], Exception]) -> str:
    try:
        return soap_namespace(envelope)
    except ValueError as wrong:
        raise fail(str(wrong)) from None


def _only_child(parent: etree._Element | None, tag: str, fail: Callable[[str], Exception]) -> etree._Element:
    if parent is None:
        raise fail(f"no parent for {tag}")
    found = list(parent.iterchildren(tag))
    if len(found) != 1:
        raise fail(f"{len(found)} {tag} elements where exactly one is expected")
    return found[0]


def header(envelope: etree._Element, fail: Callable[[str], Exception]) -> etree._Element:
    return _only_child(envelope, qname(_soap(envelope, fail), "Header"), fail)


def body(envelope: etree._Element, fail: Callable[[str], Exception]) -> etree._Element:
    return _only_child(envelope, qname(_soap(envelope, fail), "Body"), fail)


def messaging(envelope: etree._Element, fail: Callable[[str], Exception]) -> etree._Element:
    return _only_child(header(envelope, fail), qname(ns.NS_EB, "Messaging"), fail)


def _targets_us(element: etree._Element, soap: str) -> bool:
    role = element.get(qname(soap, "role" if soap == ns.NS_S12 else "actor"))
    return role in (None, "", "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver")


def security(
    envelope: etree._Element, fail: Callable[[str], Exception], *, create: bool = False
) -> etree._Element | None:
    """The wsse:Security header meant for us (no role); created as the first header when asked."""
    soap = _soap(envelope, fail)
    head = header(envelope, fail)
    ours = [el for el in head.iterchildren(_SECURITY) if _targets_us(el, soap)]
    if len(ours) > 1:
        raise fail(f"{len(ours)} wsse:Security headers for the ultimate receiver")
    if ours:
        return ours[0]
    if not create:
        return None
    element = etree.Element(qname(ns.NS_WSSE, "Security"), nsmap={"wsse": ns.NS_WSSE, "wsu": ns.NS_WSU})
    element.set(qname(soap, "mustUnderstand"), "true" if soap == ns.NS_S12 else "1")
    head.insert(0, element)
    return element


# Every Id attribute below (and on) the root, in document order; each result knows its element.
_ID_ATTRIBUTE_VALUES = etree.XPath(
    "descendant-or-self::*/@wsu:Id | descendant-or-self::*/@Id | descendant-or-self::*/@ID"
    " | descendant-or-self::*/@xml:id",
    namespaces={"wsu": ns.NS_WSU},
)


def id_index(root: etree._Element) -> dict[str, list[etree._Element]]:
    """Every Id value in the document and the elements carrying it (more than one: a duplicate).

    An element carrying the same value in two Id attributes is listed twice, so it is a duplicate too.
    """
    index: dict[str, list[etree._Element]] = {}
    for value in _ID_ATTRIBUTE_VALUES(root):
        index.setdefault(str(value), []).append(value.getparent())
    return index


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


def ensure_id(element: etree._Element, prefix: str) -> str:
    """The element's Id, giving it a wsu:Id first when it has none."""
    for name in ID_ATTRIBUTES:
        existing = element.get(name)
        if existing:
            return str(existing)
    value = new_id(prefix)
    element.set(qname(ns.NS_WSU, "Id"), value)
    return value
