"""Reads a ministry or an operator repeats (the inbox poll, the submission list, the console's message
pages) cost the same over a long history as over a short one. Work is counted by the database itself
(SQLite virtual-machine steps, PostgreSQL tuples and blocks read in the transaction), never by a clock:
each test builds a history, then one eight times longer, and compares."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import delete, insert, text
from sqlalchemy.orm import Session

from node.api import inbox_routes, submission_routes
from node.console import queries
from node.store import message_queries
from node.store.database import Database
from node.store.message_queries import MessageFilter, list_messages, recent_messages
from node.store.models import AuditRecord, Delivery, Message, Payload, Submission

from .database_work import GROWTH, LONG, SHORT, cost, messages


def emptied(db: Database) -> None:
    with db.session() as session:
        for table in (Delivery, Payload, Message, Submission, AuditRecord):
            session.execute(delete(table))


def inbox_history(db: Database, now: datetime, n: int) -> dict[str, list[int]]:
    """`n` items acknowledged by a pulling ministry (moit) and `n` a webhook took (mard, not
    acknowledged), then 3 new ones for each; the delivery ids of each kind, in order."""
    with db.session() as session:
        pks = messages(session, now, [{}] * (2 * n + 6))
        states = ["acked", "delivered"] * n + ["pending", "pending"] * 3
        rows = [
            {"message_pk": pk, "ministry": ("moit", "mard")[i % 2], "state": state, "document_type": "eco"}
            | {"attempts": 1, "created_at": now, "updated_at": now}
            for i, (pk, state) in enumerate(zip(pks, states, strict=True))
        ]
        session.execute(insert(Delivery.__table__), rows)
        found = session.execute(text("SELECT id, ministry, state FROM deliveries ORDER BY id")).all()
    by_kind: dict[str, list[int]] = {}
    for delivery_id, ministry, state in found:
        by_kind.setdefault(f"{ministry} {state}", []).append(delivery_id)
    return by_kind


def inbox_polls(session: Session) -> list[list[str]]:
    return [
        [item["id"] for item in inbox_routes._list(session, ministry, state, 50, 0)]
        for ministry, state in (("moit", "open"), ("mard", "open"), ("moit", "pending"), ("mard", "all"))
    ]


def test_an_inbox_poll_costs_the_same_over_a_long_history(db: Database, now: datetime) -> None:
    tables = ("deliveries", "messages", "payloads")
    inbox_history(db, now, SHORT)
    short, _ = cost(db, tables, inbox_polls)
    emptied(db)
    kinds = inbox_history(db, now, LONG)
    long, polls = cost(db, tables, inbox_polls)
    assert long <= short * GROWTH, (short, long)
    # Oldest first; `open` merges the ministry's pending and delivered (webhook-taken) items.
    moit_new, mard_delivered = kinds["moit pending"], kinds["mard delivered"]
    assert polls == [
        [str(i) for i in moit_new],
        [str(i) for i in mard_delivered[:50]],
        [str(i) for i in moit_new],
        [str(i) for i in mard_delivered[:50]],
    ]


def test_an_inbox_page_follows_its_cursor_across_states(db: Database, now: datetime) -> None:
    with db.session() as session:
        pks = messages(session, now, [{}] * 9)
        states = [
            "delivered",
            "pending",
            "acked",
            "pending",
            "delivered",
            "failed",
            "pending",
            "acked",
            "delivered",
        ]
        session.execute(
            insert(Delivery.__table__),
            [
                {"message_pk": pk, "ministry": "moit", "state": state, "attempts": 1}
                | {"created_at": now, "updated_at": now}
                for pk, state in zip(pks, states, strict=True)
            ],
        )
        ids = list(session.scalars(text("SELECT id FROM deliveries ORDER BY id")))
    with db.read_session() as session:

        def pages(state: str, limit: int) -> list[list[int]]:
            out, after = [], 0
            while True:
                page = [int(item["id"]) for item in inbox_routes._list(session, "moit", state, limit, after)]
                out.append(page)
                if len(page) < limit:
                    return out
                after = page[-1]

        is_open = [ids[i] for i, s in enumerate(states) if s in ("pending", "delivered")]
        assert pages("open", 2) == [is_open[0:2], is_open[2:4], is_open[4:6], []]
        assert pages("pending", 2) == [[ids[1], ids[3]], [ids[6]]]
        assert pages("all", 4) == [ids[0:4], ids[4:8], ids[8:]]
        assert pages("failed", 5) == [[ids[5]]]
        assert inbox_routes._list(session, "mard", "all", 5, 0) == []


# -- the submission list ---------------------------------------------------------------------------------


def submission_history(db: Database, now: datetime, n: int) -> list[int]:
    """`n` submissions of each of three ministries, interleaved, with partners th and vn in turn, all
    delivered but moit's first 3 (failed); the message ids (sequences) of moit's, in order."""
    ministries = ("moit", "mard", "moh")
    with db.session() as session:
        session.execute(
            insert(Submission.__table__),
            [
                {"id": f"s{i}", "ministry": ministries[i % 3], "document_type": "eco"}
                | {"partner_id": ("th", "vn")[i // 3 % 2], "status": "submitted", "history": []}
                | {"created_at": now, "updated_at": now}
                for i in range(3 * n)
            ],
        )
        rows = [
            {"direction": "outbound", "state": "failed" if i < 9 else "delivered", "submission_id": f"s{i}"}
            | {"ministry": ministries[i % 3], "partner_id": ("th", "vn")[i // 3 % 2]}
            for i in range(3 * n)
        ]
        return messages(session, now, rows)[::3]


def submission_pages(session: Session) -> list[list[int]]:
    return [
        [item["sequence"] for item in submission_routes._list(session, "moit", status, partner, 50, None)]
        for status, partner in ((None, None), (None, "vn"), ("delivered", None), ("failed", None))
    ]


def test_a_submission_page_costs_the_same_over_a_long_history(db: Database, now: datetime) -> None:
    tables = ("submissions", "messages", "payloads")
    submission_history(db, now, SHORT)
    short, _ = cost(db, tables, submission_pages)
    emptied(db)
    moit = submission_history(db, now, LONG)
    long, pages = cost(db, tables, submission_pages)
    assert long <= short * GROWTH, (short, long)
    newest = moit[::-1]
    assert pages == [newest[:50], newest[::2][:50], newest[:50], newest[-3:]]  # moit's newest is with vn
    with db.read_session() as session:
        # `before` is a sequence: the page after the one that ended there.
        after = submission_routes._list(session, "moit", None, None, 50, newest[49])
        assert [item["sequence"] for item in after] == newest[50:100]


# -- the console --------------------------------------------------------------------------------------


def audit_history(db: Database, now: datetime, n: int) -> None:
    """`n` records, one per message subject, then 3 about `message:watched@them`."""
    subjects = [f"message:m{i}@them" for i in range(n)] + ["message:watched@them"] * 3
    with db.session() as session:
        session.execute(
            insert(AuditRecord.__table__),
            [
                {"seq": i + 1, "at": now, "actor": "system:sender", "action": "as4.send", "subject": s}
                | {"form": "as4", "detail": "{}", "prev_hash": f"{i:064x}", "hash": f"{i + 1:064x}"}
                for i, s in enumerate(subjects)
            ],
        )


def test_a_message_page_reads_its_own_audit_records_not_the_log(db: Database, now: datetime) -> None:
    def read(session: Session) -> list[int]:
        return [r.seq for r in queries.subject_records(session, "message:watched@them", limit=50)]

    audit_history(db, now, SHORT)
    short, _ = cost(db, ("audit_records",), read)
    emptied(db)
    audit_history(db, now, LONG)
    long, seqs = cost(db, ("audit_records",), read)
    assert long <= short * GROWTH, (short, long)
    assert seqs == [LONG + 3, LONG + 2, LONG + 1]
    with db.read_session() as session:
        # Exactly that subject: a MessageId that extends another is another message.
        assert queries.subject_records(session, "message:m1") == ()
        assert [r.subject for r in queries.audit_records(session, subject="watched", limit=5)] == [
            "message:watched@them"
        ] * 3


@pytest.fixture
def count_cap(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A cap below the test's history (the node's is 10 000), so the history outgrows it."""
    monkeypatch.setattr(message_queries, "COUNT_CAP", 200)
    yield 200


