"""Fixtures: a real SMTP server on 127.0.0.1:0, Procedure nodes on real SQLite, real `aswnode` nodes."""

from __future__ import annotations

import email
import email.policy
import json
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest

ASWNODE = str(Path(sys.executable).with_name("aswnode"))


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
    from lifecycle_procedure_fixtures import make_node

    yield from make_node(tmp_path)


@pytest.fixture
def mailing_node(tmp_path, smtp_server):  # type: ignore[no-untyped-def]
    """As `node`, with node.yaml smtp: pointing at the real test SMTP server, and an extra recipient."""
    from lifecycle_procedure_fixtures import make_node

    sections = {
        "smtp": {"host": smtp_server.host, "port": smtp_server.port, "from": "nsw@example.vn"},
        "notices": {"recipients": ["ops@example.vn"]},
        "holidays": {"dates": ["2026-12-01"]},
    }
    yield from make_node(tmp_path, sections=sections)


@dataclass
class CliNode:
    """A node directory made by `aswnode init` with partner `far`; `run(...)` is the real `aswnode`."""

    directory: Path
    signing_cert: Path

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([ASWNODE, *args], capture_output=True, text=True, timeout=120)
        if ok and result.returncode != 0:
            raise AssertionError(f"aswnode {' '.join(args)}: {result.returncode} {result.stderr}")
        assert "Traceback" not in result.stderr
        return result


def _cli_node(tmp_path: Path, environment: str) -> CliNode:
    directory = tmp_path / f"node-{environment}"
    out = subprocess.run(
        [
            ASWNODE,
            "init",
            str(directory),
            "--party-id",
            "VN-NSW",
            "--port",
            "18444",
            "--http",
            "--environment",
            environment,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    cert = Path(json.loads(out.stdout)["signing_cert"])
    node = CliNode(directory, cert)
    node.run(
        "partners",
        "add",
        str(directory),
        "--id",
        "far",
        "--party-id",
        "FAR",
        "--endpoint",
        "http://127.0.0.1:9/as4",
        "--cert",
        str(cert),
    )
    return node


@pytest.fixture
def production_cli(tmp_path: Path) -> CliNode:
    return _cli_node(tmp_path, "production")


@pytest.fixture
def sandbox_cli(tmp_path: Path) -> CliNode:
    return _cli_node(tmp_path, "sandbox")
