"""A real node directory and database behind the console on 127.0.0.1:0, and a cookie-keeping client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.web.client import Agent, FileBodyProducer
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from twisted.web.server import Site

from node.config import NodeConfig
from node.console import attach, stop
from node.console.operators import add_operator
from node.nodedir import create_node_directory
from node.service import build_context

OPERATOR = "alice"
PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Clock:
    """A clock the test moves by hand (session idle timeout, throttling window)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Reply:
    code: int
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.getRawHeaders(name)
        return values[0] if values else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def csrf(self) -> str:
        m = CSRF.search(self.text)
        assert m, "no CSRF token in the page"
        return m.group(1)


@dataclass
class Client:
    """Keeps cookies like a browser, never follows redirects (the tests look at them)."""

    base: str
    cookies: dict[str, str] = field(default_factory=dict)
    set_cookies: list[str] = field(default_factory=list)
    agent: Any = None

    async def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        h = Headers({k.encode(): [v.encode()] for k, v in (headers or {}).items()})
        if self.cookies:
            h.setRawHeaders(b"cookie", ["; ".join(f"{k}={v}" for k, v in self.cookies.items()).encode()])
        body = None
        if form is not None:
            h.setRawHeaders(b"content-type", [b"application/x-www-form-urlencoded"])
            body = FileBodyProducer(BytesIO(urlencode(form).encode()))
        response = await (self.agent or Agent(reactor)).request(
            method.encode(), (self.base + path).encode(), h, body
        )
        data = await treq.content(response)
        for raw in response.headers.getRawHeaders(b"set-cookie") or []:
            text = raw.decode()
            self.set_cookies.append(text)
            cookie = SimpleCookie()
            cookie.load(text)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Reply(response.code, response.headers, data)

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, form: dict[str, str], **kw: Any) -> Reply:
        return await self.request("POST", path, form, **kw)

    async def login(self, operator: str = OPERATOR, password: str = PASSWORD) -> Reply:
        page = await self.get("/console/login")
        return await self.post("/console/login", {"csrf": page.csrf(), "id": operator, "password": password})


@dataclass
class ConsoleNode:
    directory: Path
    ctx: Any
    console: Any
    clock: Clock
    base: str

    def client(self) -> Client:
        return Client(self.base)


def make_node_dir(directory: Path, *, environment: str = "sandbox", database_url: str | None = None) -> Path:
    create_node_directory(
        directory, party_id="nsw-vn", port=0, tls=False, environment=environment, database_url=database_url
    )
    add_operator(directory / "node.yaml", OPERATOR, PASSWORD, name="Alice Operator")
    return directory


@pytest.fixture
def environment() -> str:
    """The node's environment; a test module overrides it to run in production."""
    return "sandbox"


@pytest.fixture
def database_url() -> str | None:
    """The node's database; None is SQLite under the node directory. A module may use PostgreSQL."""
    return None


@pytest.fixture
def node_dir(tmp_path: Path, environment: str, database_url: str | None) -> Path:
    return make_node_dir(tmp_path / "node", environment=environment, database_url=database_url)


@pytest_twisted.async_yield_fixture
async def node(node_dir: Path) -> AsyncIterator[ConsoleNode]:
    clock = Clock()
    ctx = build_context(NodeConfig.load(node_dir), reactor, clock=clock)
    root = Resource()
    console = attach(ctx, root, probe_interval=3600)
    port = reactor.listenTCP(0, Site(root), interface="127.0.0.1")
    try:
        yield ConsoleNode(node_dir, ctx, console, clock, f"http://127.0.0.1:{port.getHost().port}")
    finally:
        stop()
        await port.stopListening()
        ctx.db.close()
