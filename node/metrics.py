"""Prometheus metrics of the node: messages and queue depth from the DB, send latency, retries, failures.

A refresh (every `interval` seconds, in a worker thread; never per scrape, never on the reactor) reads
what is open and what changed since the last refresh, never the whole history:

- open work, counted afresh through an index on its state: outbound messages pending, sending or
  failed (from the index alone: the failed ones kept are spread over the whole table), the retries of
  those waiting; deliveries to ministries pending or failed; receipts that did not verify;
- the recent windows: messages delivered since the last refresh (`delivered_at`) and messages created
  since (`created_at`). The latency histogram observes each delivery once, and the settled totals
  (outbound delivered, inbound) grow by what the windows bring;
- the settled totals themselves, the retries of failed messages and the settled deliveries are
  counted over the whole history at the first refresh and then every `history_interval` (an hour):
  that recount also corrects what a window cannot see (a row committed with a time the window had
  already passed; a failed message resent, or delivered by a late receipt, in the meantime).

The gauges read from the database are cluster-wide: every node on one PostgreSQL reports the same
figures (aggregate them with max, not sum). The webhook attempts counter (incremented by
node.delivery through `for_registry`) and the refresh timestamp are per process.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session
from twisted.internet import defer, task
from twisted.logger import Logger

from node.store.models import Delivery, DeliveryState, Direction, Message, MessageState

__all__ = ["History", "MetricsRefresher", "NodeMetrics", "Snapshot", "for_registry", "take_snapshot"]

_log = Logger()
RECEIPT_INVALID = "invalid"  # messages.receipt_status the sender records for a receipt that did not verify
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400)
HISTORY_INTERVAL = 3600.0
# Outbound states counted afresh at every refresh; every other message is settled history. The retries
# of the waiting ones are summed afresh too; those of the failed ones with the history.
OPEN_STATES = (MessageState.PENDING.value, MessageState.SENDING.value, MessageState.FAILED.value)
WAITING_STATES = (MessageState.PENDING.value, MessageState.SENDING.value)
OPEN_DELIVERIES = (DeliveryState.PENDING.value, DeliveryState.FAILED.value)
OUTBOUND = Direction.OUTBOUND.value
_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, NodeMetrics] = weakref.WeakKeyDictionary()

K = TypeVar("K", bound=Hashable)
MessageKey = tuple[str, str, str]  # direction, state, partner
DeliveryKey = tuple[str, str]  # ministry, state


class NodeMetrics:
    """The node's metric families, registered once on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Gauge(
            "aswnode_messages",
            "Messages in the database by direction, state and partner (cluster-wide). Outbound pending,"
            " sending and failed are counted at every refresh; delivered and inbound are counted in full"
            " hourly and grow in between by the messages each refresh sees delivered or created",
            ["direction", "state", "partner"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "aswnode_outbound_queue_depth",
            "Outbound messages waiting to be sent (pending or sending; cluster-wide, at every refresh)",
            ["partner"],
            registry=registry,
        )
        self.retries = Gauge(
            "aswnode_outbound_retries",
            "Send attempts beyond the first, over the outbound messages kept (cluster-wide; those of messages"
            " waiting at every refresh, of delivered and failed ones counted in full hourly and grown in"
            " between by the messages each refresh sees delivered)",
            ["partner"],
            registry=registry,
        )
        self.deliveries = Gauge(
            "aswnode_deliveries",
            "Inbound documents for ministries by ministry and delivery state (cluster-wide; pending and"
            " failed at every refresh, delivered and acked counted hourly)",
            ["ministry", "state"],
            registry=registry,
        )
        self.send_latency = Histogram(
            "aswnode_send_latency_seconds",
            "From submission to verified receipt, per delivered message: each node observes every delivery"
            " in the database once, from its start (cluster-wide: do not sum over nodes)",
            ["partner"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.receipt_failures = Gauge(
            "aswnode_receipt_failures",
            "Outbound messages whose last receipt did not verify (signature, reference, digests;"
            " cluster-wide, at every refresh)",
            ["partner"],
            registry=registry,
        )
        self.webhook_attempts = Counter(
            "aswnode_webhook_attempts",
            "Webhook deliveries to ministries by outcome (per process: this node's calls; sum over nodes)",
            ["ministry", "outcome"],
            registry=registry,
        )
        self.refreshed = Gauge(
            "aswnode_metrics_refreshed_timestamp_seconds",
            "When this process last refreshed the database gauges",
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
class History:
    """The settled totals (outbound delivered, inbound, settled deliveries) and how far the windows read.

    `retries` are the send attempts beyond the first of the settled outbound messages, by partner.
    A message delivered after `delivered_until`, or inbound and created after `created_until`, is not
    in the totals yet: the next window adds it.
    """

    messages: Mapping[MessageKey, int]
    retries: Mapping[str, int]
    deliveries: Mapping[DeliveryKey, int]
    delivered_until: datetime | None
    created_until: datetime | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    messages: tuple[tuple[MessageKey, float], ...]
    queue_depth: tuple[tuple[tuple[str], float], ...]
    retries: tuple[tuple[tuple[str], float], ...]
    receipt_failures: tuple[tuple[tuple[str], float], ...]
    deliveries: tuple[tuple[DeliveryKey, float], ...]
    latencies: tuple[tuple[str, float], ...]
    history: History


def take_snapshot(
    session: Session, history: History | None, recount: bool = False, limit: int = 10_000
) -> Snapshot:
    """The open work, the windows since `history` (None: start them now) and, if `recount`, the
    settled totals counted afresh; each window reads at most `limit` rows (the rest next time)."""
    if history is None:
        history = History(
            {},
            {},
            {},
            session.scalar(select(func.max(Message.delivered_at))),
            session.scalar(select(func.max(Message.created_at))),
        )
        recount = True
    messages, retries = dict(history.messages), dict(history.retries)
    latencies: list[tuple[str, float]] = []
    delivered_until = history.delivered_until
    for direction, state, partner, created, delivered, attempts in session.execute(
        select(
            Message.direction,
            Message.state,
            Message.partner_id,
            Message.created_at,
            Message.delivered_at,
            Message.attempts,
        )
        # No direction condition: only the sender sets delivered_at (outbound), and with one SQLite
        # would read the direction index (half the history) instead of this one.
        .where(_after(Message.delivered_at, delivered_until))
        .order_by(Message.delivered_at)
        .limit(limit)
    ):
        latencies.append((partner, (delivered - created).total_seconds()))
        delivered_until = delivered
        if direction == OUTBOUND and _settled(direction, state):
            _add(messages, (direction, state, partner), 1)
            _add(retries, partner, max(0, attempts - 1))
    created_until = history.created_until
    for direction, state, partner, created in session.execute(
        select(Message.direction, Message.state, Message.partner_id, Message.created_at)
        .where(_after(Message.created_at, created_until))
        .order_by(Message.created_at)
        .limit(limit)
    ):
        created_until = created
        if direction != OUTBOUND:
            _add(messages, (direction, state, partner), 1)
    if recount:
        history = _count_history(session, delivered_until, created_until)
    else:
        history = History(messages, retries, history.deliveries, delivered_until, created_until)
    return _with_open_work(session, history, tuple(latencies))


def _after(column: Any, until: datetime | None) -> ColumnElement[bool]:
    return column.is_not(None) if until is None else column > until


def _settled(direction: str, state: str) -> bool:
    return direction != OUTBOUND or state not in OPEN_STATES


def _add(totals: dict[K, int], key: K, n: int) -> None:
    totals[key] = totals.get(key, 0) + n


def _count_history(
    session: Session, delivered_until: datetime | None, created_until: datetime | None
) -> History:
    """The settled totals over the whole history (O(history): rare), up to where the windows have read.

    In the refresh's read transaction (one snapshot): what the windows have not read yet is taken off,
    for the next windows to add.
    """
    messages: dict[MessageKey, int] = {}
    for direction, state, partner, n in session.execute(
        select(Message.direction, Message.state, Message.partner_id, func.count()).group_by(
            Message.direction, Message.state, Message.partner_id
        )
    ):
        if _settled(direction, state):
            messages[(direction, state, partner)] = n
    retries: dict[str, int] = {}
    # No index holds attempts: one pass over the table, summed here (with a GROUP BY, SQLite walks an
    # index in its order and fetches each row apart: 5 s instead of 0.5 s at 2 M messages).
    for direction, state, partner, attempts in session.execute(
        select(Message.direction, Message.state, Message.partner_id, Message.attempts).where(
            Message.attempts > 1
        )
    ):
        if direction == OUTBOUND and state not in WAITING_STATES:
            _add(retries, partner, attempts - 1)
    for direction, state, partner, attempts in session.execute(
        select(Message.direction, Message.state, Message.partner_id, Message.attempts).where(
            _after(Message.delivered_at, delivered_until)
        )
    ):
        if direction == OUTBOUND and _settled(direction, state):
            _add(messages, (direction, state, partner), -1)
            _add(retries, partner, -max(0, attempts - 1))
    for direction, state, partner in session.execute(
        select(Message.direction, Message.state, Message.partner_id).where(
            _after(Message.created_at, created_until)
        )
    ):
        if direction != OUTBOUND:
            _add(messages, (direction, state, partner), -1)
    deliveries = {
        (ministry, state): n
        for ministry, state, n in session.execute(
            select(Delivery.ministry, Delivery.state, func.count())
            .where(Delivery.state.not_in(OPEN_DELIVERIES))
            .group_by(Delivery.ministry, Delivery.state)
        )
    }
    return History(messages, retries, deliveries, delivered_until, created_until)


def _with_open_work(session: Session, history: History, latencies: tuple[tuple[str, float], ...]) -> Snapshot:
    """The open work counted afresh (each through an index on its state), added to the settled totals."""
    messages = dict(history.messages)
    retries = dict(history.retries)
    # Counted from the index alone: the failed messages kept are spread over the whole history.
    for state, partner, n in session.execute(
        select(Message.state, Message.partner_id, func.count())
        .where(Message.direction == OUTBOUND, Message.state.in_(OPEN_STATES))
        .group_by(Message.state, Message.partner_id)
    ):
        messages[(OUTBOUND, state, partner)] = n
    for partner, retried in session.execute(
        select(Message.partner_id, func.sum(Message.attempts - 1))
        .where(Message.direction == OUTBOUND, Message.state.in_(WAITING_STATES), Message.attempts > 1)
        .group_by(Message.partner_id)
    ):
        _add(retries, partner, retried)
    # Only the sender records an invalid receipt (inbound messages record the receipt they sent).
    receipt_failures = session.execute(
        select(Message.partner_id, func.count())
        .where(Message.receipt_status == RECEIPT_INVALID)
        .group_by(Message.partner_id)
    )
    deliveries = dict(history.deliveries)
    # By named ministries, (ministry, state, id) holds all this reads (by state, each row is fetched).
    for ministry, state, n in session.execute(
        select(Delivery.ministry, Delivery.state, func.count())
        .where(Delivery.ministry.in_(_ministries(session)), Delivery.state.in_(OPEN_DELIVERIES))
        .group_by(Delivery.ministry, Delivery.state)
    ):
        deliveries[(ministry, state)] = n
    partners = sorted({p for (d, _s, p) in messages if d == OUTBOUND})
    queue = {p: sum(messages.get((OUTBOUND, s, p), 0) for s in WAITING_STATES) for p in partners}
    return Snapshot(
        _rows(messages),
        _rows({(p,): n for p, n in queue.items()}),
        _rows({(p,): n for p, n in retries.items() if n > 0}),
        _rows({(p,): n for p, n in receipt_failures}),
        _rows(deliveries),
        latencies,
        history,
    )


def _ministries(session: Session) -> list[str]:
    """The ministries with deliveries, one index seek each (a DISTINCT would read every delivery)."""
    found: list[str] = []
    ministry = session.scalar(select(func.min(Delivery.ministry)))
    while ministry is not None:
        found.append(ministry)
        ministry = session.scalar(select(func.min(Delivery.ministry)).where(Delivery.ministry > ministry))
    return found


def _rows(totals: Mapping[K, int]) -> tuple[tuple[K, float], ...]:
    return tuple((key, float(n)) for key, n in sorted(totals.items(), key=lambda kv: repr(kv[0])))


class MetricsRefresher:
    """Refreshes the DB-derived metrics every `interval` seconds (DB work in the read pool); the settled
    totals are counted in full at the first refresh and every `history_interval` seconds."""

    def __init__(
        self, ctx: Any, *, interval: float = 15.0, history_interval: float = HISTORY_INTERVAL
    ) -> None:
        self.ctx = ctx
        self.metrics = for_registry(ctx.metrics)
        self.interval = interval
        self.history_interval = history_interval
        self._history: History | None = None
        self._counted_at: datetime | None = None
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
        now = self.ctx.clock()
        recount = (
            self._counted_at is None or (now - self._counted_at).total_seconds() >= self.history_interval
        )
        d = self.ctx.db.read(take_snapshot, self._history, recount)

        def apply(snapshot: Snapshot) -> None:
            self._history = snapshot.history
            if recount:
                self._counted_at = now
            self.metrics.apply(snapshot, self.ctx.clock())

        d.addCallback(apply)
        d.addErrback(lambda f: _log.failure("metrics refresh failed", f))
        return d
