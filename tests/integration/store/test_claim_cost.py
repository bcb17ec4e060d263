"""The claim reads the head of each partner's queue, not the queue: a long backlog (a partner that was
down for a day) costs no more per claim than a short one. Work is counted by the database itself
(SQLite virtual-machine steps, PostgreSQL tuples read in the transaction), never by a clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from node.store.database import Database
from node.store.messages import claim_due
from node.store.models import Message

from .database_work import analysed, work_of
from .factories import LEASE

IN_FLIGHT = 32
WINDOW = 64


def queue(
    session: Session, now: datetime, partner: str, *, sending: int, pending: int, **pending_values: Any
) -> list[int]:
    """`sending` messages in flight (claimed by another sender, lease valid), then `pending` queued ones."""
    start = session.scalar(text("SELECT COALESCE(MAX(id), 0) FROM messages")) or 0
    rows = []
    for i in range(sending + pending):
        in_flight = i < sending
        rows.append(
            {
                "direction": "outbound",
                "message_id": f"q{start + i}-{partner}@aswnode",
                "partner_id": partner,
                "service": "urn:svc",
                "action": "Deliver",
                "state": "sending" if in_flight else "pending",
                "attempts": 1 if in_flight else 0,
                "claimed_by": "other" if in_flight else None,
                "lease_until": now + LEASE if in_flight else None,
                "next_attempt_at": None if in_flight else now,
                "created_at": now,
                "updated_at": now,
                "properties": {},
                "is_test": False,
                **({} if in_flight else pending_values),
            }
        )
    session.execute(insert(Message.__table__), rows)
    return list(
        session.scalars(text("SELECT id FROM messages WHERE id > :start ORDER BY id"), {"start": start})
    )


def claim_cost(db: Database, now: datetime, backlog: int) -> tuple[int, list[int]]:
    with db.session() as session:
        ids = queue(session, now, "th", sending=IN_FLIGHT, pending=backlog)
        queue(session, now, "sg", sending=0, pending=3)
    analysed(db)
    with db.session() as session:
        claimed: list[int] = []

        def claim() -> None:
            claimed.extend(
                m.id for m in claim_due(session, claimer="n", now=now, lease=LEASE, limit=1, window=WINDOW)
            )

        cost = work_of(session, ("messages",), claim)
        session.rollback()
    assert claimed == [ids[IN_FLIGHT]]  # the oldest due message, behind the ones in flight
    return cost, claimed


def test_a_claim_costs_the_same_behind_a_long_backlog(db: Database, now) -> None:
    short, _ = claim_cost(db, now, 400)
    with db.session() as session:
        session.execute(text("DELETE FROM messages"))
    long, _ = claim_cost(db, now, 4000)
    # Ten times the queue: the indexes are a level deeper, no more. A claim that read the queue would
    # cost ten times more; the one before this test read it once per queued message (over 1000 times).
    assert long <= short * 2, (short, long)


def test_the_head_of_a_queue_is_read_across_pages_in_order(db: Database, now) -> None:
    later = now + LEASE / 2  # the one in flight still holds its lease
    with db.session() as session:
        # 80 messages not due before later (attempts 0: not a retry, nothing waits behind them), one in
        # flight among them, then 3 due ones: the first page holds none of the due ones.
        waiting = queue(session, now, "th", sending=0, pending=40, next_attempt_at=later)
        in_flight = queue(session, now, "th", sending=1, pending=0)
        waiting += queue(session, now, "th", sending=0, pending=40, next_attempt_at=later)
        due = queue(session, now, "th", sending=0, pending=3)
    with db.session() as session:
        claimed = claim_due(session, claimer="n", now=now, lease=LEASE, limit=2)
        assert [m.id for m in claimed] == due[:2]
        # A window of 64 ends before them: the 80 waiting and the one in flight are ahead.
        assert claim_due(session, claimer="n", now=now, lease=LEASE, window=WINDOW) == []
        # At `later` the waiting ones are due: oldest first; the one in flight is not claimed again.
        claimed = claim_due(session, claimer="n", now=later, lease=LEASE, limit=100, window=WINDOW)
        assert [m.id for m in claimed] == waiting[: WINDOW - 1]
        assert in_flight[0] not in {m.id for m in claimed}


def test_a_partner_with_only_an_expired_claim_is_found(db: Database, now) -> None:
    with db.session() as session:
        (held,) = queue(session, now, "vn", sending=1, pending=0)
        queue(session, now, "th", sending=0, pending=2)
    after_lease = now + LEASE + timedelta(seconds=1)
    with db.session() as session:
        claimed = claim_due(session, claimer="n", now=after_lease, lease=LEASE, limit=1)
        assert [(m.id, m.partner_id, m.attempts) for m in claimed] == [(held, "vn", 2)]
