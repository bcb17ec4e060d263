"""Inbound delivery to ministries: route received documents, push them by signed webhook, serve pull.

Received business messages are routed to the ministries that handle their document
type (or a configured service/action route) as `deliveries` rows: in the transaction that
stores them (node.inbound, `route_on_arrival`), or by the sweep (`route_received`) for a
business answer and anything stored unrouted. A ministry with a
webhook gets each one POSTed, signed (`X-ASW-Signature`, node.api.signature), and
retried with exponential backoff until it answers 2xx; the schedule lives in the
database, so a restart loses nothing. Every ministry can also pull its inbox
(node.api) and acknowledge. Test-service messages are never delivered. A business
answer to one of our submissions also moves that submission's status.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from twisted.internet import defer, task, threads
from twisted.logger import Logger
from twisted.python.failure import Failure

from node.api.ministries import Ministry, MinistryRegistry
from node.api.signature import SIGNATURE_HEADER, sign
from node.collaborations import Collaborations
from node.context import NodeContext
from node.store.models import Delivery, DeliveryState, Direction, Message, MessageState, Submission
from node.store.payloads import PAYLOADS_WITH_DATA
from node.submissions import ANSWER_STATUS_OF, answer_to_json, document_type_for, profile_for

__all__ = [
    "ANSWER_EVENT",
    "DOCUMENT_EVENT",
    "INLINE_PAYLOAD_LIMIT",
    "NOT_ROUTED",
    "ArrivalRoute",
    "DeliveryService",
    "Retry",
    "describe",
    "record_arrival_route",
    "route_on_arrival",
    "route_received",
    "summary",
]

_log = Logger()
NOT_ROUTED = "-"  # messages.ministry for a received message no ministry handles (or a test message)
DELIVERY_EXTRA = "node.delivery"  # NodeContext.extras: the node's DeliveryService (node.api.attach)
INLINE_PAYLOAD_LIMIT = 16 * 1024 * 1024
ROUTE_BATCH = 200
DOCUMENT_EVENT = "document.received"  # a certificate or raw document for the ministry
ANSWER_EVENT = "answer.received"  # the partner's business answer to one of the ministry's submissions
# The sweep looks only above the highest sequence it routed, less this margin (a message committed
# late by a slower transaction has a lower sequence), and looks at everything every FULL_SWEEP_EVERY rounds.
SEQUENCE_MARGIN = 1000
FULL_SWEEP_EVERY = 300
MAX_TREATY_BYTES = 64 * 1024 * 1024
_INSERT_DELIVERY = insert(Delivery.__table__)


@dataclass(frozen=True, slots=True)
class Retry:
    """Exponential backoff: `first` seconds, doubled each attempt, never more than `cap`."""

    first: float = 5.0
    cap: float = 3600.0

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.cap:
            raise ValueError("backoff needs 0 < first <= cap")

    def delay(self, attempts: int) -> float:
        return min(self.cap, self.first * 2 ** max(0, attempts - 1))


# -- routing (worker thread, one transaction) --------------------------------------------------------


def _document_type(ctx: NodeContext, message: Message) -> str:
    """Stored, or recognised by the sending partner's collaborations (its P-Mode, else the defaults)."""
    if message.document_type:
        return message.document_type
    partner = ctx.partners.by_id(message.partner_id)
    if partner is None:
        return document_type_for(message.service, message.action) or "raw"
    return document_type_for(message.service, message.action, partner.collaborations) or "raw"


def _is_test(message: Message) -> bool:
    from protocols.as4.namespaces import TEST_ACTION, TEST_SERVICE

    return bool(message.is_test) or (message.service == TEST_SERVICE and message.action == TEST_ACTION)


@dataclass(frozen=True, slots=True)
class ArrivalRoute:
    """Where a received message goes, decided as it is stored: its document type and its ministries."""

    document_type: str
    receivers: tuple[Ministry, ...]

    @property
    def ministry(self) -> str:
        """messages.ministry: the first receiver, or NOT_ROUTED."""
        return self.receivers[0].id if self.receivers else NOT_ROUTED


def route_on_arrival(
    ctx: NodeContext, collaborations: Collaborations, service: str, action: str
) -> ArrivalRoute | None:
    """The route of a business message being stored, or None to leave it to the sweep (route_received).

    The sweep keeps what needs more than the (service, action): a business answer, whose payload
    says which submission it answers. A node without a delivery service routes nothing.
    """
    delivery = ctx.extras.get(DELIVERY_EXTRA)
    if delivery is None:
        return None
    document_type = document_type_for(service, action, collaborations) or "raw"
    if document_type == "answer":
        return None
    return ArrivalRoute(document_type, delivery.ministries.receivers(document_type, service, action))


