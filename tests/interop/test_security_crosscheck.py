"""Our WS-Security engine against implementations that share no code with it.

- The Java peer (Apache Santuario, its own SwA transform): a message signed (and encrypted) by
  protocols.as4.security is accepted by `peer serve`, whose signed receipt we verify; messages
  made by `peer send` decrypt and verify here. XML and text payloads go uncompressed, so the
  MIME-type-aware canonicalisation of the SwA transform is exercised on both sides.
- libxmlsec1 (python-xmlsec): verifies our signature over the enveloped parts (Messaging, Body)
  and computes the same digests for them.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from free_ports import free_port
from lxml import etree

from protocols.as4 import namespaces as ns
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.inbound import ReceiptOutcome, read_response
from protocols.as4.mime import build_multipart, parse_multipart
from protocols.as4.model import CollaborationInfo, MessageInfo, Party, PartyId, Service, UserMessage
from protocols.as4.outbound import Payload, build_user_message
from protocols.as4.payload import Attachment, InMemory, MemorySpool
from protocols.as4.pmode import PMode
from protocols.as4.security import (
    SigningIdentity,
    decrypt_attachments,
    encrypt_attachments,
    find_signing_certificate,
    sign_envelope,
    verify_envelope,
)

pytestmark = pytest.mark.interop

ENVELOPE = """<S12:Envelope xmlns:S12="http://www.w3.org/2003/05/soap-envelope"
 xmlns:eb="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"
 xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
 <S12:Header>
  <eb:Messaging S12:mustUnderstand="true">
   <eb:UserMessage>
    <eb:MessageInfo><eb:Timestamp>2026-11-23T09:00:00.000Z</eb:Timestamp>
     <eb:MessageId>{message_id}</eb:MessageId></eb:MessageInfo>
    <eb:PartyInfo>
     <eb:From><eb:PartyId type="urn:oasis:names:tc:ebcore:partyid-type:unregistered">peer-a</eb:PartyId>
      <eb:Role>http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/initiator</eb:Role></eb:From>
     <eb:To><eb:PartyId type="urn:oasis:names:tc:ebcore:partyid-type:unregistered">peer-b</eb:PartyId>
      <eb:Role>http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/responder</eb:Role></eb:To>
    </eb:PartyInfo>
    <eb:CollaborationInfo>
     <eb:Service>http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/service</eb:Service>
     <eb:Action>http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/test</eb:Action>
     <eb:ConversationId>conversation-1</eb:ConversationId>
    </eb:CollaborationInfo>
    <eb:PayloadInfo>{parts}</eb:PayloadInfo>
   </eb:UserMessage>
  </eb:Messaging>
 </S12:Header>
 <S12:Body/>
