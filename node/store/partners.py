"""Partner rows: the lifecycle state of each partner of partners.yaml (transitions: node/lifecycle)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from node.store.models import Partner

__all__ = ["INITIAL_STATE", "ensure_partner", "partner_state", "partner_states"]

INITIAL_STATE = "registered"


def ensure_partner(
    session: Session, partner_id: str, *, party_id: str, party_id_type: str | None = None, now: datetime
) -> Partner:
    """The partner's row, created in state `registered` if new; its PartyId follows partners.yaml."""
    partner = session.get(Partner, partner_id)
    if partner is None:
        try:
            # A savepoint: another node inserting the same partner at the same moment must not
            # spoil the caller's transaction.
            with session.begin_nested():
                partner = Partner(
                    id=partner_id,
                    party_id=party_id,
                    party_id_type=party_id_type,
                    state=INITIAL_STATE,
                    state_since=now,
                    created_at=now,
                    updated_at=now,
                )
                session.add(partner)
            return partner
        except IntegrityError:
            partner = session.get(Partner, partner_id, populate_existing=True)
            if partner is None:
                raise
    if (partner.party_id, partner.party_id_type) != (party_id, party_id_type):
        partner.party_id, partner.party_id_type, partner.updated_at = party_id, party_id_type, now
        session.flush()
    return partner


def partner_state(session: Session, partner_id: str) -> str | None:
    """The partner's lifecycle state, or None if it has no row yet."""
    return session.scalar(select(Partner.state).where(Partner.id == partner_id))


def partner_states(session: Session) -> dict[str, str]:
    return {partner_id: state for partner_id, state in session.execute(select(Partner.id, Partner.state))}
