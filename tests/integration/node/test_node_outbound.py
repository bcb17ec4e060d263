"""Sending AS4: in order per partner, retries with the same bytes, failed when spent, resend, fatal errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from certs.pki import generate_node_pki

FAST_RETRIES = {"reliability": {"retries": 50, "interval_seconds": 0.5, "backoff": 1.0}}
ASWNODE = str(Path(sys.executable).with_name("aswnode"))


def test_a_partner_down_for_a_while_then_up_gets_the_queue_in_submission_order(nodes) -> None:  # type: ignore[no-untyped-def]
    a = nodes.make("node-a", tls=False)
    b = nodes.make("node-b", tls=False)
    a.knows(b, pmode=FAST_RETRIES)
    b.knows(a)
    a.start()
    ids = a.enqueue("node-b", [f"<doc n='{n}'/>".encode() for n in range(12)])
    head = a.wait_for(
        lambda: (m := a.messages("outbound")[0])["attempts"] >= 2 and m, what="retries while b is down"
    )
    assert head["message_id"] == ids[0] and "transport" in head["last_error"]
    # The head waiting for its retry holds the rest: nothing behind it was tried.
    assert all(m["attempts"] == 0 for m in a.messages("outbound")[1:])
    b.start()
    a.wait_for(
        lambda: all(m["state"] == "delivered" for m in a.messages("outbound")),
        timeout=120,
        what="all delivered",
    )
    received = [m["message_id"] for m in b.messages("inbound")]
    assert received == ids


def test_retries_spent_make_a_message_failed_and_resend_delivers_the_same_bytes(nodes) -> None:  # type: ignore[no-untyped-def]
    a = nodes.make("node-a", tls=False)
    b = nodes.make("node-b", tls=False)
    a.knows(b, pmode={"reliability": {"retries": 2, "interval_seconds": 0.3, "backoff": 1.0}})
    b.knows(a)
    a.start()
    [message_id] = a.enqueue("node-b", [b"<doc/>"])
    failed = a.wait_for(lambda: (m := a.messages("outbound")[0])["state"] == "failed" and m, what="failed")
    assert failed["attempts"] == 3
    assert "retries spent" in failed["last_error"]
    b.start()
    result = subprocess.run(
        [ASWNODE, "resend", str(a.dir), message_id], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    delivered = a.wait_for(
        lambda: (m := a.messages("outbound")[0])["state"] == "delivered" and m, what="delivered"
    )
    # One build, many attempts: the receiver got exactly the bytes built for the first attempt.
    assert delivered["wire_digest"] == failed["wire_digest"]
    [received] = b.messages("inbound")
    assert received["message_id"] == message_id
    assert received["wire_digest"] == failed["wire_digest"]
    assert any(e.action == "message.resend" for e in a.audit())


def test_a_fatal_ebms_error_fails_the_message_at_once(nodes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a = nodes.make("node-a", tls=False)
    b = nodes.make("node-b", tls=False)
    # a encrypts for a certificate that is not b's (the first one registered): b cannot decrypt
    # (EBMS:0102), retrying cannot help. b's own certificate is registered too, so a can authenticate
    # b's signed error: only an authenticated error fails a message at once.
    wrong = generate_node_pki(tmp_path / "wrong", "node-b")
    bundle = tmp_path / "node-b-bundle.pem"
    bundle.write_bytes(wrong.signing.cert.read_bytes() + b.signing_cert.read_bytes())
    a.add_partner("node-b", "node-b", b.endpoint, bundle, pmode=FAST_RETRIES)
    b.knows(a)
    a.start()
    b.start()
    a.enqueue("node-b", [b"<doc/>"])
    failed = a.wait_for(lambda: (m := a.messages("outbound")[0])["state"] == "failed" and m, what="failed")
    assert failed["attempts"] == 1
    assert "EBMS:0102" in failed["last_error"]
    assert b.messages("inbound") == []


def test_a_receipt_from_a_partner_with_another_certificate_is_invalid_and_retried(nodes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a = nodes.make("node-a", tls=False)
    b = nodes.make("node-b", tls=False)
    a.knows(
        b,
        pmode={
            "reliability": {"retries": 1, "interval_seconds": 0.3, "backoff": 1.0},
            "security": {"encrypt": False},
        },
    )
    # a sends signed-only here (so the receipt is all that differs): b agrees to that explicitly.
    b.knows(a, pmode={"inbound": {"require_encryption": False}})
    # b signs with a key a does not know: swap b's signing key pair for another after a registered it.
    other = generate_node_pki(tmp_path / "other", "node-b")
    (b.dir / "keys" / "signing.key").write_bytes(other.signing.key.read_bytes())
    (b.dir / "keys" / "signing.pem").write_bytes(other.signing.cert.read_bytes())
    a.start()
    b.start()
    a.enqueue("node-b", [b"<doc/>"])
    failed = a.wait_for(lambda: (m := a.messages("outbound")[0])["state"] == "failed" and m, what="failed")
    assert failed["receipt_status"] == "invalid"
    assert "EBMS:0302" in failed["last_error"]
    # b stored it once: the retry was answered as a duplicate, with the same (unverifiable) receipt.
    assert len(b.messages("inbound")) == 1


def test_a_late_receipt_pushed_on_its_own_closes_a_failed_message(nodes, poster) -> None:  # type: ignore[no-untyped-def]
    a, b = nodes.pair(tls=False)
    a.start()
    b.start()
    [message_id] = a.enqueue("node-b", [b"<doc/>"])
    row = a.wait_for(lambda: (m := a.messages("outbound")[0])["state"] == "delivered" and m, what="delivered")
    receipt = row["receipt"]
    from sqlalchemy import update

    from node.store.models import Message

    with a.db.session() as session:  # as if its retries had been spent before the receipt came
        session.execute(
            update(Message).where(Message.id == row["pk"]).values(state="failed", receipt_status=None)
        )
    status, _, _ = poster(a.endpoint, receipt, "application/soap+xml; charset=UTF-8")
    assert status == 200
    closed = a.messages("outbound")[0]
    assert (closed["message_id"], closed["state"]) == (message_id, "delivered")
    assert any(e.action == "as4.receipt" and e.subject == f"message:{message_id}" for e in a.audit())


def test_a_pushed_receipt_not_signed_by_the_partner_is_refused(nodes, poster, foreign) -> None:  # type: ignore[no-untyped-def]
    a, b = nodes.pair(tls=False)
    a.start()
    b.start()
    a.enqueue("node-b", [b"<doc/>"])
    row = a.wait_for(lambda: (m := a.messages("outbound")[0])["state"] == "delivered" and m, what="delivered")
    receipt = row["receipt"]
    forged = receipt.replace(b"RefToMessageId>", b"RefToMessageId> ", 1)
    status, _, answer = poster(a.endpoint, forged, "application/soap+xml; charset=UTF-8")
    assert status == 500 and foreign.error_codes(answer)


class _Answering:
    """A stand-in 'partner' endpoint on 127.0.0.1:0 that answers every POST with what `answer` makes."""

    def __init__(self, answer) -> None:  # type: ignore[no-untyped-def]
        import http.server
        import threading

        outer = self
        self.posts = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.posts += 1
                status, content_type, data = answer(body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/as4"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _unsigned_error(code: str):  # type: ignore[no-untyped-def]
    import re
    from datetime import UTC, datetime

    from protocols.as4.errors import EbmsError, EbmsException
    from protocols.as4.outbound import build_error_signal

    def answer(body: bytes) -> tuple[int, str, bytes]:
        sent = re.search(rb"MessageId>([^<]+)<", body).group(1).decode()  # type: ignore[union-attr]
        error = EbmsException(EbmsError.by_code(code), "forged by a proxy", ref_to_message_id=sent)  # type: ignore[arg-type]
        signal = build_error_signal((error,), signing=None, message_id="e@proxy", now=datetime.now(UTC))
        return 500, signal.content_type, b"".join(signal.body.chunks())

    return answer


def _soap_fault(body: bytes) -> tuple[int, str, bytes]:
    fault = (
        b'<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body><S:Fault>'
        b"<S:Reason><S:Text>upstream refused</S:Text></S:Reason></S:Fault></S:Body></S:Envelope>"
    )
    return 500, "application/soap+xml; charset=UTF-8", fault


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        (_unsigned_error("EBMS:0101"), "EBMS:0101 forged by a proxy"),
        (_unsigned_error("EBMS:0004"), "EBMS:0004 forged by a proxy"),
        (_soap_fault, "upstream refused"),
    ],
    ids=["unsigned-0101", "unsigned-0004", "bare-soap-fault"],
)
def test_an_unauthenticated_error_or_soap_fault_is_retried_not_fatal(nodes, answer, text) -> None:  # type: ignore[no-untyped-def]
    a = nodes.make("node-a", tls=False)
    b = nodes.make("node-b", tls=False)
    proxy = _Answering(answer)
    try:
        a.add_partner(
            "node-b",
            "node-b",
            proxy.endpoint,
            b.signing_cert,
            pmode={"reliability": {"retries": 2, "interval_seconds": 0.3, "backoff": 1.0}},
        )
        a.start()
        a.enqueue("node-b", [b"<doc/>"])
        failed = a.wait_for(
            lambda: (m := a.messages("outbound")[0])["state"] == "failed" and m, what="failed"
        )
    finally:
        proxy.close()
    # Retried like a transport error until the retries were spent; its text kept.
    assert failed["attempts"] == 3 and proxy.posts == 3
    assert "retries spent" in failed["last_error"]
    assert "unauthenticated" in failed["last_error"] and text in failed["last_error"]


def test_a_pushed_error_signal_not_signed_by_the_partner_is_refused_and_audited_as_unknown(
    nodes, poster, foreign
) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from protocols.as4.errors import EbmsError, EbmsException
    from protocols.as4.outbound import build_error_signal

    a, b = nodes.pair(tls=False)
    a.start()
    b.start()
    [message_id] = a.enqueue("node-b", [b"<doc/>"])
    a.wait_for(lambda: a.messages("outbound")[0]["state"] == "delivered", what="delivered")
    error = EbmsException(EbmsError.OTHER, "forged", ref_to_message_id=message_id)
    for signer in (None, foreign.identity(a.dir / "keys" / "signing.key", a.signing_cert)):
        signal = build_error_signal((error,), signing=signer, message_id="e@x", now=datetime.now(UTC))
        status, _, answer = poster(a.endpoint, b"".join(signal.body.chunks()), signal.content_type)
        assert status == 500 and foreign.error_codes(answer) == ["EBMS:0101"]
    entries = a.audit()
    assert not any(e.action == "as4.error" for e in entries)
    refusals = [e for e in entries if e.action == "as4.refuse"]
    assert len(refusals) == 2
    assert all(e.actor != "partner:node-b" and "unknown" in e.actor for e in refusals)
    assert a.messages("outbound")[0]["state"] == "delivered"


def test_an_open_incident_holds_the_partners_messages_without_spending_attempts(nodes) -> None:  # type: ignore[no-untyped-def]
    import time
    from datetime import UTC, datetime

    from sqlalchemy import update

    from node.store.lifecycle_models import Incident

    a, b = nodes.pair(
        tls=False, pmode={"reliability": {"retries": 1, "interval_seconds": 0.3, "backoff": 1.0}}
    )
    with a.db.session() as session:
        incident = Incident(title="link down", partners=["node-b"], opened_by="operator:test")
        session.add(incident)
        session.flush()
        incident_id = incident.id
    a.start()
    b.start()
    ids = a.enqueue("node-b", [b"<one/>", b"<two/>"])
    held = a.wait_for(lambda: (m := a.messages("outbound")[0])["last_error"] and m, what="the head held")
    time.sleep(2)  # several sender ticks: still held, no attempt spent, nothing sent
    head = a.messages("outbound")[0]
    assert "incident" in held["last_error"] and head["state"] == "pending"
    assert [m["attempts"] for m in a.messages("outbound")] == [0, 0]
    assert b.messages("inbound") == []
    with a.db.session() as session:
        session.execute(
            update(Incident).where(Incident.id == incident_id).values(closed_at=datetime.now(UTC))
        )
    a.wait_for(
        lambda: all(m["state"] == "delivered" for m in a.messages("outbound")), timeout=120, what="delivered"
    )
    assert [m["message_id"] for m in b.messages("inbound")] == ids
