"""Reading incidents (Art. 14) for the console and the status page; the operations are Procedure's."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from node.store.lifecycle_models import Incident

__all__ = ["incident_to_dict", "open_incidents"]


def open_incidents(session: Session) -> list[Incident]:
    """Incidents not yet closed, newest first."""
    query = select(Incident).where(Incident.closed_at.is_(None)).order_by(Incident.id.desc())
    return list(session.scalars(query))


def incident_to_dict(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "description": incident.description,
        "partners": list(incident.partners) or "all",
        "opened_at": incident.opened_at.isoformat(),
        "opened_by": incident.opened_by,
        "closed_at": incident.closed_at.isoformat() if incident.closed_at else None,
        "repair_note": incident.repair_note,
        "report": dict(incident.report or {}),
    }
