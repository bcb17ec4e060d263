"""Message pages: search by id, partner, state, date, document type; detail; audited resend of a failure."""

from __future__ import annotations

import pytest_twisted
from console_kit import seed_message
from sqlalchemy import select

from node.store.models import AuditRecord, Message


@pytest_twisted.ensureDeferred
async def test_search_filters_by_id_partner_state_and_document_type(node):
    seed_message(node, "eco-1@nsw-vn", partner="th-nsw", document_type="eco")
    seed_message(node, "phyto-2@nsw-vn", partner="my-nsw", document_type="ephyto", failed=True)
    c = node.client()
    await c.login()
    everything = await c.get("/console/messages")
    assert "eco-1@nsw-vn" in everything.text and "phyto-2@nsw-vn" in everything.text
    for query, shown, hidden in (
        ("id=eco-1", "eco-1@nsw-vn", "phyto-2@nsw-vn"),
        ("partner=my-nsw", "phyto-2@nsw-vn", "eco-1@nsw-vn"),
        ("state=failed", "phyto-2@nsw-vn", "eco-1@nsw-vn"),
        ("document_type=eco", "eco-1@nsw-vn", "phyto-2@nsw-vn"),
        ("since=2026-11-23&until=2026-11-23", "eco-1@nsw-vn", "no such"),
    ):
        page = await c.get(f"/console/messages?{query}")
        assert shown in page.text and hidden not in page.text, query
    page = await c.get("/console/messages?since=2026-11-24")
    assert "eco-1@nsw-vn" not in page.text and "No message." in page.text


@pytest_twisted.ensureDeferred
async def test_a_message_id_with_markup_is_shown_escaped(node):
    pk = seed_message(node, "<script>alert(1)</script>@x", failed=True)
    c = node.client()
    await c.login()
    page = await c.get(f"/console/messages/{pk}")
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text


@pytest_twisted.ensureDeferred
async def test_the_detail_shows_the_error_and_attempts_and_resend_requeues_and_audits(node):
    pk = seed_message(node, "m-fail@nsw-vn", failed=True)
    c = node.client()
    await c.login()
    page = await c.get(f"/console/messages/{pk}")
    assert "HTTP 503 from the partner" in page.text and 'id="resend"' in page.text
    r = await c.post(f"/console/messages/{pk}/resend", {"csrf": page.csrf()})
    assert r.code == 303
    page = await c.get(f"/console/messages/{pk}")
    assert "Queued again" in page.text and 'id="message-state">pending<' in page.text
    with node.ctx.db.read_session() as s:
        assert s.get(Message, pk).state == "pending"
        record = s.scalars(select(AuditRecord).where(AuditRecord.action == "message.resend")).one()
        assert (record.actor, record.subject, record.form, record.status) == (
            "operator:alice",
            "message:m-fail@nsw-vn",
            "console",
            "ok",
        )
    r = await c.post(f"/console/messages/{pk}/resend", {"csrf": page.csrf()})
    assert r.code == 409  # only a failed message is resent


@pytest_twisted.ensureDeferred
async def test_the_stored_receipt_is_shown(node):
    pk = seed_message(node, "m-ok@nsw-vn")
    ref = node.ctx.blobs.put([b"<eb:Receipt>signed &amp; sealed</eb:Receipt>"])
    with node.ctx.db.session() as s:
        m = s.get(Message, pk)
        m.state, m.receipt_digest, m.receipt_status = "delivered", ref.digest, "valid"
    c = node.client()
    await c.login()
    page = await c.get(f"/console/messages/{pk}")
    assert "&lt;eb:Receipt&gt;signed &amp;amp; sealed" in page.text
    assert 'id="resend"' not in page.text


@pytest_twisted.ensureDeferred
async def test_a_count_past_the_cap_says_more_than(node, monkeypatch):
    from node.store import message_queries

    monkeypatch.setattr(message_queries, "COUNT_CAP", 2)
    for i in range(4):
        seed_message(node, f"many-{i}@nsw-vn")
    c = node.client()
    await c.login()
    page = await c.get("/console/messages")
    assert "more than 2 messages" in page.text, page.text
    page = await c.get("/console/messages?id=many-1")
    assert "1 message." in page.text
