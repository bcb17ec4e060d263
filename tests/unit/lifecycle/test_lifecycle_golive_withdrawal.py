"""A withdrawn go-live is notified like its announcement: stored, e-mailed, on the status page."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from node.lifecycle.notices import deliver_pending
from node.lifecycle.states import State
from node.lifecycle.status import public_status, render_status_html
from node.store.lifecycle_models import Notice

REASON = "the partner renews its signing certificate first"


def announced(node):  # type: ignore[no-untyped-def]
    node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    node.pass_every_case()
    node.do(node.procedure.draw_up_minutes, "operator:alice", "th")
    node.confirm_all()
    at = node.clock.now + timedelta(days=2)
    node.do(node.procedure.golive, "operator:alice", "th", at)
    return at


def test_the_focal_points_are_told_by_email_that_the_go_live_is_withdrawn(mailing_node, smtp_server) -> None:  # type: ignore[no-untyped-def]
    node = mailing_node
    at = announced(node)
    deliver_pending(node.db.session, node.config, node.clock)
    smtp_server.wait_for(1)
    node.clock.advance(hours=3)
    node.do(node.procedure.withdraw, "operator:bob", "th", REASON)
    assert node.do(node.procedure.state, "th") is State.TESTED

    notice = node.do(lambda s: s.scalars(select(Notice).where(Notice.kind == "golive_withdrawn")).one())
    assert notice.partner_id == "th" and notice.created_at == node.clock.now
    assert notice.effective_at == node.clock.now and "Art. 10.4" in notice.article
    assert [error for _, error in deliver_pending(node.db.session, node.config, node.clock)] == [None]
    _, (_, recipients, message) = smtp_server.wait_for(2)
    assert set(recipients) == {"ops@example.vn", "focal@th.example"}
    assert "withdrawn" in message["Subject"].lower() and "th" in message["Subject"]
    assert message["X-ASW-Notice-Kind"] == "golive_withdrawn"
    text = message.get_body(("plain",)).get_content()
    assert at.isoformat().replace("+00:00", "Z") in text and REASON in text and "Art. 10.4" in text
    assert REASON in message.get_body(("html",)).get_content()


def test_the_public_status_page_shows_the_withdrawal_among_the_recent_notices(node) -> None:  # type: ignore[no-untyped-def]
    at = announced(node)
    node.clock.advance(hours=1)
    node.do(node.procedure.withdraw, "operator:bob", "th", REASON)
    status = node.do(public_status, node.clock.now, party_id="VN-NSW")
    assert status["announcements"] == []
    newest, golive = status["notices"][:2]
    assert (newest["kind"], golive["kind"]) == ("golive_withdrawn", "golive")
    assert newest["partner_id"] == "th" and REASON in newest["text"]
    assert at.isoformat().replace("+00:00", "Z") in newest["text"]
    html = render_status_html(status)
    assert newest["subject"] in html and html.index(newest["subject"]) < html.index(golive["subject"])
