"""Helpers the console tests import by name (conftest modules share one name and cannot be imported)."""

from __future__ import annotations

from typing import Any


def seed_message(
    node: Any, message_id: str, *, partner: str = "th-nsw", failed: bool = False, **kw: Any
) -> int:
    """An outbound message in the real database, `failed` after one attempt when asked."""
    from node.store.messages import create_outbound, mark_failed
    from node.store.models import Message

    now = node.clock()
    with node.ctx.db.session() as s:
        m = create_outbound(
            s,
            partner_id=partner,
            message_id=message_id,
            service="svc",
            action="act",
            payloads=(),
            now=now,
            **kw,
        )
        if failed:
            queued = s.get(Message, m.id)
            assert queued is not None
            queued.state, queued.attempts = "sending", 1  # as the sender's claim leaves it
            s.flush()
            assert mark_failed(s, m.id, claimer=None, error="HTTP 503 from the partner", now=now)
        return m.id