def record_arrival_route(
    session: Session,
    ctx: NodeContext,
    route: ArrivalRoute,
    *,
    message_pk: int,
    message_id: str,
    partner_id: str,
    now: datetime,
) -> None:
    """The deliveries and the `delivery.route` record of a message stored with `route`, in its transaction."""
    _add_deliveries(session, message_pk, route.document_type, route.receivers, now)
    _audit_route(session, ctx, message_id, partner_id, route.document_type, route.receivers, at=now)


def _add_deliveries(
    session: Session, message_pk: int, document_type: str, receivers: tuple[Ministry, ...], now: datetime
) -> None:
    if not receivers:
        return
    session.connection().execute(
        _INSERT_DELIVERY,
        [
            {
                "message_pk": message_pk,
                "ministry": ministry.id,
                "document_type": document_type,
                "state": DeliveryState.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now if ministry.webhook_url else None,
                "created_at": now,
                "updated_at": now,
            }
            for ministry in receivers
        ],
    )


def _audit_route(
    session: Session,
    ctx: NodeContext,
    message_id: str,
    partner_id: str,
    document_type: str,
    receivers: tuple[Ministry, ...],
    *,
    at: datetime | None = None,
) -> None:
    ctx.audit.append(
        session,
        actor="system:delivery",
        action="delivery.route",
        subject=f"message:{message_id}",
        detail={
            "partner": partner_id,
            "document_type": document_type,
            "ministries": [m.id for m in receivers],
        },
        status="routed" if receivers else "no-ministry",
        form="scheduler",
        at=at,
    )


