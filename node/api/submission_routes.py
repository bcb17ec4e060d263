"""`/api/v1/submissions`: submit a document, follow its status and the partner's business answer."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from node.api.errors import ApiError, FieldError, query_pointer
from node.api.ministries import Ministry
from node.api.router import ApiCall, JsonAnswer, Route
from node.context import NodeContext
from node.store.models import Direction, Message, MessageState, Submission
from node.submissions import ANSWER_STATUSES, SUBMITTED, SubmissionRefused, derived_status, submit
from protocols.as4.payload import FileSlice

__all__ = ["STATUSES", "routes"]

STATUSES = (*(s.value for s in MessageState if s is not MessageState.RECEIVED), *ANSWER_STATUSES)
_FIELDS = ("document_type", "partner", "payload", "mime_type", "service", "action")
MAX_PAGE = 500


def routes(ctx: NodeContext) -> tuple[Route, ...]:
    async def create(call: ApiCall) -> JsonAnswer:
        return await _create(ctx, call)

    async def show(call: ApiCall) -> JsonAnswer:
        found = await ctx.db.read(_one, call.client.id, call.params["id"])
        if found is None:
            raise ApiError.single(404, "not_found", "no such submission", "")
        return JsonAnswer(200, found)

    async def index(call: ApiCall) -> JsonAnswer:
        status = call.query_one("status")
        if status is not None and status not in STATUSES:
            raise ApiError.single(
                400, "bad_parameter", f"status must be one of {', '.join(STATUSES)}", query_pointer("status")
            )
        limit, before = _page(call)
        items = await ctx.db.read(_list, call.client.id, status, call.query_one("partner"), limit, before)
        cursor = items[-1]["sequence"] if len(items) == limit else None
        return JsonAnswer(200, {"items": items, "next_before": cursor})

    async def create_raw(call: ApiCall) -> JsonAnswer:
        return await _create_raw(ctx, call)

    return (
        Route("POST", "submissions/raw", create_raw, stream_body=True),
        Route("POST", "submissions", create),
        Route("GET", "submissions", index),
        Route("GET", "submissions/{id}", show),
    )


def _page(call: ApiCall) -> tuple[int, int | None]:
    limit = call.query_int("limit", 50) or 0
    before_seq = call.query_int("before", None)
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError.single(
            400, "bad_parameter", f"limit must be between 1 and {MAX_PAGE}", query_pointer("limit")
        )
    return limit, before_seq


def _envelope(body: Any, ministry: Ministry) -> tuple[dict[str, Any], bytes]:
    """Checks the request's own fields (every problem at once); returns them and the payload bytes."""
    if not isinstance(body, dict):
        raise ApiError.single(422, "not_an_object", "the body must be a JSON object", "")
    errors: list[FieldError] = [
        FieldError("unknown_field", f"unknown field {key!r}", "/" + key.replace("~", "~0").replace("/", "~1"))
        for key in body
        if key not in _FIELDS
    ]
    for key in ("document_type", "partner"):
        if not isinstance(body.get(key), str) or not body.get(key):
            errors.append(FieldError("required", f"{key} is required (a string)", f"/{key}"))
    for key in ("mime_type", "service", "action"):
        if key in body and (not isinstance(body[key], str) or not body[key]):
            errors.append(FieldError("invalid", f"{key} must be a non-empty string", f"/{key}"))
    document_type = body.get("document_type")
    # A ministry that handles certificates also answers the ones it receives (business answers).
    allowed = ministry.documents + (("answer",) if {"eco", "ephyto"} & set(ministry.documents) else ())
    if isinstance(document_type, str) and document_type and document_type not in allowed:
        errors.append(
            FieldError(
                "document_type_not_allowed",
                f"this ministry may submit {', '.join(allowed) or 'no documents'}",
                "/document_type",
            )
        )
    payload = body.get("payload")
    data = b""
    if "payload" not in body:
        errors.append(FieldError("required", "payload is required", "/payload"))
    elif document_type == "raw":
        if not isinstance(payload, str):
            errors.append(FieldError("invalid", "a raw payload is a base64 string", "/payload"))
        else:
            try:
                data = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                errors.append(FieldError("invalid_base64", "the payload is not valid base64", "/payload"))
    elif not isinstance(payload, dict):
        errors.append(
            FieldError("not_an_object", "the payload must be the domestic document (an object)", "/payload")
        )
    else:
        data = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    if errors:
        raise ApiError(422, errors)
    return body, data


