"""Notices are stored with their operation and e-mailed to the focal points through a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from node.lifecycle.notices import deliver_pending, recipients_for
from node.lifecycle.service import SuspensionCause
from node.store.lifecycle_models import FocalPoint, Notice


def test_a_violation_notice_reaches_the_partners_focal_point_by_email(mailing_node, smtp_server) -> None:  # type: ignore[no-untyped-def]
    node = mailing_node
    node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    node.do(
        node.procedure.suspend,
        "operator:alice",
        None,
        cause=SuspensionCause.FORCE_MAJEURE,
        reason="flood in the data centre",
    )
    results = deliver_pending(node.db.session, node.config, node.clock)
    assert [error for _, error in results] == [None]
    [(sender, recipients, message)] = smtp_server.wait_for(1)
    assert sender == "nsw@example.vn"
    assert set(recipients) == {"ops@example.vn", "focal@th.example"}
    assert "force majeure" in message["Subject"].lower()
    assert "flood in the data centre" in message.get_body(("plain",)).get_content()
    sent = node.do(lambda s: s.scalars(select(Notice)).one())
    assert sent.sent_at == node.clock.now and sent.send_error is None


def test_an_unsent_notice_is_kept_with_the_reason_and_sent_later(node, smtp_server) -> None:  # type: ignore[no-untyped-def]
    node.do(
        node.procedure.suspend, "operator:alice", None, cause=SuspensionCause.FORCE_MAJEURE, reason="fire"
    )
    [(_, error)] = deliver_pending(node.db.session, node.config, node.clock)
    assert error is not None and "smtp not configured" in error
    row = node.do(lambda s: s.scalars(select(Notice)).one())
    assert row.sent_at is None and "smtp" in (row.send_error or "")


def test_recipients_include_registered_focal_points_of_ministries(node) -> None:  # type: ignore[no-untyped-def]
    def add(session):  # type: ignore[no-untyped-def]
        session.add(FocalPoint(owner_kind="ministry", owner_id="moit", name="Lan", email="lan@moit.gov.vn"))
        session.add(FocalPoint(owner_kind="partner", owner_id="other", name="X", email="x@other.example"))

    node.do(add)
    recipients = node.do(recipients_for, node.config, "th")
    assert "lan@moit.gov.vn" in recipients and "focal@th.example" in recipients
    assert "x@other.example" not in recipients


def test_a_golive_notice_names_the_official_connection_time(mailing_node, smtp_server) -> None:  # type: ignore[no-untyped-def]
    node = mailing_node
    node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    node.pass_every_case()
    node.do(node.procedure.draw_up_minutes, "operator:alice", "th")
    node.confirm_all()
    at = node.clock.now + timedelta(days=2)
    node.do(node.procedure.golive, "operator:alice", "th", at)
    deliver_pending(node.db.session, node.config, node.clock)
    [(_, _, message)] = smtp_server.wait_for(1)
    text = message.get_body(("plain",)).get_content()
    assert "Official connection time" in text and at.isoformat().replace("+00:00", "Z") in text
    assert "Art. 10.4" in text
