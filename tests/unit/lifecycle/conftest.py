"""A real SMTP server on 127.0.0.1:0 (in a thread) that keeps what arrives, for the notice tests."""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[tuple[str, tuple[str, ...], EmailMessage]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, tuple[str, ...], EmailMessage]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)
        return list(self.messages)


class _SmtpHandler(socketserver.StreamRequestHandler):
    """RFC 5321 minimum: EHLO/HELO, MAIL, RCPT, DATA (dot-unstuffing), RSET, NOOP, QUIT."""

    timeout = 10

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")

    def handle(self) -> None:
        box: Mailbox = self.server.mailbox  # type: ignore[attr-defined]
        self.reply("220 test-smtp ready")
        sender, rcpts = "", []
        while True:
            raw = self.rfile.readline(65536)
            if not raw:
                return
            command = raw.decode("ascii", "replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 test-smtp")
            elif verb == "MAIL":
                sender, rcpts = command.split(":", 1)[1].strip().strip("<>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                rcpts.append(command.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with .")
                lines = []
                while True:
                    line = self.rfile.readline(1 << 20)
                    if line in (b".\r\n", b".\n", b""):
                        break
                    lines.append(line[1:] if line.startswith(b"..") else line)
                message = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
                with box.arrived:
                    box.messages.append((sender, tuple(rcpts), message))  # type: ignore[arg-type]
                    box.arrived.notify_all()
                self.reply("250 queued")
            elif verb == "RSET":
                sender, rcpts = "", []
                self.reply("250 OK")
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    server = _Server(("127.0.0.1", 0), _SmtpHandler)
    host, port = server.server_address[:2]
    server.mailbox = Mailbox(str(host), int(port))  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.mailbox  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def node(tmp_path):  # type: ignore[no-untyped-def]
    """A production node with partner `th`, its Procedure on real SQLite, and a settable clock."""
    from procedure_fixtures import make_node

    yield from make_node(tmp_path)


@pytest.fixture
def mailing_node(tmp_path, smtp_server):  # type: ignore[no-untyped-def]
    """As `node`, with node.yaml smtp: pointing at the real test SMTP server, and an extra recipient."""
    from procedure_fixtures import make_node

    sections = {
        "smtp": {"host": smtp_server.host, "port": smtp_server.port, "from": "nsw@example.vn"},
        "notices": {"recipients": ["ops@example.vn"]},
        "holidays": {"dates": ["2026-12-01"]},
    }
    yield from make_node(tmp_path, sections=sections)
