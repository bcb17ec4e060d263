"""`/api/v1/inbox`: the inbound documents routed to the calling ministry, to pull and acknowledge."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, union_all
from sqlalchemy.orm import Session, undefer
from twisted.internet import threads

from node.api.errors import ApiError, query_pointer
from node.api.router import ApiCall, BytesAnswer, FileAnswer, JsonAnswer, Route
from node.context import NodeContext
from node.delivery import describe, summary
from node.store.models import Delivery, DeliveryState, Message, Payload
from node.store.payloads import PAYLOADS_WITH_DATA

__all__ = ["INBOX_STATES", "routes"]

# `open`: not yet acknowledged by pull (whether or not a webhook already took it).
INBOX_STATES = ("open", *(s.value for s in DeliveryState), "all")
MAX_PAGE = 500


def routes(ctx: NodeContext) -> tuple[Route, ...]:
    async def index(call: ApiCall) -> JsonAnswer:
        state = call.query_one("state") or "open"
        if state not in INBOX_STATES:
            raise ApiError.single(
                400,
                "bad_parameter",
                f"state must be one of {', '.join(INBOX_STATES)}",
                query_pointer("state"),
            )
        limit = call.query_int("limit", 50) or 0
        after = call.query_int("after", 0) or 0
        if not 1 <= limit <= MAX_PAGE:
            raise ApiError.single(
                400, "bad_parameter", f"limit must be between 1 and {MAX_PAGE}", query_pointer("limit")
            )
        items = await ctx.db.read(_list, call.client.id, state, limit, after)
        return JsonAnswer(
            200, {"items": items, "next_after": items[-1]["id"] if len(items) == limit else None}
        )

    async def show(call: ApiCall) -> JsonAnswer:
        found = await ctx.db.read(_one, call.client.id, call.params["id"])
        if found is None:
            raise ApiError.single(404, "not_found", "no such inbox item", "")
        reactor = ctx.reactor
        item = await threads.deferToThreadPool(reactor, reactor.getThreadPool(), describe, ctx, *found)
        return JsonAnswer(200, item)

    async def ack(call: ApiCall) -> JsonAnswer:
        acked = await ctx.db.run(_ack, ctx, call.client.id, call.params["id"], ctx.clock())
        if acked is None:
            raise ApiError.single(404, "not_found", "no such inbox item", "")
        return JsonAnswer(200, acked)

    async def payload(call: ApiCall) -> FileAnswer | BytesAnswer:
        position = call.params["n"]
        part = None
        if position.isdigit() and len(position) < 10:
            part = await ctx.db.read(_part, call.client.id, call.params["id"], int(position))
        if part is None:
            raise ApiError.single(404, "not_found", "no such inbox item or payload", "")
        headers = {"Digest": f"sha-256={base64.b64encode(bytes.fromhex(part.blob_digest)).decode()}"}
        if part.data is not None:  # kept in its row
            return BytesAnswer(part.data, part.mime_type, headers)
        return FileAnswer(ctx.blobs.path(part.blob_digest), part.mime_type, headers)

    return (
        Route("GET", "inbox", index),
        Route("GET", "inbox/{id}", show),
        Route("POST", "inbox/{id}/ack", ack),
        Route("GET", "inbox/{id}/payloads/{n}", payload),
    )


def _delivery_id(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 19 else None


def _one(session: Session, ministry: str, item_id: str) -> tuple[Delivery, Message] | None:
    delivery_id = _delivery_id(item_id)
    delivery = session.get(Delivery, delivery_id) if delivery_id is not None else None
    if delivery is None or delivery.ministry != ministry:
        return None  # another ministry's item does not exist for this one
    # With the payloads' inline bytes: `describe` reads them after the session.
    message = session.get(Message, delivery.message_pk, options=(PAYLOADS_WITH_DATA,))
    if message is None:
        return None
    return delivery, message


def _part(session: Session, ministry: str, item_id: str, position: int) -> Payload | None:
    """Payload `position` of the calling ministry's inbox item, its inline bytes loaded (if any)."""
    delivery_id = _delivery_id(item_id)
    delivery = session.get(Delivery, delivery_id) if delivery_id is not None else None
    if delivery is None or delivery.ministry != ministry:
        return None  # another ministry's item does not exist for this one
    return session.scalars(
        select(Payload)
        .where(Payload.message_pk == delivery.message_pk, Payload.position == position)
        .options(undefer(Payload.data))
    ).one_or_none()


def _list(session: Session, ministry: str, state: str, limit: int, after: int) -> list[dict[str, Any]]:
    # The page's ids first, then their rows by key: joined in one statement, PostgreSQL may hash the
    # whole deliveries table against the page (its choice on a small table).
    ids = sorted(session.scalars(_page_ids(ministry, state, limit, after)))[:limit]
    if not ids:
        return []
    query = (
        select(Delivery, Message)
        .join(Message, Message.id == Delivery.message_pk)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
    )
    return [summary(d, m) for d, m in session.execute(query)]


def _page_ids(ministry: str, state: str, limit: int, after: int) -> Select[tuple[int]]:
    """The page's delivery ids, each state's read in order from its index: (ministry, state, id), or
    (ministry, id) for `all`; `open` is two such ranges, merged. A plain `state IN (...)` over the join
    read and sorted every row of the ministry, or walked the whole table by its key, skipping
    acknowledged rows: a cost that grew with the inbox's history, paid on every poll."""
    if state == "all":
        return _range(ministry, None, limit, after)
    states = (DeliveryState.PENDING.value, DeliveryState.DELIVERED.value) if state == "open" else (state,)
    ranges = [select(r.c.id) for r in (_range(ministry, s, limit, after).subquery() for s in states)]
    return ranges[0] if len(ranges) == 1 else union_all(*ranges)  # type: ignore[return-value]


def _range(ministry: str, state: str | None, limit: int, after: int) -> Select[tuple[int]]:
    query = select(Delivery.id).where(Delivery.ministry == ministry, Delivery.id > after)
    if state is not None:
        query = query.where(Delivery.state == state)
    return query.order_by(Delivery.id).limit(limit)


def _ack(
    session: Session, ctx: NodeContext, ministry: str, item_id: str, now: datetime
) -> dict[str, Any] | None:
    found = _one(session, ministry, item_id)
    if found is None:
        return None
    delivery, message = found
    if delivery.state != DeliveryState.ACKED.value:
        delivery.state = DeliveryState.ACKED.value
        delivery.acked_at = now
        delivery.next_attempt_at = None
        delivery.updated_at = now
        ctx.audit.append(
            session,
            actor=f"ministry:{ministry}",
            action="inbox.ack",
            subject=f"delivery:{delivery.id}",
            detail={"message_id": message.message_id, "partner": message.partner_id},
            status="200",
            form="api",
        )
    return summary(delivery, message)
