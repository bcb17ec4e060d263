"""A body over the size limit: HTTP 413 with a signed ebMS Error signal, and what our sender makes of one."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import yaml

from certs.pki import generate_node_pki

LIMIT = 65536


def _limit(node, limit: int = LIMIT) -> None:  # type: ignore[no-untyped-def]
    config = node.dir / "node.yaml"
    data = yaml.safe_load(config.read_text())
    data["limits"] = {"max_request_bytes": limit}
    config.write_text(yaml.safe_dump(data))


def _error_outcome(body: bytes, content_type: str, signer: Path):  # type: ignore[no-untyped-def]
    """The answer read as our sender reads it, trusting `signer`'s certificate."""
    from cryptography import x509

    from protocols.as4.inbound import ErrorOutcome, read_response
    from protocols.as4.outbound import OutboundMessage
    from protocols.as4.payload import InMemory

    sent = OutboundMessage("sent@test", "application/soap+xml", InMemory(b""), ())
    outcome = read_response(
        InMemory(body),
        content_type,
        sent=sent,
        partner_certificates=[x509.load_pem_x509_certificate(signer.read_bytes())],
    )
    assert isinstance(outcome, ErrorOutcome)
    return outcome


def test_an_oversized_post_is_answered_413_with_a_signed_ebms_error(nodes, poster, foreign) -> None:  # type: ignore[no-untyped-def]
    b = nodes.make("node-b", tls=True)
    _limit(b)
    b.start()
    # urllib writes the whole body before it reads the answer, as many HTTP clients do: the node must
    # drain the refused body, or the reset of closing on a writing client loses the answer.
    status, content_type, answer = poster(b.endpoint, b"x" * 2_000_000, "application/soap+xml", ca=b.tls_cert)
    assert status == 413 and "soap+xml" in content_type
    assert foreign.error_codes(answer) == ["EBMS:0004"]
    outcome = _error_outcome(answer, content_type, b.signing_cert)
    assert outcome.signature is not None  # signed with the node's own key
    [error] = outcome.errors
    assert error.ref_to_message_id is None and outcome.signal.message_info.ref_to_message_id is None
    assert error.severity == "failure" and f"limit of {LIMIT} bytes" in error.detail
    assert "2000000 bytes" in error.detail
    [refusal] = b.wait_for(
        lambda: [e for e in b.audit() if e.action == "as4.refuse" and e.status == "413"], what="the audit"
    )
    assert refusal.detail["error"] == "EBMS:0004" and refusal.detail["declared_size"] == 2_000_000


def test_a_refusal_on_the_declared_length_does_not_invite_the_body(nodes) -> None:  # type: ignore[no-untyped-def]
    b = nodes.make("node-b", tls=False)
    _limit(b)
    b.start()
    port = int(b.endpoint.rsplit(":", 1)[1].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            b"POST /as4 HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml\r\n"
            b"Content-Length: 10000000\r\nExpect: 100-continue\r\n\r\n"
        )
        answer = b""
        while chunk := conn.recv(65536):  # no body sent: the node closes after its idle linger
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in head
    assert b"connection: close" in head.lower() and b"EBMS:0004" in body


def test_a_chunked_body_over_the_limit_is_drained_and_answered(nodes) -> None:  # type: ignore[no-untyped-def]
    b = nodes.make("node-b", tls=False)
    _limit(b)
    b.start()
    port = int(b.endpoint.rsplit(":", 1)[1].split("/")[0])
    chunk = b"x" * 16384
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            b"POST /as4 HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(64):  # 1 MiB, no length declared: refused once the limit is crossed
            conn.sendall(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        conn.sendall(b"0\r\n\r\n")
        started = time.monotonic()
        answer = b""
        while data := conn.recv(65536):
            answer += data
        # Closed once the whole body was in, not after the idle linger.
        assert time.monotonic() - started < 1.5
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"EBMS:0004" in body
    [refusal] = b.wait_for(
        lambda: [e for e in b.audit() if e.action == "as4.refuse" and e.status == "413"], what="the audit"
    )
    assert refusal.detail["declared_size"] is None and refusal.detail["received"] > LIMIT


def _outbound(node) -> dict:  # type: ignore[no-untyped-def,type-arg]
    [row] = node.messages("outbound")
    return row


def test_our_sender_fails_a_message_the_partner_refuses_as_too_large_with_its_signature(nodes) -> None:  # type: ignore[no-untyped-def]
    a, b = nodes.pair(tls=True, mtls=True)
    _limit(b)
    a.start()
    b.start()
    a.enqueue("node-b", [os.urandom(200_000)])  # random bytes: no compression brings them under the limit
    row = a.wait_for(lambda: (m := _outbound(a))["state"] == "failed" and m, what="the message failed")
    assert row["attempts"] == 1
    assert "HTTP 413" in row["last_error"] and "too large" in row["last_error"]
    assert f"limit of {LIMIT} bytes" in row["last_error"]
    assert not b.messages("inbound")


def test_an_unauthenticated_413_is_retried(nodes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = nodes.make("node-a", tls=False)
    b = nodes.make("node-b", tls=False)
    # a holds another certificate for b: b's signed 413 is, to a, anyone's (a proxy's).
    stranger = generate_node_pki(tmp_path / "stranger", "node-b").signing
    a.add_partner("node-b", "node-b", b.endpoint, stranger.cert)
    b.knows(a)
    _limit(b)
    a.start()
    b.start()
    a.enqueue("node-b", [os.urandom(200_000)])
    row = a.wait_for(lambda: (m := _outbound(a))["last_error"] and m, what="the first attempt")
    assert row["state"] != "failed"
    assert "HTTP 413" in row["last_error"] and "unauthenticated" in row["last_error"]


def test_the_java_peer_reads_the_413_error_signal(  # type: ignore[no-untyped-def]
    nodes, peer_bin: Path, peer_pki: Path, tmp_path: Path
) -> None:
    import json
    import subprocess

    b = nodes.make("node-b", tls=False)
    b.add_partner("peer-a", "peer-a", "http://127.0.0.1:9/", peer_pki / "a.crt")
    _limit(b)
    b.start()
    payload = tmp_path / "big.bin"
    payload.write_bytes(os.urandom(2_000_000))
    result = subprocess.run(
        [
            str(peer_bin), "send", "--url", b.endpoint, "--our-key", str(peer_pki / "a.key"),
            "--our-cert", str(peer_pki / "a.crt"), "--their-cert", str(b.signing_cert),
            "--from", "peer-a", "--to", "node-b", "--payload", str(payload), "--encrypt",
            "--expect-error", "EBMS:0004",
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    outcome = json.loads([line for line in result.stdout.splitlines() if line.startswith("{")][-1])
    assert result.returncode == 0, outcome
    assert outcome["http_status"] == 413 and outcome["error_codes"] == ["EBMS:0004"]
