"""Reading what we receive: stage 1 checks, then decrypt, verify by the right certificate, decompress."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable

import pytest

from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.inbound import (
    ErrorOutcome,
    ReceiptOutcome,
    open_user_message,
    read_envelope,
    read_response,
    verify_pushed_signal,
)
from protocols.as4.limits import Limits
from protocols.as4.model import UserMessage
from protocols.as4.outbound import (
    OutboundMessage,
    Payload,
    build_error_signal,
    build_receipt,
    build_user_message,
)
from protocols.as4.payload import InMemory, MemorySpool, read_all
from protocols.as4.pmode import PMode
from protocols.as4.security import SigningIdentity

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
BINARY = os.urandom(20_000)
XML = b'<Form xmlns="urn:asw:eco">\n  <Box n="1"   a="b"/>\n</Form>'


def _send(
    make_user_message: Callable[..., UserMessage], pmode: PMode, alice: SigningIdentity, bob: SigningIdentity
) -> OutboundMessage:
    payloads = [
        Payload("bin@x", "application/octet-stream", InMemory(BINARY)),
        Payload("xml@x", "application/xml", InMemory(XML)),
    ]
    return build_user_message(
        make_user_message(), payloads, pmode, signing=alice, recipient_certificate=bob.certificate,
        spool=MemorySpool, boundary="inbound-unit",
    )  # fmt: skip


@pytest.mark.parametrize(
    "overrides",
    [{}, {"compress": False}, {"security": {"encrypt": False}},
     {"compress": False, "security": {"encrypt": False}},
     {"security": {"signature_key_reference": "ski", "encryption_key_reference": "issuer-serial"}}],
    ids=["encrypted-compressed", "encrypted", "compressed", "plain", "ski-issuer-serial"],
)  # fmt: skip
def test_what_we_build_we_open_byte_for_byte(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity, overrides: dict[str, object],
) -> None:  # fmt: skip
    pmode = make_pmode(**overrides)
    sent = _send(make_user_message, pmode, alice, bob)
    envelope = read_envelope(sent.body, sent.content_type)
    received = open_user_message(
        envelope, sender_certificates=[alice.certificate], own=bob,
        require_encryption=pmode.security.encrypt, spool=MemorySpool,
    )  # fmt: skip
    assert [(p.content_id, p.mime_type, read_all(p.source, 1 << 20)) for p in received.payloads] == [
        ("bin@x", "application/octet-stream", BINARY), ("xml@x", "application/xml", XML),
    ]  # fmt: skip
    assert {r.uri for r in received.signed_references} >= {"cid:bin@x", "cid:xml@x"}
    assert received.signed_references == sent.signed_references


def test_our_receipt_verifies_against_what_we_sent(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(), alice, bob)
    received = open_user_message(
        read_envelope(sent.body, sent.content_type), sender_certificates=[alice.certificate], own=bob,
        require_encryption=True, spool=MemorySpool,
    )  # fmt: skip
    receipt = build_receipt(received, signing=bob, message_id="r@x", now=NOW)
    outcome = read_response(
        receipt.body, receipt.content_type, sent=sent, partner_certificates=[bob.certificate]
    )
    assert isinstance(outcome, ReceiptOutcome)
    assert len(outcome.signal.receipt.references) == 4  # type: ignore[union-attr]
    with pytest.raises(EbmsException) as wrong_partner:
        read_response(receipt.body, receipt.content_type, sent=sent, partner_certificates=[alice.certificate])
    assert wrong_partner.value.error is EbmsError.INVALID_RECEIPT
    other = dataclasses.replace(sent, signed_references=sent.signed_references[:-1])
    with pytest.raises(EbmsException) as fewer:
        read_response(receipt.body, receipt.content_type, sent=other, partner_certificates=[bob.certificate])
    assert fewer.value.error is EbmsError.INVALID_RECEIPT


def test_error_signal_answer_is_an_error_outcome(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(), alice, bob)
    answer = build_error_signal(
        [EbmsException(EbmsError.FAILED_DECRYPTION, "no key", ref_to_message_id=sent.message_id)],
        signing=None, message_id="e@x", now=NOW,
    )  # fmt: skip
    outcome = read_response(
        answer.body, answer.content_type, sent=sent, partner_certificates=[bob.certificate]
    )
    assert isinstance(outcome, ErrorOutcome)
    assert [(e.code, e.ref_to_message_id) for e in outcome.errors] == [("EBMS:0102", sent.message_id)]
    assert outcome.authenticated is False and outcome.signature is None


def test_bare_soap_fault_answer_is_an_error_outcome(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(), alice, bob)
    fault = (
        b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault>'
        b"<env:Code><env:Value>env:Receiver</env:Value></env:Code><env:Reason><env:Text>down</env:Text>"
        b"</env:Reason></env:Fault></env:Body></env:Envelope>"
    )
    outcome = read_response(InMemory(fault), "application/soap+xml", sent=sent, partner_certificates=[])
    assert isinstance(outcome, ErrorOutcome) and "down" in outcome.errors[0].detail
    assert outcome.authenticated is False


@pytest.mark.parametrize(
    ("body", "error"),
    [(b"", EbmsError.MISSING_RECEIPT), (b"<html>502</html>", EbmsError.INVALID_RECEIPT)],
)
def test_empty_or_garbage_answer_is_missing_or_invalid_receipt(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity, body: bytes, error: EbmsError,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(), alice, bob)
    with pytest.raises(EbmsException) as refused:
        read_response(InMemory(body), "text/html", sent=sent, partner_certificates=[bob.certificate])
    assert refused.value.error is error


def test_user_message_answer_is_an_invalid_receipt(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(), alice, bob)
    with pytest.raises(EbmsException) as refused:
        read_response(sent.body, sent.content_type, sent=sent, partner_certificates=[bob.certificate])
    assert refused.value.error is EbmsError.INVALID_RECEIPT


def test_signer_not_among_the_partner_certificates_is_failed_authentication_with_ref(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity, mallory: SigningIdentity,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(), mallory, bob)
    with pytest.raises(EbmsException) as refused:
        open_user_message(
            read_envelope(sent.body, sent.content_type), sender_certificates=[alice.certificate], own=bob,
            require_encryption=True, spool=MemorySpool,
        )  # fmt: skip
    assert refused.value.error is EbmsError.FAILED_AUTHENTICATION
    assert refused.value.ref_to_message_id == sent.message_id


def test_unencrypted_payload_is_policy_noncompliance_when_encryption_is_required(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(security={"encrypt": False}), alice, bob)
    with pytest.raises(EbmsException) as refused:
        open_user_message(
            read_envelope(sent.body, sent.content_type), sender_certificates=[alice.certificate], own=bob,
            require_encryption=True, spool=MemorySpool,
        )  # fmt: skip
    assert refused.value.error is EbmsError.POLICY_NONCOMPLIANCE


def test_unsigned_message_is_policy_noncompliance(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(security={"sign": False, "encrypt": False}), alice, bob)
    with pytest.raises(EbmsException) as refused:
        open_user_message(
            read_envelope(sent.body, sent.content_type), sender_certificates=[alice.certificate], own=bob,
            require_encryption=False, spool=MemorySpool,
        )  # fmt: skip
    assert refused.value.error is EbmsError.POLICY_NONCOMPLIANCE


def test_decompression_cap_comes_from_the_limits(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(), alice, bob)
    with pytest.raises(EbmsException) as refused:
        open_user_message(
            read_envelope(sent.body, sent.content_type), sender_certificates=[alice.certificate], own=bob,
            require_encryption=True, limits=Limits(max_decompressed_bytes=1000), spool=MemorySpool,
        )  # fmt: skip
    assert refused.value.error is EbmsError.DECOMPRESSION_FAILURE
    assert refused.value.ref_to_message_id == sent.message_id


def test_body_over_the_message_limit_is_refused_before_parsing() -> None:
    with pytest.raises(EbmsException) as refused:
        read_envelope(InMemory(b"x" * 2000), "application/soap+xml", limits=Limits(max_message_bytes=1000))
    assert refused.value.error is EbmsError.OTHER


def test_unknown_content_type_is_mime_inconsistency() -> None:
    with pytest.raises(EbmsException) as refused:
        read_envelope(InMemory(b"{}"), "application/json")
    assert refused.value.error is EbmsError.MIME_INCONSISTENCY


def test_payload_in_the_soap_body_is_signed_and_received(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = build_user_message(
        make_user_message(), [Payload("bin@x", "application/octet-stream", InMemory(BINARY))], make_pmode(),
        signing=alice, recipient_certificate=bob.certificate, spool=MemorySpool, boundary="body-unit",
        body_payload=XML,
    )  # fmt: skip
    received = open_user_message(
        read_envelope(sent.body, sent.content_type), sender_certificates=[alice.certificate], own=bob,
        require_encryption=False, spool=MemorySpool,
    )  # fmt: skip
    body, attachment = received.payloads
    assert (body.content_id, body.mime_type) == (None, "application/xml")
    assert read_all(body.source, 1 << 20) == b'<Form xmlns="urn:asw:eco">\n  <Box a="b" n="1"></Box>\n</Form>'
    assert read_all(attachment.source, 1 << 20) == BINARY


def test_payload_in_the_soap_body_is_policy_noncompliance_when_encryption_is_required(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = build_user_message(
        make_user_message(), [Payload("bin@x", "application/octet-stream", InMemory(BINARY))], make_pmode(),
        signing=alice, recipient_certificate=bob.certificate, spool=MemorySpool, boundary="body-unit",
        body_payload=XML,
    )  # fmt: skip
    with pytest.raises(EbmsException) as refused:
        open_user_message(
            read_envelope(sent.body, sent.content_type), sender_certificates=[alice.certificate], own=bob,
            require_encryption=True, spool=MemorySpool,
        )  # fmt: skip
    assert refused.value.error is EbmsError.POLICY_NONCOMPLIANCE
    assert refused.value.ref_to_message_id == sent.message_id


def test_decoy_cipher_reference_does_not_make_a_payload_encrypted(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(security={"encrypt": False}), alice, bob)
    raw = read_all(sent.body, 1 << 30)
    decoy = (
        b'<x:Decoy xmlns:x="urn:x" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">'
        b'<xenc:CipherReference URI="cid:bin@x"/><xenc:CipherReference URI="cid:xml@x"/></x:Decoy>'
    )
    header_end = raw.index(b"Header>") + len(b"Header>")
    assert raw.count(b"Header>") == 2  # the opening and closing tags of the one SOAP Header
    forged = raw[:header_end] + decoy + raw[header_end:]
    envelope = read_envelope(InMemory(forged), sent.content_type)
    open_user_message(  # signed and intact: the decoy sits in an unsigned header block
        envelope,
        sender_certificates=[alice.certificate],
        own=bob,
        require_encryption=False,
        spool=MemorySpool,
    )
    with pytest.raises(EbmsException) as refused:
        open_user_message(
            envelope, sender_certificates=[alice.certificate], own=bob, require_encryption=True,
            spool=MemorySpool,
        )  # fmt: skip
    assert refused.value.error is EbmsError.POLICY_NONCOMPLIANCE


def test_error_signed_by_the_partner_for_our_message_is_authenticated(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(), alice, bob)
    answer = build_error_signal(
        [EbmsException(EbmsError.FAILED_AUTHENTICATION, "refused", ref_to_message_id=sent.message_id)],
        signing=bob, message_id="e@x", now=NOW,
    )  # fmt: skip
    outcome = read_response(
        answer.body, answer.content_type, sent=sent, partner_certificates=[bob.certificate]
    )
    assert isinstance(outcome, ErrorOutcome)
    assert outcome.authenticated is True and outcome.signature is not None
    assert [e.code for e in outcome.errors] == ["EBMS:0101"]


@pytest.mark.parametrize("signer", ["nobody", "mallory", "partner-but-no-reference"])
def test_error_not_signed_by_the_partner_or_not_bound_to_our_message_is_not_authenticated(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity, mallory: SigningIdentity, signer: str,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(), alice, bob)
    identity = {"nobody": None, "mallory": mallory, "partner-but-no-reference": bob}[signer]
    ref = None if signer == "partner-but-no-reference" else sent.message_id
    answer = build_error_signal(
        [EbmsException(EbmsError.FAILED_AUTHENTICATION, "forged", ref_to_message_id=ref)],
        signing=identity, message_id="e@x", now=NOW,
    )  # fmt: skip
    outcome = read_response(
        answer.body, answer.content_type, sent=sent, partner_certificates=[bob.certificate]
    )
    assert isinstance(outcome, ErrorOutcome)
    assert outcome.authenticated is False
    assert [e.code for e in outcome.errors] == ["EBMS:0101"]


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed-by-partner"])
def test_error_about_another_message_is_an_invalid_receipt(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity, signed: bool,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(), alice, bob)
    answer = build_error_signal(
        [EbmsException(EbmsError.FAILED_AUTHENTICATION, "refused", ref_to_message_id="other@x")],
        signing=bob if signed else None, message_id="e@x", now=NOW,
    )  # fmt: skip
    with pytest.raises(EbmsException) as refused:
        read_response(answer.body, answer.content_type, sent=sent, partner_certificates=[bob.certificate])
    assert refused.value.error is EbmsError.INVALID_RECEIPT
    assert refused.value.ref_to_message_id == sent.message_id


def test_error_one_of_whose_errors_names_another_message_is_an_invalid_receipt(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(), alice, bob)
    answer = build_error_signal(
        [EbmsException(EbmsError.OTHER, "ours", ref_to_message_id=sent.message_id),
         EbmsException(EbmsError.FAILED_AUTHENTICATION, "theirs", ref_to_message_id="other@x")],
        signing=bob, message_id="e@x", now=NOW,
    )  # fmt: skip
    with pytest.raises(EbmsException) as refused:
        read_response(answer.body, answer.content_type, sent=sent, partner_certificates=[bob.certificate])
    assert refused.value.error is EbmsError.INVALID_RECEIPT


def test_pushed_signal_signed_by_the_partner_is_accepted(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(), alice, bob)
    received = open_user_message(
        read_envelope(sent.body, sent.content_type), sender_certificates=[alice.certificate], own=bob,
        require_encryption=True, spool=MemorySpool,
    )  # fmt: skip
    receipt = build_receipt(received, signing=bob, message_id="r@x", now=NOW)
    signal = verify_pushed_signal(
        read_envelope(receipt.body, receipt.content_type), partner_certificates=[bob.certificate]
    )
    assert signal.message_info.ref_to_message_id == sent.message_id
    error = build_error_signal(
        [EbmsException(EbmsError.OTHER, "late", ref_to_message_id=sent.message_id)],
        signing=bob, message_id="e@x", now=NOW,
    )  # fmt: skip
    signal = verify_pushed_signal(
        read_envelope(error.body, error.content_type), partner_certificates=[bob.certificate]
    )
    assert [e.code for e in signal.errors] == ["EBMS:0004"]


@pytest.mark.parametrize("signer", ["nobody", "mallory"])
def test_pushed_signal_unsigned_or_not_by_the_partner_is_failed_authentication(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity, mallory: SigningIdentity, signer: str,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(), alice, bob)
    error = build_error_signal(
        [EbmsException(EbmsError.DELIVERY_FAILURE, "forged", ref_to_message_id=sent.message_id)],
        signing=mallory if signer == "mallory" else None, message_id="e@x", now=NOW,
    )  # fmt: skip
    with pytest.raises(EbmsException) as refused:
        verify_pushed_signal(
            read_envelope(error.body, error.content_type), partner_certificates=[bob.certificate]
        )
    assert refused.value.error is EbmsError.FAILED_AUTHENTICATION
    assert refused.value.ref_to_message_id == "e@x"


def test_pushed_user_message_is_not_a_signal(
    make_user_message: Callable[..., UserMessage], make_pmode: Callable[..., PMode],
    alice: SigningIdentity, bob: SigningIdentity,
) -> None:  # fmt: skip
    sent = _send(make_user_message, make_pmode(), alice, bob)
    with pytest.raises(EbmsException) as refused:
        verify_pushed_signal(
            read_envelope(sent.body, sent.content_type), partner_certificates=[alice.certificate]
        )
    assert refused.value.error is EbmsError.VALUE_INCONSISTENT
