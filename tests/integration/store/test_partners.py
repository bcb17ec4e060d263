"""Partner rows: created once in `registered`, PartyId kept in step with partners.yaml."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from node.store.database import Database
from node.store.partners import ensure_partner, partner_state, partner_states


def test_a_new_partner_starts_registered_and_keeps_its_state_when_ensured_again(db: Database, now) -> None:
    with db.session() as session:
        ensure_partner(
            session, "th", party_id="TH-NSW", party_id_type="urn:oasis:names:tc:ebcore:partyid-type", now=now
        )
        assert partner_state(session, "th") == "registered"
        session.get_one(
            type(ensure_partner(session, "th", party_id="TH-NSW", now=now)), "th"
        ).state = "active"
    later = now + timedelta(days=1)
    with db.session() as session:
        partner = ensure_partner(session, "th", party_id="TH-NSW-2", now=later)
        assert (partner.state, partner.party_id, partner.party_id_type, partner.updated_at) == (
            "active",
            "TH-NSW-2",
            None,
            later,
        )
        assert partner_states(session) == {"th": "active"}
        assert partner_state(session, "nobody") is None


def test_two_nodes_ensuring_the_same_new_partner_at_once_both_succeed(db: Database, now) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time: no two inserts can race")
    other = Database.open(db.url, upgrade=False)
    result: list[object] = []

    try:
        with db.session() as first:
            ensure_partner(first, "th", party_id="TH", now=now)
            thread = threading.Thread(target=lambda: result.append(_ensure(other, now)))
            thread.start()
            time.sleep(0.5)  # the second insert now waits on the first's unique key
        thread.join(timeout=60)
    finally:
        other.close()
    assert result == ["registered"]


def _ensure(database: Database, now) -> str:
    with database.session() as session:
        partner = ensure_partner(session, "th", party_id="TH", now=now)
        return partner.state
