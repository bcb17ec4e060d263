"""Operator login: the right password opens a session, a wrong one or a ministry credential does not."""

from __future__ import annotations

import pytest_twisted
from sqlalchemy import select

from node.store.models import AuditRecord

OPERATOR = "alice"
PASSWORD = "correct horse battery staple"


def _audit(node, action):
    with node.ctx.db.read_session() as s:
        return [
            (r.actor, r.subject, r.status, r.detail)
            for r in s.scalars(select(AuditRecord))
            if r.action == action
        ]


@pytest_twisted.ensureDeferred
async def test_the_console_sends_a_visitor_without_a_session_to_the_login_page(node):
    c = node.client()
    for path in ("/console", "/console/", "/console/partners", "/console/messages", "/console/audit"):
        r = await c.get(path)
        assert r.code == 303, path
        assert r.header("location").startswith("/console/login")
    page = await c.get("/console/login")
    assert page.code == 200 and 'type="password"' in page.text


@pytest_twisted.ensureDeferred
async def test_the_right_password_opens_a_session_with_a_strict_httponly_cookie(node):
    c = node.client()
    r = await c.login()
    assert r.code == 303 and r.header("location") == "/console/"
    session_cookie = [s for s in c.set_cookies if s.startswith("aswnode_console=")][-1]
    assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie.replace("Strict", "strict")
    assert "Path=/console" in session_cookie
    page = await c.get("/console/")
    assert page.code == 200 and "Dashboard" in page.text and OPERATOR in page.text
    assert _audit(node, "console.login")[-1][:3] == (f"operator:{OPERATOR}", f"operator:{OPERATOR}", "ok")


@pytest_twisted.ensureDeferred
async def test_a_wrong_password_is_refused_audited_and_never_written_anywhere(node):
    c = node.client()
    r = await c.login(password="not the password at all")
    assert r.code == 401 and "Wrong operator id or password" in r.text
    assert (await c.get("/console/partners")).code == 303
    refused = _audit(node, "console.login")
    assert refused[-1][2] == "refused"
    assert "not the password" not in str(refused)


@pytest_twisted.ensureDeferred
async def test_a_ministry_api_credential_does_not_open_the_console(node):
    c = node.client()
    token = "ministry-moit-token-0123456789abcdef"
    r = await c.get("/console/partners", headers={"Authorization": f"Bearer {token}"})
    assert r.code == 303 and r.header("location").startswith("/console/login")
    r = await c.login(operator="moit", password=token)
    assert r.code == 401
    assert (await c.get("/console/", headers={"Authorization": f"Bearer {token}"})).code == 303


@pytest_twisted.ensureDeferred
async def test_repeated_failures_lock_the_login_even_with_the_right_password(node):
    c = node.client()
    for _ in range(5):
        assert (await c.login(password="wrong password guess")).code == 401
    r = await c.login(password=PASSWORD)
    assert r.code == 429 and "Too many failed attempts" in r.text
    node.clock.advance(minutes=11)
    assert (await c.login(password=PASSWORD)).code == 303


@pytest_twisted.ensureDeferred
async def test_failures_for_one_operator_do_not_lock_out_the_others_behind_the_same_address(node):
    from node.console.operators import add_operator

    add_operator(node.directory / "node.yaml", "bob", "another long pass phrase", name="Bob")
    stranger = node.client()
    for _ in range(12):
        assert (await stranger.login(password="guess")).code in (401, 429)
    # Every client here comes from 127.0.0.1, as operators behind the TLS proxy do.
    assert (await node.client().login(operator="bob", password="another long pass phrase")).code == 303
    assert (await node.client().login()).code == 429  # alice's account waits, even with her password


