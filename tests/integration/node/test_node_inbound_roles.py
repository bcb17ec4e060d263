"""An inbound message's eb:From/eb:Role and eb:To/eb:Role: its P-Mode's initiator and responder roles."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from certs.pki import generate_node_pki
from protocols.as4.namespaces import DEFAULT_ROLE_INITIATOR, DEFAULT_ROLE_RESPONDER, TEST_ACTION, TEST_SERVICE

EXPORTER, IMPORTER = "urn:asw:role:exporting-authority", "urn:asw:role:importing-authority"
BUSINESS = ("urn:aswnode:test:business", "Deliver")


def _roles(us: str, them: str) -> dict[str, Any]:
    """A P-Mode with our own roles, as `us` writes it for partner `them` (the same roles on both sides)."""
    return {
        "initiator": {"party_id": us, "role": EXPORTER},
        "responder": {"party_id": them, "role": IMPORTER},
    }


@pytest.fixture(scope="module")
def receiving(module_nodes, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Node b on loopback HTTP: gw-d with the default P-Mode roles, gw-x with its own roles."""
    tmp_path = tmp_path_factory.mktemp("roles")
    b = module_nodes.make("node-b", tls=False)
    keys = {name: generate_node_pki(tmp_path / name, name).signing for name in ("gw-d", "gw-x")}
    b.add_partner("gw-d", "gw-d", "http://127.0.0.1:9/", keys["gw-d"].cert)
    b.add_partner("gw-x", "gw-x", "http://127.0.0.1:9/", keys["gw-x"].cert, pmode=_roles("node-b", "gw-x"))
    b.start()
    return b, keys


def _craft(signer: Any, sender: str, recipient_cert: Path, from_role: str, to_role: str, *,
           service: tuple[str, str] = BUSINESS) -> tuple[str, str, bytes]:  # fmt: skip
    """A message from `sender` to node-b with these roles, signed and encrypted as a foreign gateway does."""
    from cryptography import x509

    from protocols.as4.model import CollaborationInfo, MessageInfo, Party, Service, UserMessage
    from protocols.as4.outbound import Payload, build_user_message
    from protocols.as4.payload import InMemory, MemorySpool
    from protocols.as4.pmode import PMode

    pmode = PMode.from_dict(
        {
            "id": "t",
            "initiator": {"party_id": sender},
            "responder": {"party_id": "node-b"},
            "service": service[0],
            "action": service[1],
        }
    )
    message_id = f"{uuid.uuid4()}@{sender}"
    message = UserMessage(
        MessageInfo(message_id, datetime.now(UTC)),
        Party(pmode.initiator.party_ids, from_role),
        Party(pmode.responder.party_ids, to_role),
        CollaborationInfo(Service(service[0]), service[1], "conv-1"),
    )
    built = build_user_message(
        message,
        (Payload("payload-1@test", "application/octet-stream", InMemory(b"<doc/>")),),
        pmode,
        signing=signer,
        recipient_certificate=x509.load_pem_x509_certificate(recipient_cert.read_bytes()),
        spool=MemorySpool,
        boundary=f"b{uuid.uuid4().hex}",
    )
    return message_id, built.content_type, b"".join(built.body.chunks())


def _send(b, keys, poster, foreign, sender: str, from_role: str, to_role: str, **kw: Any):  # type: ignore[no-untyped-def]
    signer = foreign.identity(keys[sender].key, keys[sender].cert)
    message_id, content_type, body = _craft(signer, sender, b.signing_cert, from_role, to_role, **kw)
    status, _, answer = poster(b.endpoint, body, content_type)
    return message_id, status, answer


def _refused(b, message_id: str) -> list[Any]:  # type: ignore[no-untyped-def]
    return [
        e
        for e in b.audit()
        if e.action == "as4.refuse" and e.status == "EBMS:0010" and e.subject == f"message:{message_id}"
    ]


def _stored(b, message_id: str) -> bool:  # type: ignore[no-untyped-def]
    return any(m["message_id"] == message_id for m in b.messages("inbound"))