async def _create(ctx: NodeContext, call: ApiCall) -> JsonAnswer:
    ministry: Ministry = call.client
    body, data = _envelope(call.json(), ministry)
    return await _answer(
        ctx,
        call,
        ministry,
        partner=body["partner"],
        document_type=body["document_type"],
        payload=data,
        mime_type=body.get("mime_type"),
        service=body.get("service"),
        action=body.get("action"),
    )


async def _create_raw(ctx: NodeContext, call: ApiCall) -> JsonAnswer:
    """A raw payload of any size as the request body (streamed to the blob store, never held whole)."""
    ministry: Ministry = call.client
    if "raw" not in ministry.documents:
        raise ApiError.single(
            403, "document_type_not_allowed", "this ministry may not submit raw payloads", ""
        )
    missing = [name for name in ("partner", "service", "action") if not call.query_one(name)]
    if missing:
        raise ApiError(
            400,
            [
                FieldError("bad_parameter", f"query parameter {n} is required", query_pointer(n))
                for n in missing
            ],
        )
    mime_type = (call.header("content-type") or "").strip()
    if not mime_type:
        raise ApiError.single(
            400, "bad_parameter", "the Content-Type header names the payload's MIME type", ""
        )
    content = call.request.content
    content.seek(0, 2)
    size = content.tell()
    if size == 0:
        raise ApiError.single(422, "empty", "the payload is empty", "")
    return await _answer(
        ctx,
        call,
        ministry,
        partner=call.query_one("partner"),  # type: ignore[arg-type]
        document_type="raw",
        payload=FileSlice(content, 0, size),
        mime_type=mime_type,
        service=call.query_one("service"),
        action=call.query_one("action"),
    )


async def _answer(ctx: NodeContext, call: ApiCall, ministry: Ministry, **fields: Any) -> JsonAnswer:
    try:
        result = await submit(
            ctx,
            ministry=ministry.id,
            partner_id=fields["partner"],
            document_type=fields["document_type"],
            payload=fields["payload"],
            mime_type=fields["mime_type"],
            service=fields["service"],
            action=fields["action"],
            idempotency_key=call.header("idempotency-key"),
            form="api",
        )
    except SubmissionRefused as exc:
        raise ApiError(exc.status, exc.errors) from None
    headers = {"Location": f"/api/v1/submissions/{result.submission_id}"}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JsonAnswer(
        202, {"id": result.submission_id, "message_id": result.message_id, "state": result.state}, headers
    )


# -- reads (worker thread) ---------------------------------------------------------------------------


def _view(submission: Submission, message: Message | None) -> dict[str, Any]:
    history = list(submission.history or [])
    if message is not None:
        for at, status in ((message.sent_at, "sent"), (message.delivered_at, "delivered")):
            if at is not None:
                history.append(
                    {"at": at.isoformat(), "status": status, "detail": f"message {message.message_id}"}
                )
        if message.state == MessageState.FAILED.value:
            history.append(
                {
                    "at": message.updated_at.isoformat(),
                    "status": "failed",
                    "detail": message.last_error or "failed",
                }
            )
    history.sort(key=lambda h: h.get("at", ""))
    answer = next((h for h in reversed(history) if h.get("status") in ANSWER_STATUSES), None)
    return {
        "id": submission.id,
        "sequence": message.id if message is not None else None,
        "document_type": submission.document_type,
        "partner": submission.partner_id,
        "status": derived_status(submission.status, message.state if message else None),
        "answer": answer,
        "created_at": submission.created_at.isoformat(),
        "updated_at": submission.updated_at.isoformat(),
        "message": None
        if message is None
        else {
            "message_id": message.message_id,
            "state": message.state,
            "attempts": message.attempts,
            "receipt_status": message.receipt_status,
            "last_error": message.last_error,
            "sent_at": message.sent_at.isoformat() if message.sent_at else None,
            "delivered_at": message.delivered_at.isoformat() if message.delivered_at else None,
        },
        "history": history,
    }


def _one(session: Session, ministry: str, submission_id: str) -> dict[str, Any] | None:
    submission = session.get(Submission, submission_id)
    if submission is None or submission.ministry != ministry:
        return None  # another ministry's submission does not exist for this one
    message = session.scalar(
        select(Message).where(Message.submission_id == submission.id).order_by(Message.id).limit(1)
    )
    return _view(submission, message)


