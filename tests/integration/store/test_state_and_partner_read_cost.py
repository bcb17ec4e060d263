"""Reads by message state and by partner cost the same over a long history as over a short one: the
console's failures of the day and the week, a ministry's failed submissions, a partner's message pages
and its recent messages. Work is counted by the database itself (database_work.py), never by a clock:
each test builds a history, then one eight times longer, and compares."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from node.api import submission_routes
from node.console import queries
from node.store import message_queries
from node.store.database import Database
from node.store.message_queries import MessageFilter, list_messages, recent_messages
from node.store.models import Message, Payload, Submission

from .database_work import GROWTH, LONG, SHORT, cost, messages


def emptied(db: Database) -> None:
    with db.session() as session:
        for table in (Payload, Message, Submission):
            session.execute(delete(table))


def grows_no_more(
    db: Database, history: Callable[[int], Any], read: Callable[[Session], Any]
) -> tuple[Any, Any]:
    """The history's value and what `read` found over the long history, once its work over the long
    history is shown to be within GROWTH of its work over the short one."""
    tables = ("messages", "payloads", "submissions")
    history(SHORT)
    short, _ = cost(db, tables, read)
    emptied(db)
    built = history(LONG)
    long, found = cost(db, tables, read)
    assert long <= short * GROWTH, (short, long)
    return built, found


# -- the console's failures -------------------------------------------------------------------------------


def failure_history(db: Database, now: datetime, n: int) -> None:
    """`n` messages failed three weeks ago, `n` delivered since, then 2 failed four days ago (p2) and 3
    in the last hour (p1)."""
    old = now - timedelta(days=21)
    rows = [
        {"direction": "outbound", "state": "failed", "partner_id": f"p{i % 4}", "updated_at": old}
        for i in range(n)
    ]
    rows += [{"direction": "outbound", "state": "delivered", "partner_id": f"p{i % 4}"} for i in range(n)]
    rows += [
        {
            "direction": "outbound",
            "state": "failed",
            "partner_id": "p2",
            "updated_at": now - timedelta(days=4),
        }
    ] * 2
    rows += [
        {
            "direction": "outbound",
            "state": "failed",
            "partner_id": "p1",
            "updated_at": now - timedelta(hours=1),
        }
    ] * 3
    with db.session() as session:
        messages(session, now, rows)


def test_the_consoles_failures_of_the_day_and_week_cost_the_same_over_a_long_history(
    db: Database, now: datetime
) -> None:
    def read(session: Session) -> tuple[int, tuple[tuple[str, int], ...]]:
        day = queries.failures_since(session, now - timedelta(hours=24))
        return day, queries.failures_by_partner(session, now - timedelta(days=7))

    _, found = grows_no_more(db, lambda n: failure_history(db, now, n), read)
    assert found == (3, (("p1", 3), ("p2", 2)))
    with db.read_session() as session:
        overview = queries.overview(session, now)
    assert (overview["failed_day"], overview["failed_total"]) == (3, LONG + 5)


# -- a ministry's failed submissions ------------------------------------------------------------------------


def failed_submission_history(db: Database, now: datetime, n: int) -> list[int]:
    """moit's 60 failed submissions (th and vn in turn; the newest 10 answered since, by a receipt that
    came late), then `n` failed of each of mard and moh and `n` delivered of moit; the sequences of
    moit's failed and unanswered ones, in order."""
    kinds = [("moit", "failed")] * 60 + [("mard", "failed"), ("moh", "failed"), ("moit", "delivered")] * n
    with db.session() as session:
        session.execute(
            insert(Submission.__table__),
            [
                {"id": f"s{i}", "ministry": ministry, "document_type": "eco", "history": []}
                | {"partner_id": ("th", "vn")[i % 2], "created_at": now, "updated_at": now}
                | {"status": "accepted" if 50 <= i < 60 else "submitted"}
                for i, (ministry, _) in enumerate(kinds)
            ],
        )
        rows = [
            {"direction": "outbound", "state": state, "submission_id": f"s{i}", "ministry": ministry}
            | {"partner_id": ("th", "vn")[i % 2]}
            for i, (ministry, state) in enumerate(kinds)
        ]
        return messages(session, now, rows)[:50]


