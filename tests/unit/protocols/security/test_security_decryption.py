"""decrypt_attachments: every key-reference style and transport accepted, nothing unauthenticated released."""

from __future__ import annotations

import base64
import copy
import os
import tracemalloc

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree
from security_support import Repeating, make_envelope

from protocols.as4 import namespaces as ns
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.payload import Attachment, InMemory, MemorySpool
from protocols.as4.security import (
    EncryptionAlgorithms,
    decrypt_attachments,
    encrypt_attachments,
    sign_envelope,
    verify_envelope,
)

XENC = f"{{{ns.NS_XENC}}}"


def content(attachment: Attachment) -> bytes:
    return b"".join(attachment.source.chunks())


def encrypted(payloads, recipient, **options):
    envelope = make_envelope(*(p.content_id for p in payloads))
    parts = encrypt_attachments(envelope, payloads, recipient.certificate, spool=MemorySpool, **options)
    return etree.fromstring(etree.tostring(envelope)), parts


def refused(envelope, parts, own, match: str) -> None:
    with pytest.raises(EbmsException) as caught:
        decrypt_attachments(envelope, parts, own, spool=MemorySpool)
    assert caught.value.error is EbmsError.FAILED_DECRYPTION
    assert match in caught.value.detail, caught.value.detail


@pytest.mark.parametrize("key_reference", ["bst", "issuer-serial", "ski"])
def test_encrypted_attachments_decrypt_for_every_key_reference_style(payloads, bob, key_reference):
    envelope, parts = encrypted(payloads, bob, key_reference=key_reference)
    plain = decrypt_attachments(envelope, parts, bob, spool=MemorySpool)
    assert [content(p) for p in plain] == [content(p) for p in payloads]
    assert [p.mime_type for p in plain] == [p.mime_type for p in payloads]
    assert [p.content_id for p in plain] == [p.content_id for p in payloads]


@pytest.mark.parametrize(
    "algorithms",
    [
        EncryptionAlgorithms(data_encryption=ns.ALG_AES256_GCM),
        EncryptionAlgorithms(oaep_digest=ns.ALG_DIGEST_SHA512, mgf=ns.ALG_MGF1_SHA512),
        EncryptionAlgorithms(oaep_digest=ns.ALG_DIGEST_SHA1, mgf=ns.ALG_MGF1_SHA1),
        EncryptionAlgorithms(
            key_transport=ns.ALG_RSA_OAEP_MGF1P, oaep_digest=ns.ALG_DIGEST_SHA1, mgf=ns.ALG_MGF1_SHA1
        ),
        EncryptionAlgorithms(
            key_transport=ns.ALG_RSA_OAEP_MGF1P, oaep_digest=ns.ALG_DIGEST_SHA256, mgf=ns.ALG_MGF1_SHA1
        ),
    ],
    ids=["aes256", "oaep-sha512", "oaep-sha1", "mgf1p", "mgf1p-sha256"],
)
def test_every_declared_key_transport_and_data_algorithm_decrypts(payloads, bob, algorithms):
    envelope, parts = encrypted(payloads, bob, algorithms=algorithms)
    plain = decrypt_attachments(envelope, parts, bob, spool=MemorySpool)
    assert [content(p) for p in plain] == [content(p) for p in payloads]


def test_oaep_without_declared_digest_and_mgf_means_sha1(payloads, bob):
    envelope, parts = encrypted(
        payloads, bob, algorithms=EncryptionAlgorithms(oaep_digest=ns.ALG_DIGEST_SHA1, mgf=ns.ALG_MGF1_SHA1)
    )
    method = envelope.find(f".//{XENC}EncryptedKey/{XENC}EncryptionMethod")
    for child in list(method):
        method.remove(child)
    plain = decrypt_attachments(envelope, parts, bob, spool=MemorySpool)
    assert content(plain[0]) == content(payloads[0])


def test_unencrypted_message_comes_back_unchanged(payloads, bob):
    envelope = make_envelope(*(p.content_id for p in payloads))
    assert decrypt_attachments(envelope, payloads, bob, spool=MemorySpool) == payloads


def test_only_the_encrypted_parts_are_replaced(payloads, bob):
    envelope, parts = encrypted(payloads[:1], bob)
    plain = decrypt_attachments(envelope, (*parts, *payloads[1:]), bob, spool=MemorySpool)
    assert plain[1:] == payloads[1:]
    assert content(plain[0]) == content(payloads[0])


