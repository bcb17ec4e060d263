"""Notices of the legal procedure rendered as documents: a subject, a plain-text and an HTML body.

One template per kind, each citing the article that requires the notice (seed 000 Art. 10.4,
12, 13, 14; seed 001 Art. 12). Times are shown in UTC and in Vietnam time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from html import escape

from node.calendar import VIETNAM

__all__ = ["NoticeKind", "RenderedNotice", "render_notice"]


class NoticeKind(StrEnum):
    GOLIVE = "golive"
    GOLIVE_WITHDRAWN = "golive_withdrawn"
    MAINTENANCE = "maintenance"
    FORCE_MAJEURE = "force_majeure"
    VIOLATION = "violation"
    UNSAFE = "unsafe"
    RESTORATION = "restoration"
    TERMINATION = "termination"
    INCIDENT_OPEN = "incident_open"
    INCIDENT_CLOSE = "incident_close"
    CERTIFICATE_EXPIRY = "certificate_expiry"


_ARTICLES = {
    NoticeKind.GOLIVE: "seed 000 Art. 10.4 step 1",
    NoticeKind.GOLIVE_WITHDRAWN: "seed 000 Art. 10.4 step 1 (the announced time is withdrawn)",
    NoticeKind.MAINTENANCE: "seed 000 Art. 12 (notice at least 7 working days ahead)",
    NoticeKind.FORCE_MAJEURE: "seed 000 Art. 12 (force majeure: notified at once)",
    NoticeKind.VIOLATION: "seed 000 Art. 12 (suspension of one user: notice within 1 day)",
    NoticeKind.UNSAFE: "seed 000 Art. 12 (unsafe connection: notice within 1 day)",
    NoticeKind.RESTORATION: "seed 000 Art. 12 (connection restored)",
    NoticeKind.TERMINATION: "seed 000 Art. 13 (the result is notified)",
    NoticeKind.INCIDENT_OPEN: "seed 000 Art. 14 (incident published, parties notified)",
    NoticeKind.INCIDENT_CLOSE: "seed 000 Art. 14 (reconciled within 1 working day after repair)",
    NoticeKind.CERTIFICATE_EXPIRY: "seed 001 Art. 12 (certificate re-registered on renewal)",
}

_TITLES = {
    NoticeKind.GOLIVE: "Official connection announced",
    NoticeKind.GOLIVE_WITHDRAWN: "Announced official connection withdrawn",
    NoticeKind.MAINTENANCE: "Planned suspension of all exchanges for maintenance",
    NoticeKind.FORCE_MAJEURE: "Suspension of exchanges: force majeure",
    NoticeKind.VIOLATION: "Suspension of your connection: violation of the usage rules",
    NoticeKind.UNSAFE: "Suspension of your connection: the connection is unsafe",
    NoticeKind.RESTORATION: "Connection restored",
    NoticeKind.TERMINATION: "Connection terminated",
    NoticeKind.INCIDENT_OPEN: "Incident at the National Single Window",
    NoticeKind.INCIDENT_CLOSE: "Incident resolved: held data reconciled",
    NoticeKind.CERTIFICATE_EXPIRY: "A registered signing certificate expires soon",
}


def _when(moment: datetime) -> str:
    return (
        f"{moment.astimezone(VIETNAM).strftime('%Y-%m-%d %H:%M')} Vietnam time "
        f"({moment.isoformat().replace('+00:00', 'Z')})"
    )


def _text_value(value: object) -> str:
    if isinstance(value, datetime):
        return _when(value)
    if isinstance(value, list | tuple):
        return ", ".join(_text_value(v) for v in value) if value else "none"
    return str(value)


@dataclass(frozen=True, slots=True)
class RenderedNotice:
    kind: NoticeKind
    subject: str
    text: str
    html: str
    article: str

    def __post_init__(self) -> None:
        if not self.subject or "\n" in self.subject or "\r" in self.subject:
            raise ValueError("a notice subject is one non-empty line")


def render_notice(
    kind: NoticeKind | str,
    *,
    issuer: str,
    partner: str | None = None,
    facts: Mapping[str, object] = {},
    listing: Sequence[str] = (),
) -> RenderedNotice:
    """The notice of `kind` from the NSW (`issuer`), about `partner` if one, with `facts` in order.

    `listing` is an itemised list (what is held during an incident, the steps to restore).
    """
    kind = NoticeKind(kind)
    title = _TITLES[kind]
    article = _ARTICLES[kind]
    about = f" — {partner}" if partner else ""
    subject = f"[{issuer}] {title}{about}".replace("\n", " ").replace("\r", " ")
    lines = [title + about, "", f"From: {issuer} (National Single Window management unit)", ""]
    lines += [f"{label}: {_text_value(value)}" for label, value in facts.items()]
    if listing:
        lines += ["", *(f"  - {item}" for item in listing)]
    lines += ["", f"Legal basis: {article}", ""]
    rows = "".join(
        f"<tr><th>{escape(label)}</th><td>{escape(_text_value(value))}</td></tr>"
        for label, value in facts.items()
    )
    items = "".join(f"<li>{escape(item)}</li>" for item in listing)
    html = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(subject)}</title>'
        "</head><body>"
        f"<h1>{escape(title + about)}</h1>"
        f"<p>From: {escape(issuer)} (National Single Window management unit)</p>"
        f"<table>{rows}</table>" + (f"<ul>{items}</ul>" if items else "") + f"<p><small>Legal basis: "
        f"{escape(article)}</small></p></body></html>\n"
    )
    return RenderedNotice(kind, subject, "\n".join(lines), html, article)
