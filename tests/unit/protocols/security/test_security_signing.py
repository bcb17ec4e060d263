"""sign_envelope: the WS-Security header it writes, as the AS4 profile and the SwA profile lay it out."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from security_support import make_envelope

from protocols.as4 import namespaces as ns
from protocols.as4.payload import Attachment, InMemory
from protocols.as4.security import SignedReference, sign_envelope

DS = f"{{{ns.NS_DS}}}"
WSSE = f"{{{ns.NS_WSSE}}}"
WSU_ID = f"{{{ns.NS_WSU}}}Id"


def security_of(envelope: etree._Element) -> etree._Element:
    return envelope.find(f"./{{{ns.NS_S12}}}Header/{WSSE}Security")


def test_security_header_holds_the_token_then_the_signature(payloads, alice):
    envelope = make_envelope(*(p.content_id for p in payloads))
    sign_envelope(envelope, payloads, alice)
    security = security_of(envelope)
    assert security.get(f"{{{ns.NS_S12}}}mustUnderstand") == "true"
    assert [child.tag for child in security] == [f"{WSSE}BinarySecurityToken", f"{DS}Signature"]
    token = security[0]
    assert token.get("ValueType") == ns.TOKEN_X509V3
    assert base64.b64decode(token.text) == alice.certificate.public_bytes(Encoding.DER)
    reference = security.find(f"{DS}Signature/{DS}KeyInfo/{WSSE}SecurityTokenReference/{WSSE}Reference")
    assert reference.get("URI") == "#" + token.get(WSU_ID)


def test_signed_info_covers_messaging_body_and_each_attachment(payloads, alice):
    envelope = make_envelope(*(p.content_id for p in payloads))
    returned = sign_envelope(envelope, payloads, alice)
    signed_info = security_of(envelope).find(f"{DS}Signature/{DS}SignedInfo")
    assert signed_info.find(f"{DS}CanonicalizationMethod").get("Algorithm") == ns.ALG_C14N_EXCL
    assert signed_info.find(f"{DS}SignatureMethod").get("Algorithm") == ns.ALG_RSA_SHA256
    messaging = envelope.find(f".//{{{ns.NS_EB}}}Messaging")
    body = envelope.find(f"{{{ns.NS_S12}}}Body")
    expected_uris = [f"#{messaging.get(WSU_ID)}", f"#{body.get(WSU_ID)}"] + [
        f"cid:{p.content_id}" for p in payloads
    ]
    written = [
        SignedReference(
            r.get("URI"),
            r.find(f"{DS}DigestMethod").get("Algorithm"),
            r.find(f"{DS}DigestValue").text,
            tuple(t.get("Algorithm") for t in r.iter(f"{DS}Transform")),
        )
        for r in signed_info.findall(f"{DS}Reference")
    ]
    assert [r.uri for r in written] == expected_uris
    assert tuple(written) == returned
    assert [r.transforms for r in written] == [(ns.ALG_C14N_EXCL,)] * 2 + [
        (ns.SWA_ATTACHMENT_CONTENT_SIGNATURE_TRANSFORM,)
    ] * len(payloads)
    assert {r.digest_method for r in written} == {ns.ALG_DIGEST_SHA256}


def test_element_digests_are_over_exclusive_canonical_form(alice):
    envelope = make_envelope()
    messaging_reference, _ = sign_envelope(envelope, (), alice)
    messaging = envelope.find(f".//{{{ns.NS_EB}}}Messaging")
    canonical = etree.tostring(messaging, method="c14n", exclusive=True)
    assert base64.b64decode(messaging_reference.digest_value) == hashlib.sha256(canonical).digest()


def test_binary_attachment_digest_is_over_its_raw_bytes(alice):
    data = b"\x1f\x8b\x08\x00 raw \r\n bytes \n"
    attachment = Attachment("gz@x", "application/gzip", InMemory(data))
    *_, reference = sign_envelope(make_envelope("gz@x"), (attachment,), alice)
    assert base64.b64decode(reference.digest_value) == hashlib.sha256(data).digest()


def test_existing_ids_are_kept_and_missing_ones_added(alice):
    envelope = make_envelope()
    envelope.find(f".//{{{ns.NS_EB}}}Messaging").set(WSU_ID, "_messaging")
    messaging_reference, body_reference = sign_envelope(envelope, (), alice)
    assert messaging_reference.uri == "#_messaging"
    assert body_reference.uri == "#" + envelope.find(f"{{{ns.NS_S12}}}Body").get(WSU_ID)


@pytest.mark.parametrize("style", ["issuer-serial", "ski"])
def test_other_key_reference_styles_carry_no_token(alice, style):
    envelope = make_envelope()
    sign_envelope(envelope, (), alice, key_reference=style)
    security = security_of(envelope)
    assert security.find(f"{WSSE}BinarySecurityToken") is None
    reference = security.find(f"{DS}Signature/{DS}KeyInfo/{WSSE}SecurityTokenReference")
    assert len(reference) == 1


def test_signing_refuses_what_it_cannot_sign(alice):
    with pytest.raises(ValueError, match="key reference"):
        sign_envelope(make_envelope(), (), alice, key_reference="thumbprint")
    bare = etree.fromstring(f'<S12:Envelope xmlns:S12="{ns.NS_S12}"><S12:Header/><S12:Body/></S12:Envelope>')
    with pytest.raises(ValueError, match="Messaging"):
        sign_envelope(bare, (), alice)
    broken = Attachment("x@x", "application/xml", InMemory(b"<not-closed>"))
    with pytest.raises(ValueError, match="x@x"):
        sign_envelope(make_envelope("x@x"), (broken,), alice)
