"""X.509 security tokens: BinarySecurityTokens and SecurityTokenReferences, built and resolved.

WSS X.509 Token Profile 1.1 §3.2: a direct reference to a BinarySecurityToken (X509v3 or
X509PKIPathv1), ds:X509IssuerSerial, or the X509SubjectKeyIdentifier key identifier. A
reference is resolved exactly as it reads (never "the first BST"); issuer-serial and SKI name a
certificate the message does not carry, so they are matched against candidates the caller knows.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from protocols.as4 import namespaces as ns
from protocols.as4.markup import attribute, fragment, text
from protocols.as4.security.header import id_index, new_id, qname

__all__ = [
    "TokenReference",
    "binary_security_token",
    "binary_security_token_markup",
    "certificate_der",
    "matches",
    "read_token_reference",
    "security_token_reference",
    "security_token_reference_markup",
    "subject_key_identifier",
]

_BST = qname(ns.NS_WSSE, "BinarySecurityToken")
_STR = qname(ns.NS_WSSE, "SecurityTokenReference")


# Per-identity material is cached: a node signs, encrypts and verifies with a handful of
# certificates, and x509.Certificate hashes and compares by its DER, so a hit is the same certificate.
@functools.lru_cache(maxsize=256)
def certificate_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


@functools.lru_cache(maxsize=256)
def _certificate_base64(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate_der(certificate)).decode("ascii")


@functools.lru_cache(maxsize=256)
def _load_der(der: bytes) -> x509.Certificate:
    """A certificate from DER; a partner sends the same token in every message, so it is parsed once.

    cryptography parses the names lazily: they are read here, so a damaged token is refused as
    unreadable (ValueError) instead of failing later while an error message names its subject.
    """
    try:
        certificate = x509.load_der_x509_certificate(der)
    except x509.InvalidVersion as bad:  # not a ValueError
        raise ValueError(str(bad)) from None
    certificate.subject.rfc4514_string()
    certificate.issuer.rfc4514_string()
    return certificate


@functools.lru_cache(maxsize=256)
def subject_key_identifier(certificate: x509.Certificate) -> bytes:
    """The SKI extension, or (as WSS4J does when it is absent) the RFC 5280 §4.2.1.2 method-1 SHA-1."""
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def binary_security_token_markup(certificate: x509.Certificate) -> tuple[str, str]:
    """A wsse:BinarySecurityToken (X509v3) carrying the certificate, as markup, and its wsu:Id."""
    token_id = new_id("X509")
    return _token_markup(certificate).replace("{id}", token_id, 1), token_id


@functools.lru_cache(maxsize=256)
def _token_markup(certificate: x509.Certificate) -> str:
    return (
        f'<wsse:BinarySecurityToken xmlns:wsse="{ns.NS_WSSE}" xmlns:wsu="{ns.NS_WSU}" '
        f'EncodingType="{ns.ENCODING_BASE64}" ValueType="{ns.TOKEN_X509V3}" wsu:Id="{{id}}">'
        f"{_certificate_base64(certificate)}</wsse:BinarySecurityToken>"
    )


def binary_security_token(certificate: x509.Certificate) -> tuple[etree._Element, str]:
    """A wsse:BinarySecurityToken (X509v3) carrying the certificate, and its wsu:Id."""
    markup, token_id = binary_security_token_markup(certificate)
    return fragment(markup), token_id


def security_token_reference_markup(
    style: str, certificate: x509.Certificate, *, token_id: str | None = None
) -> str:
    """A wsse:SecurityTokenReference naming the certificate in one of the three styles, as markup."""
    if style == "bst":
        if not token_id:
            raise ValueError("a BST reference needs the token's Id")
        content = f'<wsse:Reference URI="#{attribute(token_id)}" ValueType="{ns.TOKEN_X509V3}"/>'
    elif style == "issuer-serial":
        content = (
            f'<ds:X509Data xmlns:ds="{ns.NS_DS}"><ds:X509IssuerSerial>'
            f"<ds:X509IssuerName>{text(certificate.issuer.rfc4514_string())}</ds:X509IssuerName>"
            f"<ds:X509SerialNumber>{certificate.serial_number}</ds:X509SerialNumber>"
            "</ds:X509IssuerSerial></ds:X509Data>"
        )
    elif style == "ski":
        content = (
            f'<wsse:KeyIdentifier EncodingType="{ns.ENCODING_BASE64}" ValueType="{ns.KEY_IDENTIFIER_SKI}">'
            f"{_b64(subject_key_identifier(certificate))}</wsse:KeyIdentifier>"
        )
    else:
        raise ValueError(f"key reference must be bst, issuer-serial or ski, not {style!r}")
    return f'<wsse:SecurityTokenReference xmlns:wsse="{ns.NS_WSSE}">{content}</wsse:SecurityTokenReference>'


def security_token_reference(
    style: str, certificate: x509.Certificate, *, token_id: str | None = None
) -> etree._Element:
    """A wsse:SecurityTokenReference naming the certificate in one of the three styles."""
    return fragment(security_token_reference_markup(style, certificate, token_id=token_id))


# --- resolution -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenReference:
    """What a SecurityTokenReference says: a carried certificate, or issuer+serial, or an SKI."""

    style: str
    certificate: x509.Certificate | None = None
    issuer: str | None = None
    serial: int | None = None
    ski: bytes | None = None

    def __post_init__(self) -> None:
        if self.style not in ("bst", "issuer-serial", "ski"):
            raise ValueError(f"unknown reference style {self.style}")


_ATTRIBUTE_ALIASES = {
    "e": "emailaddress",
    "email": "emailaddress",
    "1.2.840.113549.1.9.1": "emailaddress",
    "s": "st",
    "2.5.4.8": "st",
    "2.5.4.3": "cn",
    "2.5.4.6": "c",
    "2.5.4.7": "l",
    "2.5.4.10": "o",
    "2.5.4.11": "ou",
    "2.5.4.5": "serialnumber",
    "oid.2.5.4.5": "serialnumber",
    "0.9.2342.19200300.100.1.25": "dc",
    "street": "street",
}


@functools.lru_cache(maxsize=256)
def _normalised_dn(text: str) -> frozenset[tuple[str, str]]:
    """An RFC 4514-ish DN as an order-free set, tolerant of the spacing and names other stacks use."""
    parts = re.split(r"(?<!\\)[,+;]", text)
    result: set[tuple[str, str]] = set()
    for part in parts:
        if "=" not in part:
            continue
        key, value = part.split("=", 1)
        key = key.strip().lower()
        key = _ATTRIBUTE_ALIASES.get(key.removeprefix("oid."), key)
        value = re.sub(r"\\(.)", r"\1", value.strip()).strip('"')
        result.add((key, " ".join(value.lower().split())))
    return frozenset(result)


def matches(reference: TokenReference, certificate: x509.Certificate) -> bool:
    """Does the reference name this certificate? (the whole certificate for a carried token)"""
    if reference.certificate is not None:
        return reference.certificate is certificate or certificate_der(
            reference.certificate
        ) == certificate_der(certificate)
    if reference.style == "issuer-serial":
        return (
            reference.serial == certificate.serial_number
            and reference.issuer is not None
            and _normalised_dn(reference.issuer) == _normalised_dn(certificate.issuer.rfc4514_string())
        )
    if reference.style == "ski":
        return reference.ski == subject_key_identifier(certificate)
    return False


def _der_items(data: bytes) -> list[bytes]:
    """The elements of one DER SEQUENCE (enough ASN.1 to split a PkiPath)."""

    def length_at(position: int) -> tuple[int, int]:
        first = data[position]
        if first < 0x80:
            return first, position + 1
        count = first & 0x7F
        if count == 0 or count > 4:
            raise ValueError("unsupported DER length")
        return int.from_bytes(data[position + 1 : position + 1 + count], "big"), position + 1 + count

    if not data or data[0] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    length, start = length_at(1)
    end = start + length
    if end != len(data):
        raise ValueError("trailing bytes after the PkiPath")
    items = []
    position = start
    while position < end:
        if data[position] != 0x30:
            raise ValueError("PkiPath element is not a certificate")
        item_length, content = length_at(position + 1)
        items.append(data[position : content + item_length])
        position = content + item_length
    if position != end:
        raise ValueError("PkiPath element runs past the end")
    return items


def _token_certificate(token: etree._Element) -> x509.Certificate:
    encoding = token.get("EncodingType")
    if encoding not in (None, ns.ENCODING_BASE64):
        raise ValueError(f"BinarySecurityToken EncodingType {encoding} is not Base64Binary")
    der = base64.b64decode("".join((token.text or "").split()), validate=True)
    value_type = token.get("ValueType")
    if value_type == ns.TOKEN_X509V3:
        return _load_der(der)
    if value_type == ns.TOKEN_X509_PKIPATH:
        path = _der_items(der)
        if not path:
            raise ValueError("empty PkiPath")
        # X.509 Token Profile §3.1: the path runs from the trust anchor to the end entity.
        return _load_der(path[-1])
    raise ValueError(f"BinarySecurityToken ValueType {value_type} is not X509v3 or X509PKIPathv1")


def read_token_reference(
    reference: etree._Element,
    root: etree._Element,
    fail: Callable[[str], Exception],
    ids: dict[str, list[etree._Element]] | None = None,
) -> TokenReference:
    """Resolve a wsse:SecurityTokenReference in the document it belongs to (`ids`: its Id index)."""
    if reference.tag != _STR:
        raise fail(f"expected wsse:SecurityTokenReference, found {reference.tag}")
    children = [child for child in reference if isinstance(child.tag, str)]
    if len(children) != 1:
        raise fail(f"SecurityTokenReference has {len(children)} children, expected one")
    (child,) = children
    try:
        if child.tag == qname(ns.NS_WSSE, "Reference"):
            uri = child.get("URI") or ""
            if not uri.startswith("#") or len(uri) < 2:
                raise fail(f"token reference URI {uri!r} is not a same-document reference")
            targets = (id_index(root) if ids is None else ids).get(uri[1:], [])
            if len(targets) != 1:
                raise fail(f"token reference {uri} resolves to {len(targets)} elements")
            token = targets[0]
            if token.tag != _BST:
                raise fail(f"token reference {uri} points at {token.tag}, not a BinarySecurityToken")
            declared = child.get("ValueType")
            if declared not in (None, token.get("ValueType")):
                raise fail(f"token reference {uri} declares ValueType {declared}, the token is another")
            return TokenReference("bst", certificate=_token_certificate(token))
        if child.tag == qname(ns.NS_DS, "X509Data"):
            data = [item for item in child if isinstance(item.tag, str)]
            if len(data) == 1 and data[0].tag == qname(ns.NS_DS, "X509IssuerSerial"):
                name = data[0].find(qname(ns.NS_DS, "X509IssuerName"))
                serial = data[0].find(qname(ns.NS_DS, "X509SerialNumber"))
                if name is None or serial is None or not (name.text or "").strip():
                    raise fail("X509IssuerSerial lacks the issuer name or serial number")
                issuer, serial_number = name.text.strip(), int(serial.text or "")
                return TokenReference("issuer-serial", issuer=issuer, serial=serial_number)
            if len(data) == 1 and data[0].tag == qname(ns.NS_DS, "X509Certificate"):
                der = base64.b64decode("".join((data[0].text or "").split()), validate=True)
                return TokenReference("bst", certificate=_load_der(der))
            raise fail("X509Data holds neither one X509IssuerSerial nor one X509Certificate")
        if child.tag == qname(ns.NS_WSSE, "KeyIdentifier"):
            if child.get("ValueType") != ns.KEY_IDENTIFIER_SKI:
                raise fail(f"KeyIdentifier ValueType {child.get('ValueType')} is not the X509 SKI")
            if child.get("EncodingType") not in (None, ns.ENCODING_BASE64):
                raise fail(f"KeyIdentifier EncodingType {child.get('EncodingType')} is not Base64Binary")
            ski = base64.b64decode("".join((child.text or "").split()), validate=True)
            if not ski:
                raise fail("empty SubjectKeyIdentifier")
            return TokenReference("ski", ski=ski)
    except (ValueError, IndexError, binascii.Error) as bad:
        raise fail(f"unreadable security token: {bad or type(bad).__name__}") from None
    raise fail(f"unsupported SecurityTokenReference content {child.tag}")
