"""Sessions: an idle session expires, an active one lives on, a new login gets a new id."""

from __future__ import annotations

from datetime import timedelta

import pytest_twisted


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
