"""protocols/as4 on messages other AS4 stacks produced: AS4.NET, Holodeck, phase4, Domibus, Peppol APs."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from protocols.as4.envelope import find_messaging, parse_messaging
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.inbound import ReceiptOutcome, open_user_message, read_envelope, read_response
from protocols.as4.namespaces import NS_DS
from protocols.as4.outbound import OutboundMessage
from protocols.as4.payload import InMemory, MemorySpool, read_all
from protocols.as4.receipt import check_receipt
from protocols.as4.security import SignedReference, SigningIdentity, find_signing_certificate
from protocols.as4.xml import parse_xml

pytestmark = pytest.mark.interop


def _as4net_identity(vectors: Path, name: str, password: str) -> SigningIdentity:
    key, certificate, _ = pkcs12.load_key_and_certificates(
        (vectors / "as4" / "as4net" / "keys" / name).read_bytes(), password.encode()
    )
    assert key is not None and certificate is not None
    return SigningIdentity(key, certificate)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def access_point_a(vectors: Path) -> SigningIdentity:
    return _as4net_identity(vectors, "AccessPointA.pfx", "Pz4cZK4SULUwmraZa")


@pytest.fixture(scope="module")
def access_point_b(vectors: Path) -> SigningIdentity:
    return _as4net_identity(vectors, "AccessPointB.pfx", "Pz4cZK4SULUwmraZb")


@pytest.fixture(scope="module")
def holodeck_party_c(vectors: Path) -> SigningIdentity:
    return _as4net_identity(vectors, "partyC.p12", "ExampleC")


def _mime(path: Path) -> tuple[InMemory, str]:
    """A stored MIME body without HTTP headers: the boundary is on its first delimiter line."""
    raw = path.read_bytes()
    first = raw.lstrip(b"\xef\xbb\xbf\r\n").split(b"\n", 1)[0].strip()
    boundary = first[2:].decode("ascii")
    return InMemory(raw), f'multipart/related; boundary="{boundary}"; type="application/soap+xml"'


def _http(path: Path) -> tuple[InMemory, str]:
    """A stored HTTP response (headers, blank line, de-chunked body)."""
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw[:4096] else raw.partition(b"\n\n")
    content_type = next(
        line.split(b":", 1)[1].strip().decode()
        for line in head.splitlines()
        if line.lower().startswith(b"content-type:")
    )
    return InMemory(body), content_type


def _headered_mime(path: Path) -> tuple[InMemory, str]:
    """A stored MIME message with its own RFC 822 headers first (phase4's .mime test files)."""
    raw = path.read_bytes().replace(b"\r\n", b"\n")
    head, _, body = raw.partition(b"\n\n")
    unfolded = head.replace(b"\n\t", b" ").replace(b"\n ", b" ")
    content_type = next(
        line.split(b":", 1)[1].strip().decode()
        for line in unfolded.splitlines()
        if line.lower().startswith(b"content-type:")
    )
    return InMemory(body.replace(b"\n", b"\r\n")), content_type


# ---------------------------------------------------------------------------- full-stack AS4.NET vectors


@pytest.mark.parametrize(
    "name", ["as4-encrypted-signed-issuerserial.as4", "as4-encrypted-signed-keyidentifier.as4"]
)
def test_as4net_signed_and_encrypted_message_decrypts_and_verifies_with_the_published_keys(
    vectors: Path, access_point_a: SigningIdentity, access_point_b: SigningIdentity, name: str
) -> None:
    body, content_type = _mime(vectors / "as4" / "as4net" / name)
    envelope = read_envelope(body, content_type)
    received = open_user_message(
        envelope, sender_certificates=[access_point_a.certificate], own=access_point_b,
        require_encryption=True, spool=MemorySpool,
    )  # fmt: skip
    assert received.signature is not None
    assert received.signature.certificate == access_point_a.certificate
    assert len(received.signed_references) == 4
    sizes = sorted((p.mime_type, p.source.size) for p in received.payloads)
    assert sizes == [("application/xml", 206), ("image/jpeg", 296454)]
    jpeg = next(p for p in received.payloads if p.mime_type == "image/jpeg")
    assert read_all(jpeg.source, 1 << 20).startswith(b"\xff\xd8\xff")


def test_as4net_message_decrypted_with_the_wrong_key_is_failed_decryption(
    vectors: Path, access_point_a: SigningIdentity
) -> None:
    body, content_type = _mime(vectors / "as4" / "as4net" / "as4-encrypted-signed-issuerserial.as4")
    with pytest.raises(EbmsException) as refused:
        open_user_message(
            read_envelope(body, content_type), sender_certificates=[access_point_a.certificate],
            own=access_point_a, require_encryption=True, spool=MemorySpool,
        )  # fmt: skip
    assert refused.value.error is EbmsError.FAILED_DECRYPTION


def test_as4net_message_from_a_signer_we_do_not_expect_is_failed_authentication(
    vectors: Path, access_point_b: SigningIdentity
) -> None:
    body, content_type = _mime(vectors / "as4" / "as4net" / "as4-encrypted-signed-keyidentifier.as4")
    envelope = read_envelope(body, content_type)
    with pytest.raises(EbmsException) as refused:
        open_user_message(
            envelope, sender_certificates=[access_point_b.certificate], own=access_point_b,
            require_encryption=True, spool=MemorySpool,
        )  # fmt: skip
    assert refused.value.error is EbmsError.FAILED_AUTHENTICATION
    assert refused.value.ref_to_message_id == envelope.message_id


def test_holodeck_signed_message_with_two_compressed_parts_verifies(
    vectors: Path, access_point_b: SigningIdentity
) -> None:
    body, content_type = _mime(vectors / "as4" / "as4net" / "signed_holodeck_message.as4")
    received = open_user_message(
        read_envelope(body, content_type), sender_certificates=[access_point_b.certificate],
        own=access_point_b, require_encryption=False, spool=MemorySpool,
    )  # fmt: skip
    assert len(received.signed_references) == 4
    assert sorted(p.source.size for p in received.payloads) == [206, 296454]


def test_holodeck_message_is_refused_when_encryption_is_required(
    vectors: Path, access_point_b: SigningIdentity
) -> None:
    body, content_type = _mime(vectors / "as4" / "as4net" / "signed_holodeck_message.as4")
    with pytest.raises(EbmsException) as refused:
        open_user_message(
            read_envelope(body, content_type), sender_certificates=[access_point_b.certificate],
            own=access_point_b, require_encryption=True, spool=MemorySpool,
        )  # fmt: skip
    assert refused.value.error is EbmsError.POLICY_NONCOMPLIANCE


def test_holodeck_encrypted_only_message_decrypts_but_is_refused_unsigned(
    vectors: Path, holodeck_party_c: SigningIdentity
) -> None:
    body, content_type = _mime(vectors / "as4" / "as4net" / "as4-encrypted-compressed-message.as4")
    with pytest.raises(EbmsException) as refused:
        open_user_message(
            read_envelope(body, content_type), sender_certificates=[holodeck_party_c.certificate],
            own=holodeck_party_c, require_encryption=True, spool=MemorySpool,
        )  # fmt: skip
    assert refused.value.error is EbmsError.POLICY_NONCOMPLIANCE


def test_message_encrypted_for_another_party_is_failed_decryption(
    vectors: Path, holodeck_party_c: SigningIdentity
) -> None:
    body, content_type = _mime(vectors / "as4" / "as4net" / "as4-soap-wrong-encrypted-message.as4")
    with pytest.raises(EbmsException) as refused:
        open_user_message(
            read_envelope(body, content_type), sender_certificates=[holodeck_party_c.certificate],
            own=holodeck_party_c, require_encryption=False, spool=MemorySpool,
        )  # fmt: skip
    assert refused.value.error is EbmsError.FAILED_DECRYPTION


def test_single_payload_mime_message_parses_with_its_jpeg_part(vectors: Path) -> None:
    body, content_type = _mime(vectors / "as4" / "as4net" / "as4_single_payload.as4")
    envelope = read_envelope(body, content_type)
    assert envelope.user_message is not None
    assert [a.source.size > 200_000 for a in envelope.attachments] == [True]


# ---------------------------------------------------------------------------------- SOAP-only signed vectors


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("as4-soap-wrong-signed-message.txt", EbmsError.FAILED_AUTHENTICATION),
        ("as4-soap-wrong-signed-callback-message.txt", EbmsError.FAILED_AUTHENTICATION),
        ("as4-soap-untrusted-signed-message.txt", EbmsError.FAILED_AUTHENTICATION),
    ],
)
def test_broken_or_untrusted_signed_as4net_messages_are_failed_authentication(
    vectors: Path, access_point_b: SigningIdentity, name: str, error: EbmsError
) -> None:
    envelope = read_envelope(
        InMemory((vectors / "as4" / "as4net" / name).read_bytes()), "application/soap+xml"
    )
    signer = find_signing_certificate(envelope.root)
    assert signer is not None
    with pytest.raises(EbmsException) as refused:
        open_user_message(
            envelope,
            sender_certificates=[signer],
            own=access_point_b,
            require_encryption=False,
            spool=MemorySpool,
        )
    assert refused.value.error is error


