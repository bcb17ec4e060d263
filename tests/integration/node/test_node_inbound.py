"""Receiving AS4: refusals with the right ebMS error, audited; duplicates, replays and test messages."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from certs.pki import generate_node_pki
from protocols.as4.namespaces import TEST_ACTION, TEST_SERVICE

RESTRICTED = ("urn:kh:ephyto", "Phyto")


@pytest.fixture(scope="module")
def receiving(module_nodes, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Node b on loopback HTTP with two partners: gw-a (registered) and gw-c; plus an outsider's keys.

    One node for the module (starting one is the slow part); each test sends its own messages.
    """
    tmp_path = tmp_path_factory.mktemp("inbound")
    b = module_nodes.make("node-b", tls=False)
    keys = {}
    for name in ("gw-a", "gw-c", "gw-r", "gw-g", "mallory"):
        pki = generate_node_pki(tmp_path / f"pki-{name}", name)
        keys[name] = pki.signing
    b.add_partner(
        "gw-a",
        "gw-a",
        "http://127.0.0.1:9/",
        keys["gw-a"].cert,
        pmode={"reliability": {"duplicate_window_seconds": 4}},
    )
    b.add_partner("gw-c", "gw-c", "http://127.0.0.1:9/", keys["gw-c"].cert)
    # gw-r's P-Mode restricts it to one service and action; gw-g's names an agreement.
    b.add_partner(
        "gw-r",
        "gw-r",
        "http://127.0.0.1:9/",
        keys["gw-r"].cert,
        pmode={"service": RESTRICTED[0], "action": RESTRICTED[1]},
    )
    b.add_partner(
        "gw-g", "gw-g", "http://127.0.0.1:9/", keys["gw-g"].cert, pmode={"agreement": "urn:agreement:kh-vn"}
    )
    b.start()
    return b, keys


def _refusals(node, code: str) -> list:  # type: ignore[no-untyped-def]
    return [e for e in node.audit() if e.action == "as4.refuse" and e.status == code]


def test_a_signed_encrypted_message_is_stored_and_answered_with_a_signed_receipt(
    receiving, foreign, poster
) -> None:  # type: ignore[no-untyped-def]
    b, keys = receiving
    signer = foreign.identity(keys["gw-a"].key, keys["gw-a"].cert)
    message_id, content_type, body = foreign.craft(
        signer, from_party="gw-a", to_party="node-b", recipient_cert=b.signing_cert, payload=b"hello"
    )
    status, answer_type, answer = poster(b.endpoint, body, content_type)
    assert status == 200 and "soap+xml" in answer_type
    assert b"Receipt" in answer and b"NonRepudiationInformation" in answer
    [stored] = [m for m in b.messages("inbound") if m["message_id"] == message_id]
    assert stored["partner"] == "gw-a"
    # A small payload part lives in its row (payloads.data): no blob file either.
    from node.store.messages import find_message

    with b.db.read_session() as session:
        part = find_message(session, message_id, direction="inbound").payloads[0]
        assert part.data == b"hello" and part.blob_digest == stored["payload_digests"][0]
    assert not b.blobs.exists(stored["payload_digests"][0])
    # A small message and its receipt live in the row: no file (and no fsync) of their own.
    assert stored["wire_inline"] and stored["receipt"] == answer
    assert not b.blobs.exists(stored["wire_digest"]) and not b.blobs.exists(stored["receipt_digest"])
    assert any(e.action == "as4.receive" and e.subject == f"message:{message_id}" for e in b.audit())


