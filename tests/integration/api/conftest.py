"""A real node (directory, database, partner, two ministries) serving the ministry API on 127.0.0.1:0.

Every test that touches the database runs on SQLite and on PostgreSQL. A second real
HTTP server on 127.0.0.1:0 plays the ministry's webhook receiver.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from click.testing import CliRunner
from twisted.internet import reactor
from twisted.web import resource, server

from node.cli import cli
from node.config import NodeConfig
from node.nodedir import create_node_directory
from node.service import build_context

EPHYTO = json.loads((Path(__file__).parent / "ephyto.json").read_text())


@pytest.fixture
def ephyto() -> dict[str, Any]:
    """A valid domestic ePhyto document (a fresh copy per test)."""
    return json.loads(json.dumps(EPHYTO))


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class WebhookReceiver(resource.Resource):
    """A ministry's endpoint: answers 503 to the first `failures` calls, then 204; keeps what it got."""

    isLeaf = True

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.failures = failures
        self.calls: list[tuple[dict[str, str], bytes, int]] = []

    def render_POST(self, request: server.Request) -> bytes:
        headers = {k.decode().lower(): v[-1].decode() for k, v in request.requestHeaders.getAllRawHeaders()}
        body = request.content.read()
        code = 503 if len(self.calls) < self.failures else 204
        self.calls.append((headers, body, code))
        request.setResponseCode(code)
        return b""


@dataclass
class Reply:
    code: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        values = self.headers.getRawHeaders(name)
        return values[0] if values else None


@dataclass
class ApiNode:
    directory: Path
    ctx: Any
    clock: Clock
    base: str
    tokens: dict[str, str]
    webhook: WebhookReceiver
    webhook_secret: str
    extra: dict[str, Any] = field(default_factory=dict)

    async def call(
        self,
        method: str,
        path: str,
        *,
        ministry: str | None = "moit",
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        h = {k: [v] for k, v in (headers or {}).items()}
        if ministry is not None:
            h["Authorization"] = [f"Bearer {self.tokens[ministry]}"]
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            h.setdefault("Content-Type", ["application/json"])
        response = await treq.request(method, self.base + path, headers=h, data=data, timeout=30)
        return Reply(response.code, response.headers, await treq.content(response))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/node.db"
    return request.getfixturevalue("postgres_url")


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def webhook_server() -> Any:
    receiver = WebhookReceiver(failures=2)
    port = reactor.listenTCP(0, server.Site(receiver), interface="127.0.0.1")
    yield receiver, f"http://127.0.0.1:{port.getHost().port}/hook"
    port.stopListening()


@pytest.fixture
def node_dir(tmp_path: Path, db_url: str, webhook_server: Any) -> tuple[Path, dict[str, str], str]:
    directory = tmp_path / "vn"
    create_node_directory(directory, party_id="vn-nsw", port=0, tls=False, database_url=db_url)
    partner = tmp_path / "th"
    create_node_directory(
        partner, party_id="th-nsw", port=0, tls=False, database_url=f"sqlite:///{tmp_path}/th.db"
    )
    for pid, party in (("th", "th-nsw"), ("kh", "kh-nsw")):
        _run(
            "partners",
            "add",
            str(directory),
            "--id",
            pid,
            "--party-id",
            party,
            "--endpoint",
            "http://127.0.0.1:9/as4",
            "--cert",
            str(partner / "keys" / "signing.pem"),
        )
    _, url = webhook_server
    moit = json.loads(
        _run(
            "ministries",
            "add",
            str(directory),
            "--id",
            "moit",
            "--documents",
            "eco",
            "--documents",
            "raw",
            "--webhook",
            url,
        )
    )
    mard = json.loads(_run("ministries", "add", str(directory), "--id", "mard", "--documents", "ephyto"))
    return directory, {"moit": moit["api_token"], "mard": mard["api_token"]}, moit["webhook_secret"]


@pytest_twisted.async_yield_fixture
async def api_node(node_dir: tuple[Path, dict[str, str], str], webhook_server: Any) -> AsyncIterator[ApiNode]:
    import node.api
    import node.ops_endpoints

    directory, tokens, secret = node_dir
    clock = Clock()
    from node.server import build_site

    ctx = build_context(NodeConfig.load(directory), reactor, clock=clock)
    site, root = build_site(ctx)  # the node's own Site: /as4 and the limits of node-core
    node.api.attach(ctx, root, deliver=False)
    node.ops_endpoints.attach(ctx, root, interval=3600)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    try:
        yield ApiNode(
            directory,
            ctx,
            clock,
            f"http://127.0.0.1:{port.getHost().port}",
            tokens,
            webhook_server[0],
            secret,
        )
    finally:
        await node.api.stop()
        node.ops_endpoints.stop()
        await port.stopListening()
        ctx.db.close()
