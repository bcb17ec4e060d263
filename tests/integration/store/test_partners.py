"""Partner rows: created once in `registered`, PartyId kept in step with partners.yaml."""

from __future__ import annotations

from datetime import timedelta

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