def route_received(
    session: Session,
    ctx: NodeContext,
    ministries: MinistryRegistry,
    now: datetime,
    *,
    after: int = 0,
    limit: int = ROUTE_BATCH,
) -> tuple[int, int]:
    """Give each received, not yet routed inbound message (sequence above `after`) its deliveries.

    Returns how many were routed and the highest sequence seen (`after` when none).
    """
    query = (
        select(Message)
        .where(
            Message.direction == Direction.INBOUND.value,
            Message.state == MessageState.RECEIVED.value,
            Message.ministry.is_(None),
            Message.id > after,
        )
        .order_by(Message.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    routed, highest = 0, after
    for message in session.scalars(query):
        routed += 1
        highest = max(highest, message.id)
        if _is_test(message):
            message.ministry = NOT_ROUTED
            continue
        document_type = _document_type(ctx, message)
        receivers: tuple[Ministry, ...]
        answered = _apply_business_answer(session, ctx, message, now) if document_type == "answer" else None
        if answered is not None:
            receivers = tuple(m for m in (ministries.by_id(answered),) if m is not None)
        else:
            receivers = ministries.receivers(document_type, message.service, message.action)
        message.ministry = receivers[0].id if receivers else NOT_ROUTED
        message.document_type = document_type
        _add_deliveries(session, message.id, document_type, receivers, now)
        _audit_route(session, ctx, message.message_id, message.partner_id, document_type, receivers)
    return routed, highest


def _apply_business_answer(session: Session, ctx: NodeContext, message: Message, now: datetime) -> str | None:
    """An accepted / not accepted / amendment requested / processed answer moves our submission's status."""
    answer = _read_answer(ctx, message)
    if answer is None:
        return None
    status, reference, detail = answer
    original = None
    for ref in (message.ref_to_message_id, reference):
        if ref:
            original = session.scalar(
                select(Message).where(
                    Message.direction == Direction.OUTBOUND.value,
                    Message.message_id == ref,
                    Message.partner_id == message.partner_id,
                )
            )
            if original is not None:
                break
    if original is None or original.submission_id is None:
        return None
    submission = session.get(Submission, original.submission_id)
    if submission is None:
        return None
    submission.status = status
    submission.history = [
        *submission.history,
        {"at": now.isoformat(), "status": status, "detail": detail, "message_id": message.message_id},
    ]
    submission.updated_at = now
    return submission.ministry


def _read_answer(ctx: NodeContext, message: Message) -> tuple[str, str | None, str] | None:
    from mappings import answers
    from mappings.errors import MappingError

    if not message.payloads:
        return None
    try:
        parsed = answers.from_xml(_first_payload(ctx, message))
    except (MappingError, ValueError) as exc:
        _log.warn("business answer {id} does not parse: {error}", id=message.message_id, error=str(exc))
        return None
    status = ANSWER_STATUS_OF[parsed.status.value]
    detail = (
        "; ".join(f"{r.code}: {r.text}" for r in parsed.reasons) or parsed.result or status.replace("_", " ")
    )
    return status, parsed.ref_to_message_id, detail


# -- what a ministry receives (webhook body and inbox item) ------------------------------------------


def summary(delivery: Delivery, message: Message) -> dict[str, Any]:
    return {
        "id": str(delivery.id),
        "state": delivery.state,
        "attempts": delivery.attempts,
        "document_type": delivery.document_type,
        "message_id": message.message_id,
        "partner": message.partner_id,
        "service": message.service,
        "action": message.action,
        "conversation_id": message.conversation_id,
        "ref_to_message_id": message.ref_to_message_id,
        "received_at": message.created_at.isoformat(),
        "acked_at": delivery.acked_at.isoformat() if delivery.acked_at else None,
    }


def describe(ctx: NodeContext, delivery: Delivery, message: Message) -> dict[str, Any]:
    """The full item: the summary plus the document mapped to domestic JSON (eco, ephyto) or the payloads."""
    out = summary(delivery, message)
    document_type = delivery.document_type or "raw"
    if document_type == "answer" and message.payloads:
        from mappings import answers

        xml = _first_payload(ctx, message)
        try:
            out["document"] = answer_to_json(answers.from_xml(xml))
        except Exception as exc:
            out["document"] = None
            out["mapping_error"] = f"the business answer could not be read: {exc}"
    if document_type in ("eco", "ephyto") and message.payloads:
        xml = _first_payload(ctx, message)
        try:
            out["document"] = profile_for(document_type).from_treaty(xml)
        except Exception as exc:
            out["document"] = None
            out["mapping_error"] = f"the {document_type} document could not be mapped: {exc}"
    out["payloads"] = [_payload(ctx, delivery.id, p) for p in message.payloads]
    return out


def _payload(ctx: NodeContext, delivery_id: int, payload: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "href": f"/api/v1/inbox/{delivery_id}/payloads/{payload.position}",
        "content_id": payload.content_id,
        "mime_type": payload.mime_type,
        "size": payload.size,
        "sha256": payload.blob_digest,
    }
    if payload.size <= INLINE_PAYLOAD_LIMIT:
        item["data_base64"] = base64.b64encode(
            ctx.blobs.read_stored(payload.blob_digest, payload.data, INLINE_PAYLOAD_LIMIT)
        ).decode("ascii")
    return item


def _first_payload(ctx: NodeContext, message: Message) -> bytes:
    """The document: the first payload's bytes, from its row or its blob (ValueError when too large)."""
    part = message.payloads[0]
    return ctx.blobs.read_stored(part.blob_digest, part.data, MAX_TREATY_BYTES)


def _load(session: Session, delivery_id: int) -> tuple[Delivery, Message] | None:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        return None
    # With the payloads' inline bytes: `describe` reads them after the session.
    message = session.get(Message, delivery.message_pk, options=(PAYLOADS_WITH_DATA,))
    if message is None:
        return None
    return delivery, message


# -- webhook push ------------------------------------------------------------------------------------


def _claim_due(
    session: Session, ministry_ids: tuple[str, ...], now: datetime, lease: float, limit: int
) -> list[int]:
    """Due webhook deliveries, claimed for `lease` seconds (a crashed node's claims expire by themselves)."""
    if not ministry_ids:
        return []
    query = (
        select(Delivery)
        .where(
            Delivery.state == DeliveryState.PENDING.value,
            Delivery.ministry.in_(ministry_ids),
            Delivery.next_attempt_at.is_not(None),
            Delivery.next_attempt_at <= now,
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = []
    for delivery in session.scalars(query):
        delivery.next_attempt_at = now + timedelta(seconds=lease)
        claimed.append(delivery.id)
    return claimed


def _record(
    session: Session,
    ctx: NodeContext,
    delivery_id: int,
    ok: bool,
    error: str | None,
    retry: Retry,
    now: datetime,
) -> None:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.state != DeliveryState.PENDING.value:
        return  # acknowledged by pull meanwhile
    delivery.attempts += 1
    delivery.updated_at = now
    if ok:
        delivery.state = DeliveryState.DELIVERED.value
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        delivery.last_error = None
    else:
        delivery.last_error = (error or "failed")[:2000]
        delivery.next_attempt_at = now + timedelta(seconds=retry.delay(delivery.attempts))
    ctx.audit.append(
        session,
        actor="system:delivery",
        action="delivery.webhook",
        subject=f"delivery:{delivery_id}",
        detail={"ministry": delivery.ministry, "attempt": delivery.attempts, "error": delivery.last_error},
        status="delivered" if ok else "retry",
        form="scheduler",
    )


class DeliveryService:
    """The routing sweep and the webhook pump every `interval` seconds on the reactor (DB work in threads)."""

    def __init__(
        self,
        ctx: NodeContext,
        ministries: MinistryRegistry,
        *,
        interval: float = 1.0,
        retry: Retry = Retry(),
        timeout: float = 30.0,
        lease: float = 120.0,
        batch: int = 50,
        agent: Any = None,
        on_attempt: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.ministries = ministries
        self.interval = interval
        self.retry = retry
        self.timeout = max(1.0, min(timeout, lease / 2))
        self.lease = lease
        self.batch = batch
        self._agent = agent
        self._on_attempt = on_attempt
        self._loop: task.LoopingCall | None = None
        self._running: defer.Deferred[None] | None = None
        self._waiters: list[defer.Deferred[None]] = []
        self._highest = 0
        self._rounds = 0

    def start(self) -> None:
        self._loop = task.LoopingCall(self.tick)
        self._loop.clock = self.ctx.reactor
        self._loop.start(self.interval, now=True).addErrback(
            lambda f: _log.failure("delivery loop stopped", f)
        )

    def stop(self) -> defer.Deferred[None]:
        """Stop the loop; fires when the round in progress (if any) has finished."""
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self._running is None:
            return defer.succeed(None)
        waiter: defer.Deferred[None] = defer.Deferred()
        self._waiters.append(waiter)
        return waiter

    def tick(self) -> defer.Deferred[None]:
        """One round: route what arrived, push what is due. Errors are logged; the next round tries again.

        Called while a round runs, it waits for that round instead of starting another.
        """
        if self._running is not None:
            waiter: defer.Deferred[None] = defer.Deferred()
            self._waiters.append(waiter)
            return waiter
        running = defer.ensureDeferred(self._tick())
        self._running = running

        def done(result: Any) -> None:
            self._running = None
            if isinstance(result, Failure):
                _log.failure("delivery round failed", result)
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                waiter.callback(None)

        running.addBoth(done)
        return running

    async def _tick(self) -> None:
        self._rounds += 1
        after = 0 if self._rounds % FULL_SWEEP_EVERY == 1 else max(0, self._highest - SEQUENCE_MARGIN)
        while True:
            routed, highest = await self.ctx.db.run(
                functools.partial(route_received, after=after), self.ctx, self.ministries, self.ctx.clock()
            )
            self._highest = max(self._highest, highest)
            if routed < ROUTE_BATCH:
                break
            after = highest
        webhooks = tuple(m.id for m in self.ministries.ministries if m.webhook_url)
        due = await self.ctx.db.run(_claim_due, webhooks, self.ctx.clock(), self.lease, self.batch)
        if due:
            await defer.DeferredList([defer.ensureDeferred(self._push(i)) for i in due], consumeErrors=True)

    async def _push(self, delivery_id: int) -> None:
        loaded = await self.ctx.db.read(_load, delivery_id)
        if loaded is None:
            return
        delivery, message = loaded
        ministry = self.ministries.by_id(delivery.ministry)
        if ministry is None or not ministry.webhook_url or not ministry.webhook_secret:
            return
        reactor = self.ctx.reactor
        item = await threads.deferToThreadPool(
            reactor, reactor.getThreadPool(), describe, self.ctx, delivery, message
        )
        event = ANSWER_EVENT if delivery.document_type == "answer" else DOCUMENT_EVENT
        body = json.dumps({"event": event, **item}, ensure_ascii=False).encode("utf-8")
        timestamp = int(self.ctx.clock().timestamp())
        headers = {
            "Content-Type": ["application/json"],
            SIGNATURE_HEADER: [sign(ministry.webhook_secret, timestamp, body)],
            "X-ASW-Delivery": [str(delivery_id)],
            "X-ASW-Event": [event],
            "User-Agent": ["aswnode-delivery"],
        }
        ok, error = False, None
        try:
            import treq

            kwargs: dict[str, Any] = {"headers": headers, "data": body, "timeout": self.timeout}
            if self._agent is not None:
                kwargs["agent"] = self._agent
            response = await treq.post(ministry.webhook_url, **kwargs)
            await treq.content(response)
            ok = 200 <= response.code < 300
            if not ok:
                error = f"webhook answered HTTP {response.code}"
        except Exception as exc:
            error = f"webhook not reached: {exc.__class__.__name__}: {exc}"
        if self._on_attempt is not None:
            self._on_attempt(ministry.id, ok)
        await self.ctx.db.run(_record, self.ctx, delivery_id, ok, error, self.retry, self.ctx.clock())
