"""A received certificate is routed in the transaction that stores it; a business answer is left to the sweep.

An in-process node (its own Site on 127.0.0.1:0, the ministry API attached without the delivery
loop, so nothing routes behind the test's back), SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from sqlalchemy import select
from twisted.internet import reactor

from node.collaborations import ACTION_BUSINESS_ANSWER, ACTION_EFORMD, SERVICE_ECO
from node.config import NodeConfig
from node.nodedir import create_node_directory
from node.service import build_context
from node.store.models import AuditRecord, Delivery, Message
from protocols.as4.namespaces import TEST_ACTION, TEST_SERVICE

BUSINESS = ("urn:aswnode:test:business", "Deliver")  # accepted from any partner, carries a raw document


def cli(*args: str) -> None:
    from click.testing import CliRunner

    from node.cli import cli as aswnode

    result = CliRunner().invoke(aswnode, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


@dataclass
class Receiver:
    ctx: Any
    foreign: Any
    url: str
    partner_keys: Path
    our_cert: Path

    async def send(self, *, service: str, action: str) -> str:
        signer = self.foreign.identity(self.partner_keys / "signing.key", self.partner_keys / "signing.pem")
        message_id, content_type, body = self.foreign.craft(
            signer,
            from_party="th-nsw",
            to_party="vn-nsw",
            recipient_cert=self.our_cert,
            payload=b"<doc/>",
            service=service,
            action=action,
        )
        response = await treq.post(self.url, data=body, headers={"Content-Type": [content_type]}, timeout=30)
        answer = await treq.content(response)
        assert response.code == 200, answer[:500]
        return message_id

    def stored(self, message_id: str) -> tuple[Message, list[Delivery], list[AuditRecord]]:
        with self.ctx.db.read_session() as s:
            message = s.scalar(select(Message).where(Message.message_id == message_id))
            deliveries = list(s.scalars(select(Delivery).where(Delivery.message_pk == message.id)))
            records = list(
                s.scalars(
                    select(AuditRecord)
                    .where(AuditRecord.subject == f"message:{message_id}")
                    .order_by(AuditRecord.seq)
                )
            )
        return message, deliveries, records


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/node.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest_twisted.async_yield_fixture
async def receiver(tmp_path: Path, db_url: str, foreign: Any) -> AsyncIterator[Receiver]:
    import node.api
    from node.server import build_site

    ours, theirs = tmp_path / "vn", tmp_path / "th"
    create_node_directory(ours, party_id="vn-nsw", port=9, tls=False, database_url=db_url)
    create_node_directory(theirs, party_id="th-nsw", port=9, tls=False)
    cli(
        "partners", "add", str(ours), "--id", "th", "--party-id", "th-nsw",
        "--endpoint", "http://127.0.0.1:9/", "--cert", str(theirs / "keys" / "signing.pem"),
    )  # fmt: skip
    cli(
        "ministries",
        "add",
        str(ours),
        "--id",
        "moit",
        "--documents",
        "eco",
        "--webhook",
        "http://127.0.0.1:9/h",
    )
    cli("ministries", "add", str(ours), "--id", "mard", "--documents", "ephyto")
    ctx = build_context(NodeConfig.load(ours), reactor)
    site, root = build_site(ctx)
    node.api.attach(ctx, root, deliver=False)  # the sweep does not run: only the store routes
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    try:
        yield Receiver(
            ctx,
            foreign,
            f"http://127.0.0.1:{port.getHost().port}/as4",
            theirs / "keys",
            ours / "keys" / "signing.pem",
        )
    finally:
        await node.api.stop()
        await port.stopListening()
        ctx.db.close()


def _route_sweep(ctx: Any) -> int:
    from node.api import ministries_of
    from node.delivery import route_received

    with ctx.db.session() as s:
        routed, _ = route_received(s, ctx, ministries_of(ctx), ctx.clock())
    return routed


@pytest_twisted.ensureDeferred
async def test_a_certificate_is_routed_with_its_deliveries_and_audit_as_it_is_stored(receiver) -> None:  # type: ignore[no-untyped-def]
    message_id = await receiver.send(service=SERVICE_ECO, action=ACTION_EFORMD)
    message, deliveries, records = receiver.stored(message_id)
    assert (message.ministry, message.document_type) == ("moit", "eco")
    [delivery] = deliveries
    assert (delivery.ministry, delivery.document_type, delivery.state) == ("moit", "eco", "pending")
    assert delivery.next_attempt_at is not None  # moit has a webhook: due at once
    assert [(r.action, r.status) for r in records] == [
        ("as4.receive", "receipt"),
        ("delivery.route", "routed"),
    ]
    route = records[1]
    assert (route.actor, route.form) == ("system:delivery", "scheduler")
    assert '"ministries":["moit"]' in route.detail and '"partner":"th"' in route.detail
    assert _route_sweep(receiver.ctx) == 0  # nothing left for the sweep
    with receiver.ctx.db.read_session() as s:
        assert receiver.ctx.audit.verify(s) is None


@pytest_twisted.ensureDeferred
async def test_a_document_no_ministry_handles_is_marked_not_routed_and_audited(receiver) -> None:  # type: ignore[no-untyped-def]
    message_id = await receiver.send(service=BUSINESS[0], action=BUSINESS[1])
    message, deliveries, records = receiver.stored(message_id)
    assert (message.ministry, message.document_type, deliveries) == ("-", "raw", [])
    assert [(r.action, r.status) for r in records][-1] == ("delivery.route", "no-ministry")


@pytest_twisted.ensureDeferred
async def test_a_business_answer_is_left_to_the_sweep_and_a_test_message_is_never_routed(receiver) -> None:  # type: ignore[no-untyped-def]
    answer_id = await receiver.send(service=SERVICE_ECO, action=ACTION_BUSINESS_ANSWER)
    message, deliveries, records = receiver.stored(answer_id)
    assert (message.ministry, message.document_type, deliveries) == (None, None, [])
    assert [r.action for r in records] == ["as4.receive"]
    test_id = await receiver.send(service=TEST_SERVICE, action=TEST_ACTION)
    message, deliveries, records = receiver.stored(test_id)
    assert (message.ministry, deliveries, [r.action for r in records]) == ("-", [], ["as4.receive"])
    assert _route_sweep(receiver.ctx) == 1  # the answer: its payload says which submission it answers
    message, _, records = receiver.stored(answer_id)
    assert message.document_type == "answer" and records[-1].action == "delivery.route"