def test_as4net_soap_signed_message_verifies_with_its_token(
    vectors: Path, access_point_b: SigningIdentity
) -> None:
    path = vectors / "as4" / "as4net" / "as4-soap-signed-message.txt"
    envelope = read_envelope(InMemory(path.read_bytes()), "application/soap+xml")
    signer = find_signing_certificate(envelope.root)
    assert signer is not None
    received = open_user_message(
        envelope,
        sender_certificates=[signer],
        own=access_point_b,
        require_encryption=False,
        spool=MemorySpool,
    )
    assert len(received.signed_references) == 2


def test_conformance_8_1_21_message_verifies_by_subject_key_identifier(
    vectors: Path, access_point_b: SigningIdentity
) -> None:
    path = vectors / "as4" / "as4net" / "8.1.21-message.xml"
    envelope = read_envelope(InMemory(path.read_bytes()), "application/soap+xml")
    received = open_user_message(
        envelope, sender_certificates=[access_point_b.certificate], own=access_point_b,
        require_encryption=False, spool=MemorySpool,
    )  # fmt: skip
    assert received.signature is not None and received.signature.certificate == access_point_b.certificate


@pytest.mark.parametrize("name", ["WrongSigningAlgorithm.xml", "WrongSigningDigestAlgorithm.xml"])
def test_phase4_messages_with_unknown_algorithms_are_failed_authentication(
    vectors: Path, access_point_b: SigningIdentity, name: str
) -> None:
    envelope = read_envelope(
        InMemory((vectors / "as4" / "phase4" / "testfiles" / name).read_bytes()), "application/soap+xml"
    )
    signer = find_signing_certificate(envelope.root)
    assert signer is not None
    with pytest.raises(EbmsException) as refused:
        open_user_message(
            envelope,
            sender_certificates=[signer],
            own=access_point_b,
            require_encryption=False,
            spool=MemorySpool,
        )
    assert refused.value.error is EbmsError.FAILED_AUTHENTICATION