def _list(
    session: Session, ministry: str, status: str | None, partner: str | None, limit: int, before: int | None
) -> list[dict[str, Any]]:
    """Newest first by `sequence` (the message's id), the order `before` pages by.

    A submission's message carries its ministry, partner and direction too: said on the message, they
    let the database read the messages in order instead of sorting all of the ministry's (SQLite) or
    walking the whole table (PostgreSQL)."""
    if status in _RARER_STATES:
        return _list_in_state(session, ministry, status, partner, limit, before)
    if status is not None:
        return _list_by_stored_status(session, ministry, status, partner, limit, before)
    # Every one of the ministry's messages matches: read newest first from the ministry's.
    query = _with_messages(ministry, partner).where(Message.ministry == ministry)
    if before is not None:
        query = query.where(Message.id < before)
    return [_view(s, m) for s, m in session.execute(query.order_by(Message.id.desc()).limit(limit))]


def _with_messages(ministry: str, partner: str | None) -> Select[tuple[Submission, Message]]:
    query = (
        select(Submission, Message)
        .join(Message, Message.submission_id == Submission.id)
        .where(Submission.ministry == ministry, Message.direction == Direction.OUTBOUND.value)
    )
    if partner:
        query = query.where(Submission.partner_id == partner, Message.partner_id == partner)
    return query


# Message states few of the ministry's messages are in: read from (ministry, state, id) a batch at a time.
_RARER_STATES = (MessageState.PENDING.value, MessageState.SENDING.value, MessageState.FAILED.value)
_LARGEST_BATCH = 1024
# How many submissions in one stored status are "few": read them all rather than walk the messages.
_FEW = 2048


def _list_in_state(
    session: Session, ministry: str, state: str, partner: str | None, limit: int, before: int | None
) -> list[dict[str, Any]]:
    """The submissions whose message is in `state` and that have no answer yet (an answer's status wins
    over the message's state), newest first.

    The ministry's messages in that state are read newest first from (ministry, state, id), a batch of
    keys at a time, then checked by key with their submissions. One statement joining both would leave
    the plan to guesses: PostgreSQL expects few of those messages to have an unanswered submission and
    sorts all of them (every message the ministry ever had fail); SQLite, without statistics, takes
    another index over a list of keys."""
    want = _Wanted(ministry, partner, SUBMITTED, state)
    found, _ = _walk(session, want, limit, before, rows=None)
    return found


def _list_by_stored_status(
    session: Session, ministry: str, status: str, partner: str | None, limit: int, before: int | None
) -> list[dict[str, Any]]:
    """The submissions with an answer `status`, or, for `delivered`, delivered and not answered yet.

    Along the ministry's messages (delivered ones, or all for an answer) most can be passed over: once
    partners answer, nearly every delivered message's submission is answered, and an answer status can
    be rare. The submissions in that stored status have their own index, (ministry, status): when they
    are few (at most _FEW) they are read whole, with their messages, and sorted. So the messages are
    walked for a page or so (a page of recent deliveries is found there at once); if the page is not
    full yet, those submissions are counted up to _FEW; when there are no more, the rest of the page
    comes from them, else the walk goes on."""
    delivered = status == MessageState.DELIVERED.value
    want = _Wanted(ministry, partner, SUBMITTED if delivered else status, status if delivered else None)
    found, left_at = _walk(session, want, limit, before, rows=4 * limit)
    if left_at is None:
        return found
    stored = select(Submission.id).where(Submission.ministry == ministry, Submission.status == want.stored)
    keys = list(session.scalars(stored.limit(_FEW + 1)))  # (ministry, status, id) alone
    if len(keys) > _FEW:
        rest, _ = _walk(session, want, limit - len(found), left_at, rows=None)
    else:
        rest = _of_submissions(session, want, keys, limit - len(found), left_at)
    return found + rest


