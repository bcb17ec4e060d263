"""The partners' lifecycle rows in the database, as the CLI and the exchange read and write them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from node.config import NodeConfig, PartnerConfig

__all__ = ["open_database", "partner_state", "partner_states", "record_partner_registered"]

SANDBOX_STATE = "active"
PRODUCTION_STATE = "registered"


def open_database(config: NodeConfig) -> Any:
    from node.store.database import Database

    return Database.open(config.database_url)


def record_partner_registered(config: NodeConfig, partner: PartnerConfig) -> str:
    """The partner's row: `active` at once in a sandbox node, `registered` in production. Audited."""
    from node.audit import AuditLog
    from node.store.models import Partner

    state = SANDBOX_STATE if config.is_sandbox else PRODUCTION_STATE
    db = open_database(config)
    try:
        with db.session() as session:
            row = session.get(Partner, partner.id)
            if row is None:
                row = Partner(id=partner.id, party_id=partner.party_id, party_id_type=partner.party_id_type)
                session.add(row)
            row.party_id = partner.party_id
            row.party_id_type = partner.party_id_type
            row.state = state
            row.state_reason = "sandbox: active on registration" if config.is_sandbox else "registered"
            AuditLog().append(
                session,
                "operator:cli",
                "partner.register",
                f"partner:{partner.id}",
                {"party_id": partner.party_id, "endpoint": partner.endpoint, "state": state},
                None,
                "ok",
                form="cli",
            )
    finally:
        db.close()
    return state


def partner_states(config: NodeConfig) -> dict[str, str]:
    from node.store.models import Partner

    db = open_database(config)
    try:
        with db.read_session() as session:
            return {row.id: row.state for row in session.scalars(select(Partner))}
    finally:
        db.close()


def partner_state(session: Session, partner_id: str, *, sandbox: bool) -> str:
    """The lifecycle state of one partner; a partner with no row is active in a sandbox node."""
    from node.store.models import Partner

    row = session.get(Partner, partner_id)
    if row is None:
        return SANDBOX_STATE if sandbox else PRODUCTION_STATE
    return row.state
