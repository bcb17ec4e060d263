"""Building what we send: compress, sign, encrypt in that order; receipts and error signals."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Callable

import pytest

from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.inbound import read_envelope
from protocols.as4.model import Property, UserMessage
from protocols.as4.namespaces import ALG_RSA_SHA512, COMPRESSION_GZIP, NS_DS, NS_XENC
from protocols.as4.outbound import OutboundMessage, Payload, build_error_signal, build_user_message
from protocols.as4.payload import InMemory, MemorySpool, read_all
from protocols.as4.pmode import PMode
from protocols.as4.security import SigningIdentity

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
DATA = b"<Certificate>" + b"x" * 5000 + b"</Certificate>"


def _build(
    make_user_message: Callable[..., UserMessage], pmode: PMode, alice: SigningIdentity, bob: SigningIdentity
) -> OutboundMessage:
    return build_user_message(
        make_user_message(), [Payload("p@x", "application/xml", InMemory(DATA), (Property("Lang", "en"),))],
        pmode,
        signing=alice, recipient_certificate=bob.certificate, spool=MemorySpool, boundary="unit-boundary",
    )  # fmt: skip


def test_compressed_part_is_gzip_typed_and_part_info_names_the_original_type(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = _build(make_user_message, make_pmode(security={"encrypt": False}), alice, bob)
    envelope = read_envelope(sent.body, sent.content_type)
    assert envelope.user_message is not None
    part = envelope.user_message.payload_info[0]
    assert [(p.name, p.value) for p in part.part_properties] == [
        ("MimeType", "application/xml"), ("CompressionType", COMPRESSION_GZIP), ("Lang", "en"),
    ]  # fmt: skip
    assert envelope.attachments[0].mime_type == COMPRESSION_GZIP
    assert gzip.decompress(read_all(envelope.attachments[0].source, 1 << 20)) == DATA


def test_signature_covers_messaging_body_and_every_attachment_with_the_pmode_algorithm(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = _build(make_user_message, make_pmode(security={"signature_algorithm": "rsa-sha512"}), alice, bob)
    assert [r.uri.split("-")[0] for r in sent.signed_references] == ["#id", "#id", "cid:p@x"]
    envelope = read_envelope(sent.body, sent.content_type)
    method = envelope.root.find(f".//{{{NS_DS}}}SignatureMethod")
    assert method is not None and method.get("Algorithm") == ALG_RSA_SHA512


def test_encrypted_part_is_opaque_and_the_signature_is_over_the_plaintext(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = _build(make_user_message, make_pmode(), alice, bob)
    envelope = read_envelope(sent.body, sent.content_type)
    wire = read_all(envelope.attachments[0].source, 1 << 20)
    assert envelope.attachments[0].mime_type == "application/octet-stream"
    with pytest.raises(gzip.BadGzipFile):
        gzip.decompress(wire)
    encrypted = envelope.root.find(f".//{{{NS_XENC}}}EncryptedData")
    assert encrypted is not None and encrypted.get("MimeType") == COMPRESSION_GZIP


def test_message_without_payloads_is_plain_soap(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode], alice: SigningIdentity
) -> None:
    sent = build_user_message(
        make_user_message(), [], make_pmode(), signing=alice, recipient_certificate=None, spool=MemorySpool,
        boundary="unused",
    )  # fmt: skip
    assert sent.content_type.startswith("application/soap+xml")
    assert len(sent.signed_references) == 2


def test_encrypting_pmode_without_a_recipient_certificate_is_a_caller_error(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode], alice: SigningIdentity
) -> None:
    with pytest.raises(ValueError, match="recipient certificate"):
        build_user_message(
            make_user_message(), [Payload("p@x", "text/plain", InMemory(b"x"))], make_pmode(), signing=alice,
            recipient_certificate=None, spool=MemorySpool, boundary="b",
        )  # fmt: skip


@pytest.mark.parametrize("content_id", ["", "<p@x>", "cid:p@x", "a b"])
def test_payload_content_id_must_be_bare(content_id: str) -> None:
    with pytest.raises(ValueError):
        Payload(content_id, "text/plain", InMemory(b""))


def test_payload_may_not_set_the_compression_properties_itself() -> None:
    with pytest.raises(ValueError, match="compression"):
        Payload("p@x", "text/plain", InMemory(b""), (Property("CompressionType", "application/gzip"),))


def test_error_signal_refers_to_the_message_and_is_signed_when_asked(alice: SigningIdentity) -> None:
    errors = [
        EbmsException(EbmsError.FAILED_AUTHENTICATION, "digest mismatch", ref_to_message_id="m@x"),
        EbmsException(EbmsError.DECOMPRESSION_FAILURE, "too big", ref_to_message_id="m@x"),
    ]
    signed = build_error_signal(errors, signing=alice, message_id="e@x", now=NOW)
    unsigned = build_error_signal(errors, signing=None, message_id="e2@x", now=NOW)
    assert len(signed.signed_references) == 2 and unsigned.signed_references == ()
    envelope = read_envelope(signed.body, signed.content_type)
    assert envelope.signal_message is not None
    assert envelope.signal_message.message_info.ref_to_message_id == "m@x"
    assert [(e.code, e.origin, e.detail) for e in envelope.signal_message.errors] == [
        ("EBMS:0101", "security", "digest mismatch"), ("EBMS:0303", "ebMS", "too big"),
    ]  # fmt: skip
    with pytest.raises(ValueError):
        build_error_signal([], signing=None, message_id="e3@x", now=NOW)
