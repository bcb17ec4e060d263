"""Hostile edits anywhere in the security header are answered with EBMS:0101/0102, never a crash."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from security_support import make_envelope, make_identity

from protocols.as4 import namespaces as ns
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.payload import Attachment, InMemory, MemorySpool
from protocols.as4.security import (
    decrypt_attachments,
    encrypt_attachments,
    find_signing_certificate,
    sign_envelope,
    verify_envelope,
)

ALICE = make_identity("hostile-a")
BOB = make_identity("hostile-b")
PAYLOADS = (
    Attachment("bin@x", "application/octet-stream", InMemory(b"\x00\x01binary" * 20)),
    Attachment("xml@x", "application/xml", InMemory(b"<r><e a='1'/></r>")),
)


def _signed_and_encrypted(key_reference: str) -> tuple[bytes, tuple[Attachment, ...]]:
    envelope = make_envelope(*(p.content_id for p in PAYLOADS))
    sign_envelope(envelope, PAYLOADS, ALICE, key_reference=key_reference)
    parts = encrypt_attachments(
        envelope, PAYLOADS, BOB.certificate, key_reference=key_reference, spool=MemorySpool
    )
    return etree.tostring(envelope), parts


SAMPLES = {style: _signed_and_encrypted(style) for style in ("bst", "issuer-serial", "ski")}
VALUES = st.sampled_from(
    ["", "#", "cid:", "cid:bin@x", "#nothing", "AAAA", "@@", "0", "-1", "99999999999999999999", "CN=x",
     ns.ALG_RSA_SHA1, ns.ALG_AES256_GCM, ns.ALG_RSA_OAEP_MGF1P, ns.TOKEN_X509_PKIPATH, "MAMCAQA=", "MAUwAzAB"]
)  # fmt: skip


def _mutate(root: etree._Element, data: st.DataObject) -> None:
    security = root.find(f".//{{{ns.NS_WSSE}}}Security")
    elements = [e for e in security.iter() if isinstance(e.tag, str)]
    target = data.draw(st.sampled_from(elements))
    action = data.draw(st.sampled_from(["text", "attribute", "remove", "duplicate", "move-to-body"]))
    if action == "text":
        target.text = data.draw(VALUES)
    elif action == "attribute" and target.attrib:
        target.set(data.draw(st.sampled_from(sorted(target.attrib))), data.draw(VALUES))
    elif action == "remove" and target is not security:
        target.getparent().remove(target)
    elif action == "duplicate" and target is not security:
        target.getparent().append(copy.deepcopy(target))
    elif action == "move-to-body" and target is not security:
        root.find(f"{{{ns.NS_S12}}}Body").append(target)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(style=st.sampled_from(sorted(SAMPLES)), data=st.data())
def test_any_edit_of_the_security_header_is_answered_with_an_ebms_code(style, data):
    wire, parts = SAMPLES[style]
    root = etree.fromstring(wire)
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate(root, data)
    find_signing_certificate(root, [ALICE.certificate])
    try:
        plain = decrypt_attachments(root, parts, BOB, spool=MemorySpool)
        verify_envelope(root, plain, trusted=[ALICE.certificate], required_attachments=["bin@x", "xml@x"])
    except EbmsException as refused:
        assert refused.error in (EbmsError.FAILED_AUTHENTICATION, EbmsError.FAILED_DECRYPTION)
        assert refused.detail
