"""A metrics refresh reads the open work and what changed since the last one, never the history: a node
with ten times the history costs no more per refresh. Work is counted by the database itself (SQLite
virtual-machine steps, PostgreSQL tuples and blocks read in the transaction), never by a clock. The
totals it reports stay those of a full count."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from node.metrics import History, Snapshot, take_snapshot
from node.store.database import Database
from node.store.messages import claim_due, mark_delivered, mark_failed, mark_retry, resend
from node.store.models import Delivery, Message

from .database_work import analysed, work_of
from .factories import LEASE, outbound

HOUR = timedelta(hours=1)


def history(session: Session, now: datetime, n: int) -> None:
    """`n` outbound messages delivered (every third after a retry) and `n` inbound ones, each routed to
    a ministry that took it, all before `now` - 1 h."""
    start = session.scalar(text("SELECT COALESCE(MAX(id), 0) FROM messages")) or 0
    at = now - 2 * HOUR
    common = {"service": "urn:svc", "action": "Deliver", "properties": {}, "is_test": False}
    session.execute(
        insert(Message.__table__),
        [
            {
                **common,
                "direction": "outbound",
                "message_id": f"h{start + i}@aswnode",
                "partner_id": ("th", "sg")[i % 2],
                "state": "delivered",
                "attempts": 2 if i % 3 == 0 else 1,
                "receipt_status": "valid",
                "created_at": at,
                "updated_at": at,
                "delivered_at": at + timedelta(seconds=i % 600),
            }
            for i in range(n)
        ],
    )
    session.execute(
        insert(Message.__table__),
        [
            {
                **common,
                "direction": "inbound",
                "message_id": f"r{start + i}@them",
                "partner_id": ("th", "sg")[i % 2],
                "state": "received",
                "ministry": "moit",
                "created_at": at + timedelta(seconds=i % 600),
                "updated_at": at,
            }
            for i in range(n)
        ],
    )
    received = session.scalars(
        select(Message.id).where(Message.id > start, Message.direction == "inbound").order_by(Message.id)
    )
    session.execute(
        insert(Delivery.__table__),
        [
            {"message_pk": pk, "ministry": "moit", "state": ("delivered", "acked")[i % 2], "attempts": 1}
            for i, pk in enumerate(received)
        ],
    )


def open_work(session: Session, now: datetime) -> dict[str, list[int]]:
    """The same open work whatever the history: messages queued, in flight, waiting for a retry after
    an invalid receipt, failed; two documents waiting for a ministry's webhook."""
    at = now - HOUR
    ids = {"queued": outbound(session, at, 6, first=900_000)}
    claimed = claim_due(session, claimer="n", now=at, lease=LEASE, limit=4)
    ids["claimed"] = [m.id for m in claimed]
    mark_retry(
        session,
        claimed[0].id,
        claimer="n",
        error="receipt did not verify",
        next_attempt_at=now,
        now=at,
        receipt_status="invalid",
    )
    mark_failed(session, claimed[1].id, claimer="n", error="refused", now=at)
    inbound_pk = session.scalar(select(Message.id).where(Message.direction == "inbound").limit(1))
    session.execute(
        insert(Delivery.__table__),
        [
            {"message_pk": inbound_pk, "ministry": m, "state": "pending", "attempts": 0}
            for m in ("mard", "moh")
        ],
    )
    return ids


def changes_since(session: Session, now: datetime, ids: dict[str, list[int]]) -> None:
    """What the next refresh's windows hold: two deliveries (one a late receipt of the failed message)
    and an operator's resend, then two messages received."""
    _, second, third, fourth = ids["claimed"]
    mark_delivered(session, third, receipt_digest="r3", now=now)
    mark_delivered(session, second, receipt_digest="late", now=now)  # failed -> delivered
    mark_failed(session, fourth, claimer="n", error="refused", now=now)
    resend(session, fourth, now=now)
    history_at = now - HOUR
    session.execute(
        insert(Message.__table__),
        [
            {
                "direction": "inbound",
                "message_id": f"new{i}@them",
                "partner_id": "th",
                "service": "urn:svc",
                "action": "Deliver",
                "properties": {},
                "is_test": False,
                "state": "received",
                "created_at": now,
                "updated_at": history_at,
            }
            for i in range(2)
        ],
    )


def refresh_cost(db: Database, now: datetime, n: int) -> tuple[int, Snapshot]:
    """A node with `n` messages of each direction in its history: the work of the refresh after one
    that counted the history, and what it reports."""
    with db.session() as session:
        history(session, now, n)
        ids = open_work(session, now)
    analysed(db)
    with db.read_session() as session:
        counted = take_snapshot(session, None).history
    with db.session() as session:
        changes_since(session, now, ids)
    analysed(db)
    with db.read_session() as session:
        snapshots: list[Snapshot] = []
        cost = work_of(
            session, ("messages", "deliveries"), lambda: snapshots.append(take_snapshot(session, counted))
        )
    return cost, snapshots[0]