def test_duplicate_user_message_gets_the_original_receipt_and_is_stored_once(
    receiving, foreign, poster
) -> None:  # type: ignore[no-untyped-def]
    b, keys = receiving
    signer = foreign.identity(keys["gw-a"].key, keys["gw-a"].cert)
    message_id, content_type, body = foreign.craft(
        signer, from_party="gw-a", to_party="node-b", recipient_cert=b.signing_cert, payload=b"once"
    )
    first = poster(b.endpoint, body, content_type)
    second = poster(b.endpoint, body, content_type)
    assert first[0] == second[0] == 200
    assert second[2] == first[2]
    assert [m["message_id"] for m in b.messages("inbound")].count(message_id) == 1
    assert any(e.action == "as4.duplicate" and e.subject == f"message:{message_id}" for e in b.audit())


def test_replay_of_a_stored_message_after_the_duplicate_window_is_refused_and_audited(
    receiving, foreign, poster
) -> None:  # type: ignore[no-untyped-def]
    b, keys = receiving
    signer = foreign.identity(keys["gw-a"].key, keys["gw-a"].cert)
    message_id, content_type, body = foreign.craft(
        signer, from_party="gw-a", to_party="node-b", recipient_cert=b.signing_cert, payload=b"replayed"
    )
    assert poster(b.endpoint, body, content_type)[0] == 200
    time.sleep(4.5)  # gw-a's duplicate window is 4 s
    status, _, answer = poster(b.endpoint, body, content_type)
    assert status == 500
    assert foreign.error_codes(answer) == ["EBMS:0101"]
    assert [m["message_id"] for m in b.messages("inbound")].count(message_id) == 1
    assert any(e.subject == f"message:{message_id}" for e in _refusals(b, "EBMS:0101"))


def test_a_message_with_a_timestamp_older_than_the_window_is_refused(receiving, foreign, poster) -> None:  # type: ignore[no-untyped-def]
    b, keys = receiving
    signer = foreign.identity(keys["gw-a"].key, keys["gw-a"].cert)
    message_id, content_type, body = foreign.craft(
        signer, from_party="gw-a", to_party="node-b", recipient_cert=b.signing_cert, payload=b"old",
        timestamp=datetime.now(UTC) - timedelta(hours=1),
    )  # fmt: skip
    status, _, answer = poster(b.endpoint, body, content_type)
    assert (status, foreign.error_codes(answer)) == (500, ["EBMS:0101"])
    assert message_id not in [m["message_id"] for m in b.messages("inbound")]


def test_a_message_signed_with_a_certificate_not_registered_is_refused_with_0101(
    receiving, foreign, poster
) -> None:  # type: ignore[no-untyped-def]
    b, keys = receiving
    mallory = foreign.identity(keys["mallory"].key, keys["mallory"].cert)
    message_id, content_type, body = foreign.craft(
        mallory, from_party="gw-a", to_party="node-b", recipient_cert=b.signing_cert, payload=b"forged"
    )
    status, _, answer = poster(b.endpoint, body, content_type)
    assert (status, foreign.error_codes(answer)) == (500, ["EBMS:0101"])
    assert message_id not in [m["message_id"] for m in b.messages("inbound")]
    [refusal] = [e for e in _refusals(b, "EBMS:0101") if e.subject == f"message:{message_id}"]
    assert refusal.actor == "partner:gw-a"


def test_a_partner_sending_as_another_party_is_refused_with_0101(receiving, foreign, poster) -> None:  # type: ignore[no-untyped-def]
    b, keys = receiving
    gw_c = foreign.identity(keys["gw-c"].key, keys["gw-c"].cert)
    message_id, content_type, body = foreign.craft(
        gw_c, from_party="gw-a", to_party="node-b", recipient_cert=b.signing_cert, payload=b"as a"
    )
    status, _, answer = poster(b.endpoint, body, content_type)
    assert (status, foreign.error_codes(answer)) == (500, ["EBMS:0101"])
    assert message_id not in [m["message_id"] for m in b.messages("inbound")]
    assert any(e.subject == f"message:{message_id}" for e in _refusals(b, "EBMS:0101"))