</S12:Envelope>"""

XML_PAYLOAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- a comment -->\n'
    b'<inv:Invoice xmlns:inv="urn:example:invoice" xmlns:unused="urn:unused">\n'
    b'  <inv:Line   qty="2" id="l1"  >Caf\xc3\xa9 &amp; cake</inv:Line>\n'
    b"  <inv:Empty></inv:Empty>\n</inv:Invoice>\n"
)
TEXT_PAYLOAD = b"first line\nsecond line\r\nthird line\rlast line without break"


def envelope_for(message_id: str, attachments: tuple[Attachment, ...]) -> etree._Element:
    parts = "".join(
        f'<eb:PartInfo href="cid:{a.content_id}"><eb:PartProperties>'
        f'<eb:Property name="MimeType">{a.mime_type}</eb:Property></eb:PartProperties></eb:PartInfo>'
        for a in attachments
    )
    return etree.fromstring(ENVELOPE.format(message_id=message_id, parts=parts).encode())


def identity(pki: Path, name: str) -> SigningIdentity:
    key = serialization.load_pem_private_key((pki / f"{name}.key").read_bytes(), None)
    return SigningIdentity(key, certificate(pki, name))  # type: ignore[arg-type]


def certificate(pki: Path, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((pki / f"{name}.crt").read_bytes())


@pytest.fixture(scope="module")
def peer_server(peer_bin: Path, peer_pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`peer serve` as party b, trusting party a, on a loopback port."""
    port = free_port()
    store = tmp_path_factory.mktemp("peer-inbox")
    process = subprocess.Popen(
        [str(peer_bin), "serve", "--port", str(port), "--our-key", str(peer_pki / "b.key"),
         "--our-cert", str(peer_pki / "b.crt"), "--their-cert", str(peer_pki / "a.crt"),
         "--store", str(store)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("peer serve did not start")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def post(url: str, content_type: str, body: bytes) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as failed:
        return failed.code, failed.headers["Content-Type"], failed.read()


def error_codes(response: bytes) -> list[str]:
    root = etree.fromstring(response)
    return [e.get("errorCode") for e in root.iter(f"{{{ns.NS_EB}}}Error")]


def send(
    url: str,
    sender: SigningIdentity,
    recipient: x509.Certificate,
    attachments: tuple[Attachment, ...],
    *,
    encrypt: bool = False,
    sign_key_reference: str = "bst",
    encrypt_key_reference: str = "bst",
    tamper: bool = False,
):
    message_id = f"{os.urandom(8).hex()}@aswnode"
    envelope = envelope_for(message_id, attachments)
    references = sign_envelope(envelope, attachments, sender, key_reference=sign_key_reference)
    wire_parts = attachments
    if encrypt:
        wire_parts = encrypt_attachments(
            envelope, attachments, recipient, key_reference=encrypt_key_reference, spool=MemorySpool
        )
    if tamper:
        data = bytearray(b"".join(wire_parts[0].source.chunks()))
        data[len(data) // 2] ^= 1
        wire_parts = (Attachment(wire_parts[0].content_id, wire_parts[0].mime_type, InMemory(bytes(data))),)
    content_type, body = build_multipart(
        etree.tostring(envelope), wire_parts, boundary="b-" + os.urandom(8).hex()
    )
    status, _, response = post(url, content_type, b"".join(body.chunks()))
    return message_id, references, status, response


def attachments_of(kind: str) -> tuple[Attachment, ...]:
    if kind == "binary":
        return (Attachment("bin@aswnode", "application/octet-stream", InMemory(os.urandom(5000))),)
    if kind == "gzip":
        return (Attachment("gz@aswnode", "application/gzip", InMemory(gzip.compress(XML_PAYLOAD))),)
    if kind == "xml":
        return (Attachment("xml@aswnode", "application/xml", InMemory(XML_PAYLOAD)),)
    if kind == "text":
        return (Attachment("txt@aswnode", "text/plain", InMemory(TEXT_PAYLOAD)),)
    return (
        Attachment("one@aswnode", "application/xml", InMemory(XML_PAYLOAD)),
        Attachment("two@aswnode", "text/plain; charset=utf-8", InMemory(TEXT_PAYLOAD)),
        Attachment("three@aswnode", "application/octet-stream", InMemory(os.urandom(70_000))),
    )


# --- our messages into the Java peer -------------------------------------------------------------


@pytest.mark.parametrize("encrypt", [False, True], ids=["signed", "signed+encrypted"])
@pytest.mark.parametrize("kind", ["binary", "gzip", "xml", "text", "several"])
def test_peer_accepts_our_signed_message_and_we_verify_its_receipt(peer_server, peer_pki, kind, encrypt):
    sender, peer_certificate = identity(peer_pki, "a"), certificate(peer_pki, "b")
    attachments = attachments_of(kind)
    message_id, references, status, response = send(
        peer_server, sender, peer_certificate, attachments, encrypt=encrypt
    )
    assert status == 200, error_codes(response)
    receipt = etree.fromstring(response)
    verified = verify_envelope(receipt, (), trusted=[peer_certificate], required_attachments=[])
    assert verified.certificate == peer_certificate
    assert receipt.find(f".//{{{ns.NS_EB}}}RefToMessageId").text == message_id
    nri = {
        (r.get("URI"), r.find(f"{{{ns.NS_DS}}}DigestValue").text)
        for r in receipt.iter(f"{{{ns.NS_DS}}}Reference")
        if r.getparent().tag == f"{{{ns.NS_EBBP}}}MessagePartNRInformation"
    }
    assert nri == {(r.uri, r.digest_value) for r in references}


@pytest.mark.parametrize("sign_ref", ["bst", "issuer-serial", "ski"])
@pytest.mark.parametrize("encrypt_ref", ["bst", "issuer-serial", "ski"])
def test_peer_accepts_every_key_reference_style(peer_server, peer_pki, sign_ref, encrypt_ref):
    _, _, status, response = send(
        peer_server, identity(peer_pki, "a"), certificate(peer_pki, "b"), attachments_of("xml"),
        encrypt=True, sign_key_reference=sign_ref, encrypt_key_reference=encrypt_ref,
    )  # fmt: skip
    assert status == 200, error_codes(response)


def test_peer_refuses_our_message_with_a_tampered_payload(peer_server, peer_pki):
    _, _, status, response = send(
        peer_server, identity(peer_pki, "a"), certificate(peer_pki, "b"), attachments_of("text"), tamper=True
    )
    assert (status, error_codes(response)) == (500, ["EBMS:0101"])


def test_peer_refuses_our_message_with_a_tampered_ciphertext(peer_server, peer_pki):
    _, _, status, response = send(
        peer_server, identity(peer_pki, "a"), certificate(peer_pki, "b"), attachments_of("binary"),
        encrypt=True, tamper=True,
    )  # fmt: skip
    assert (status, error_codes(response)) == (500, ["EBMS:0102"])


def test_peer_refuses_a_message_signed_by_mallory(peer_server, peer_pki):
    _, _, status, response = send(
        peer_server, identity(peer_pki, "mallory"), certificate(peer_pki, "b"), attachments_of("binary")
    )
    assert (status, error_codes(response)) == (500, ["EBMS:0101"])


# --- end to end through protocols.as4.outbound and inbound ----------------------------------------


@pytest.mark.parametrize(
    ("security", "compress"),
    [
        ({"encrypt": False}, False),
        ({"encrypt": True}, False),
        ({"encrypt": True, "key_transport": "rsa-oaep-mgf1p", "encryption_key_reference": "ski"}, True),
        (
            {
                "encrypt": True,
                "encryption_algorithm": "aes256-gcm",
                "signature_key_reference": "issuer-serial",
            },
            False,
        ),
        (
            {"encrypt": True, "signature_key_reference": "ski", "encryption_key_reference": "issuer-serial"},
            True,
        ),
    ],
    ids=["signed", "encrypted", "mgf1p-ski-compressed", "aes256-issuer-serial", "ski-issuer-serial"],
)
def test_outbound_message_is_accepted_by_the_peer_and_its_receipt_verifies(
    peer_server, peer_pki, security, compress
):
    pmode = PMode.from_dict(
        {
            "id": "a-to-b",
            "initiator": {"party_id": "peer-a"},
            "responder": {"party_id": "peer-b"},
            "service": ns.TEST_SERVICE,
            "action": ns.TEST_ACTION,
            "compress": compress,
            "security": security,
        }
    )
    message = UserMessage(
        message_info=MessageInfo(f"{os.urandom(8).hex()}@aswnode", dt.datetime.now(dt.UTC)),
        from_party=Party((PartyId("peer-a", ns.PARTYID_TYPE_UNREGISTERED),), ns.DEFAULT_ROLE_INITIATOR),
        to_party=Party((PartyId("peer-b", ns.PARTYID_TYPE_UNREGISTERED),), ns.DEFAULT_ROLE_RESPONDER),
        collaboration_info=CollaborationInfo(Service(ns.TEST_SERVICE), ns.TEST_ACTION, "crosscheck"),
    )
    payloads = [Payload(a.content_id, a.mime_type, a.source) for a in attachments_of("several")]
    peer_certificate = certificate(peer_pki, "b")
    sent = build_user_message(
        message, payloads, pmode, signing=identity(peer_pki, "a"), recipient_certificate=peer_certificate,
        spool=MemorySpool, boundary=f"b-{os.urandom(8).hex()}",
    )  # fmt: skip
    status, response_type, response = post(peer_server, sent.content_type, b"".join(sent.body.chunks()))
    assert status == 200, error_codes(response)
    outcome = read_response(
        InMemory(response), response_type, sent=sent, partner_certificates=[peer_certificate]
    )
    assert isinstance(outcome, ReceiptOutcome)
    assert outcome.signature.certificate == peer_certificate


# --- the Java peer's messages into our engine ------------------------------------------------------


def peer_message(peer_bin, peer_pki, url, tmp_path, payload: Path, *options: str):
    saved = tmp_path / "saved"
    subprocess.run(
        [str(peer_bin), "send", "--url", url, "--our-key", str(peer_pki / "a.key"),
         "--our-cert", str(peer_pki / "a.crt"), "--their-cert", str(peer_pki / "b.crt"),
         "--payload", str(payload), "--save", str(saved), *options],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    content_type = (saved / "request.content-type").read_text().strip()
    root, parts = parse_multipart(InMemory((saved / "request.mime").read_bytes()), content_type)
    return etree.fromstring(root), parts


@pytest.mark.parametrize(
    ("name", "data", "options"),
    [
        ("invoice.xml", XML_PAYLOAD, ()),
        ("notes.txt", TEXT_PAYLOAD, ("--mime-type", "text/plain")),
        ("invoice.xml", XML_PAYLOAD, ("--encrypt",)),
        (
            "notes.txt",
            TEXT_PAYLOAD,
            ("--encrypt", "--enc-key-ref", "issuer-serial", "--mime-type", "text/plain"),
        ),
        ("blob.bin", os.urandom(20_000), ("--encrypt", "--compress", "--enc-key-ref", "ski")),
    ],
    ids=["xml", "text", "xml-encrypted", "text-encrypted-issuer-serial", "gzip-encrypted-ski"],
)
def test_messages_made_by_the_peer_decrypt_and_verify_here(
    peer_bin, peer_pki, peer_server, tmp_path, name, data, options
):
    payload = tmp_path / name
    payload.write_bytes(data)
    envelope, parts = peer_message(peer_bin, peer_pki, peer_server, tmp_path, payload, *options)
    plain = decrypt_attachments(envelope, parts, identity(peer_pki, "b"), spool=MemorySpool)
    verified = verify_envelope(
        envelope,
        plain,
        trusted=[certificate(peer_pki, "a")],
        required_attachments=[p.content_id for p in plain],
    )
    assert len(verified.references) == 3
    content = b"".join(plain[0].source.chunks())
    assert (gzip.decompress(content) if "--compress" in options else content) == data


def test_peer_message_with_a_tampered_payload_is_refused_here(peer_bin, peer_pki, peer_server, tmp_path):
    payload = tmp_path / "notes.txt"
    payload.write_bytes(TEXT_PAYLOAD)
    saved = tmp_path / "saved"
    subprocess.run(
        [str(peer_bin), "send", "--url", peer_server, "--our-key", str(peer_pki / "a.key"),
         "--our-cert", str(peer_pki / "a.crt"), "--their-cert", str(peer_pki / "b.crt"),
         "--payload", str(payload), "--tamper", "payload", "--expect-error", "EBMS:0101",
         "--save", str(saved)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    content_type = (saved / "request.content-type").read_text().strip()
    root, parts = parse_multipart(InMemory((saved / "request.mime").read_bytes()), content_type)
    with pytest.raises(EbmsException) as caught:
        verify_envelope(
            etree.fromstring(root), parts, trusted=[certificate(peer_pki, "a")],
            required_attachments=[p.content_id for p in parts],
        )  # fmt: skip
    assert caught.value.error is EbmsError.FAILED_AUTHENTICATION


# --- libxmlsec1 ---------------------------------------------------------------------------------


def xmlsec_verify(envelope: etree._Element, signer: x509.Certificate) -> None:
    signature = envelope.find(f".//{{{ns.NS_DS}}}Signature")
    for element in envelope.iter():
        if element.get(f"{{{ns.NS_WSU}}}Id"):
            xmlsec.tree.add_ids(element, ["Id"])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(
        signer.public_bytes(serialization.Encoding.PEM), xmlsec.constants.KeyDataFormatCertPem
    )
    context.verify(signature)


def test_libxmlsec1_verifies_our_signature_over_messaging_and_body(peer_pki):
    sender = identity(peer_pki, "a")
    envelope = envelope_for("x@aswnode", ())
    sign_envelope(envelope, (), sender)
    received = etree.fromstring(etree.tostring(envelope))
    xmlsec_verify(received, sender.certificate)
    received.find(f".//{{{ns.NS_EB}}}Action").text = "changed"
    with pytest.raises(xmlsec.Error):
        xmlsec_verify(received, sender.certificate)


def test_libxmlsec1_computes_our_digests_of_the_enveloped_parts(peer_pki):
    """With attachments xmlsec cannot resolve cid:, so let it sign Messaging and Body and compare digests."""
    sender = identity(peer_pki, "a")
    attachments = attachments_of("several")
    envelope = envelope_for("y@aswnode", attachments)
    ours = {r.uri: r.digest_value for r in sign_envelope(envelope, attachments, sender)}
    received = etree.fromstring(etree.tostring(envelope))
    template = xmlsec.template.create(
        received, xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformRsaSha256
    )
    received.find(f"{{{ns.NS_S12}}}Body").append(template)
    for uri in [u for u in ours if u.startswith("#")]:
        reference = xmlsec.template.add_reference(template, xmlsec.constants.TransformSha256, uri=uri)
        xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
    for element in received.iter():
        if element.get(f"{{{ns.NS_WSU}}}Id"):
            xmlsec.tree.add_ids(element, ["Id"])
    context = xmlsec.SignatureContext()
    key_pem = sender.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    context.key = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem)
    # xmlsec signs a Body that now holds its template, so compute the Messaging digest only from it
    context.sign(template)
    theirs = {
        r.get("URI"): r.find(f"{{{ns.NS_DS}}}DigestValue").text
        for r in template.iter(f"{{{ns.NS_DS}}}Reference")
    }
    messaging_uri = next(u for u in ours if u.startswith("#id-messaging"))
    assert theirs[messaging_uri] == ours[messaging_uri]
    assert (
        base64.b64decode(theirs[messaging_uri])
        == hashlib.sha256(
            etree.tostring(received.find(f".//{{{ns.NS_EB}}}Messaging"), method="c14n", exclusive=True)
        ).digest()
    )


def test_find_signing_certificate_names_the_peer_certificate(peer_bin, peer_pki, peer_server, tmp_path):
    payload = tmp_path / "p.bin"
    payload.write_bytes(b"x")
    envelope, _ = peer_message(peer_bin, peer_pki, peer_server, tmp_path, payload)
    assert find_signing_certificate(envelope) == certificate(peer_pki, "a")
