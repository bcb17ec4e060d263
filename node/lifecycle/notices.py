"""Notices as an outbox: stored with the operation that causes them, then e-mailed to the focal points.

`issue_notice` renders and stores a notice in the caller's transaction (so a notice exists
exactly when its operation committed); `deliver_pending` sends the unsent ones over SMTP
and records when, or why not. Recipients: the partner's focal points (partners.yaml and
the focal_points table), the ministries' focal points, and node.yaml `notices: {recipients: [...]}`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from node.config import NodeConfig, load_partners
from node.notify.render import NoticeKind, RenderedNotice, render_notice
from node.notify.smtp import SmtpError, SmtpSettings, send_notice
from node.store.lifecycle_models import FocalPoint, Notice

__all__ = ["deliver_pending", "issue_notice", "notice_to_dict", "recipients_for"]


def _emails(points: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(p["email"]) for p in points if isinstance(p.get("email"), str) and "@" in p["email"]]


def recipients_for(session: Session, config: NodeConfig, partner_id: str | None) -> list[str]:
    """Whom a notice about `partner_id` (None: every partner) goes to, without duplicates."""
    out: list[str] = []
    extra = config.section("notices").get("recipients") or []
    out += [str(r) for r in extra if isinstance(r, str) and "@" in r]
    partners = load_partners(config.directory)
    for partner in partners:
        if partner_id is None or partner.id == partner_id:
            out += _emails(partner.focal_points)
    if partner_id is None:
        query = select(FocalPoint)
    else:
        query = select(FocalPoint).where(
            (FocalPoint.owner_kind.in_(("ministry", "operator")))
            | ((FocalPoint.owner_kind == "partner") & (FocalPoint.owner_id == partner_id))
        )
    out += [fp.email for fp in session.scalars(query) if fp.email and "@" in fp.email]
    return list(dict.fromkeys(out))


def issue_notice(
    session: Session,
    config: NodeConfig,
    kind: NoticeKind,
    *,
    now: datetime,
    partner_id: str | None = None,
    facts: Mapping[str, object] = {},
    listing: Sequence[str] = (),
    effective_at: datetime | None = None,
) -> Notice:
    """Render and store a notice (unsent) in this transaction."""
    rendered: RenderedNotice = render_notice(
        kind, issuer=config.party_id, partner=partner_id, facts=facts, listing=listing
    )
    notice = Notice(
        kind=kind.value,
        partner_id=partner_id,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        article=rendered.article,
        effective_at=effective_at,
        recipients=recipients_for(session, config, partner_id),
        created_at=now,
    )
    session.add(notice)
    session.flush()
    return notice


def notice_to_dict(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.id,
        "kind": notice.kind,
        "partner_id": notice.partner_id,
        "subject": notice.subject,
        "text": notice.body_text,
        "article": notice.article,
        "effective_at": notice.effective_at.isoformat() if notice.effective_at else None,
        "created_at": notice.created_at.isoformat(),
        "sent_at": notice.sent_at.isoformat() if notice.sent_at else None,
        "send_error": notice.send_error,
    }


def deliver_pending(
    session_factory: Callable[[], Any], config: NodeConfig, now: Callable[[], datetime]
) -> list[tuple[int, str | None]]:
    """E-mail every unsent notice; (notice id, error or None) for each. Blocking: run it in a thread.

    `session_factory` is `db.session` (one short transaction per notice, none held while sending).
    """
    settings = SmtpSettings.from_config(config.section("smtp"), config.directory)
    with session_factory() as session:
        pending = [
            (n.id, n.kind, n.subject, n.body_text, n.body_html, n.article, list(n.recipients))
            for n in session.scalars(select(Notice).where(Notice.sent_at.is_(None)).order_by(Notice.id))
        ]
    results: list[tuple[int, str | None]] = []
    for notice_id, kind, subject, text, html, article, recipients in pending:
        error: str | None = None
        if settings is None:
            error = "smtp not configured (node.yaml smtp:); shown on the status page only"
        elif not recipients:
            error = "no focal point with an e-mail address"
        else:
            rendered = RenderedNotice(NoticeKind(kind), subject, text, html, article)
            try:
                send_notice(settings, rendered, recipients)
            except SmtpError as exc:
                error = str(exc)
        with session_factory() as session:
            row = session.get(Notice, notice_id)
            if row is not None:
                if error is None:
                    row.sent_at = now()
                    row.send_error = None
                else:
                    row.send_error = error
        results.append((notice_id, error))
    return results