def test_an_unknown_party_is_refused_with_0010_and_audited(receiving, foreign, poster) -> None:  # type: ignore[no-untyped-def]
    b, keys = receiving
    mallory = foreign.identity(keys["mallory"].key, keys["mallory"].cert)
    message_id, content_type, body = foreign.craft(
        mallory, from_party="mallory", to_party="node-b", recipient_cert=b.signing_cert, payload=b"who"
    )
    status, _, answer = poster(b.endpoint, body, content_type)
    assert (status, foreign.error_codes(answer)) == (500, ["EBMS:0010"])
    [refusal] = [e for e in _refusals(b, "EBMS:0010") if e.subject == f"message:{message_id}"]
    assert refusal.actor == "party:mallory"


def test_a_message_for_another_party_is_refused_with_0010(receiving, foreign, poster) -> None:  # type: ignore[no-untyped-def]
    b, keys = receiving
    signer = foreign.identity(keys["gw-a"].key, keys["gw-a"].cert)
    _message_id, content_type, body = foreign.craft(
        signer, from_party="gw-a", to_party="someone-else", recipient_cert=b.signing_cert, payload=b"x"
    )
    status, _, answer = poster(b.endpoint, body, content_type)
    assert (status, foreign.error_codes(answer)) == (500, ["EBMS:0010"])


def test_the_test_service_is_receipted_stored_as_test_and_never_routed(receiving, foreign, poster) -> None:  # type: ignore[no-untyped-def]
    b, keys = receiving
    signer = foreign.identity(keys["gw-a"].key, keys["gw-a"].cert)
    message_id, content_type, body = foreign.craft(
        signer, from_party="gw-a", to_party="node-b", recipient_cert=b.signing_cert, payload=b"ping",
        service=TEST_SERVICE, action=TEST_ACTION,
    )  # fmt: skip
    assert poster(b.endpoint, body, content_type)[0] == 200
    [stored] = [m for m in b.messages("inbound") if m["message_id"] == message_id]
    assert stored["is_test"] is True
    assert stored["ministry"] == "-"


def test_garbage_is_answered_with_an_ebms_error_not_a_crash(receiving, foreign, poster) -> None:  # type: ignore[no-untyped-def]
    b, _ = receiving
    status, _, answer = poster(b.endpoint, b"<not-soap", "application/soap+xml")
    assert status == 500
    assert foreign.error_codes(answer)
    status, _, _ = poster(b.endpoint, b"x" * 10, "text/plain")
    assert status == 500


def test_a_body_over_the_size_limit_is_refused_before_it_is_read(nodes, poster) -> None:  # type: ignore[no-untyped-def]
    import yaml

    b = nodes.make("node-b", tls=False)
    config = b.dir / "node.yaml"
    data = yaml.safe_load(config.read_text())
    data["limits"] = {"max_request_bytes": 65536}
    config.write_text(yaml.safe_dump(data))
    b.start()
    try:
        status, _, _ = poster(b.endpoint, b"x" * 200_000, "application/soap+xml")
    except OSError:  # the node may close the connection while the client is still writing
        status = 413
    assert status == 413
    # Audited like any refusal: the sender is unknown, the declared size kept.
    [refusal] = b.wait_for(lambda: _refusals(b, "413"), what="the 413 audit record")
    assert refusal.actor == "party:unknown"
    assert refusal.detail["declared_size"] == 200_000


def _send(b, keys, foreign, poster, name: str, **kw):  # type: ignore[no-untyped-def]
    signer = foreign.identity(keys[name].key, keys[name].cert)
    message_id, content_type, body = foreign.craft(
        signer, from_party=name, to_party="node-b", recipient_cert=b.signing_cert, payload=b"x", **kw
    )
    status, _, answer = poster(b.endpoint, body, content_type)
    return message_id, status, answer


