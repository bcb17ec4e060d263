"""Two real nodes (`aswnode serve`) exchanging AS4 over real TLS on loopback; SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ASWNODE = str(Path(sys.executable).with_name("aswnode"))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([ASWNODE, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _exchange_both_ways(nodes, *, mtls: bool, db_url: str | None = None) -> None:  # type: ignore[no-untyped-def]
    a, b = nodes.pair(tls=True, mtls=mtls, db_url=db_url)
    a.start()
    b.start()
    to_b = [os.urandom(10240) for _ in range(3)]
    to_a = [os.urandom(5000)]
    ids_ab = a.enqueue("node-b", to_b)
    ids_ba = b.enqueue("node-a", to_a)

    def delivered(node, ids):  # type: ignore[no-untyped-def]
        rows = {m["message_id"]: m for m in node.messages("outbound")}
        return all(rows.get(i, {}).get("state") == "delivered" for i in ids) and rows

    rows_a = a.wait_for(lambda: delivered(a, ids_ab), what="a's messages delivered")
    rows_b = b.wait_for(lambda: delivered(b, ids_ba), what="b's messages delivered")
    assert all(rows_a[i]["receipt_status"] == "valid" and rows_a[i]["receipt_digest"] for i in ids_ab)
    assert all(rows_b[i]["receipt_status"] == "valid" for i in ids_ba)
    received_b = {m["message_id"]: m for m in b.messages("inbound")}
    for message_id, payload in zip(ids_ab, to_b, strict=True):
        assert received_b[message_id]["payload_digests"] == [_sha(payload)]
        assert received_b[message_id]["state"] == "received"
        # What b stored as the raw signed message is exactly what a built once and sent.
        assert received_b[message_id]["wire_digest"] == rows_a[message_id]["wire_digest"]
    received_a = {m["message_id"]: m for m in a.messages("inbound")}
    assert received_a[ids_ba[0]]["payload_digests"] == [_sha(to_a[0])]
    for node in (a, b):
        assert "audit chain ok" in cli("audit", "verify", str(node.dir)).stdout


def test_two_nodes_exchange_documents_both_ways_over_mutual_tls(nodes) -> None:  # type: ignore[no-untyped-def]
    _exchange_both_ways(nodes, mtls=True)


def test_two_nodes_exchange_over_plain_http_on_loopback(nodes) -> None:  # type: ignore[no-untyped-def]
    a, b = nodes.pair(tls=False)
    a.start()
    b.start()
    ids = a.enqueue("node-b", [b"<doc/>"])
    a.wait_for(lambda: a.messages("outbound")[0]["state"] == "delivered", what="delivery")
    assert [m["message_id"] for m in b.messages("inbound")] == ids


def test_a_partner_server_certificate_we_do_not_trust_is_a_transport_error_retried(nodes) -> None:  # type: ignore[no-untyped-def]
    # Without a tls_ca the partner's server certificate must chain to the system's roots: a
    # self-signed one does not, so nothing is sent and the message waits for its retry.
    a, b = nodes.pair(tls=True, mtls=False)
    a.start()
    b.start()
    a.enqueue("node-b", [b"<doc/>"])
    row = a.wait_for(lambda: (m := a.messages("outbound")[0])["last_error"] and m, what="a transport error")
    assert row["state"] == "pending"
    assert "certificate verify failed" in row["last_error"]
    assert b.messages("inbound") == []


@pytest.mark.postgres
def test_two_nodes_exchange_with_one_on_postgresql(nodes, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    _exchange_both_ways(nodes, mtls=True, db_url=postgres_url)


def test_send_wait_and_payload_commands_deliver_identical_bytes(nodes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, b = nodes.pair(tls=True, mtls=True)
    a.start()
    b.start()
    document = tmp_path / "doc.bin"
    document.write_bytes(os.urandom(20000))
    sent = cli(
        "send", str(a.dir), "--to", "node-b", "--file", str(document),
        "--service", "urn:aswnode:test:business", "--action", "Deliver", "--wait", "--timeout", "60",
    )  # fmt: skip
    assert '"state": "delivered"' in sent.stdout
    message_id = __import__("json").loads(sent.stdout)["message_id"]
    out = tmp_path / "got.bin"
    cli("payload", str(b.dir), message_id, "--out", str(out))
    assert out.read_bytes() == document.read_bytes()
    listed = cli("messages", str(a.dir), "--json", "--state", "delivered").stdout
    assert message_id in listed


def test_serve_stops_cleanly_on_sigterm(nodes) -> None:  # type: ignore[no-untyped-def]
    a = nodes.make("node-a")
    a.start()
    assert a.stop() == 0


def test_serve_refuses_a_broken_directory_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run([ASWNODE, "serve", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "node.yaml" in result.stderr


def test_partners_added_beside_a_running_sandbox_node_exchange_at_once(nodes) -> None:  # type: ignore[no-untyped-def]
    a = nodes.make("node-a")
    b = nodes.make("node-b")
    a.start()
    b.start()
    # Registered while both run (mutual TLS, so the TLS client CAs must follow too).
    a.knows(b, mtls=True)
    b.knows(a, mtls=True)
    time.sleep(3)  # each node looks at partners.yaml every 2 s (b must ask a for its client certificate)
    ids = a.enqueue("node-b", [b"<late-partner/>"])
    a.wait_for(lambda: a.messages("outbound")[0]["state"] == "delivered", what="delivery to the new partner")
    assert [m["message_id"] for m in b.messages("inbound")] == ids


def test_a_suspended_partner_gets_nothing_and_its_messages_wait(nodes) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from node.store.models import Partner

    a, b = nodes.pair(tls=False)
    with a.db.session() as session:
        session.execute(update(Partner).where(Partner.id == "node-b").values(state="suspended"))
    a.start()
    b.start()
    a.enqueue("node-b", [b"<held/>"])
    held = a.wait_for(lambda: (m := a.messages("outbound")[0])["last_error"] and m, what="the message held")
    assert held["state"] == "pending" and held["attempts"] == 0
    assert held["last_error"].startswith("held: partner is suspended")
    assert b.messages("inbound") == []
