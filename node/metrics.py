"""Prometheus metrics of the node: messages and queue depth from the DB, send latency, retries, failures.

Gauges are computed from the database every `interval` seconds in a worker thread
(never per scrape, never on the reactor); a scrape only renders what is in memory.
The send latency histogram observes each message the refresher sees delivered
(submission to verified receipt). The webhook attempts counter is incremented by
node.delivery through `for_registry`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from twisted.internet import defer, task
from twisted.logger import Logger

from node.store.models import Delivery, Direction, Message, MessageState

__all__ = ["MetricsRefresher", "NodeMetrics", "Snapshot", "for_registry", "take_snapshot"]

_log = Logger()
RECEIPT_INVALID = "invalid"  # messages.receipt_status the sender records for a receipt that did not verify
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400)
_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, NodeMetrics] = weakref.WeakKeyDictionary()


class NodeMetrics:
    """The node's metric families, registered once on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Gauge(
            "aswnode_messages",
            "Messages in the database by direction, state and partner",
            ["direction", "state", "partner"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "aswnode_outbound_queue_depth",
            "Outbound messages waiting to be sent (pending or sending)",
            ["partner"],
            registry=registry,
        )
        self.retries = Gauge(
            "aswnode_outbound_retries",
            "Send attempts beyond the first, over the outbound messages kept",
            ["partner"],
            registry=registry,
        )
        self.deliveries = Gauge(
            "aswnode_deliveries",
            "Inbound documents for ministries by ministry and delivery state",
            ["ministry", "state"],
            registry=registry,
        )
        self.send_latency = Histogram(
            "aswnode_send_latency_seconds",
            "From submission to verified receipt, per delivered message",
            ["partner"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.receipt_failures = Gauge(
            "aswnode_receipt_failures",
            "Outbound messages whose last receipt did not verify (signature, reference, digests)",
            ["partner"],
            registry=registry,
        )
        self.webhook_attempts = Counter(
            "aswnode_webhook_attempts",
            "Webhook deliveries to ministries by outcome",
            ["ministry", "outcome"],
            registry=registry,
        )
        self.refreshed = Gauge(
            "aswnode_metrics_refreshed_timestamp_seconds",
            "When the database gauges were last refreshed",
            registry=registry,
        )

    def webhook_attempt(self, ministry: str, ok: bool) -> None:
        self.webhook_attempts.labels(ministry, "ok" if ok else "failed").inc()

    def apply(self, snapshot: Snapshot, at: datetime) -> None:
        """Replace the gauges with `snapshot` (labels that disappeared are removed) and observe latencies."""
        for gauge, rows in (
            (self.messages, snapshot.messages),
            (self.queue_depth, snapshot.queue_depth),
            (self.retries, snapshot.retries),
            (self.receipt_failures, snapshot.receipt_failures),
            (self.deliveries, snapshot.deliveries),
        ):
            gauge.clear()
            for labels, value in rows:
                gauge.labels(*labels).set(value)
        for partner, seconds in snapshot.latencies:
            self.send_latency.labels(partner).observe(max(0.0, seconds))
        self.refreshed.set(at.timestamp())


def for_registry(registry: CollectorRegistry) -> NodeMetrics:
    """The NodeMetrics of `registry` (ctx.metrics), made on first use."""
    metrics = _by_registry.get(registry)
    if metrics is None:
        metrics = NodeMetrics(registry)
        _by_registry[registry] = metrics
    return metrics


@dataclass(frozen=True, slots=True)
class Snapshot:
    messages: tuple[tuple[tuple[str, str, str], float], ...]
    queue_depth: tuple[tuple[tuple[str], float], ...]
    retries: tuple[tuple[tuple[str], float], ...]
    receipt_failures: tuple[tuple[tuple[str], float], ...]
    deliveries: tuple[tuple[tuple[str, str], float], ...]
    latencies: tuple[tuple[str, float], ...]
    delivered_until: datetime | None


def take_snapshot(session: Session, delivered_since: datetime | None, limit: int = 10_000) -> Snapshot:
    """The aggregate queries, and the latency of each message delivered after `delivered_since`."""
    messages = tuple(
        ((d, s, p), float(n))
        for d, s, p, n in session.execute(
            select(Message.direction, Message.state, Message.partner_id, func.count()).group_by(
                Message.direction, Message.state, Message.partner_id
            )
        )
    )
    waiting = (MessageState.PENDING.value, MessageState.SENDING.value)
    queue = tuple(
        (
            (p,),
            float(
                sum(
                    n
                    for (d, s, pp), n in messages
                    if d == Direction.OUTBOUND.value and s in waiting and pp == p
                )
            ),
        )
        for p in sorted({p for (d, _s, p), _n in messages if d == Direction.OUTBOUND.value})
    )
    retries = tuple(
        ((p,), float(n or 0))
        for p, n in session.execute(
            select(Message.partner_id, func.sum(Message.attempts - 1))
            .where(Message.direction == Direction.OUTBOUND.value, Message.attempts > 1)
            .group_by(Message.partner_id)
        )
    )
    receipt_failures = tuple(
        ((p,), float(n))
        for p, n in session.execute(
            select(Message.partner_id, func.count())
            .where(Message.direction == Direction.OUTBOUND.value, Message.receipt_status == RECEIPT_INVALID)
            .group_by(Message.partner_id)
        )
    )
    deliveries = tuple(
        ((m, s), float(n))
        for m, s, n in session.execute(
            select(Delivery.ministry, Delivery.state, func.count()).group_by(
                Delivery.ministry, Delivery.state
            )
        )
    )
    latencies: list[tuple[str, float]] = []
    until = delivered_since
    if delivered_since is not None:
        for partner, created, delivered in session.execute(
            select(Message.partner_id, Message.created_at, Message.delivered_at)
            .where(
                Message.direction == Direction.OUTBOUND.value,
                Message.delivered_at.is_not(None),
                Message.delivered_at > delivered_since,
            )
            .order_by(Message.delivered_at)
            .limit(limit)
        ):
            latencies.append((partner, (delivered - created).total_seconds()))
            until = delivered
    return Snapshot(messages, queue, retries, receipt_failures, deliveries, tuple(latencies), until)


class MetricsRefresher:
    """Refreshes the DB-derived metrics every `interval` seconds (DB work in the read pool)."""

    def __init__(self, ctx: Any, *, interval: float = 15.0) -> None:
        self.ctx = ctx
        self.metrics = for_registry(ctx.metrics)
        self.interval = interval
        self._since: datetime | None = ctx.clock()
        self._loop: task.LoopingCall | None = None

    def start(self) -> None:
        self._loop = task.LoopingCall(self.refresh)
        self._loop.clock = self.ctx.reactor
        self._loop.start(self.interval, now=True).addErrback(
            lambda f: _log.failure("metrics loop stopped", f)
        )

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def refresh(self) -> defer.Deferred[None]:
        d = self.ctx.db.read(take_snapshot, self._since)

        def apply(snapshot: Snapshot) -> None:
            self._since = snapshot.delivered_until or self._since
            self.metrics.apply(snapshot, self.ctx.clock())

        d.addCallback(apply)
        d.addErrback(lambda f: _log.failure("metrics refresh failed", f))
        return d
