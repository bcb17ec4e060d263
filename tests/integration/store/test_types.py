"""UtcDateTime: aware UTC in and out on both engines; a naive datetime is refused, not guessed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError

from node.store.database import Database
from node.store.models import Partner


def test_an_aware_time_in_another_zone_comes_back_as_the_same_instant_in_utc(db: Database) -> None:
    hanoi = datetime(2026, 11, 23, 16, 0, 0, 654321, tzinfo=timezone(timedelta(hours=7)))
    with db.session() as session:
        session.add(Partner(id="vn", party_id="VN", state="registered", state_since=hanoi))
    with db.read_session() as session:
        since = session.get(Partner, "vn").state_since
    assert since == hanoi and since.tzinfo is not None and since.utcoffset() == timedelta(0)
    assert (since.hour, since.microsecond) == (9, 654321)


def test_a_naive_time_is_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"), db.session() as session:
        session.add(Partner(id="vn", party_id="VN", state="registered", state_since=datetime(2026, 1, 1)))
        session.flush()
