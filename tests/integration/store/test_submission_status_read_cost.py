"""A ministry's submissions listed by a stored status cost the same over a long history as over a short
one: `delivered` (delivered, no answer yet) when nearly every older delivery has been answered since,
and a rare answer. Work is counted by the database itself (database_work.py), never by a clock: each
test builds a history, then one eight times longer, and compares."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from node.api import submission_routes
from node.store.database import Database
from node.store.models import Submission

from .database_work import messages
from .test_state_and_partner_read_cost import grows_no_more

# (ministry, message state, stored status) of the history's submissions, oldest first.
Kind = tuple[str, str, str]


def answered_history(db: Database, now: datetime, n: int) -> dict[str, list[int]]:
    """moit's 60 deliveries never answered (th and vn in turn) and 5 answered "not accepted", then, `n`
    times, one of moit's delivered and answered "accepted", one of mard's delivered and one of moh's
    failed; last, 3 of moit's delivered and not answered yet. The sequences of moit's by stored status,
    and by status and partner ("not_accepted/th"), in order."""
    kinds: list[Kind] = [("moit", "delivered", "submitted")] * 60 + [
        ("moit", "delivered", "not_accepted")
    ] * 5
    kinds += [
        ("moit", "delivered", "accepted"),
        ("mard", "delivered", "submitted"),
        ("moh", "failed", "submitted"),
    ] * n
    kinds += [("moit", "delivered", "submitted")] * 3
    with db.session() as session:
        session.execute(
            insert(Submission.__table__),
            [
                {"id": f"s{i}", "ministry": ministry, "document_type": "eco", "history": []}
                | {"partner_id": ("th", "vn")[i % 2], "created_at": now, "updated_at": now, "status": status}
                for i, (ministry, _, status) in enumerate(kinds)
            ],
        )
        rows = [
            {"direction": "outbound", "state": state, "submission_id": f"s{i}", "ministry": ministry}
            | {"partner_id": ("th", "vn")[i % 2]}
            for i, (ministry, state, _) in enumerate(kinds)
        ]
        ids = messages(session, now, rows)
    of_moit: dict[str, list[int]] = {}
    for i, (pk, (ministry, _, status)) in enumerate(zip(ids, kinds, strict=True)):
        if ministry == "moit":
            of_moit.setdefault(status, []).append(pk)
            of_moit.setdefault(f"{status}/{('th', 'vn')[i % 2]}", []).append(pk)
    return of_moit


def sequences(session: Session, status: str, partner: str | None = None, **page: Any) -> list[int]:
    found = submission_routes._list(
        session, "moit", status, partner, page.get("limit", 50), page.get("before")
    )
    return [item["sequence"] for item in found]


def test_a_ministrys_delivered_submissions_cost_the_same_when_older_ones_were_answered(
    db: Database, now: datetime
) -> None:
    of_moit, page = grows_no_more(
        db, lambda n: answered_history(db, now, n), lambda s: sequences(s, "delivered")
    )
    newest = of_moit["submitted"][::-1]  # the 3 awaiting an answer, then the 60 never answered
    assert page == newest[:50]
    with db.read_session() as session:
        # `before` is a sequence: the page after the one that ended there; a partner narrows the list.
        assert sequences(session, "delivered", limit=20, before=newest[19]) == newest[20:40]
        assert sequences(session, "delivered", limit=50, before=newest[49]) == newest[50:]
        of_vn = submission_routes._list(session, "moit", "delivered", "vn", 50, None)
        assert [item["sequence"] for item in of_vn] == of_moit["submitted/vn"][::-1]
        assert {(item["status"], item["partner"]) for item in of_vn} == {("delivered", "vn")}
        # An answer's status wins over the message's state: those are not listed as delivered.
        assert not set(sequences(session, "delivered", limit=500)) & set(of_moit["accepted"])


def test_a_ministrys_rarely_answered_submissions_cost_the_same_over_a_long_history(
    db: Database, now: datetime
) -> None:
    def read(session: Session) -> list[list[int]]:
        return [sequences(session, "not_accepted"), sequences(session, "accepted")]

    of_moit, (rare, common) = grows_no_more(db, lambda n: answered_history(db, now, n), read)
    assert rare == of_moit["not_accepted"][::-1]
    assert common == of_moit["accepted"][::-1][:50]
    with db.read_session() as session:
        assert sequences(session, "not_accepted", limit=2, before=rare[1]) == rare[2:4]
        assert sequences(session, "not_accepted", "th") == of_moit["not_accepted/th"][::-1]
        assert sequences(session, "processed") == []
