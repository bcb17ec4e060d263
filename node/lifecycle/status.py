"""The public status page (JSON and HTML): announced go-lives, suspensions, incidents, recent notices."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from node.lifecycle.incidents import incident_to_dict, open_incidents
from node.lifecycle.notices import notice_to_dict
from node.store.lifecycle_models import Announcement, Notice, Suspension

__all__ = ["public_status", "render_status_html"]


def public_status(session: Session, now: datetime, *, party_id: str, notices: int = 30) -> dict[str, Any]:
    announcements = session.scalars(
        select(Announcement)
        .where(Announcement.status.in_(("scheduled", "activated")))
        .order_by(Announcement.go_live_at)
    )
    suspensions = session.scalars(
        select(Suspension)
        .where(
            Suspension.ended_at.is_(None), or_(Suspension.restore_at.is_(None), Suspension.restore_at > now)
        )
        .order_by(Suspension.starts_at)
    )
    recent = session.scalars(select(Notice).order_by(Notice.id.desc()).limit(notices))
    return {
        "node": party_id,
        "at": now.isoformat(),
        "announcements": [
            {"partner_id": a.partner_id, "go_live_at": a.go_live_at.isoformat(), "status": a.status}
            for a in announcements
        ],
        "suspensions": [
            {
                "scope": s.partner_id or "all",
                "cause": s.cause,
                "reason": s.reason,
                "starts_at": s.starts_at.isoformat(),
                "restore_at": s.restore_at.isoformat() if s.restore_at else None,
                "in_force": s.starts_at <= now,
            }
            for s in suspensions
        ],
        "incidents": [incident_to_dict(i) for i in open_incidents(session)],
        "notices": [notice_to_dict(n) for n in recent],
    }


def render_status_html(status: dict[str, Any]) -> str:
    def items(rows: list[str]) -> str:
        return "<ul>" + "".join(rows) + "</ul>" if rows else "<p>None.</p>"

    announcements = [
        f"<li>{escape(a['partner_id'])}: official connection {escape(a['go_live_at'])}"
        f" ({escape(a['status'])})</li>"
        for a in status["announcements"]
    ]
    suspensions = [
        f"<li>{escape(s['scope'])}: {escape(s['cause'])} from {escape(s['starts_at'])}"
        f" until {escape(s['restore_at'] or 'further notice')} — {escape(s['reason'])}</li>"
        for s in status["suspensions"]
    ]
    incidents = [
        f"<li>#{i['id']} {escape(i['title'])} since {escape(i['opened_at'])}</li>"
        for i in status["incidents"]
    ]
    notices = [
        f"<article><h3>{escape(n['subject'])}</h3><p><small>{escape(n['created_at'])}</small></p>"
        f"<pre>{escape(n['text'])}</pre></article>"
        for n in status["notices"]
    ]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(status['node'])} — status</title></head><body>"
        f"<h1>{escape(status['node'])}: status</h1>"
        f"<h2>Announced connections</h2>{items(announcements)}"
        f"<h2>Suspensions</h2>{items(suspensions)}"
        f"<h2>Incidents</h2>{items(incidents)}"
        f"<h2>Notices</h2>{''.join(notices) or '<p>None.</p>'}"
        "</body></html>\n"
    )