def test_a_service_and_action_not_agreed_with_the_partner_is_refused_with_0010(
    receiving, foreign, poster
) -> None:  # type: ignore[no-untyped-def]
    from node.collaborations import ACTION_EFORMD, SERVICE_ECO, SERVICE_EPHYTO

    b, keys = receiving
    for service, action in (
        ("urn:not:agreed", "Deliver"),
        (SERVICE_ECO, "Whatever"),
        (SERVICE_EPHYTO, ACTION_EFORMD),
    ):
        message_id, status, answer = _send(b, keys, foreign, poster, "gw-a", service=service, action=action)
        assert status == 500 and foreign.error_codes(answer) == ["EBMS:0010"], (service, action)
        assert any(e.subject == f"message:{message_id}" for e in _refusals(b, "EBMS:0010"))
    # Agreed: a default collaboration, the business test service, the ebMS test service.
    for service, action in (
        (SERVICE_ECO, ACTION_EFORMD),
        ("urn:aswnode:test:business", "Deliver"),
        (TEST_SERVICE, TEST_ACTION),
    ):
        _, status, _ = _send(b, keys, foreign, poster, "gw-a", service=service, action=action)
        assert status == 200, (service, action)


def test_a_partner_whose_pmode_names_a_service_is_held_to_it(receiving, foreign, poster) -> None:  # type: ignore[no-untyped-def]
    b, keys = receiving
    _, status, answer = _send(
        b, keys, foreign, poster, "gw-r", service="urn:aswnode:test:business", action="Deliver"
    )
    assert status == 500 and foreign.error_codes(answer) == ["EBMS:0010"]
    _, status, _ = _send(b, keys, foreign, poster, "gw-r", service=RESTRICTED[0], action=RESTRICTED[1])
    assert status == 200


def test_a_message_without_the_agreement_the_pmode_names_is_refused_with_0010(
    receiving, foreign, poster
) -> None:  # type: ignore[no-untyped-def]
    b, keys = receiving
    message_id, status, answer = _send(b, keys, foreign, poster, "gw-g")
    assert status == 500 and foreign.error_codes(answer) == ["EBMS:0010"]
    [refusal] = [e for e in _refusals(b, "EBMS:0010") if e.subject == f"message:{message_id}"]
    assert "AgreementRef" in refusal.detail["detail"]


def test_a_suspension_of_all_exchanges_refuses_business_messages_not_test_ones(
    receiving, foreign, poster
) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from node.store.lifecycle_models import Suspension

    b, keys = receiving
    now = datetime.now(UTC)
    with b.db.session() as session:
        row = Suspension(
            partner_id=None, cause="maintenance", reason="planned", starts_at=now - timedelta(minutes=1),
            restore_at=None, ended_at=None, created_by="operator:test",
        )  # fmt: skip
        session.add(row)
        session.flush()
        suspension = row.id
    try:
        message_id, status, answer = _send(b, keys, foreign, poster, "gw-a")
        assert status == 500 and foreign.error_codes(answer) == ["EBMS:0004"]
        [refusal] = [
            e for e in b.audit() if e.action == "as4.refuse" and e.subject == f"message:{message_id}"
        ]
        assert "suspended" in refusal.detail["detail"]
        _, status, _ = _send(b, keys, foreign, poster, "gw-a", service=TEST_SERVICE, action=TEST_ACTION)
        assert status == 200
    finally:
        with b.db.session() as session:
            session.execute(
                update(Suspension).where(Suspension.id == suspension).values(ended_at=datetime.now(UTC))
            )
    _, status, _ = _send(b, keys, foreign, poster, "gw-a")
    assert status == 200


