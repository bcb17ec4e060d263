"""Each notice names its article; the HTML is escaped; subjects are one line."""

from __future__ import annotations

from datetime import UTC, datetime

from node.notify.render import NoticeKind, render_notice


def test_every_kind_cites_its_article() -> None:
    for kind in NoticeKind:
        notice = render_notice(kind, issuer="VN-NSW")
        assert "Art." in notice.article and notice.article in notice.text


def test_times_are_shown_in_vietnam_time_and_utc() -> None:
    notice = render_notice(
        NoticeKind.GOLIVE, issuer="VN", partner="th", facts={"Go-live": datetime(2026, 12, 1, 2, tzinfo=UTC)}
    )
    assert "2026-12-01 09:00 Vietnam time" in notice.text and "2026-12-01T02:00:00Z" in notice.text


def test_html_escapes_facts_and_subject_stays_one_line() -> None:
    notice = render_notice(NoticeKind.TERMINATION, issuer="VN", partner="a\nb", facts={"Reason": "<b>x</b>"})
    assert "<b>x</b>" not in notice.html and "&lt;b&gt;x&lt;/b&gt;" in notice.html
    assert "\n" not in notice.subject