def test_sign_then_encrypt_then_decrypt_then_verify(payloads, alice, bob):
    envelope = make_envelope(*(p.content_id for p in payloads))
    sign_envelope(envelope, payloads, alice)
    parts = encrypt_attachments(envelope, payloads, bob.certificate, spool=MemorySpool)
    received = etree.fromstring(etree.tostring(envelope))
    plain = decrypt_attachments(received, parts, bob, spool=MemorySpool)
    verified = verify_envelope(
        received, plain, trusted=[alice.certificate], required_attachments=[p.content_id for p in payloads]
    )
    assert verified.certificate == alice.certificate


def test_encrypted_key_for_another_certificate_is_refused(payloads, alice, bob):
    envelope, parts = encrypted(payloads, bob)
    refused(envelope, parts, alice, match="addressed to another certificate")


@pytest.mark.parametrize("key_reference", ["issuer-serial", "ski"])
def test_encrypted_key_naming_another_certificate_is_refused(payloads, alice, bob, key_reference):
    envelope, parts = encrypted(payloads, bob, key_reference=key_reference)
    refused(envelope, parts, alice, match="addressed to another certificate")


def test_key_reference_we_cannot_resolve_leaves_the_decision_to_our_key(payloads, alice, bob):
    envelope, parts = encrypted(payloads, bob, key_reference="ski")
    identifier = envelope.find(f".//{XENC}EncryptedKey//{{{ns.NS_WSSE}}}KeyIdentifier")
    identifier.set(
        "ValueType", "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
    )
    plain = decrypt_attachments(envelope, parts, bob, spool=MemorySpool)
    assert content(plain[0]) == content(payloads[0])
    refused(envelope, parts, alice, match="does not decrypt with our private key")


def test_wrong_private_key_is_refused(payloads, alice, bob):
    envelope, parts = encrypted(payloads, bob)
    key_info = envelope.find(f".//{XENC}EncryptedKey/{{{ns.NS_DS}}}KeyInfo")
    key_info.getparent().remove(key_info)  # no reference: the key itself must fail
    refused(envelope, parts, alice, match="does not decrypt with our private key")


def test_flipped_ciphertext_byte_fails_the_tag(payloads, bob):
    envelope, parts = encrypted(payloads, bob)
    data = bytearray(content(parts[0]))
    data[20] ^= 1
    tampered = (Attachment(parts[0].content_id, parts[0].mime_type, InMemory(bytes(data))), *parts[1:])
    refused(envelope, tampered, bob, match="AES-GCM tag of bin@aswnode does not verify")


def test_flipped_tag_byte_fails(payloads, bob):
    envelope, parts = encrypted(payloads, bob)
    data = bytearray(content(parts[1]))
    data[-1] ^= 1
    tampered = (
        parts[0],
        Attachment(parts[1].content_id, parts[1].mime_type, InMemory(bytes(data))),
        parts[2],
    )
    refused(envelope, tampered, bob, match="tag of xml@aswnode")


def test_truncated_ciphertext_is_refused(payloads, bob):
    envelope, parts = encrypted(payloads, bob)
    short = (Attachment(parts[0].content_id, parts[0].mime_type, InMemory(b"x" * 20)), *parts[1:])
    refused(envelope, short, bob, match="shorter than IV and tag")


def test_nothing_is_written_past_a_bad_tag(payloads, bob):
    envelope, parts = encrypted(payloads[:1], bob)
    data = bytearray(content(parts[0]))
    data[-3] ^= 1
    finished = []

    class Watching(MemorySpool):
        def finish(self):
            finished.append(self)
            return super().finish()

    with pytest.raises(EbmsException):
        decrypt_attachments(
            envelope,
            (Attachment(parts[0].content_id, "application/octet-stream", InMemory(bytes(data))),),
            bob,
            spool=Watching,
        )
    assert finished == []


def test_unknown_data_encryption_is_refused(payloads, bob):
    envelope, parts = encrypted(payloads, bob)
    envelope.find(f".//{XENC}EncryptedData/{XENC}EncryptionMethod").set("Algorithm", ns.ALG_AES128_CBC)
    refused(envelope, parts, bob, match="data encryption http://www.w3.org/2001/04/xmlenc#aes128-cbc")


def test_unknown_key_transport_is_refused(payloads, bob):
    envelope, parts = encrypted(payloads, bob)
    envelope.find(f".//{XENC}EncryptedKey/{XENC}EncryptionMethod").set("Algorithm", "urn:rsa-1_5")
    refused(envelope, parts, bob, match="key transport urn:rsa-1_5")


