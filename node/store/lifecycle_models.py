"""The legal procedure's tables (seed 000 Art. 10, 12–14; seed 001 Art. 12; Decree 47 Art. 7).

Transitions, connection-test plans/runs/results/minutes/confirmations, go-live announcements,
suspensions, notices, incidents, certificate registrations and focal points. Minutes are
immutable: their signed body can never change, and once confirmed nothing of them can.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from node.store.models import Base
from node.store.types import BigIntId, utcnow

__all__ = [
    "Announcement",
    "CertificateRegistration",
    "ConntestCaseResult",
    "ConntestConfirmation",
    "ConntestMinutes",
    "ConntestPlan",
    "ConntestRun",
    "FocalPoint",
    "Incident",
    "LifecycleEvent",
    "MinutesImmutable",
    "Notice",
    "Suspension",
]


class LifecycleEvent(Base):
    """One transition of a partner: from, event, to, the article, who, when, why, evidence."""

    __tablename__ = "lifecycle_events"
    __table_args__ = (Index(None, "partner_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    article: Mapped[str] = mapped_column(String(255))
    actor: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ConntestPlan(Base):
    """Art. 10.3 step 1: a plan document (canonical JSON) for one partner; the newest is current."""

    __tablename__ = "conntest_plans"
    __table_args__ = (Index(None, "partner_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(71))
    document: Mapped[dict[str, Any]] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConntestRun(Base):
    """One run of a step (domestic = Art. 10.3 step 2, foreign = step 4) of a plan."""

    __tablename__ = "conntest_runs"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("conntest_plans.id"), index=True)
    step: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | finished | aborted
    started_by: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class ConntestCaseResult(Base):
    """A case's result within a run, written as soon as the case finishes (progress)."""

    __tablename__ = "conntest_case_results"
    __table_args__ = (UniqueConstraint("run_id", "case_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("conntest_runs.id"))
    case_id: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    detail: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MinutesImmutable(Exception):
    """Signed minutes cannot be changed; confirmed minutes cannot be changed or deleted."""


class ConntestMinutes(Base):
    """Art. 10.3 step 3: the signed minutes (canonical JSON body + detached signature)."""

    __tablename__ = "conntest_minutes"
    __table_args__ = (Index(None, "partner_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("conntest_plans.id"), index=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(71), unique=True)
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[dict[str, Any]] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(16))
    drawn_up_by: Mapped[str] = mapped_column(String(255))
    drawn_up_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]  # when the last required party confirmed


class ConntestConfirmation(Base):
    """One party's confirmation of the minutes (operator, ministry focal point, provider)."""

    __tablename__ = "conntest_confirmations"
    __table_args__ = (UniqueConstraint("minutes_id", "role"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("conntest_minutes.id"))
    minutes_digest: Mapped[str] = mapped_column(String(71))
    role: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    organisation: Mapped[str] = mapped_column(String(255), default="")
    position: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    actor: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Announcement(Base):
    """Art. 10.4 step 1: the announced official connection time of a partner."""

    __tablename__ = "announcements"
    __table_args__ = (Index(None, "status", "go_live_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("conntest_minutes.id"))
    go_live_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="scheduled")  # scheduled|activated|withdrawn
    announced_by: Mapped[str] = mapped_column(String(255))
    announced_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None]


class Suspension(Base):
    """Art. 12: a suspension of all exchanges (partner_id None) or of one partner."""

    __tablename__ = "suspensions"
    __table_args__ = (Index(None, "starts_at", "ended_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    partner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    cause: Mapped[str] = mapped_column(String(32))  # maintenance|force_majeure|violation|unsafe
    reason: Mapped[str] = mapped_column(Text)
    restore_steps: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime]
    restore_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notice(Base):
    """A rendered notice: shown on the status page and e-mailed to the focal points."""

    __tablename__ = "notices"
    __table_args__ = (Index(None, "created_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    partner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(512))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    article: Mapped[str] = mapped_column(String(255), default="")
    effective_at: Mapped[datetime | None]
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    send_error: Mapped[str | None] = mapped_column(Text)


class Incident(Base):
    """Art. 14: an incident at the NSW; outbound traffic to the affected partners is held."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(512))
    description: Mapped[str] = mapped_column(Text, default="")
    partners: Mapped[list[Any]] = mapped_column(default=list)  # [] = all partners
    opened_by: Mapped[str] = mapped_column(String(255))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    repaired_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(255))
    closed_at: Mapped[datetime | None]
    repair_note: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CertificateRegistration(Base):
    """seed 001 Art. 12: a signing certificate's registration; renewal/rekey/revocation adds a new one."""

    __tablename__ = "certificate_registrations"
    __table_args__ = (
        UniqueConstraint("owner_kind", "owner_id", "fingerprint"),
        Index(None, "owner_kind", "owner_id", "status"),
        Index(None, "not_after"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    owner_kind: Mapped[str] = mapped_column(String(16))  # partner | ministry | node
    owner_id: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(16), default="signing")
    subject: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(Text)
    serial: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the DER
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|rollover|superseded|revoked
    reason: Mapped[str] = mapped_column(
        String(32), default="initial"
    )  # initial|renewal|key_change|revocation
    overlap_until: Mapped[datetime | None]  # a superseded certificate is still accepted until then
    pem: Mapped[str] = mapped_column(Text)
    registered_by: Mapped[str] = mapped_column(String(255))
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    alerted_at: Mapped[datetime | None]


class FocalPoint(Base):
    """Decree 47 Art. 7: a focal point for connection (name, position, phone, e-mail)."""

    __tablename__ = "focal_points"
    __table_args__ = (Index(None, "owner_kind", "owner_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_kind: Mapped[str] = mapped_column(String(16))  # partner | ministry | operator
    owner_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    position: Mapped[str] = mapped_column(String(255), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str] = mapped_column(String(255), default="")


_SIGNED_FIELDS = ("body", "signature", "digest", "outcome", "plan_id", "partner_id")


@event.listens_for(Session, "before_flush")
def _minutes_are_immutable(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.dirty:
        if isinstance(obj, ConntestMinutes):
            state = obj.__dict__.get("_sa_instance_state")
            changed = {a.key for a in state.attrs if a.history.has_changes()} if state else set()
            if changed & set(_SIGNED_FIELDS):
                raise MinutesImmutable(f"minutes {obj.id}: signed minutes cannot be changed")
            committed_confirmed = state.attrs.confirmed_at.history.deleted if state else ()
            if committed_confirmed and committed_confirmed[0] is not None:
                raise MinutesImmutable(f"minutes {obj.id}: confirmed minutes cannot be changed")
        if isinstance(obj, ConntestConfirmation):
            raise MinutesImmutable("a confirmation cannot be changed")
    for obj in session.deleted:
        if isinstance(obj, ConntestMinutes | ConntestConfirmation):
            raise MinutesImmutable("minutes and their confirmations are kept (Art. 10.3, 3-year retention)")