def partner_history(db: Database, now: datetime, n: int) -> list[int]:
    """`n` messages with each of 4 partners, interleaved; the ids of partner p1's."""
    with db.session() as session:
        ids = messages(session, now, [{"partner_id": f"p{i % 4}"} for i in range(4 * n)])
    return ids[1::4]


def test_a_message_page_counts_no_further_than_the_cap(db: Database, now: datetime, count_cap: int) -> None:
    def read(session: Session) -> message_queries.MessagePage:
        return list_messages(session, limit=50)

    partner_history(db, now, SHORT)
    short, _ = cost(db, ("messages", "payloads"), read)
    emptied(db)
    p1 = partner_history(db, now, LONG)
    long, everything = cost(db, ("messages", "payloads"), read)
    assert long <= short * GROWTH, (short, long)
    assert (everything.total, everything.total_exact, len(everything.items)) == (count_cap + 1, False, 50)
    with db.read_session() as session:
        of_p1 = list_messages(session, MessageFilter(partner_id="p1"))
        assert (of_p1.total, of_p1.total_exact) == (count_cap + 1, False)
        assert [m.id for m in of_p1.items] == p1[::-1][:50]
        # Past the first page the count reaches past the offset: the next page is still offered.
        deep = list_messages(session, MessageFilter(partner_id="p1"), offset=3000)
        assert (deep.total, deep.total_exact) == (3000 + count_cap + 1, False)
        assert [m.id for m in deep.items] == p1[::-1][3000:3050]
        tail = list_messages(session, MessageFilter(partner_id="p1"), offset=LONG - 10)
        assert (tail.total, tail.total_exact, len(tail.items)) == (LONG, True, 10)


def test_a_partners_recent_messages_cost_the_same_over_a_long_history(db: Database, now: datetime) -> None:
    def read(session: Session) -> list[int]:
        return [m.id for m in recent_messages(session, "p1", limit=10)]

    partner_history(db, now, SHORT)
    short, _ = cost(db, ("messages", "payloads"), read)
    emptied(db)
    p1 = partner_history(db, now, LONG)
    long, recent = cost(db, ("messages", "payloads"), read)
    assert long <= short * GROWTH, (short, long)
    assert recent == p1[::-1][:10]