# ---------------------------------------------------------------------------------- structural phase4 vectors


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("testfiles/TwoUserMessages.xml", "EBMS:0003"),
        ("testfiles/UserMessageNoPartyID.xml", "EBMS:0009"),
        ("testfiles/NoResponder.xml", "EBMS:0009"),
        ("testfiles/from-holodeck-1.xml", "EBMS:0004"),
        ("testfiles/UserMessageWithoutWSSE.xml", "EBMS:0009"),
        ("soap12test/UserMessageWithCompressedPayload12.xml", "EBMS:0004"),
        ("soap12test/PullRequest12.xml", "EBMS:0004"),
    ],
)
def test_phase4_negative_structural_vectors_give_the_expected_code(
    vectors: Path, name: str, code: str
) -> None:
    data = (vectors / "as4" / "phase4" / name).read_bytes()
    with pytest.raises(EbmsException) as refused:
        read_envelope(InMemory(data), "application/soap+xml")
    assert refused.value.error.code == code


def test_phase4_wrong_compression_type_is_value_inconsistent(vectors: Path) -> None:
    body, content_type = _headered_mime(vectors / "as4" / "phase4" / "testfiles" / "WrongCompression.mime")
    with pytest.raises(EbmsException) as refused:
        read_envelope(body, content_type)
    assert refused.value.error is EbmsError.VALUE_INCONSISTENT
    assert refused.value.ref_to_message_id == "c42e883b-aab1-47bf-b2f4-4e89ce309591@ph-as4"


def test_phase4_valid_soap12_user_message_with_a_body_payload_parses(vectors: Path) -> None:
    path = vectors / "as4" / "phase4" / "soap12test" / "UserMessage12.xml"
    envelope = read_envelope(InMemory(path.read_bytes()), "application/soap+xml")
    assert envelope.user_message is not None
    assert [p.href for p in envelope.user_message.payload_info] == [None]


def test_phase4_soap_part_whose_attachment_is_absent_is_external_payload_error(vectors: Path) -> None:
    path = vectors / "as4" / "phase4" / "soap12test" / "test-2023-03-15.xml"
    messaging = parse_messaging(find_messaging(parse_xml(path.read_bytes())))
    assert len(messaging.user_messages) == 1
    with pytest.raises(EbmsException) as refused:
        read_envelope(InMemory(path.read_bytes()), "application/soap+xml")
    assert refused.value.error is EbmsError.EXTERNAL_PAYLOAD_ERROR


