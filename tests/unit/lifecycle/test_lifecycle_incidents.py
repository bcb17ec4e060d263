"""node.lifecycle.incidents on many held messages, read in batches (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from node.lifecycle import incidents
from node.store.database import Database
from node.store.lifecycle_models import Incident, Notice
from node.store.models import Direction, Message, MessageState
from node.store.outbound_queue import create_outbound

PARTNERS = ("th", "zz")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The lifecycle node (partner `th`, a settable clock) on SQLite or on a throwaway PostgreSQL."""
    from lifecycle_procedure_fixtures import make_node

    for made in make_node(tmp_path):
        if request.param == "postgresql":
            made.db.close()
            made.db = Database.open(request.getfixturevalue("postgres_url"))
        try:
            yield made
        finally:
            made.db.close()


def _messages(node: Any, count: int) -> dict[str, list[str]]:
    """`count` outbound messages to th and zz in turn, pending, failed or delivered in turn; by state."""
    by_state: dict[str, list[str]] = {state.value: [] for state in MessageState}
    cycle = (MessageState.PENDING, MessageState.FAILED, MessageState.DELIVERED)
    with node.db.session() as session:
        for i in range(count):
            message = create_outbound(
                session,
                partner_id=PARTNERS[i % 2],
                message_id=f"m{i:04d}@vn",
                service="urn:svc",
                action=f"Deliver{i % 3}",
                payloads=(),
                now=node.clock(),
            )
            state = cycle[i % 3]
            session.execute(update(Message).where(Message.id == message.id).values(state=state.value))
            by_state[state.value].append(message.message_id)
        # An inbound message is never held.
        session.add(
            Message(
                direction=Direction.INBOUND.value,
                message_id="in@th",
                partner_id="th",
                service="urn:svc",
                action="Deliver",
                state=MessageState.PENDING.value,
            )
        )
    return by_state


def test_an_incident_over_many_held_messages_holds_requeues_and_reports_each_of_them(
    node: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(incidents, "HELD_BATCH", 7)
    monkeypatch.setattr(incidents, "NOTICE_LISTING", 5)
    by_state = _messages(node, 90)
    held = sorted(by_state["pending"] + by_state["failed"])
    to_th = [m for m in held if int(m[1:5]) % 2 == 0]

    incident = node.do(node.procedure.open_incident, "operator:alice", title="HSM down", partners=("th",))
    with node.db.session() as session:
        (body,) = session.scalars(select(Notice.body_text).where(Notice.kind == "incident_open"))
    assert f"{len(to_th)} outbound message(s) held" in body
    for listed in to_th[:5]:
        assert listed in body
    assert to_th[5] not in body

    # Failed while the incident was open: sent again after the repair; failed before it: left alone.
    node.clock.advance(hours=2)
    failed_to_th = [m for m in by_state["failed"] if m in to_th]
    failed_during, failed_before = failed_to_th[::2], failed_to_th[1::2]
    with node.db.session() as session:
        opened_at = session.get(Incident, incident.id).opened_at
        for message_ids, at in (
            (failed_during, node.clock()),
            (failed_before, opened_at - timedelta(hours=1)),
        ):
            session.execute(update(Message).where(Message.message_id.in_(message_ids)).values(updated_at=at))

    closed = node.do(node.procedure.close_incident, "operator:alice", incident.id, repair_note="HSM replaced")
    assert closed["held"] == to_th
    assert closed["requeued"] == failed_during
    with node.db.session() as session:
        requeued = session.execute(
            select(Message.state, Message.attempts, Message.last_error).where(
                Message.message_id.in_(failed_during)
            )
        ).all()
    assert set(requeued) == {(MessageState.PENDING.value, 0, None)}

    # Delivered afterwards: some in time, some late; the rest is outstanding.
    deadline = node.clock() + timedelta(days=1)
    in_time, late = to_th[:10], to_th[10:13]
    with node.db.session() as session:
        for message_ids, at in ((in_time, node.clock()), (late, deadline + timedelta(days=3))):
            session.execute(
                update(Message)
                .where(Message.message_id.in_(message_ids))
                .values(state=MessageState.DELIVERED.value, delivered_at=at)
            )
    report = node.do(node.procedure.incident_report, incident.id)
    assert report["held"] == to_th
    assert report["delivered"] == len(in_time) + len(late)
    assert report["late"] == late
    assert report["outstanding"] == to_th[13:]
    assert report["within_target"] is False


def test_an_open_incident_for_all_partners_reports_every_held_message_in_order(
    node: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(incidents, "HELD_BATCH", 4)
    by_state = _messages(node, 30)
    incident = node.do(node.procedure.open_incident, "operator:alice", title="link down")
    report = node.do(node.procedure.incident_report, incident.id)
    assert report["partners"] == "all"
    assert report["held"] == sorted(by_state["pending"] + by_state["failed"])
