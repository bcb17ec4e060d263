"""protocols/as4 against the independent Java peer (Santuario), both ways: modes, payloads, key references."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from free_ports import free_port

from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.inbound import (
    ErrorOutcome,
    ReceiptOutcome,
    open_user_message,
    read_envelope,
    read_response,
)
from protocols.as4.model import CollaborationInfo, MessageInfo, Party, PartyId, Service, UserMessage
from protocols.as4.namespaces import (
    DEFAULT_ROLE_INITIATOR,
    DEFAULT_ROLE_RESPONDER,
    PARTYID_TYPE_UNREGISTERED,
    TEST_ACTION,
    TEST_SERVICE,
)
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

pytestmark = pytest.mark.interop

XML_PAYLOAD = (
    b'<?xml version="1.0"?>\n<Invoice xmlns="urn:example:invoice">  <Line  n="1"   qty="2"/>\n</Invoice>\n'
)
TEXT_PAYLOAD = b"first line\nsecond line\n\nlast line\n"
BINARY_PAYLOAD = os.urandom(10 * 1024) + b"\r\n--MIMEBoundary\r\n" + os.urandom(512)


# ---------------------------------------------------------------------------------- fixtures


def _identity(pki: Path, name: str) -> SigningIdentity:
    key = load_pem_private_key((pki / f"{name}.key").read_bytes(), None)
    certificate = x509.load_pem_x509_certificate((pki / f"{name}.crt").read_bytes())
    return SigningIdentity(key, certificate)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def party_a(peer_pki: Path) -> SigningIdentity:
    return _identity(peer_pki, "a")


@pytest.fixture(scope="module")
def party_b(peer_pki: Path) -> SigningIdentity:
    return _identity(peer_pki, "b")


@pytest.fixture(scope="module")
def mallory(peer_pki: Path) -> SigningIdentity:
    return _identity(peer_pki, "mallory")


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"peer serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError("peer serve did not start within 60 s")


PeerServer = Callable[..., tuple[str, Path]]


@pytest.fixture(scope="module")
def peer_serve(
    peer_bin: Path, peer_pki: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PeerServer]:
    """Starts `peer serve` (party b, trusting party a) with extra options; stops every one at the end."""
    started: list[subprocess.Popen[bytes]] = []
    cache: dict[tuple[str, ...], tuple[str, Path]] = {}

    def start(*options: str) -> tuple[str, Path]:
        if options in cache:
            return cache[options]
        port = free_port()
        store = tmp_path_factory.mktemp("peer-store")
        process = subprocess.Popen(
            [str(peer_bin), "serve", "--port", str(port), "--our-key", str(peer_pki / "b.key"),
             "--our-cert", str(peer_pki / "b.crt"), "--their-cert", str(peer_pki / "a.crt"),
             "--store", str(store), *options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        started.append(process)
        url = f"http://127.0.0.1:{port}/"
        _wait_for(url, process)
        cache[options] = (url, store)
        return url, store

    yield start
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _user_message(message_id: str | None = None) -> UserMessage:
    return UserMessage(
        message_info=MessageInfo(message_id or f"{uuid.uuid4()}@aswnode.test", dt.datetime.now(dt.UTC)),
        from_party=Party((PartyId("peer-a", PARTYID_TYPE_UNREGISTERED),), DEFAULT_ROLE_INITIATOR),
        to_party=Party((PartyId("peer-b", PARTYID_TYPE_UNREGISTERED),), DEFAULT_ROLE_RESPONDER),
        collaboration_info=CollaborationInfo(Service(TEST_SERVICE), TEST_ACTION, "interop"),
    )


def _pmode(
    *, compress: bool, encrypt: bool, signature_ref: str = "bst", encryption_ref: str = "bst"
) -> PMode:
    return PMode.from_dict(
        {
            "id": "a-to-b",
            "initiator": {"party_id": "peer-a"},
            "responder": {"party_id": "peer-b"},
            "service": TEST_SERVICE,
            "action": TEST_ACTION,
            "compress": compress,
            "security": {
                "encrypt": encrypt,
                "signature_key_reference": signature_ref,
                "encryption_key_reference": encryption_ref,
            },
        }
    )


def _post(url: str, message: OutboundMessage) -> tuple[int, bytes, str]:
    request = urllib.request.Request(
        url,
        data=b"".join(message.body.chunks()),
        headers={"Content-Type": message.content_type},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


def _stored(store: Path, message_id: str) -> dict[str, object]:
    return json.loads((store / message_id / "meta.json").read_text())


# ------------------------------------------------------------------------- we send, the peer receives


PAYLOAD_SETS = {
    "binary": [("bin@aswnode", "application/octet-stream", BINARY_PAYLOAD)],
    "xml": [("xml@aswnode", "application/xml", XML_PAYLOAD)],
    "text": [("txt@aswnode", "text/plain", TEXT_PAYLOAD)],
    "several": [
        ("bin@aswnode", "application/octet-stream", BINARY_PAYLOAD),
        ("xml@aswnode", "application/xml", XML_PAYLOAD),
        ("txt@aswnode", "text/plain", TEXT_PAYLOAD),
    ],
}
MODES = {
    "plain": {"compress": False, "encrypt": False},
    "compressed": {"compress": True, "encrypt": False},
    "encrypted": {"compress": False, "encrypt": True},
    "encrypted-compressed": {"compress": True, "encrypt": True},
}


@pytest.mark.parametrize("payload_set", sorted(PAYLOAD_SETS))
@pytest.mark.parametrize("mode", sorted(MODES))
def test_message_we_build_gets_a_receipt_from_the_peer_that_we_verify(
    peer_serve: PeerServer, party_a: SigningIdentity, party_b: SigningIdentity, mode: str, payload_set: str
) -> None:
    url, store = peer_serve()
    payloads = [Payload(cid, mime, InMemory(data)) for cid, mime, data in PAYLOAD_SETS[payload_set]]
    sent = build_user_message(
        _user_message(), payloads, _pmode(**MODES[mode]), signing=party_a,
        recipient_certificate=party_b.certificate, spool=MemorySpool, boundary=f"b-{uuid.uuid4()}",
    )  # fmt: skip
    status, body, content_type = _post(url, sent)
    outcome = read_response(
        InMemory(body), content_type, sent=sent, partner_certificates=[party_b.certificate]
    )
    assert status == 200
    assert isinstance(outcome, ReceiptOutcome)
    assert outcome.signal.message_info.ref_to_message_id == sent.message_id
    assert len(outcome.signal.receipt.references) == 2 + len(payloads)  # type: ignore[union-attr]
    meta = _stored(store, sent.message_id)
    stored = {part["href"]: part["sha256"] for part in meta["parts"]}  # type: ignore[index, union-attr]
    for cid, _mime, data in PAYLOAD_SETS[payload_set]:
        assert stored[f"cid:{cid}"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("signature_ref", "encryption_ref"),
    [("bst", "issuer-serial"), ("bst", "ski"), ("issuer-serial", "bst"), ("ski", "ski")],
)
def test_every_key_reference_style_is_accepted_by_the_peer(
    peer_serve: PeerServer,
    party_a: SigningIdentity,
    party_b: SigningIdentity,
    signature_ref: str,
    encryption_ref: str,
) -> None:
    url, _store = peer_serve()
    sent = build_user_message(
        _user_message(), [Payload("xml@aswnode", "application/xml", InMemory(XML_PAYLOAD))],
        _pmode(compress=True, encrypt=True, signature_ref=signature_ref, encryption_ref=encryption_ref),
        signing=party_a, recipient_certificate=party_b.certificate, spool=MemorySpool, boundary="kr-boundary",
    )  # fmt: skip
    status, body, content_type = _post(url, sent)
    outcome = read_response(
        InMemory(body), content_type, sent=sent, partner_certificates=[party_b.certificate]
    )
    assert status == 200
    assert isinstance(outcome, ReceiptOutcome)


def test_payload_in_the_soap_body_is_accepted_by_the_peer(
    peer_serve: PeerServer, party_a: SigningIdentity, party_b: SigningIdentity
) -> None:
    url, store = peer_serve()
    sent = build_user_message(
        _user_message(), [Payload("bin@aswnode", "application/octet-stream", InMemory(BINARY_PAYLOAD))],
        _pmode(compress=True, encrypt=True), signing=party_a, recipient_certificate=party_b.certificate,
        spool=MemorySpool, boundary="body-boundary", body_payload=XML_PAYLOAD,
    )  # fmt: skip
    status, body, content_type = _post(url, sent)
    outcome = read_response(
        InMemory(body), content_type, sent=sent, partner_certificates=[party_b.certificate]
    )
    assert status == 200 and isinstance(outcome, ReceiptOutcome)
    parts = _stored(store, sent.message_id)["parts"]
    assert [(p["href"], p["mime_type"]) for p in parts] == [  # type: ignore[union-attr]
        ("", "application/xml"), ("cid:bin@aswnode", "application/octet-stream"),
    ]  # fmt: skip


@pytest.mark.parametrize("misbehaviour", ["nri", "sig"])
def test_broken_receipt_from_the_peer_is_refused_as_invalid_receipt(
    peer_serve: PeerServer, party_a: SigningIdentity, party_b: SigningIdentity, misbehaviour: str
) -> None:
    url, _store = peer_serve("--misbehave", misbehaviour)
    sent = build_user_message(
        _user_message(), [Payload("bin@aswnode", "application/octet-stream", InMemory(BINARY_PAYLOAD))],
        _pmode(compress=True, encrypt=True), signing=party_a, recipient_certificate=party_b.certificate,
        spool=MemorySpool, boundary="mb-boundary",
    )  # fmt: skip
    status, body, content_type = _post(url, sent)
    assert status == 200
    with pytest.raises(EbmsException) as refused:
        read_response(InMemory(body), content_type, sent=sent, partner_certificates=[party_b.certificate])
    assert refused.value.error is EbmsError.INVALID_RECEIPT
    assert refused.value.ref_to_message_id == sent.message_id


def test_receipt_signed_by_another_certificate_than_the_pinned_one_is_refused(
    peer_serve: PeerServer, party_a: SigningIdentity, party_b: SigningIdentity, mallory: SigningIdentity
) -> None:
    url, _store = peer_serve()
    sent = build_user_message(
        _user_message(), [Payload("xml@aswnode", "application/xml", InMemory(XML_PAYLOAD))],
        _pmode(compress=False, encrypt=False), signing=party_a, recipient_certificate=None,
        spool=MemorySpool, boundary="pin-boundary",
    )  # fmt: skip
    _status, body, content_type = _post(url, sent)
    with pytest.raises(EbmsException) as refused:
        read_response(InMemory(body), content_type, sent=sent, partner_certificates=[mallory.certificate])
    assert refused.value.error is EbmsError.INVALID_RECEIPT


def test_message_signed_by_an_untrusted_key_gets_the_peers_error_signal(
    peer_serve: PeerServer, mallory: SigningIdentity, party_b: SigningIdentity
) -> None:
    url, _store = peer_serve()
    sent = build_user_message(
        _user_message(), [Payload("xml@aswnode", "application/xml", InMemory(XML_PAYLOAD))],
        _pmode(compress=True, encrypt=True), signing=mallory, recipient_certificate=party_b.certificate,
        spool=MemorySpool, boundary="mallory-boundary",
    )  # fmt: skip
    status, body, content_type = _post(url, sent)
    outcome = read_response(
        InMemory(body), content_type, sent=sent, partner_certificates=[party_b.certificate]
    )
    assert status == 500
    assert isinstance(outcome, ErrorOutcome)
    assert [e.code for e in outcome.errors] == ["EBMS:0101"]
    assert outcome.errors[0].ref_to_message_id == sent.message_id


def test_unencrypted_message_to_a_peer_requiring_encryption_gets_policy_noncompliance(
    peer_serve: PeerServer, party_a: SigningIdentity, party_b: SigningIdentity
) -> None:
    url, _store = peer_serve("--require-encryption")
    sent = build_user_message(
        _user_message(), [Payload("xml@aswnode", "application/xml", InMemory(XML_PAYLOAD))],
        _pmode(compress=True, encrypt=False), signing=party_a, recipient_certificate=None,
        spool=MemorySpool, boundary="policy-boundary",
    )  # fmt: skip
    _status, body, content_type = _post(url, sent)
    outcome = read_response(
        InMemory(body), content_type, sent=sent, partner_certificates=[party_b.certificate]
    )
    assert isinstance(outcome, ErrorOutcome)
    assert [e.code for e in outcome.errors] == ["EBMS:0103"]


# ------------------------------------------------------------------------- the peer sends, we receive


def _peer_send(
    peer_bin: Path, peer_pki: Path, url: str, payload: Path, save: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(peer_bin), "send", "--url", url, "--our-key", str(peer_pki / "a.key"),
         "--our-cert", str(peer_pki / "a.crt"), "--their-cert", str(peer_pki / "b.crt"),
         "--payload", str(payload), "--save", str(save), *options],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


SEND_CASES = {
    "plain-binary": ("payload.bin", BINARY_PAYLOAD, ()),
    "plain-xml": ("invoice.xml", XML_PAYLOAD, ()),
    "plain-text": ("notes.txt", TEXT_PAYLOAD, ("--mime-type", "text/plain")),
    "compressed": ("invoice.xml", XML_PAYLOAD, ("--compress",)),
    "encrypted-compressed": ("payload.bin", BINARY_PAYLOAD, ("--encrypt", "--compress")),
    "encrypted-issuer-serial": ("invoice.xml", XML_PAYLOAD, ("--encrypt", "--enc-key-ref", "issuer-serial")),
    "encrypted-ski": ("notes.txt", TEXT_PAYLOAD, ("--encrypt", "--compress", "--enc-key-ref", "ski")),
    "business-service": (
        "invoice.xml", XML_PAYLOAD,
        ("--service", "urn:asw:eco", "--service-type", "urn:asw:services", "--action", "Submit",
         "--conversation-id", "conv-42", "--prop", "originalSender=urn:a", "--from", "ns-a", "--to", "ns-b"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(SEND_CASES))
def test_message_saved_by_peer_send_is_decrypted_verified_and_decompressed(
    peer_bin: Path, peer_pki: Path, peer_serve: PeerServer, party_a: SigningIdentity,
    party_b: SigningIdentity, tmp_path: Path, case: str,
) -> None:  # fmt: skip
    url, _store = peer_serve()
    name, data, options = SEND_CASES[case]
    (tmp_path / name).write_bytes(data)
    result = _peer_send(peer_bin, peer_pki, url, tmp_path / name, tmp_path / "saved", *options)
    assert json.loads(result.stdout.strip().splitlines()[-1])["ok"], result.stdout
    saved = tmp_path / "saved"
    envelope = read_envelope(
        InMemory((saved / "request.mime").read_bytes()), (saved / "request.content-type").read_text().strip()
    )
    received = open_user_message(
        envelope, sender_certificates=[party_a.certificate], own=party_b,
        require_encryption="--encrypt" in options, spool=MemorySpool,
    )  # fmt: skip
    assert [read_all(p.source, 1 << 20) for p in received.payloads] == [data]
    assert len(received.signed_references) == 3
    if case == "business-service":
        info = received.user_message.collaboration_info
        assert (info.service.value, info.service.type, info.action) == (
            "urn:asw:eco",
            "urn:asw:services",
            "Submit",
        )
        assert received.user_message.from_party.party_ids[0].value == "ns-a"
        assert [(p.name, p.value) for p in received.user_message.message_properties] == [
            ("originalSender", "urn:a")
        ]
    receipt = build_receipt(received, signing=party_b, message_id=f"{uuid.uuid4()}@aswnode.test",
                            now=dt.datetime.now(dt.UTC))  # fmt: skip
    assert receipt.content_type.startswith("application/soap+xml")


# ---------------------------------------------------------------------------------- the peer sends to us


class _Receiver(BaseHTTPRequestHandler):
    """A minimal AS4 endpoint on protocols/as4 (party b), for `peer send` to check our receipts and errors."""

    identity: SigningIdentity
    sender: x509.Certificate

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        now = dt.datetime.now(dt.UTC)
        answer_id = f"{uuid.uuid4()}@aswnode.test"
        try:
            envelope = read_envelope(InMemory(body), self.headers.get("Content-Type", ""))
            received = open_user_message(
                envelope, sender_certificates=[self.sender], own=self.identity, require_encryption=False,
                spool=MemorySpool,
            )  # fmt: skip
            answer, status = (
                build_receipt(received, signing=self.identity, message_id=answer_id, now=now),
                200,
            )
        except EbmsException as refused:
            answer = build_error_signal([refused], signing=self.identity, message_id=answer_id, now=now)
            status = 500
        data = b"".join(answer.body.chunks())
        self.send_response(status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def our_endpoint(party_a: SigningIdentity, party_b: SigningIdentity) -> Iterator[str]:
    handler = type("Receiver", (_Receiver,), {"identity": party_b, "sender": party_a.certificate})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.mark.parametrize(
    "options", [(), ("--compress",), ("--encrypt", "--compress"), ("--encrypt", "--enc-key-ref", "ski")]
)
def test_peer_send_accepts_the_nrr_receipt_we_build(
    peer_bin: Path, peer_pki: Path, our_endpoint: str, tmp_path: Path, options: tuple[str, ...]
) -> None:
    (tmp_path / "invoice.xml").write_bytes(XML_PAYLOAD)
    result = _peer_send(
        peer_bin, peer_pki, our_endpoint, tmp_path / "invoice.xml", tmp_path / "saved", *options
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 0, report
    assert report["receipt_valid"] and report["nri_references"] == 3


@pytest.mark.parametrize(
    ("tamper", "options", "code"),
    [
        ("payload", (), "EBMS:0101"),
        ("header", (), "EBMS:0101"),
        ("signature", (), "EBMS:0101"),
        ("ciphertext", ("--encrypt",), "EBMS:0102"),
        ("payload", ("--encrypt", "--compress"), "EBMS:0101"),
    ],
)
def test_tampered_message_from_the_peer_gets_our_error_signal_with_the_right_code(
    peer_bin: Path, peer_pki: Path, our_endpoint: str, tmp_path: Path, tamper: str, options: tuple[str, ...],
    code: str,
) -> None:  # fmt: skip
    (tmp_path / "payload.bin").write_bytes(BINARY_PAYLOAD)
    result = _peer_send(
        peer_bin, peer_pki, our_endpoint, tmp_path / "payload.bin", tmp_path / "saved",
        "--tamper", tamper, "--expect-error", code, *options,
    )  # fmt: skip
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 0, report
    assert report["error_codes"] == [code]