@pytest.mark.parametrize(
    ("sender", "from_role", "to_role"),
    [
        ("gw-d", DEFAULT_ROLE_INITIATOR, DEFAULT_ROLE_RESPONDER),
        ("gw-x", EXPORTER, IMPORTER),
    ],
    ids=["default-roles", "agreed-roles"],
)
def test_the_agreed_roles_are_received(  # type: ignore[no-untyped-def]
    receiving, poster, foreign, sender: str, from_role: str, to_role: str
) -> None:
    b, keys = receiving
    message_id, status, answer = _send(b, keys, poster, foreign, sender, from_role, to_role)
    assert status == 200 and b"Receipt" in answer
    assert _stored(b, message_id)


@pytest.mark.parametrize(
    ("sender", "from_role", "to_role", "named"),
    [
        # The partner's message carries the initiator's role in From, never the responder's.
        ("gw-d", DEFAULT_ROLE_RESPONDER, DEFAULT_ROLE_INITIATOR, b"From/Role"),
        ("gw-d", DEFAULT_ROLE_INITIATOR, "urn:some:role", b"To/Role"),
        ("gw-x", DEFAULT_ROLE_INITIATOR, DEFAULT_ROLE_RESPONDER, b"From/Role"),
        ("gw-x", IMPORTER, EXPORTER, b"From/Role"),
        ("gw-x", EXPORTER, DEFAULT_ROLE_RESPONDER, b"To/Role"),
    ],
    ids=["default-swapped", "default-wrong-to", "agreed-sent-default", "agreed-swapped", "agreed-wrong-to"],
)
def test_a_role_not_agreed_is_refused_with_0010_and_audited(  # type: ignore[no-untyped-def]
    receiving, poster, foreign, sender: str, from_role: str, to_role: str, named: bytes
) -> None:
    b, keys = receiving
    message_id, status, answer = _send(b, keys, poster, foreign, sender, from_role, to_role)
    assert status == 500 and foreign.error_codes(answer) == ["EBMS:0010"]
    assert named in answer
    [refusal] = _refused(b, message_id)
    assert refusal.actor == f"partner:{sender}" and named.decode() in refusal.detail["detail"]
    assert not _stored(b, message_id)


def test_the_ebms_test_service_is_received_whatever_the_roles(receiving, poster, foreign) -> None:  # type: ignore[no-untyped-def]
    b, keys = receiving
    test_service = (TEST_SERVICE, TEST_ACTION)
    message_id, status, _ = _send(
        b, keys, poster, foreign, "gw-x", DEFAULT_ROLE_INITIATOR, DEFAULT_ROLE_RESPONDER, service=test_service
    )
    assert status == 200 and _stored(b, message_id)


def test_two_nodes_with_the_same_own_roles_exchange_both_ways(nodes) -> None:  # type: ignore[no-untyped-def]
    a = nodes.make("node-a", tls=False)
    b = nodes.make("node-b", tls=False)
    a.knows(b, pmode=_roles("node-a", "node-b"))
    b.knows(a, pmode=_roles("node-b", "node-a"))
    a.start()
    b.start()
    [to_b] = a.enqueue("node-b", [b"<to-b/>"])
    [to_a] = b.enqueue("node-a", [b"<to-a/>"])
    a.wait_for(lambda: a.messages("outbound")[0]["state"] == "delivered", what="a's message delivered")
    b.wait_for(lambda: b.messages("outbound")[0]["state"] == "delivered", what="b's message delivered")
    assert _stored(b, to_b) and _stored(a, to_a)


def test_a_node_with_other_roles_gets_0010_and_fails_the_message(nodes) -> None:  # type: ignore[no-untyped-def]
    a = nodes.make("node-a", tls=False)
    b = nodes.make("node-b", tls=False)
    a.knows(b, pmode=_roles("node-a", "node-b"))
    b.knows(a)  # b expects the default roles
    a.start()
    b.start()
    [message_id] = a.enqueue("node-b", [b"<doc/>"])
    row = a.wait_for(lambda: (m := a.messages("outbound")[0])["state"] == "failed" and m, what="failed")
    assert "EBMS:0010" in row["last_error"] and "From/Role" in row["last_error"]
    assert _refused(b, message_id) and not _stored(b, message_id)
