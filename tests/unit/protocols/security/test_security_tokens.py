"""Security tokens: building BSTs and the three STR styles, and resolving each exactly as it reads."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from security_support import make_identity

from protocols.as4 import namespaces as ns
from protocols.as4.security.tokens import (
    TokenReference,
    binary_security_token,
    matches,
    read_token_reference,
    security_token_reference,
    subject_key_identifier,
)

WSSE = f"{{{ns.NS_WSSE}}}"


class Refused(Exception):
    pass


def document(*children: etree._Element) -> etree._Element:
    root = etree.Element("{urn:test}Root")
    root.extend(children)
    return root


def resolve(reference: etree._Element, root: etree._Element) -> TokenReference:
    return read_token_reference(reference, root, Refused)


def test_bst_carries_the_certificate_with_x509v3_and_base64(alice):
    token, token_id = binary_security_token(alice.certificate)
    assert token.get("ValueType") == ns.TOKEN_X509V3
    assert token.get("EncodingType") == ns.ENCODING_BASE64
    assert token.get(f"{{{ns.NS_WSU}}}Id") == token_id
    assert base64.b64decode(token.text) == alice.certificate.public_bytes(Encoding.DER)


@pytest.mark.parametrize("style", ["bst", "issuer-serial", "ski"])
def test_each_reference_style_resolves_to_a_reference_that_matches_only_its_certificate(
    alice, mallory, style
):
    token, token_id = binary_security_token(alice.certificate)
    reference = security_token_reference(style, alice.certificate, token_id=token_id)
    resolved = resolve(reference, document(token, reference))
    assert resolved.style == style
    assert matches(resolved, alice.certificate)
    assert not matches(resolved, mallory.certificate)


def test_issuer_serial_matches_other_spellings_of_the_issuer(alice):
    name = alice.certificate.issuer
    reference = TokenReference(
        "issuer-serial",
        issuer="  cn = party-a ,  O=aswnode  security tests, C=VN ",
        serial=alice.certificate.serial_number,
    )
    assert name.rfc4514_string() == "CN=party-a,O=aswnode security tests,C=VN"
    assert matches(reference, alice.certificate)
    reordered = TokenReference(
        "issuer-serial",
        issuer="C=VN, O=aswnode security tests, CN=party-a",
        serial=alice.certificate.serial_number,
    )
    assert matches(reordered, alice.certificate)
    other = TokenReference("issuer-serial", issuer="CN=party-a,C=VN", serial=alice.certificate.serial_number)
    assert not matches(other, alice.certificate)


def test_ski_is_computed_when_the_extension_is_absent():
    plain = make_identity("plain", with_ski=False)
    assert subject_key_identifier(plain.certificate) == (
        x509.SubjectKeyIdentifier.from_public_key(plain.certificate.public_key()).digest
    )


def test_pkipath_token_yields_its_last_certificate(alice, bob):
    der = b"".join(c.public_bytes(Encoding.DER) for c in (bob.certificate, alice.certificate))
    length = len(der).to_bytes(4, "big").lstrip(b"\0")
    path = b"\x30" + bytes([0x80 | len(length)]) + length + der
    token, token_id = binary_security_token(alice.certificate)
    token.set("ValueType", ns.TOKEN_X509_PKIPATH)
    token.text = base64.b64encode(path).decode()
    reference = security_token_reference("bst", alice.certificate, token_id=token_id)
    reference[0].set("ValueType", ns.TOKEN_X509_PKIPATH)
    assert resolve(reference, document(token, reference)).certificate == alice.certificate


def test_token_with_whitespace_in_its_base64_is_read(alice):
    token, token_id = binary_security_token(alice.certificate)
    token.text = "\n  " + "\n  ".join(token.text[i : i + 64] for i in range(0, len(token.text), 64)) + "\n"
    reference = security_token_reference("bst", alice.certificate, token_id=token_id)
    assert resolve(reference, document(token, reference)).certificate == alice.certificate


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda token, ref: ref[0].set("URI", "http://elsewhere/token"), "not a same-document reference"),
        (lambda token, ref: ref[0].set("URI", "#missing"), "resolves to 0 elements"),
        (
            lambda token, ref: (token.set("ValueType", "urn:o"), ref[0].attrib.pop("ValueType")),
            "is not X509v3",
        ),
        (lambda token, ref: token.set("EncodingType", "urn:hex"), "is not Base64Binary"),
        (lambda token, ref: setattr(token, "text", "@@@"), "unreadable security token"),
        (lambda token, ref: setattr(token, "text", base64.b64encode(b"junk").decode()), "unreadable"),
        (lambda token, ref: ref[0].set("ValueType", ns.TOKEN_X509_PKIPATH), "declares ValueType"),
        (lambda token, ref: ref.append(etree.Element(f"{WSSE}Reference")), "has 2 children"),
    ],
    ids=[
        "external",
        "missing",
        "value-type",
        "encoding",
        "base64",
        "not-a-certificate",
        "type-mismatch",
        "two",
    ],
)
def test_unusable_token_references_are_refused(alice, edit, message):
    token, token_id = binary_security_token(alice.certificate)
    reference = security_token_reference("bst", alice.certificate, token_id=token_id)
    edit(token, reference)
    with pytest.raises(Refused, match=message):
        resolve(reference, document(token, reference))


def test_reference_to_a_duplicated_token_id_is_refused(alice, bob):
    token, token_id = binary_security_token(alice.certificate)
    twin, _ = binary_security_token(bob.certificate)
    twin.set(f"{{{ns.NS_WSU}}}Id", token_id)
    reference = security_token_reference("bst", alice.certificate, token_id=token_id)
    with pytest.raises(Refused, match="resolves to 2 elements"):
        resolve(reference, document(token, twin, reference))


def test_key_identifier_of_another_kind_is_refused(alice):
    reference = security_token_reference("ski", alice.certificate)
    reference[0].set("ValueType", ns.TOKEN_X509V3)
    with pytest.raises(Refused, match="is not the X509 SKI"):
        resolve(reference, document(reference))


def test_unknown_reference_style_cannot_be_built(alice):
    with pytest.raises(ValueError, match="key reference"):
        security_token_reference("thumbprint", alice.certificate)


def _certificate_with_a_damaged_subject(certificate: x509.Certificate) -> bytes:
    """DER that cryptography loads (it parses names lazily) but whose subject is unreadable."""
    der = certificate.public_bytes(Encoding.DER)
    for position in range(len(der)):
        damaged = der[:position] + bytes([der[position] ^ 0x40]) + der[position + 1 :]
        try:
            loaded = x509.load_der_x509_certificate(damaged)
        except (ValueError, x509.InvalidVersion):
            continue
        try:
            loaded.subject.rfc4514_string()
        except ValueError:
            return damaged
    raise AssertionError("no single-byte damage leaves a loadable certificate with a broken subject")


def test_token_whose_certificate_names_are_unreadable_is_refused(alice):
    token, token_id = binary_security_token(alice.certificate)
    token.text = base64.b64encode(_certificate_with_a_damaged_subject(alice.certificate)).decode()
    reference = security_token_reference("bst", alice.certificate, token_id=token_id)
    with pytest.raises(Refused, match="unreadable security token"):
        resolve(reference, document(token, reference))


def test_token_whose_certificate_has_an_unknown_version_is_refused(alice):
    der = bytearray(alice.certificate.public_bytes(Encoding.DER))
    version = der.index(bytes.fromhex("a003020102"))  # [0] EXPLICIT INTEGER 2 (v3)
    der[version + 4] = 0x42
    token, token_id = binary_security_token(alice.certificate)
    token.text = base64.b64encode(bytes(der)).decode()
    reference = security_token_reference("bst", alice.certificate, token_id=token_id)
    with pytest.raises(Refused, match="unreadable security token"):
        resolve(reference, document(token, reference))
