"""encrypt_attachments: the XML-Enc structures it writes, checked with independent AES-GCM and RSA-OAEP."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree
from security_support import make_envelope

from protocols.as4 import namespaces as ns
from protocols.as4.payload import MemorySpool
from protocols.as4.security import encrypt_attachments, sign_envelope

DS = f"{{{ns.NS_DS}}}"
WSSE = f"{{{ns.NS_WSSE}}}"
XENC = f"{{{ns.NS_XENC}}}"


def security_of(envelope: etree._Element) -> etree._Element:
    return envelope.find(f"./{{{ns.NS_S12}}}Header/{WSSE}Security")


def content(attachment) -> bytes:
    return b"".join(attachment.source.chunks())


def test_encrypted_key_and_data_come_first_and_before_the_signature(payloads, alice, bob):
    envelope = make_envelope(*(p.content_id for p in payloads))
    sign_envelope(envelope, payloads, alice)
    encrypt_attachments(envelope, payloads, bob.certificate, spool=MemorySpool)
    tags = [etree.QName(child).localname for child in security_of(envelope)]
    assert tags == [
        "BinarySecurityToken",
        "EncryptedKey",
        *["EncryptedData"] * len(payloads),
        "BinarySecurityToken",
        "Signature",
    ]


def test_encrypted_key_uses_rsa_oaep_with_mgf1_sha256_and_names_the_recipient(payloads, bob):
    envelope = make_envelope(*(p.content_id for p in payloads))
    encrypt_attachments(envelope, payloads, bob.certificate, spool=MemorySpool)
    security = security_of(envelope)
    key = security.find(f"{XENC}EncryptedKey")
    method = key.find(f"{XENC}EncryptionMethod")
    assert method.get("Algorithm") == ns.ALG_RSA_OAEP
    assert method.find(f"{DS}DigestMethod").get("Algorithm") == ns.ALG_DIGEST_SHA256
    assert method.find(f"{{{ns.NS_XENC11}}}MGF").get("Algorithm") == ns.ALG_MGF1_SHA256
    reference = key.find(f"{DS}KeyInfo/{WSSE}SecurityTokenReference/{WSSE}Reference")
    token = security.find(f"{WSSE}BinarySecurityToken")
    assert reference.get("URI") == "#" + token.get(f"{{{ns.NS_WSU}}}Id")
    assert len(key.findall(f"{XENC}ReferenceList/{XENC}DataReference")) == len(payloads)


def test_each_attachment_gets_content_only_encrypted_data_with_its_mime_type(payloads, bob):
    envelope = make_envelope(*(p.content_id for p in payloads))
    parts = encrypt_attachments(envelope, payloads, bob.certificate, spool=MemorySpool)
    security = security_of(envelope)
    key_id = security.find(f"{XENC}EncryptedKey").get("Id")
    data = security.findall(f"{XENC}EncryptedData")
    references = [r.get("URI") for r in security.iter(f"{XENC}DataReference")]
    assert references == [f"#{d.get('Id')}" for d in data]
    for element, original, part in zip(data, payloads, parts, strict=True):
        assert element.get("MimeType") == original.mime_type
        assert element.get("Type") == ns.SWA_ATTACHMENT_CONTENT_ONLY
        assert element.find(f"{XENC}EncryptionMethod").get("Algorithm") == ns.ALG_AES128_GCM
        cipher_reference = element.find(f"{XENC}CipherData/{XENC}CipherReference")
        assert cipher_reference.get("URI") == f"cid:{original.content_id}"
        assert cipher_reference.find(f"{XENC}Transforms/{DS}Transform").get("Algorithm") == (
            ns.SWA_ATTACHMENT_CIPHERTEXT_TRANSFORM
        )
        token_reference = element.find(f"{DS}KeyInfo/{WSSE}SecurityTokenReference")
        assert token_reference.get(f"{{{ns.NS_WSSE11}}}TokenType") == ns.TOKEN_TYPE_ENCRYPTED_KEY
        assert token_reference.find(f"{WSSE}Reference").get("URI") == f"#{key_id}"
        assert (part.content_id, part.mime_type) == (original.content_id, "application/octet-stream")


def test_ciphertext_is_iv_then_gcm_output_under_the_transported_key(payloads, bob):
    envelope = make_envelope(*(p.content_id for p in payloads))
    parts = encrypt_attachments(envelope, payloads, bob.certificate, spool=MemorySpool)
    wrapped = base64.b64decode(security_of(envelope).find(f"{XENC}EncryptedKey//{XENC}CipherValue").text)
    key = bob.private_key.decrypt(wrapped, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    assert len(key) == 16
    ivs = set()
    for original, part in zip(payloads, parts, strict=True):
        sealed = content(part)
        assert part.source.size == original.source.size + 12 + 16
        ivs.add(sealed[:12])
        assert AESGCM(key).decrypt(sealed[:12], sealed[12:], None) == content(original)
    assert len(ivs) == len(parts)


@pytest.mark.parametrize("style", ["issuer-serial", "ski"])
def test_issuer_serial_and_ski_references_add_no_token(payloads, bob, style):
    envelope = make_envelope(*(p.content_id for p in payloads))
    encrypt_attachments(envelope, payloads, bob.certificate, key_reference=style, spool=MemorySpool)
    assert security_of(envelope).find(f"{WSSE}BinarySecurityToken") is None


def test_encryption_refuses_nothing_to_encrypt_and_unknown_reference_styles(payloads, bob):
    with pytest.raises(ValueError, match="no attachments"):
        encrypt_attachments(make_envelope(), (), bob.certificate, spool=MemorySpool)
    with pytest.raises(ValueError, match="key reference"):
        encrypt_attachments(make_envelope(), payloads, bob.certificate, key_reference="x", spool=MemorySpool)
