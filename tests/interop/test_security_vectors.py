"""Messages from implementations no one here wrote (AS4.NET, Holodeck B2B, phase4, Governikus, Domibus)
decrypt, verify or fail exactly as their origin says (../shared/vectors/SOURCES.md §3)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree

from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.mime import parse_content_type, parse_multipart
from protocols.as4.payload import Attachment, InMemory, MemorySpool
from protocols.as4.security import (
    SigningIdentity,
    decrypt_attachments,
    find_signing_certificate,
    verify_envelope,
)
from protocols.as4.security.verification import signature_token_reference
from protocols.as4.xml import parse_xml

pytestmark = pytest.mark.interop

PASSWORDS = {
    "AccessPointA.pfx": b"Pz4cZK4SULUwmraZa",
    "AccessPointB.pfx": b"Pz4cZK4SULUwmraZb",
    "partyC.p12": b"ExampleC",
    "holodeck-partya-certificate.pfx": b"secrets",
    "certificate-as4.pfx": b"secrets",
}


@pytest.fixture(scope="module")
def as4net(vectors: Path) -> Path:
    return vectors / "as4" / "as4net"


def key_store(as4net: Path, name: str) -> SigningIdentity:
    key, certificate, _ = pkcs12.load_key_and_certificates(
        (as4net / "keys" / name).read_bytes(), PASSWORDS[name]
    )
    return SigningIdentity(key, certificate)  # type: ignore[arg-type]


def read_message(path: Path) -> tuple[etree._Element, tuple[Attachment, ...]]:
    """A stored wire sample: a MIME body whose boundary is its first line, an HTTP dump, or bare SOAP."""
    data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    start = data.lstrip()
    if start.startswith(b"--"):
        boundary = start.split(b"\n", 1)[0].strip()[2:].decode("ascii")
        root, parts = parse_multipart(InMemory(data), f'multipart/related; boundary="{boundary}"')
        return parse_xml(root), parts
    if path.suffix == ".as4in":
        # phase4 dumps: header lines, a blank line, the (already de-chunked) body; LF or CRLF
        head, body = re.split(rb"\r?\n\r?\n", data, maxsplit=1)
        lines = head.decode("latin-1").splitlines()
        headers = dict(line.split(": ", 1) for line in lines if ": " in line)
        content_type = headers.get("Content-Type", "application/soap+xml")
        if parse_content_type(content_type).media_type == "multipart/related":
            root, parts = parse_multipart(InMemory(body), content_type)
            return parse_xml(root), parts
        return parse_xml(body), ()
    return parse_xml(data), ()


def all_content_ids(parts: tuple[Attachment, ...]) -> list[str]:
    return [part.content_id for part in parts]


def assert_refused(error: EbmsError, call, *args, **kwargs) -> EbmsException:
    with pytest.raises(EbmsException) as caught:
        call(*args, **kwargs)
    assert caught.value.error is error, caught.value
    return caught.value


# --- AS4.NET: signed and encrypted, keys published --------------------------------------------------


@pytest.mark.parametrize(
    "name", ["as4-encrypted-signed-issuerserial.as4", "as4-encrypted-signed-keyidentifier.as4"]
)
def test_as4net_signed_and_encrypted_message_decrypts_and_verifies(as4net, name):
    envelope, parts = read_message(as4net / name)
    receiver = key_store(as4net, "AccessPointB.pfx")
    signer = key_store(as4net, "AccessPointA.pfx").certificate
    plain = decrypt_attachments(envelope, parts, receiver, spool=MemorySpool)
    assert [p.mime_type for p in plain] == ["application/gzip", "application/gzip"]
    assert all(b"".join(p.source.chunks()).startswith(b"\x1f\x8b") for p in plain)
    verified = verify_envelope(envelope, plain, trusted=[signer], required_attachments=all_content_ids(plain))
    assert verified.certificate == signer
    assert verified.signature_method == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
    assert len(verified.references) == 4


@pytest.mark.parametrize(
    "name", ["as4-encrypted-signed-issuerserial.as4", "as4-encrypted-signed-keyidentifier.as4"]
)
def test_as4net_message_is_not_for_another_key(as4net, name):
    envelope, parts = read_message(as4net / name)
    failure = assert_refused(
        EbmsError.FAILED_DECRYPTION,
        decrypt_attachments, envelope, parts, key_store(as4net, "AccessPointA.pfx"), spool=MemorySpool,
    )  # fmt: skip
    assert "addressed to another certificate" in failure.detail


def test_as4net_message_verified_before_decryption_fails(as4net):
    envelope, parts = read_message(as4net / "as4-encrypted-signed-issuerserial.as4")
    signer = key_store(as4net, "AccessPointA.pfx").certificate
    failure = assert_refused(
        EbmsError.FAILED_AUTHENTICATION,
        verify_envelope, envelope, parts, trusted=[signer], required_attachments=all_content_ids(parts),
    )  # fmt: skip
    assert "digest mismatch for cid:" in failure.detail


def test_as4net_message_signed_by_a_not_trusted_access_point_is_refused(as4net):
    envelope, parts = read_message(as4net / "as4-encrypted-signed-keyidentifier.as4")
    plain = decrypt_attachments(envelope, parts, key_store(as4net, "AccessPointB.pfx"), spool=MemorySpool)
    failure = assert_refused(
        EbmsError.FAILED_AUTHENTICATION,
        verify_envelope, envelope, plain, trusted=[key_store(as4net, "AccessPointB.pfx").certificate],
        required_attachments=all_content_ids(plain),
    )  # fmt: skip
    assert "not trusted" in failure.detail


def test_holodeck_signed_message_verifies(as4net):
    envelope, parts = read_message(as4net / "signed_holodeck_message.as4")
    signer = key_store(as4net, "AccessPointB.pfx").certificate
    verified = verify_envelope(envelope, parts, trusted=[signer], required_attachments=all_content_ids(parts))
    assert len(verified.references) == 4


def test_conformance_8_1_21_message_verifies_by_ski(as4net):
    envelope, _ = read_message(as4net / "8.1.21-message.xml")
    signer = key_store(as4net, "AccessPointB.pfx").certificate
    assert signature_token_reference(envelope).style == "ski"
    assert verify_envelope(envelope, (), trusted=[signer], required_attachments=[]).certificate == signer


def test_conformance_8_1_22_encrypted_message_decrypts(as4net):
    envelope, parts = read_message(as4net / "8.1.22-encrypted-message.as4")
    plain = decrypt_attachments(envelope, parts, key_store(as4net, "AccessPointB.pfx"), spool=MemorySpool)
    assert sorted((p.mime_type, p.source.size) for p in plain) == [
        ("application/xml", 206),
        ("image/jpeg", 296454),
    ]
    xml = next(p for p in plain if p.mime_type == "application/xml")
    parse_xml(b"".join(xml.source.chunks()))
    jpeg = next(p for p in plain if p.mime_type == "image/jpeg")
    assert b"".join(jpeg.source.chunks()).startswith(b"\xff\xd8")


def test_as4net_encrypted_compressed_message_decrypts_for_holodeck_party_c(as4net):
    envelope, parts = read_message(as4net / "as4-encrypted-compressed-message.as4")
    plain = decrypt_attachments(envelope, parts, key_store(as4net, "partyC.p12"), spool=MemorySpool)
    assert {p.content_id: p.mime_type for p in plain} == {
        "flower": "application/gzip",
        "xmldoc": "application/gzip",
    }
    assert all(b"".join(p.source.chunks()).startswith(b"\x1f\x8b") for p in plain)


@pytest.mark.parametrize("keys", ["holodeck-partya-certificate.pfx", "partyC.p12"])
def test_as4net_wrong_encrypted_message_fails_decryption(as4net, keys):
    envelope, parts = read_message(as4net / "as4-soap-wrong-encrypted-message.as4")
    assert_refused(EbmsError.FAILED_DECRYPTION, decrypt_attachments, envelope, parts, key_store(as4net, keys),
                   spool=MemorySpool)  # fmt: skip


def test_as4net_signed_soap_message_verifies(as4net):
    envelope, _ = read_message(as4net / "as4-soap-signed-message.txt")
    signer = key_store(as4net, "holodeck-partya-certificate.pfx").certificate
    assert verify_envelope(envelope, (), trusted=[signer], required_attachments=[]).certificate == signer


@pytest.mark.parametrize(
    ("name", "keys", "reason"),
    [
        ("as4-soap-wrong-signed-message.txt", "holodeck-partya-certificate.pfx", "resolves to 0 elements"),
        (
            "as4-soap-untrusted-signed-message.txt",
            "holodeck-partya-certificate.pfx",
            "not a trusted certificate",
        ),
        ("as4-soap-wrong-signed-callback-message.txt", "holodeck-partya-certificate.pfx", ""),
        ("as4-soap-wrong-signed-pullrequest.xml", "AccessPointA.pfx", ""),
        ("as4_soapattachment.as4", "AccessPointA.pfx", ""),
        ("receipt_with_invalid_signature.as4", "AccessPointA.pfx", ""),
    ],
)
def test_as4net_wrongly_signed_messages_fail_authentication(as4net, name, keys, reason):
    envelope, parts = read_message(as4net / name)
    trusted = [key_store(as4net, keys).certificate]
    failure = assert_refused(
        EbmsError.FAILED_AUTHENTICATION,
        verify_envelope,
        envelope,
        parts,
        trusted=trusted,
        required_attachments=[],
    )
    assert reason in failure.detail


def test_untrusted_signature_fails_even_when_its_own_certificate_is_trusted(as4net):
    # upstream: the CN=www.AS4Project.com signature itself does not verify
    envelope, _ = read_message(as4net / "as4-soap-untrusted-signed-message.txt")
    own = find_signing_certificate(envelope)
    assert own is not None
    assert_refused(EbmsError.FAILED_AUTHENTICATION, verify_envelope, envelope, (), trusted=[own],
                   required_attachments=[])  # fmt: skip


def test_rssbus_message_resolves_the_second_token_not_the_first(as4net):
    envelope, parts = read_message(as4net / "rssbus_message.as4")
    signer = find_signing_certificate(envelope)
    assert signer is not None and "21X-NL-A-A0A0A-Z" in signer.subject.rfc4514_string()
    # its attachment is encrypted for a key that is not published, so only the digest of it fails
    failure = assert_refused(
        EbmsError.FAILED_AUTHENTICATION,
        verify_envelope,
        envelope,
        parts,
        trusted=[signer],
        required_attachments=[],
    )
    assert "digest mismatch for cid:" in failure.detail


# --- phase4 / Peppol live receipts ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["helger.as4in", "governikus.as4in", "dataport1-mustunderstand.as4in"])
def test_live_peppol_receipts_verify(vectors, name):
    envelope, _ = read_message(vectors / "as4" / "phase4" / "peppol-live-receipts" / name)
    signer = find_signing_certificate(envelope)
    assert isinstance(signer, x509.Certificate)
    verified = verify_envelope(envelope, (), trusted=[signer], required_attachments=[])
    assert verified.signature_method == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert len(verified.references) == 2


def test_hand_edited_dataport_receipt_fails(vectors):
    envelope, _ = read_message(vectors / "as4" / "phase4" / "peppol-live-receipts" / "dataport1.as4in")
    trusted = [find_signing_certificate(envelope)]
    failure = assert_refused(
        EbmsError.FAILED_AUTHENTICATION,
        verify_envelope,
        envelope,
        (),
        trusted=trusted,
        required_attachments=[],
    )
    assert "digest mismatch for #" in failure.detail


def test_phase4_soap12_receipt_verifies(vectors):
    envelope, _ = read_message(vectors / "as4" / "phase4" / "testfiles" / "TestReceipt12.xml")
    signer = find_signing_certificate(envelope)
    assert verify_envelope(envelope, (), trusted=[signer], required_attachments=[]).certificate == signer


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("WrongSigningAlgorithm.xml", "signature method http://www.randomcrypt.com/random"),
        ("WrongSigningDigestAlgorithm.xml", "digest method http://www.randomdigest.com/randomdigest"),
    ],
)
def test_phase4_unknown_algorithms_fail_authentication(vectors, name, reason):
    envelope, _ = read_message(vectors / "as4" / "phase4" / "testfiles" / name)
    trusted = [find_signing_certificate(envelope)]
    failure = assert_refused(
        EbmsError.FAILED_AUTHENTICATION,
        verify_envelope,
        envelope,
        (),
        trusted=trusted,
        required_attachments=[],
    )
    assert reason in failure.detail


def test_multihop_message_with_bom_verifies(as4net):
    envelope, parts = read_message(as4net / "as4-multihop-message.as4")
    signer = find_signing_certificate(envelope)
    assert verify_envelope(envelope, parts, trusted=[signer], required_attachments=[]).certificate == signer


# --- Domibus: one message, four ways to name the signing key (key resolution only) -----------------


@pytest.fixture(scope="module")
def domibus(vectors: Path) -> Path:
    return vectors / "as4" / "domibus"


def domibus_message(domibus: Path, name: str) -> etree._Element:
    return parse_xml((domibus / name).read_bytes(), max_depth=128)


def domibus_leaf(domibus: Path) -> x509.Certificate:
    leaf = find_signing_certificate(domibus_message(domibus, "bst_x509v3_incoming_message.xml"))
    assert leaf is not None
    return leaf


def test_domibus_x509v3_token_names_the_leaf_certificate(domibus):
    leaf = domibus_leaf(domibus)
    assert leaf.subject.rfc4514_string() == "CN=LEAF CERTIFICATE,O=EU.TEST,ST=BRUXELLES,C=BE"
    assert leaf.serial_number == 4096


def test_domibus_pkipath_token_resolves_to_the_end_entity_of_the_path(domibus):
    envelope = domibus_message(domibus, "bst_X509PKIPathv1_incoming_message.xml")
    assert signature_token_reference(envelope).style == "bst"
    assert find_signing_certificate(envelope) == domibus_leaf(domibus)


def test_domibus_issuer_serial_names_the_leaf_certificate(domibus):
    envelope = domibus_message(domibus, "is_incoming_message.xml")
    reference = signature_token_reference(envelope)
    assert (reference.style, reference.issuer, reference.serial) == (
        "issuer-serial",
        "CN=ICA CERTIFICATE,O=EU.TEST,ST=BRUXELLES,C=BE",
        4096,
    )
    assert find_signing_certificate(envelope) is None  # the message does not carry it
    leaf = domibus_leaf(domibus)
    assert find_signing_certificate(envelope, [leaf]) == leaf


def test_domibus_ski_names_the_leaf_certificate(domibus):
    envelope = domibus_message(domibus, "ski_incoming_message.xml")
    assert signature_token_reference(envelope).style == "ski"
    leaf = domibus_leaf(domibus)
    assert find_signing_certificate(envelope, [leaf]) == leaf


@pytest.mark.parametrize(
    "name",
    [
        "bst_x509v3_incoming_message.xml",
        "bst_X509PKIPathv1_incoming_message.xml",
        "is_incoming_message.xml",
        "ski_incoming_message.xml",
    ],
)
def test_domibus_pretty_printed_messages_resolve_but_do_not_verify(domibus, name):
    envelope = domibus_message(domibus, name)
    assert_refused(
        EbmsError.FAILED_AUTHENTICATION,
        verify_envelope,
        envelope,
        (),
        trusted=[domibus_leaf(domibus)],
        required_attachments=[],
    )


def test_domibus_pkipath_content_labelled_x509v3_is_refused(domibus):
    # The token says X509v3 but holds a PkiPath: the label is not second-guessed.
    envelope = domibus_message(domibus, "RawXMLMessageWithSpacesAndPkiPath.xml")
    failure = assert_refused(EbmsError.FAILED_AUTHENTICATION, signature_token_reference, envelope)
    assert "unreadable security token" in failure.detail
