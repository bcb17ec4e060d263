"""The console's reads and writes on PostgreSQL: dashboard figures, search, resend, audit verification."""

from __future__ import annotations

import pytest
import pytest_twisted
from console_kit import seed_message

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


@pytest_twisted.ensureDeferred
async def test_dashboard_search_resend_and_audit_work_on_postgresql(node):
    assert node.ctx.db.dialect == "postgresql"
    for i in range(2):
        seed_message(node, f"eco-{i}@nsw-vn", partner="th-nsw", document_type="eco")
    pk = seed_message(node, "bad@nsw-vn", partner="my-nsw", failed=True)
    c = node.client()
    await c.login()
    dashboard = await c.get("/console/")
    assert dashboard.code == 200
    assert "<title>09:00: 2</title>" in dashboard.text and "my-nsw</text>" in dashboard.text
    found = await c.get("/console/messages?id=eco-&document_type=eco")
    assert "eco-0@nsw-vn" in found.text and "eco-1@nsw-vn" in found.text and "bad@nsw-vn" not in found.text
    page = await c.get(f"/console/messages/{pk}")
    assert (await c.post(f"/console/messages/{pk}/resend", {"csrf": page.csrf()})).code == 303
    audit = await c.get("/console/audit?action=message.resend")
    assert "message:bad@nsw-vn" in audit.text and "The hash chain holds" in audit.text