def test_rsa_oaep_mgf1p_with_another_mgf_is_refused(payloads, bob):
    envelope, parts = encrypted(payloads, bob)
    envelope.find(f".//{XENC}EncryptedKey/{XENC}EncryptionMethod").set("Algorithm", ns.ALG_RSA_OAEP_MGF1P)
    refused(envelope, parts, bob, match="MGF for rsa-oaep-mgf1p")


def test_data_reference_without_hash_is_refused(payloads, bob):
    envelope, parts = encrypted(payloads, bob)
    reference = envelope.find(f".//{XENC}DataReference")
    reference.set("URI", reference.get("URI")[1:])
    refused(envelope, parts, bob, match="does not resolve to exactly one EncryptedData")


def test_encrypted_part_missing_from_the_message_is_refused(payloads, bob):
    envelope, parts = encrypted(payloads, bob)
    refused(envelope, parts[1:], bob, match="encrypted attachment bin@aswnode is not in the message")


def test_encrypted_data_found_through_its_own_key_reference_decrypts(payloads, bob):
    envelope, parts = encrypted(payloads, bob)
    reference_list = envelope.find(f".//{XENC}ReferenceList")
    reference_list.getparent().remove(reference_list)
    plain = decrypt_attachments(envelope, parts, bob, spool=MemorySpool)
    assert [content(p) for p in plain] == [content(p) for p in payloads]


def test_encrypted_data_nobody_references_is_refused(payloads, bob):
    envelope, parts = encrypted(payloads, bob)
    reference = envelope.find(f".//{XENC}DataReference")
    reference.getparent().remove(reference)
    key_info = envelope.find(f".//{XENC}EncryptedData/{{{ns.NS_DS}}}KeyInfo")
    key_info.getparent().remove(key_info)
    refused(envelope, parts, bob, match="is not referenced by any EncryptedKey")


def test_encrypted_data_listed_twice_is_refused(payloads, bob):
    envelope, parts = encrypted(payloads, bob)
    reference = envelope.find(f".//{XENC}DataReference")
    reference.getparent().append(copy.deepcopy(reference))
    refused(envelope, parts, bob, match="referenced twice")


@pytest.mark.parametrize("mime_type", ["text/plain\r\nX-Injected: 1", "no-slash", "t\u00e9xt/plain"])
def test_encrypted_data_mime_type_that_is_not_a_media_type_is_refused(payloads, bob, mime_type):
    envelope, parts = encrypted(payloads, bob)
    envelope.find(f".//{XENC}EncryptedData").set("MimeType", mime_type)
    refused(envelope, parts, bob, match="MimeType is not a media type")


def test_content_key_of_the_wrong_length_for_the_algorithm_is_refused(payloads, bob):
    envelope, parts = encrypted(payloads, bob)
    envelope.find(f".//{XENC}EncryptedData/{XENC}EncryptionMethod").set("Algorithm", ns.ALG_AES256_GCM)
    refused(envelope, parts, bob, match="does not fit")


def test_a_peer_built_ciphertext_decrypts(payloads, bob):
    """Independent of our encryptor: AESGCM one-shot with IV || ciphertext || tag, OAEP-SHA256 key."""
    envelope, parts = encrypted(payloads[:1], bob)
    key = os.urandom(16)
    iv = os.urandom(12)
    foreign = iv + AESGCM(key).encrypt(iv, b"hello from elsewhere", None)
    wrapped = bob.certificate.public_key().encrypt(
        key, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    )
    envelope.find(f".//{XENC}CipherValue").text = base64.b64encode(wrapped).decode()
    part = Attachment(parts[0].content_id, "application/octet-stream", InMemory(foreign))
    (plain,) = decrypt_attachments(envelope, (part,), bob, spool=MemorySpool)
    assert content(plain) == b"hello from elsewhere"


def test_large_attachment_streams_through_a_file_spool(bob, file_spool):
    size_blocks = 512  # 32 MiB in 64 KiB blocks, never held whole
    block = os.urandom(64 * 1024)
    payload = Attachment("big@aswnode", "application/octet-stream", Repeating(block, size_blocks))
    envelope = make_envelope(payload.content_id)
    tracemalloc.start()
    try:
        (sealed,) = encrypt_attachments(envelope, (payload,), bob.certificate, spool=file_spool)
        (opened,) = decrypt_attachments(envelope, (sealed,), bob, spool=file_spool)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sealed.source.size == payload.source.size + 12 + 16
    assert opened.source.size == payload.source.size
    assert peak < 4 * 1024 * 1024, f"peak Python allocation {peak} bytes: not streaming"
    for position, chunk in enumerate(opened.source.chunks(len(block))):
        assert chunk == block, f"block {position} differs"
