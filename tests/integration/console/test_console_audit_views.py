"""The audit page: filtering, the export, and the verdict on the hash chain (also when it is broken)."""

from __future__ import annotations

import json

import pytest_twisted
from sqlalchemy import update

from node.store.models import AuditRecord


@pytest_twisted.ensureDeferred
async def test_the_audit_page_filters_and_says_the_chain_holds(node):
    await node.client().login(password="a wrong password")
    c = node.client()
    await c.login()
    page = await c.get("/console/audit")
    assert 'id="chain-status">The hash chain holds' in page.text
    assert "console.login" in page.text
    only_refused = await c.get("/console/audit?actor=anonymous")
    assert "anonymous@127.0.0.1" in only_refused.text and "<td>operator:alice</td>" not in only_refused.text


@pytest_twisted.ensureDeferred
async def test_the_export_is_json_lines_in_chain_order_and_is_itself_audited(node):
    c = node.client()
    await c.login()
    r = await c.get("/console/audit/export")
    assert r.code == 200 and r.header("content-type").startswith("application/x-ndjson")
    assert "attachment" in r.header("content-disposition")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [e["seq"] for e in lines] == sorted(e["seq"] for e in lines)
    assert lines[-1]["action"] == "console.login" and lines[-1]["actor"] == "operator:alice"
    page = await c.get("/console/audit?action=audit.export")
    assert "audit.export" in page.text


@pytest_twisted.ensureDeferred
async def test_a_tampered_record_is_reported_on_the_page(node):
    c = node.client()
    await c.login()
    with node.ctx.db.session() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 1).values(actor="operator:mallory"))
    page = await c.get("/console/audit")
    assert 'class="flash flash-error" id="chain-status">The hash chain is broken: audit record 1' in page.text