@pytest_twisted.ensureDeferred
async def test_each_further_failure_doubles_the_wait_of_that_operator(node):
    c = node.client()
    for _ in range(5):
        assert (await c.login(password="wrong password guess")).code == 401
    r = await c.login()
    assert r.code == 429 and "Try again in 1 minute." in r.text
    node.clock.advance(seconds=61)
    assert (await c.login(password="sixth guess")).code == 401
    r = await c.login()
    assert r.code == 429 and "Try again in 2 minutes." in r.text
    node.clock.advance(seconds=121)
    assert (await c.login(password="seventh guess")).code == 401
    node.clock.advance(seconds=121)
    assert (await c.login()).code == 429  # four minutes now
    node.clock.advance(seconds=120)
    assert (await c.login()).code == 303


@pytest_twisted.ensureDeferred
async def test_logout_ends_the_session(node):
    c = node.client()
    await c.login()
    page = await c.get("/console/")
    old_cookie = dict(c.cookies)
    r = await c.post("/console/logout", {"csrf": page.csrf()})
    assert r.code == 303
    c.cookies = old_cookie  # a copied cookie is worthless after logout
    assert (await c.get("/console/")).code == 303


@pytest_twisted.ensureDeferred
async def test_an_operator_removed_from_node_yaml_loses_the_session(node):
    from node.console.operators import remove_operator

    c = node.client()
    await c.login()
    assert (await c.get("/console/")).code == 200
    remove_operator(node.directory / "node.yaml", OPERATOR)
    assert (await c.get("/console/")).code == 303


@pytest_twisted.ensureDeferred
async def test_login_redirects_only_inside_the_console(node):
    c = node.client()
    page = await c.get("/console/login?next=/messages")
    r = await c.post(
        "/console/login",
        {"csrf": page.csrf(), "id": OPERATOR, "password": PASSWORD, "next": "//evil.example/x"},
    )
    assert r.code == 303 and r.header("location") == "/console/"


@pytest_twisted.ensureDeferred
async def test_over_tls_the_session_cookie_is_secure_and_hsts_is_sent(node):
    from cryptography import x509
    from twisted.internet import reactor
    from twisted.web.client import Agent
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    from node.console import ConsoleResource
    from node.tls import ClientPolicy, ServerTLS

    keys = node.ctx.config.keys
    root = Resource()
    root.putChild(b"console", ConsoleResource(node.console))
    port = reactor.listenSSL(0, Site(root), ServerTLS(keys.tls_key, keys.tls_cert), interface="127.0.0.1")
    try:
        trust = ClientPolicy(tls_ca=(x509.load_pem_x509_certificate(keys.tls_cert.read_bytes()),))
        c = node.client()
        c.base = f"https://127.0.0.1:{port.getHost().port}"
        c.agent = Agent(reactor, contextFactory=trust)
        page = await c.get("/console/login")
        assert page.header("strict-transport-security") == "max-age=31536000"
        assert all("Secure" in cookie for cookie in c.set_cookies)
        r = await c.post("/console/login", {"csrf": page.csrf(), "id": OPERATOR, "password": PASSWORD})
        assert r.code == 303
        session_cookie = [s for s in c.set_cookies if s.startswith("aswnode_console=")][-1]
        assert "Secure" in session_cookie and "HttpOnly" in session_cookie
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_no_page_shows_a_password_hash(node):
    c = node.client()
    await c.login()
    for path in (
        "/console/",
        "/console/partners",
        "/console/audit",
        "/console/audit/export",
        "/console/messages",
    ):
        assert "scrypt$" not in (await c.get(path)).text, path


@pytest_twisted.ensureDeferred
async def test_a_new_password_ends_the_sessions_opened_with_the_old_one(node):
    from node.console.operators import add_operator

    c = node.client()
    await c.login()
    assert (await c.get("/console/")).code == 200
    add_operator(node.directory / "node.yaml", OPERATOR, "a brand new long password")
    assert (await c.get("/console/")).code == 303
    assert (await c.login(password="a brand new long password")).code == 303
    assert (await c.get("/console/")).code == 200