def full_count(db: Database) -> Snapshot:
    with db.read_session() as session:
        return take_snapshot(session, None)


def gauges(snapshot: Snapshot) -> tuple[Any, ...]:
    return (
        snapshot.messages,
        snapshot.queue_depth,
        snapshot.retries,
        snapshot.receipt_failures,
        snapshot.deliveries,
    )


def test_a_refresh_costs_the_same_over_ten_times_the_history(db: Database, now: datetime) -> None:
    short, _ = refresh_cost(db, now, 300)
    with db.session() as session:
        session.execute(text("DELETE FROM deliveries"))
        session.execute(text("DELETE FROM payloads"))
        session.execute(text("DELETE FROM messages"))
    long, snapshot = refresh_cost(db, now, 3000)
    # Ten times the history: the indexes may be a level deeper, no more. The refresh before this one
    # read every message three times over.
    assert long <= short * 2, (short, long)
    assert gauges(snapshot) == gauges(full_count(db))


def test_the_refreshed_figures_are_those_of_a_full_count(db: Database, now: datetime) -> None:
    with db.session() as session:
        history(session, now, 30)
        ids = open_work(session, now)
    with db.read_session() as session:
        counted = take_snapshot(session, None)
    with db.session() as session:
        changes_since(session, now, ids)
    with db.read_session() as session:
        refreshed = take_snapshot(session, counted.history)
    assert gauges(refreshed) == gauges(full_count(db))
    messages = dict(refreshed.messages)
    assert messages[("outbound", "delivered", "th")] == 15 + 2
    assert messages[("outbound", "pending", "th")] == 2 + 1 + 1  # queued, waiting for a retry, resent
    assert ("outbound", "failed", "th") not in messages  # the late receipt settled it
    assert messages[("inbound", "received", "th")] == 15 + 2
    assert dict(refreshed.retries) == {("th",): 5.0, ("sg",): 5.0}
    assert dict(refreshed.receipt_failures) == {("th",): 1.0}
    assert dict(refreshed.queue_depth) == {("th",): 4.0, ("sg",): 0.0}
    deliveries = dict(refreshed.deliveries)
    assert deliveries[("moit", "delivered")] == 15 and deliveries[("mard", "pending")] == 1
    assert sorted(p for p, _ in refreshed.latencies) == ["th", "th"]  # the two delivered in the window
    # A refresh with nothing new observes no latency and reports the same.
    with db.read_session() as session:
        again = take_snapshot(session, refreshed.history)
    assert again.latencies == () and gauges(again) == gauges(refreshed)


def test_a_window_read_in_parts_adds_up(db: Database, now: datetime) -> None:
    with db.session() as session:
        outbound(session, now - HOUR, 5)
    with db.read_session() as session:
        state: History = take_snapshot(session, None).history
    with db.session() as session:
        claimed = claim_due(session, claimer="n", now=now, lease=LEASE, limit=5)
        for i, message in enumerate(claimed):
            mark_delivered(session, message.id, receipt_digest=f"r{i}", now=now + timedelta(seconds=i))
    observed = 0
    for _ in range(3):
        with db.read_session() as session:
            snapshot = take_snapshot(session, state, limit=2)
        state, observed = snapshot.history, observed + len(snapshot.latencies)
    assert observed == 5
    assert gauges(snapshot) == gauges(full_count(db))


def test_a_delivery_committed_behind_the_window_is_counted_at_the_next_recount(
    db: Database, now: datetime
) -> None:
    with db.session() as session:
        late, on_time = outbound(session, now - HOUR, 2)
        claim_due(session, claimer="n", now=now - HOUR, lease=LEASE, limit=2)
        mark_delivered(session, on_time, receipt_digest="r", now=now)
    with db.read_session() as session:
        state = take_snapshot(session, None).history
    with db.session() as session:
        # Another node's transaction, stamped before the window's end and committed after it.
        mark_delivered(session, late, receipt_digest="r", now=now - timedelta(seconds=1))
    with db.read_session() as session:
        missed = take_snapshot(session, state)
    assert dict(missed.messages)[("outbound", "delivered", "th")] == 1
    with db.read_session() as session:
        recounted = take_snapshot(session, missed.history, recount=True)
    assert dict(recounted.messages)[("outbound", "delivered", "th")] == 2
    assert gauges(recounted) == gauges(full_count(db))
