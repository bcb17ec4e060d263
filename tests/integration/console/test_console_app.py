"""The console resource: CSRF on every POST, security headers, static assets served locally, errors."""

from __future__ import annotations

import pytest_twisted
from console_kit import seed_message

CSP_PARTS = ("default-src 'self'", "frame-ancestors 'none'", "script-src 'self'")


@pytest_twisted.ensureDeferred
async def test_every_page_carries_the_security_headers(node):
    c = node.client()
    for path in ("/console/login", "/console/", "/console/static/console.css", "/console/nothing-here"):
        r = await c.get(path)
        csp = r.header("content-security-policy")
        assert csp and all(part in csp for part in CSP_PARTS), path
        assert r.header("x-frame-options") == "DENY"
        assert r.header("x-content-type-options") == "nosniff"
        assert r.header("referrer-policy") == "same-origin"


@pytest_twisted.ensureDeferred
async def test_pages_are_not_cached_and_name_no_outside_host(node):
    c = node.client()
    await c.login()
    for path in ("/console/", "/console/partners", "/console/messages", "/console/audit"):
        r = await c.get(path)
        assert r.code == 200, path
        assert r.header("cache-control") == "no-store"
        assert "http://" not in r.text and "https://" not in r.text, path


@pytest_twisted.ensureDeferred
async def test_a_post_without_the_csrf_token_is_refused(node):
    c = node.client()
    await c.login()
    pk = seed_message(node, "m-csrf@nsw-vn", failed=True)
    r = await c.post(f"/console/messages/{pk}/resend", {})
    assert r.code == 403 and "CSRF" in r.text
    r = await c.post(f"/console/messages/{pk}/resend", {"csrf": "forged-token"})
    assert r.code == 403
    r = await c.post("/console/logout", {})
    assert r.code == 403
    assert (await c.get("/console/")).code == 200  # still logged in: the forged logout did nothing


@pytest_twisted.ensureDeferred
async def test_a_post_from_another_origin_is_refused_even_with_the_token(node):
    c = node.client()
    await c.login()
    page = await c.get("/console/")
    r = await c.post("/console/logout", {"csrf": page.csrf()}, headers={"Origin": "http://evil.example"})
    assert r.code == 403


@pytest_twisted.ensureDeferred
async def test_the_login_form_itself_needs_its_token(node):
    c = node.client()
    await c.get("/console/login")
    r = await c.post("/console/login", {"id": "alice", "password": "correct horse battery staple"})
    assert r.code == 403
    assert "aswnode_console" not in c.cookies


@pytest_twisted.ensureDeferred
async def test_a_post_without_a_session_is_refused(node):
    r = await node.client().post("/console/logout", {"csrf": "x"})
    assert r.code == 403


@pytest_twisted.ensureDeferred
async def test_static_assets_are_served_by_the_node(node):
    c = node.client()
    css = await c.get("/console/static/console.css")
    js = await c.get("/console/static/console.js")
    assert css.code == 200 and css.header("content-type").startswith("text/css") and b"--accent" in css.body
    assert (
        js.code == 200 and js.header("content-type").startswith("text/javascript") and b"data-poll" in js.body
    )
    assert (await c.get("/console/static/../node.yaml")).code in (303, 404)
    assert (await c.get("/console/static/missing.css")).code == 404


@pytest_twisted.ensureDeferred
async def test_an_unknown_page_is_a_404_without_internals(node):
    c = node.client()
    await c.login()
    r = await c.get("/console/messages/999999")
    assert r.code == 404 and "Traceback" not in r.text
    r = await c.get("/console/partners/no-such-partner")
    assert r.code == 404


@pytest_twisted.ensureDeferred
async def test_the_dashboard_charts_count_the_messages_of_each_hour(node):
    for i in range(3):
        seed_message(node, f"m-{i}@nsw-vn")
    seed_message(node, "m-bad@nsw-vn", failed=True)
    c = node.client()
    await c.login()
    page = await c.get("/console/")
    assert "<title>09:00: 3</title>" in page.text  # three sent, one failed, in the 09:00 bar
    assert "<title>09:00: 1 failed</title>" in page.text
    assert "th-nsw</text>" in page.text  # failures by partner
    week = await c.get("/console/?period=7d")
    assert "23/11 09h: 3" in week.text
