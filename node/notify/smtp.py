"""Delivering rendered notices by e-mail over SMTP (node.yaml `smtp:`), blocking: call it from a thread.

    smtp: {host: mail.example.vn, port: 587, from: nsw@example.vn, starttls: true,
           username: nsw, password_file: keys/smtp.pass, timeout: 30}

The password is read from a file and never logged. A missing `smtp:` section means
"not configured": notices are stored and shown on the status page, and the send is
recorded as not done.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from node.notify.render import RenderedNotice

__all__ = ["SmtpError", "SmtpSettings", "send_notice"]


class SmtpError(Exception):
    """The notice could not be handed to the SMTP server (one line, no secrets)."""


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.host or "@" not in self.sender:
            raise ValueError("smtp: host and from (an e-mail address) are required")
        if not 0 < self.port < 65536:
            raise ValueError("smtp.port: must be 1..65535")

    def __repr__(self) -> str:  # never show the password
        return f"SmtpSettings(host={self.host!r}, port={self.port}, sender={self.sender!r})"

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base: Path) -> SmtpSettings | None:
        """From node.yaml `smtp:`; None when the section is empty. ValueError names the key."""
        if not section:
            return None
        host = section.get("host")
        if not isinstance(host, str) or not host:
            raise ValueError("smtp.host: missing")
        sender = section.get("from")
        if not isinstance(sender, str) or "@" not in sender:
            raise ValueError("smtp.from: must be an e-mail address")
        port = section.get("port", 25)
        if not isinstance(port, int):
            raise ValueError("smtp.port: must be an integer")
        password = None
        if section.get("password_file"):
            path = Path(str(section["password_file"]))
            path = path if path.is_absolute() else base / path
            try:
                password = path.read_text(encoding="utf-8").strip()
            except OSError:
                raise ValueError(f"smtp.password_file: cannot read {path}") from None
        return cls(
            host=host,
            port=port,
            sender=sender,
            starttls=bool(section.get("starttls", False)),
            ssl=bool(section.get("ssl", False)),
            username=section.get("username"),
            password=password,
            timeout=float(section.get("timeout", 30)),
        )


def _message(settings: SmtpSettings, notice: RenderedNotice, recipients: Sequence[str]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = notice.subject
    message["Message-ID"] = make_msgid(domain=settings.sender.rsplit("@", 1)[1])
    message["X-ASW-Notice-Kind"] = notice.kind.value
    message.set_content(notice.text)
    message.add_alternative(notice.html, subtype="html")
    return message


def send_notice(settings: SmtpSettings, notice: RenderedNotice, recipients: Sequence[str]) -> str:
    """Send `notice` to `recipients`; the Message-ID, or SmtpError. Blocking."""
    recipients = tuple(dict.fromkeys(r.strip() for r in recipients if r and "@" in r))
    if not recipients:
        raise SmtpError("no recipient with an e-mail address")
    message = _message(settings, notice, recipients)
    try:
        if settings.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with client:
            if settings.starttls:
                client.starttls(context=ssl.create_default_context())
            if settings.username and settings.password:
                client.login(settings.username, settings.password)
            refused = client.send_message(message, to_addrs=list(recipients))
    except (OSError, smtplib.SMTPException) as exc:
        raise SmtpError(f"SMTP {settings.host}:{settings.port}: {type(exc).__name__}: {exc}") from None
    if refused:
        raise SmtpError(f"SMTP refused recipients: {', '.join(sorted(refused))}")
    return str(message["Message-ID"])
