"""Sessions: an idle session expires, an active one lives on, a new login gets a new id."""

from __future__ import annotations

from datetime import timedelta

import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Site

from node.config import NodeConfig
from node.console import attach
from node.console.session_models import ConsoleSession
from node.service import build_context


@pytest_twisted.ensureDeferred
async def test_an_idle_session_expires_after_the_idle_timeout(node):
    c = node.client()
    await c.login()
    node.clock.advance(minutes=14)
    assert (await c.get("/console/")).code == 200
    node.clock.advance(minutes=14)  # 14 idle minutes again: still alive, the clock was reset
    assert (await c.get("/console/")).code == 200
    node.clock.advance(minutes=16)
    r = await c.get("/console/partners")
    assert r.code == 303 and r.header("location") == "/console/login?next=%2Fpartners"


@pytest_twisted.ensureDeferred
async def test_a_session_ends_after_its_maximum_age_even_when_busy(node):
    c = node.client()
    await c.login()
    started = node.clock()
    while (await c.get("/console/")).code == 200:
        node.clock.advance(minutes=14)
        assert node.clock() - started < timedelta(hours=12, minutes=15)
    assert node.clock() - started > timedelta(hours=11, minutes=45)


@pytest_twisted.ensureDeferred
async def test_each_login_gets_a_fresh_random_session_id_never_one_the_client_chose(node):
    first, second = node.client(), node.client()
    await first.login()
    await second.login()
    assert first.cookies["aswnode_console"] != second.cookies["aswnode_console"]
    assert len(first.cookies["aswnode_console"]) >= 40
    planted = node.client()
    planted.cookies["aswnode_console"] = "chosen-by-an-attacker"
    await planted.login()
    assert planted.cookies["aswnode_console"] != "chosen-by-an-attacker"
    stranger = node.client()
    stranger.cookies["aswnode_console"] = "chosen-by-an-attacker"
    assert (await stranger.get("/console/")).code == 303


@pytest_twisted.ensureDeferred
async def test_a_session_outlives_a_restart_and_is_shared_by_the_nodes_on_one_database(node):
    c = node.client()
    await c.login()
    cookie = c.cookies["aswnode_console"]
    # Another node process on the same directory and database: the restarted node, or the next one
    # behind a load balancer.
    ctx = build_context(NodeConfig.load(node.directory), reactor, clock=node.clock)
    root = Resource()
    attach(ctx, root, probe_interval=3600)
    port = reactor.listenTCP(0, Site(root), interface="127.0.0.1")
    try:
        other = node.client()
        other.base = f"http://127.0.0.1:{port.getHost().port}"
        other.cookies = dict(c.cookies)
        r = await other.get("/console/partners")
        assert r.code == 200 and "alice" in r.text
        with ctx.db.read_session() as s:
            rows = list(s.scalars(select(ConsoleSession)))
        assert [r.operator for r in rows] == ["alice"] and rows[0].id_digest != cookie  # only a digest
        page = await c.get("/console/")
        assert (await c.post("/console/logout", {"csrf": page.csrf()})).code == 303
        r = await other.get("/console/partners")
        assert r.code == 303 and r.header("location").startswith("/console/login")
    finally:
        await port.stopListening()
        ctx.db.close()