@pytest.mark.parametrize("status_of", ["revoked", "expired"])
def test_a_message_signed_with_a_revoked_or_expired_registered_certificate_is_refused_with_0101(
    receiving, foreign, poster, status_of
) -> None:  # type: ignore[no-untyped-def]
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from sqlalchemy import delete

    from node.lifecycle.certificates import fingerprint
    from node.store.lifecycle_models import CertificateRegistration

    b, keys = receiving
    certificate = x509.load_pem_x509_certificate(keys["gw-c"].cert.read_bytes())
    now = datetime.now(UTC)
    with b.db.session() as session:
        row = CertificateRegistration(
            owner_kind="partner", owner_id="gw-c", subject="gw-c", issuer="gw-c",
            serial=str(certificate.serial_number), fingerprint=fingerprint(certificate),
            not_before=now - timedelta(days=30),
            not_after=now - timedelta(days=1) if status_of == "expired" else now + timedelta(days=30),
            status="revoked" if status_of == "revoked" else "active",
            revoked_at=now if status_of == "revoked" else None,
            reason="revocation" if status_of == "revoked" else "initial", overlap_until=None,
            pem=certificate.public_bytes(serialization.Encoding.PEM).decode(), registered_by="operator:test",
        )  # fmt: skip
        session.add(row)
        session.flush()
        registration = row.id
    try:
        message_id, status, answer = _send(b, keys, foreign, poster, "gw-c")
        assert status == 500 and foreign.error_codes(answer) == ["EBMS:0101"]
        [refusal] = [e for e in _refusals(b, "EBMS:0101") if e.subject == f"message:{message_id}"]
        assert status_of in refusal.detail["detail"]
        assert not any(m["message_id"] == message_id for m in b.messages("inbound"))
    finally:
        with b.db.session() as session:
            session.execute(delete(CertificateRegistration).where(CertificateRegistration.id == registration))
    _, status, _ = _send(b, keys, foreign, poster, "gw-c")
    assert status == 200


def test_a_refusal_is_audited_with_the_request_digest_when_the_client_went_away_first(
    receiving, foreign
) -> None:  # type: ignore[no-untyped-def]
    import hashlib
    import re
    import socket
    from urllib.parse import urlsplit

    b, keys = receiving
    signer = foreign.identity(keys["gw-a"].key, keys["gw-a"].cert)
    _, content_type, body = foreign.craft(
        signer, from_party="gw-a", to_party="node-b", recipient_cert=b.signing_cert, payload=b"x"
    )
    # A header heavy enough to keep the node busy after the client hung up (the reviewer's disc.py).
    boundary = re.search(r'boundary="?([^";]+)', content_type).group(1).encode()  # type: ignore[union-attr]
    start = body.index(b"<?xml")
    end = body.index(b"\r\n--" + boundary, start)
    xml = body[start:end].replace(
        b"<S12:Body", b"<S12:Body " + b" ".join(b'a%d="1"' % i for i in range(60000)), 1
    )
    body = body[:start] + xml + body[end:]
    where = urlsplit(b.endpoint)
    with socket.create_connection((where.hostname, where.port)) as client:
        client.sendall(
            f"POST {where.path or '/'} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode("latin-1")
            + body
        )
    digest = f"sha256:{hashlib.sha256(body).hexdigest()}"
    refusal = b.wait_for(
        lambda: next((e for e in b.audit() if e.action == "as4.refuse" and e.request_digest == digest), None),
        timeout=30,
        what="the refusal's audit record",
    )
    assert refusal.status.startswith("EBMS:")


def test_an_unencrypted_business_message_is_refused_with_0103_and_an_unencrypted_ping_is_not(
    receiving, foreign, poster
) -> None:  # type: ignore[no-untyped-def]
    """eDelivery AS4 encrypts every business payload: the default P-Mode requires it.

    The ebMS3 test service is exempt."""
    b, keys = receiving
    message_id, status, answer = _send(b, keys, foreign, poster, "gw-c", encrypt=False)
    assert status == 500 and foreign.error_codes(answer) == ["EBMS:0103"]
    assert any(e.subject == f"message:{message_id}" for e in _refusals(b, "EBMS:0103"))
    _, status, _ = _send(
        b, keys, foreign, poster, "gw-c", encrypt=False, service=TEST_SERVICE, action=TEST_ACTION
    )
    assert status == 200