def test_a_ministrys_failed_submissions_cost_the_same_over_a_long_history(
    db: Database, now: datetime
) -> None:
    def read(session: Session) -> list[int]:
        return [
            item["sequence"] for item in submission_routes._list(session, "moit", "failed", None, 50, None)
        ]

    unanswered, page = grows_no_more(db, lambda n: failed_submission_history(db, now, n), read)
    newest = unanswered[::-1]
    assert page == newest  # the answered ones left out: their status is the answer's
    with db.read_session() as session:
        # `before` is a sequence: the page after the one that ended there; a partner narrows the list.
        after = submission_routes._list(session, "moit", "failed", None, 20, newest[19])
        assert [item["sequence"] for item in after] == newest[20:40]
        of_vn = submission_routes._list(session, "moit", "failed", "vn", 50, None)
        assert [item["sequence"] for item in of_vn] == newest[::2]
        assert {item["status"] for item in of_vn} == {"failed"}
        assert submission_routes._list(session, "mard", "failed", "th", 1, None)[0]["partner"] == "th"


# -- a partner's messages -----------------------------------------------------------------------------------


@pytest.fixture
def count_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    """A cap below the test's history (the node's is 10 000), so the history outgrows it."""
    monkeypatch.setattr(message_queries, "COUNT_CAP", 200)
    return 200


PARTNER_STATES = (("outbound", "delivered"), ("inbound", "received"), ("outbound", "failed"))


def silent_partner_history(db: Database, now: datetime, n: int) -> list[int]:
    """`n` messages with each of p0 to p3 in turn (p1's delivered, received and failed in turn), then
    `3n` with p0, p2 and p3: p1 silent since. The ids of p1's, in order."""
    rows = [
        {"partner_id": f"p{i % 4}"}
        | dict(zip(("direction", "state"), PARTNER_STATES[i // 4 % 3], strict=True))
        for i in range(4 * n)
    ]
    rows += [{"partner_id": ("p0", "p2", "p3")[i % 3]} for i in range(3 * n)]
    with db.session() as session:
        return messages(session, now, rows)[1 : 4 * n : 4]


def test_a_partners_message_pages_cost_the_same_over_a_long_history(
    db: Database, now: datetime, count_cap: int
) -> None:
    def read(session: Session) -> list[Any]:
        everything = list_messages(session, MessageFilter(partner_id="p1"))
        failed = list_messages(session, MessageFilter(partner_id="p1", states=("failed",)))
        return [[m.id for m in everything.items], [m.id for m in failed.items], failed.total]

    p1, (page, failed, failed_total) = grows_no_more(db, lambda n: silent_partner_history(db, now, n), read)
    newest = p1[::-1]
    # p1's messages, oldest first: delivered, received, failed in turn.
    received = [pk for j, pk in enumerate(p1) if j % 3 == 1][::-1]
    assert page == newest[:50]
    assert failed == [pk for j, pk in enumerate(p1) if j % 3 == 2][::-1][:50]
    assert failed_total == count_cap + 1  # more than the cap: "more than 200"
    with db.read_session() as session:
        deep = list_messages(session, MessageFilter(partner_id="p1"), offset=3000)
        assert ([m.id for m in deep.items], deep.total, deep.total_exact) == (newest[3000:3050], 3201, False)
        oldest = list_messages(session, MessageFilter(partner_id="p1"), limit=5, oldest_first=True)
        assert [m.id for m in oldest.items] == p1[:5]
        tail = list_messages(
            session, MessageFilter(partner_id="p1", direction="inbound"), offset=len(received) - 3
        )
        assert ([m.id for m in tail.items], tail.total, tail.total_exact) == (
            received[-3:],
            len(received),
            True,
        )
        assert [len(m.payloads) for m in tail.items] == [1, 1, 1]


def test_a_silent_partners_recent_messages_cost_the_same_over_a_long_history(
    db: Database, now: datetime
) -> None:
    def read(session: Session) -> list[int]:
        return [m.id for m in recent_messages(session, "p1", limit=10)]

    p1, recent = grows_no_more(db, lambda n: silent_partner_history(db, now, n), read)
    assert recent == p1[::-1][:10]
    with db.read_session() as session:
        assert recent_messages(session, "nobody") == ()