@dataclass(frozen=True)
class _Wanted:
    """Which of the ministry's messages and submissions a list shows: a submission's stored status and,
    unless None, its message's state."""

    ministry: str
    partner: str | None
    stored: str
    state: str | None

    def messages(self) -> Select[tuple[int]]:
        """The ministry's messages to walk newest first, said so that an index gives them in that order
        (their keys alone: PostgreSQL reads them from the index, the rest of the row would make it walk
        the table backwards instead)."""
        ids = select(Message.id).where(Message.ministry == self.ministry)  # (ministry), then by id
        if self.state is not None:
            ids = ids.where(Message.state == self.state)  # (ministry, state, id)
            if self.partner:
                # That partner's messages in that state, in order: (partner_id, direction, state, id).
                ids = ids.where(
                    Message.partner_id == self.partner, Message.direction == Direction.OUTBOUND.value
                )
        return ids

    def shown(self, keys: list[int]) -> Select[tuple[int]]:
        """Those of these messages that the list shows, each checked by key with its submission by key:
        given the walk's terms or a range of keys instead, PostgreSQL may walk the table's key between
        two of the ministry's messages in a rare state, passing over everyone else's."""
        return select(Message.id).where(
            Message.id.in_(keys),  # the only term outside: SQLite takes an index on direction otherwise
            select(Submission.id)
            .where(
                Submission.id == Message.submission_id,
                Message.direction == Direction.OUTBOUND.value,
                *((Message.partner_id == self.partner,) if self.partner else ()),
                Submission.ministry == self.ministry,
                Submission.status == self.stored,
                *((Submission.partner_id == self.partner,) if self.partner else ()),
            )
            .exists(),
        )

    def shows(self, submission: Submission | None, message: Message) -> bool:
        return (
            submission is not None
            and submission.ministry == self.ministry
            and submission.status == self.stored
            and message.direction == Direction.OUTBOUND.value
            and (self.state is None or message.state == self.state)
            and (not self.partner or (submission.partner_id == self.partner == message.partner_id))
        )


def _walk(
    session: Session, want: _Wanted, limit: int, before: int | None, rows: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to `limit` wanted submissions along the ministry's messages newest first, a batch at a time,
    reading at most `rows` messages (unless None); and the message the walk stopped before, None if it
    found the page or the messages ran out. A batch's keys are read from the index alone, then checked
    in one statement; the page's rows are read at the end."""
    found: list[int] = []
    batch = limit if rows is None else min(limit, rows)
    left_at = before
    while len(found) < limit:
        ahead = want.messages() if left_at is None else want.messages().where(Message.id < left_at)
        keys = list(session.scalars(ahead.order_by(Message.id.desc()).limit(batch)))
        if keys:
            shown = want.shown(keys).order_by(Message.id.desc()).limit(limit - len(found))
            found.extend(session.scalars(shown))
        if len(keys) < batch:  # the messages ran out
            left_at = None
            break
        walked, left_at, batch = batch, keys[-1], min(batch * 4, _LARGEST_BATCH)
        if rows is not None:
            rows -= walked
            if rows <= 0:
                break
            batch = min(batch, rows)
    return _by_key(session, want, found[:limit]), (left_at if len(found) < limit else None)


def _of_submissions(
    session: Session, want: _Wanted, submissions: list[str], limit: int, before: int | None
) -> list[dict[str, Any]]:
    """The newest `limit` wanted messages of these (few) submissions, older than `before`.

    Their messages are found by submission alone, then sorted here: asked for them in order, or given
    the ministry and state too, the database could walk the ministry's messages in order instead,
    passing over every other one."""
    if not submissions or limit <= 0:
        return []
    found = session.execute(
        select(Message.id, Message.ministry, Message.state, Message.direction, Message.partner_id).where(
            Message.submission_id.in_(submissions)
        )
    )
    keys = sorted(
        (
            pk
            for pk, ministry, state, direction, partner in found
            if direction == Direction.OUTBOUND.value
            and (want.state is None or (ministry, state) == (want.ministry, want.state))
            and (not want.partner or partner == want.partner)
            and (before is None or pk < before)
        ),
        reverse=True,
    )
    return _by_key(session, want, keys[:limit])


def _by_key(session: Session, want: _Wanted, keys: list[int]) -> list[dict[str, Any]]:
    """These messages (newest first) that are wanted, with their submissions, read by key."""
    if not keys:
        return []
    messages = list(session.scalars(select(Message).where(Message.id.in_(keys)).order_by(Message.id.desc())))
    wanted = {m.submission_id for m in messages if m.submission_id is not None}
    submissions = {s.id: s for s in session.scalars(select(Submission).where(Submission.id.in_(wanted)))}
    return [
        _view(submission, message)
        for message in messages
        if want.shows(submission := submissions.get(message.submission_id or ""), message)
    ]
