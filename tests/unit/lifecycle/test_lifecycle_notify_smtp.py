"""Notices go out by e-mail: the real test SMTP server receives subject, text and HTML."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from node.notify.render import NoticeKind, render_notice
from node.notify.smtp import SmtpError, SmtpSettings, send_notice


def notice():  # type: ignore[no-untyped-def]
    return render_notice(
        NoticeKind.VIOLATION,
        issuer="VN-NSW",
        partner="th-nsw",
        facts={"Violation": "unsigned business documents", "Since": datetime(2026, 11, 23, 3, tzinfo=UTC)},
        listing=("Sign every message with the registered certificate", "Ask the operator to resume"),
    )


def test_a_notice_arrives_at_the_smtp_server_with_text_and_html(smtp_server) -> None:  # type: ignore[no-untyped-def]
    settings = SmtpSettings(smtp_server.host, smtp_server.port, "nsw@example.vn")
    message_id = send_notice(settings, notice(), ["focal@th.example", "ops@example.vn"])
    [(sender, rcpts, message)] = smtp_server.wait_for(1)
    assert sender == "nsw@example.vn" and rcpts == ("focal@th.example", "ops@example.vn")
    assert message["Message-ID"] == message_id
    assert "Violation" in message["Subject"] or "violation" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "unsigned business documents" in text and "Sign every message" in text
    assert "<li>Ask the operator to resume</li>" in html
    assert "Art. 12" in text


def test_an_unreachable_server_is_one_line_without_secrets() -> None:
    settings = SmtpSettings("127.0.0.1", 9, "nsw@example.vn", username="u", password="s3cret", timeout=2)
    with pytest.raises(SmtpError) as caught:
        send_notice(settings, notice(), ["a@b.example"])
    assert "s3cret" not in str(caught.value) and "\n" not in str(caught.value)
    assert "s3cret" not in repr(settings)


def test_a_notice_without_recipients_is_refused(smtp_server) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SmtpError, match="no recipient"):
        send_notice(SmtpSettings(smtp_server.host, smtp_server.port, "nsw@example.vn"), notice(), ["", "x"])


def test_settings_come_from_node_yaml_with_the_password_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "smtp.pass").write_text("pw\n")
    settings = SmtpSettings.from_config(
        {"host": "mail", "port": 587, "from": "n@x.vn", "password_file": "smtp.pass", "username": "n"},
        tmp_path,
    )
    assert settings is not None and settings.password == "pw" and settings.port == 587
    assert SmtpSettings.from_config({}, tmp_path) is None
    with pytest.raises(ValueError, match=r"smtp\.from"):
        SmtpSettings.from_config({"host": "mail"}, tmp_path)
