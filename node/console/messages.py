"""Message pages: search (id, partner, state, date, document type), detail with receipt and error, resend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lxml import etree
from twisted.internet.threads import deferToThreadPool

from node.console import queries
from node.console.web import ConsoleRequest, NotFound, Redirect, Response, Route, url
from node.store.blobs import BlobMissing
from node.store.messages import MessageFilter, list_messages, resend
from node.store.models import MessageState
from protocols.as4.errors import EbmsException
from protocols.as4.xml import parse_xml

if TYPE_CHECKING:
    from node.console.app import Console

__all__ = ["ROUTES", "parse_day"]

PAGE = 50
_RECEIPT_SHOWN = 64 * 1024
STATES = tuple(s.value for s in MessageState)


def parse_day(text: str) -> datetime | None:
    """`YYYY-MM-DD` (a UTC day) or None; nonsense is ignored rather than guessed."""
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC) if text else None
    except ValueError:
        return None


def _criteria(req: ConsoleRequest) -> MessageFilter:
    until = parse_day(req.get("until"))
    state = req.get("state")
    return MessageFilter(
        states=(state,) if state in STATES else (),
        direction=req.get("direction") or None,
        partner_id=req.get("partner") or None,
        document_type=req.get("document_type") or None,
        created_from=parse_day(req.get("since")),
        created_before=until + timedelta(days=1) if until else None,
        text=req.get("id") or None,
    )


async def message_search(console: Console, req: ConsoleRequest) -> Response:
    try:
        offset = max(0, int(req.get("offset", "0")))
    except ValueError:
        offset = 0
    page = await console.ctx.db.read(lambda s: list_messages(s, _criteria(req), limit=PAGE, offset=offset))
    return console.render(
        req,
        "messages.html",
        messages=page.items,
        total=page.total,
        total_exact=page.total_exact,
        offset=offset,
        page=PAGE,
        states=STATES,
        partners=sorted(p.id for p in console.ctx.partners),
        q={k: v for k, v in req.params.items() if k != "offset"},
    )


def _readable(data: bytes) -> str:
    """Indented for reading when it is XML (parsed hardened); otherwise the text as stored."""
    try:
        root = parse_xml(data)
    except EbmsException:
        return data.decode("utf-8", "replace")
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode")


def _blob_text(ctx: Any, digest: str | None, inline: bytes | None = None) -> str | None:
    """The stored bytes for reading: kept in the row (`inline`) or else in the blob `digest`."""
    if not digest:
        return None
    if inline is not None:
        data = inline[: _RECEIPT_SHOWN + 1]
    else:
        try:
            path = ctx.blobs.path(digest)
            with open(path, "rb") as f:
                data = f.read(_RECEIPT_SHOWN + 1)
        except (BlobMissing, OSError):
            return "(the stored copy is missing)"
    if len(data) > _RECEIPT_SHOWN:
        return data[:_RECEIPT_SHOWN].decode("utf-8", "replace") + "\n… (cut at 64 KiB)"
    return _readable(data)


async def message_detail(console: Console, req: ConsoleRequest, pk: str) -> Response:
    def read(session: Any) -> tuple[Any, bytes | None] | None:
        found = queries.message_by_pk(session, int(pk))
        # The receipt of a newer message is kept in its row (a deferred column): read it while the
        # session is open.
        return None if found is None else (found, found[0].receipt_bytes)

    loaded = await console.ctx.db.read(read)
    if loaded is None:
        raise NotFound(pk)
    (message, deliveries), receipt_inline = loaded
    history = await console.ctx.db.read(
        lambda s: queries.subject_records(s, f"message:{message.message_id}", limit=50)
    )
    reactor = console.ctx.reactor
    receipt = await deferToThreadPool(
        reactor, reactor.getThreadPool(), _blob_text, console.ctx, message.receipt_digest, receipt_inline
    )
    return console.render(
        req, "message.html", m=message, deliveries=deliveries, history=history, receipt=receipt
    )


async def message_resend(console: Console, req: ConsoleRequest, pk: str) -> Redirect | Response:
    ctx = console.ctx
    now = ctx.clock()

    def apply(session: Any) -> str | None:
        found = queries.message_by_pk(session, int(pk))
        if found is None:
            return None
        message = found[0]
        done = resend(session, message.id, now=now)
        console.audit_in(
            session,
            req,
            "message.resend",
            f"message:{message.message_id}",
            {"partner": message.partner_id, "state_before": message.state},
            "ok" if done else "refused",
        )
        return "resent" if done else "refused"

    outcome = await ctx.db.run(apply)
    if outcome is None:
        raise NotFound(pk)
    if outcome == "refused":
        return Response(b"only a failed outbound message is resent\n", status=409, content_type="text/plain")
    assert req.session is not None
    req.session.flash("Queued again: the sender sends it with the same MessageId and the same signed bytes.")
    return Redirect(url(f"/messages/{pk}"))


ROUTES = (
    Route("GET", r"/messages", message_search),
    Route("GET", r"/messages/(?P<pk>[0-9]{1,18})", message_detail),
    Route("POST", r"/messages/(?P<pk>[0-9]{1,18})/resend", message_resend),
)