@pytest.mark.parametrize(
    "name", ["ErrorMessage.xml", "ErrorMessageWithFault.xml", "ErrorMessageNoRefToMessageID.xml"]
)
def test_phase4_error_signals_parse_with_their_codes(vectors: Path, name: str) -> None:
    path = vectors / "as4" / "phase4" / "testfiles" / name
    envelope = read_envelope(InMemory(path.read_bytes()), "application/soap+xml")
    assert envelope.signal_message is not None
    assert envelope.signal_message.errors[0].code.startswith("EBMS:")


# ---------------------------------------------------------------------------- receipts from live gateways


def _sent_for(receipt_root_bytes: bytes) -> OutboundMessage:
    """What we would have sent for this receipt to match: its RefToMessageId and its NRI references."""
    signal = parse_messaging(find_messaging(parse_xml(receipt_root_bytes))).signal_messages[0]
    assert signal.receipt is not None
    references = tuple(
        SignedReference(r.uri, r.digest_method, r.digest_value, ()) for r in signal.receipt.references
    )
    return OutboundMessage(signal.message_info.ref_to_message_id or "", "", InMemory(b""), references)


@pytest.mark.parametrize("name", ["helger.as4in", "governikus.as4in", "dataport1-mustunderstand.as4in"])
def test_live_peppol_receipts_verify_with_their_signing_certificate(vectors: Path, name: str) -> None:
    body, content_type = _http(vectors / "as4" / "phase4" / "peppol-live-receipts" / name)
    data = read_all(body, 1 << 20)
    envelope = read_envelope(body, content_type)
    signer = find_signing_certificate(envelope.root)
    assert signer is not None
    outcome = read_response(body, content_type, sent=_sent_for(data), partner_certificates=[signer])
    assert isinstance(outcome, ReceiptOutcome)
    assert outcome.signature.certificate == signer


def test_hand_edited_live_receipt_is_an_invalid_receipt(vectors: Path) -> None:
    body, content_type = _http(vectors / "as4" / "phase4" / "peppol-live-receipts" / "dataport1.as4in")
    signer = find_signing_certificate(read_envelope(body, content_type).root)
    assert signer is not None
    with pytest.raises(EbmsException) as refused:
        read_response(
            body, content_type, sent=_sent_for(read_all(body, 1 << 20)), partner_certificates=[signer]
        )
    assert refused.value.error is EbmsError.INVALID_RECEIPT


def test_phase4_receipt_for_another_message_is_an_invalid_receipt(vectors: Path) -> None:
    data = (vectors / "as4" / "phase4" / "testfiles" / "TestReceipt12.xml").read_bytes()
    signer = find_signing_certificate(read_envelope(InMemory(data), "application/soap+xml").root)
    assert signer is not None
    real = _sent_for(data)
    assert isinstance(
        read_response(InMemory(data), "application/soap+xml", sent=real, partner_certificates=[signer]),
        ReceiptOutcome,
    )
    other = OutboundMessage("someone-else@aswnode", "", InMemory(b""), real.signed_references)
    with pytest.raises(EbmsException) as refused:
        read_response(InMemory(data), "application/soap+xml", sent=other, partner_certificates=[signer])
    assert refused.value.error is EbmsError.INVALID_RECEIPT


@pytest.mark.parametrize("suffix", ["", "-signOnly"])
def test_domibus_receipt_nri_matches_the_references_of_its_request(vectors: Path, suffix: str) -> None:
    request = parse_xml((vectors / "as4" / "domibus" / f"MSHAS4Request{suffix}.xml").read_bytes())
    response = parse_xml((vectors / "as4" / "domibus" / f"MSHAS4Response{suffix}.xml").read_bytes())
    user = parse_messaging(find_messaging(request)).user_messages[0]
    signed = tuple(
        SignedReference(
            reference.get("URI") or "",
            reference.find(f"{{{NS_DS}}}DigestMethod").get("Algorithm") or "",  # type: ignore[union-attr]
            "".join((reference.findtext(f"{{{NS_DS}}}DigestValue") or "").split()),
            (),
        )
        for reference in request.iter(f"{{{NS_DS}}}Reference")
        if reference.getparent().tag == f"{{{NS_DS}}}SignedInfo"  # type: ignore[union-attr]
    )
    signal = parse_messaging(find_messaging(response)).signal_messages[0]
    assert len(signed) == 3  # Messaging, Body, the payload
    check_receipt(signal, sent_message_id=user.message_id, signed=signed)
    with pytest.raises(EbmsException) as refused:
        check_receipt(signal, sent_message_id=user.message_id, signed=signed[:-1])
    assert refused.value.error is EbmsError.INVALID_RECEIPT
