"""/metrics (Prometheus text, gauges refreshed from the database), /health and /ready."""

from __future__ import annotations

import base64

import pytest_twisted
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from node.metrics import MetricsRefresher
from node.store.models import Message


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def _submit_raw(node) -> str:
    body = {
        "document_type": "raw",
        "partner": "th",
        "payload": base64.b64encode(b"x").decode(),
        "mime_type": "text/plain",
        "service": "urn:test:svc",
        "action": "Go",
    }
    r = await node.call("POST", "/api/v1/submissions", ministry="moit", body=body)
    assert r.code == 202
    return r.json()["message_id"]


@pytest_twisted.ensureDeferred
async def test_metrics_show_messages_by_state_and_partner_and_the_queue_depth(api_node):
    await _submit_raw(api_node)
    delivered = await _submit_raw(api_node)
    refresher = MetricsRefresher(api_node.ctx)
    await refresher.refresh()
    r = await api_node.call("GET", "/metrics", ministry=None)
    assert r.code == 200 and r.header("content-type").startswith("text/plain")
    samples = _samples(r.body.decode())
    key = ("aswnode_messages", (("direction", "outbound"), ("partner", "th"), ("state", "pending")))
    assert samples[key] == 2
    assert samples[("aswnode_outbound_queue_depth", (("partner", "th"),))] == 2

    api_node.clock.advance(seconds=3)
    with api_node.ctx.db.session() as s:
        message = s.scalar(select(Message).where(Message.message_id == delivered))
        message.state, message.attempts, message.delivered_at = "delivered", 3, api_node.clock()
        other = s.scalar(select(Message).where(Message.message_id != delivered))
        other.receipt_status = "invalid"  # what the sender records for a receipt that did not verify
    await refresher.refresh()
    samples = _samples((await api_node.call("GET", "/metrics", ministry=None)).body.decode())
    assert samples[("aswnode_outbound_queue_depth", (("partner", "th"),))] == 1
    delivered = ("aswnode_messages", (("direction", "outbound"), ("partner", "th"), ("state", "delivered")))
    assert samples[delivered] == 1  # from the refresh's window of deliveries, before any recount
    assert samples[("aswnode_outbound_retries", (("partner", "th"),))] == 2
    assert samples[("aswnode_receipt_failures", (("partner", "th"),))] == 1
    assert samples[("aswnode_send_latency_seconds_count", (("partner", "th"),))] == 1
    assert samples[("aswnode_send_latency_seconds_sum", (("partner", "th"),))] == 3
    await refresher.refresh()  # a delivered message is observed once
    samples = _samples((await api_node.call("GET", "/metrics", ministry=None)).body.decode())
    assert samples[("aswnode_send_latency_seconds_count", (("partner", "th"),))] == 1
    api_node.clock.advance(seconds=refresher.history_interval)
    await refresher.refresh()  # the settled history counted in full again: the same figures
    samples = _samples((await api_node.call("GET", "/metrics", ministry=None)).body.decode())
    assert samples[delivered] == 1 and samples[("aswnode_outbound_retries", (("partner", "th"),))] == 2
    assert samples[("aswnode_send_latency_seconds_count", (("partner", "th"),))] == 1


@pytest_twisted.ensureDeferred
async def test_health_answers_up_and_ready_checks_the_database_and_keys(api_node):
    health = await api_node.call("GET", "/health", ministry=None)
    assert health.code == 200 and health.json() == {"status": "up"}
    ready = await api_node.call("GET", "/ready", ministry=None)
    assert ready.code == 200
    assert ready.json() == {"status": "ready", "checks": {"keys": "ok", "database": "ok"}}


@pytest_twisted.ensureDeferred
async def test_ready_is_503_when_the_database_cannot_be_reached(api_node, tmp_path):
    from sqlalchemy import create_engine

    db = api_node.ctx.db
    url = db.read_engine.url
    if url.get_backend_name() == "sqlite":
        gone = url.set(database=str(tmp_path / "no-such-directory" / "node.db"))
    else:
        gone = url.set(port=9)  # nothing listens on the discard port
    db.read_engine = create_engine(gone)
    db._read_sessions.configure(bind=db.read_engine)
    ready = await api_node.call("GET", "/ready", ministry=None)
    assert ready.code == 503 and ready.json()["status"] == "not ready"
    assert ready.json()["checks"]["database"].startswith("unreachable")
    assert ready.json()["checks"]["keys"] == "ok"
