"""Message detail: a receipt kept inline in the message's row (no blob file) is shown, not 'missing'."""

from __future__ import annotations

import hashlib

import pytest_twisted
from console_kit import seed_message

from node.store.models import Message


@pytest_twisted.ensureDeferred
async def test_a_receipt_kept_in_the_row_is_shown(node):
    pk = seed_message(node, "m-inline@nsw-vn")
    receipt = b"<eb:Receipt>kept inline &amp; signed</eb:Receipt>"
    digest = hashlib.sha256(receipt).hexdigest()
    with node.ctx.db.session() as s:
        m = s.get(Message, pk)
        m.state, m.receipt_status = "delivered", "valid"
        m.receipt_digest, m.receipt_bytes = digest, receipt
    assert not node.ctx.blobs.exists(digest)
    c = node.client()
    await c.login()
    page = await c.get(f"/console/messages/{pk}")
    assert "stored copy is missing" not in page.text
    assert "&lt;eb:Receipt&gt;kept inline &amp;amp; signed" in page.text
