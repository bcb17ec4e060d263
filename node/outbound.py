"""The sender: claims due outbound messages in order per partner, builds each once, POSTs, reads receipts.

- Claim (node.store `claim_due(window=...)`): per partner only the head of its queue (up to
  `sender.window` messages, default 1) is taken, in submission order; a head waiting for its retry
  holds the messages behind it, so a partner down for a while gets its queue in order when back.
- Build once: compress, sign, encrypt from the partner's P-Mode; the wire bytes are kept in the
  message's row (or, above the inline limit, in the blob store) and every retry sends them
  byte-identical under the same MessageId.
- Every write after the claim goes through the group commit (`db.run_grouped`).
- Held (attempt not counted): a partner not in a state to exchange, or under an open incident.
- Outcome: a verified receipt → `delivered` (also a late one, from any state); a fatal ebMS error
  signed by the partner about this message → `failed` at once, as is an HTTP 413 whose fresh error
  signal the partner signed (its size limit refuses every retry); an unauthenticated error or a bare
  SOAP Fault (a proxy can produce either) is retried like a transport error; a transport error, a
  5xx without ebMS, a missing or invalid receipt → retry with the P-Mode's backoff until its
  retries are spent, then `failed` (resendable).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import socket
import uuid
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from twisted.internet import defer, protocol, task, threads
from twisted.python.failure import Failure
from twisted.web.client import Agent, FileBodyProducer, HTTPConnectionPool, ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer
from zope.interface import implementer

from node.context import NodeContext
from node.inbound import SOAP_CONTENT_TYPE, Answer, inline_limit, protocol_limits
from node.partners import Partner
from node.pmodes import outbound_pmode
from node.spooling import TempSpools
from node.store.outbound_queue import ClaimedMessage
from node.tls import ClientPolicy
from protocols.as4.errors import EbmsError, EbmsException, Severity
from protocols.as4.inbound import (
    Envelope,
    ErrorOutcome,
    ReceiptOutcome,
    read_response,
    verify_pushed_signal,
)
from protocols.as4.model import (
    AgreementRef,
    CollaborationInfo,
    MessageInfo,
    Party,
    Property,
    Service,
    UserMessage,
)
from protocols.as4.outbound import OutboundMessage, Payload, build_user_message
from protocols.as4.payload import ByteSource, InMemory
from protocols.as4.security import SignedReference

__all__ = ["FATAL_ERRORS", "Sender", "accept_pushed_signal"]

log = logging.getLogger("aswnode.outbound")

# Errors that a retry of the same bytes cannot cure: not retried.
FATAL_ERRORS = frozenset(
    {
        "EBMS:0001", "EBMS:0003", "EBMS:0004", "EBMS:0007", "EBMS:0008", "EBMS:0009", "EBMS:0010",
        "EBMS:0011", "EBMS:0101", "EBMS:0102", "EBMS:0103", "EBMS:0303",
    }
)  # fmt: skip
# How far the Timestamp of a partner's signed 413 error signal may be from our clock: the signal
# names no message (the partner read none of it), so its freshness is what ties it to this request.
REFUSAL_FRESHNESS = timedelta(minutes=5)
# Where messages built before revision 0003 kept their signed references (now a column).
REFERENCES_KEY = "_aswnode_signed_references"
RESPONSE_LIMIT = 4 * 1024 * 1024
INLINE_CHECK_LIMIT = 64 * 1024
CONNECT_TIMEOUT = 10.0
RESPONSE_TIMEOUT = 100.0
LEASE = timedelta(seconds=180)
HOLD = timedelta(seconds=60)


# -- the sent message, as stored -------------------------------------------------------------------


def _references_to_json(references: tuple[SignedReference, ...]) -> list[dict[str, Any]]:
    return [
        {
            "uri": r.uri,
            "digest_method": r.digest_method,
            "digest_value": r.digest_value,
            "transforms": list(r.transforms),
        }
        for r in references
    ]


def _references_from(
    column: list[Any] | None, properties: dict[str, Any] | None
) -> tuple[SignedReference, ...]:
    raw = column if column is not None else (properties or {}).get(REFERENCES_KEY) or []
    return tuple(
        SignedReference(r["uri"], r["digest_method"], r["digest_value"], tuple(r.get("transforms") or ()))
        for r in raw
    )


def _sent(message: Any) -> OutboundMessage:
    """What we sent, as read_response needs it (the body itself is not needed to check a receipt)."""
    return OutboundMessage(
        message.message_id,
        message.wire_content_type or SOAP_CONTENT_TYPE,
        InMemory(b""),
        _references_from(message.signed_references, message.properties),
    )


def _refused_as_too_large(status: int, outcome: ErrorOutcome, now: datetime) -> bool:
    """A 413 whose error signal the partner signed with its registered key, fresh and about no other
    message (read_response refused that already): the partner itself refuses the message's size, and
    every retry of the same bytes would be refused the same way. Unsigned, it may be any proxy's."""
    if status != 413 or outcome.signature is None or outcome.signal is None:
        return False
    stamp = outcome.signal.message_info.timestamp
    fresh = abs(now - stamp) <= REFUSAL_FRESHNESS
    return fresh and any(e.severity == Severity.FAILURE for e in outcome.errors)


@implementer(IBodyProducer)
class _WireBytes:
    """A message kept in its row, written in one piece (a FileBodyProducer over BytesIO takes a
    cooperator task and reactor turns for what is one write)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.length = len(data)

    def startProducing(self, consumer: Any) -> defer.Deferred[None]:
        consumer.write(self._data)
        return defer.succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


class _CappedBody(protocol.Protocol):
    def __init__(self, done: defer.Deferred[bytes], limit: int) -> None:
        self.done = done
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0

    def dataReceived(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            self.transport.stopProducing()  # type: ignore[union-attr]
            if not self.done.called:
                self.done.errback(ValueError(f"response over {self.limit} bytes"))
            return
        self.parts.append(data)

    def connectionLost(self, reason: Any = None) -> None:
        if self.done.called:
            return
        if reason is None or reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback(b"".join(self.parts))
        else:
            self.done.errback(reason)


class Sender:
    """The sender loop of one node process (`start()`, `stop()`), driven by a LoopingCall."""

    def __init__(self, ctx: NodeContext, *, claimer: str | None = None) -> None:
        self.ctx = ctx
        config = ctx.config
        self.claimer = claimer or f"{socket.gethostname()}:{config.directory}"
        self.window = config.sender_window
        self.concurrency = config.sender_concurrency
        self.limits = protocol_limits(ctx)
        self.inline_limit = inline_limit(ctx)
        self._loop: task.LoopingCall | None = None
        self._in_flight: dict[int, defer.Deferred[Any]] = {}
        self._claiming = False
        self._claim_again = False
        # Partners with a message this process saw fail or retried: a delivery to one wakes its
        # retries at once (mark_delivered's extra UPDATE is skipped for the others: the hot path).
        self._retrying: set[str] = set()
        # SQLite has one node process and one writer: a delivery's slot is claimed again in the
        # settling transaction (one fsync, not two). On PostgreSQL several processes share the
        # queue: each claims on its own, so a freed slot may go to another process.
        self._claim_on_settle = ctx.db.dialect == "sqlite"
        self._stopping = False
        self._agents: dict[str, tuple[Any, Agent]] = {}
        self._pool = HTTPConnectionPool(ctx.reactor, persistent=True)
        self._pool.maxPersistentPerHost = max(2, self.concurrency)
        self._wake: Any = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Give back what this node held when it last stopped (or was killed), then start the loop."""
        from node.store.messages import release_claims

        released = await self.ctx.db.run(
            lambda s: release_claims(s, claimer=self.claimer, now=self.ctx.clock())
        )
        if released:
            log.info("released %d message(s) this node held when it stopped", released)
        self._loop = task.LoopingCall(self.tick)
        self._loop.clock = self.ctx.reactor
        self._loop.start(self.ctx.config.sender_interval_seconds, now=True).addErrback(
            lambda f: log.error("sender loop stopped: %s", f.getTraceback())
        )

    async def stop(self) -> None:
        """Stop claiming, let in-flight sends finish (bounded), give back what is still held."""
        from node.store.messages import release_claims

        self._stopping = True
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        pending = list(self._in_flight.values())
        if pending:
            waiting = defer.DeferredList(pending, consumeErrors=True)
            waiting.addTimeout(RESPONSE_TIMEOUT + CONNECT_TIMEOUT, self.ctx.reactor)
            try:
                await waiting
            except defer.TimeoutError:
                log.warning("stopping with %d send(s) unfinished", len(self._in_flight))
        await self.ctx.db.run(lambda s: release_claims(s, claimer=self.claimer, now=self.ctx.clock()))
        await self._pool.closeCachedConnections()

    def poke(self) -> None:
        """Look for work now (e.g. after a submission) rather than at the next tick."""
        if self._wake is None or not self._wake.active():
            self._wake = self.ctx.reactor.callLater(0, self.tick)

    # -- the loop -------------------------------------------------------------------------------

    def tick(self) -> defer.Deferred[None] | None:
        if self._stopping:
            return None
        if self._claiming:
            self._claim_again = True  # a slot freed (or work came) while claiming: look again after
            return None
        free = self.concurrency - len(self._in_flight)
        if free <= 0:
            return None
        self._claiming = True
        self._claim_again = False
        d = defer.ensureDeferred(self._claim(free))
        d.addErrback(lambda f: log.error("claiming failed: %s", f.getErrorMessage()))

        def done(_: Any) -> None:
            self._claiming = False
            if self._claim_again and not self._stopping:
                self.poke()

        d.addBoth(done)
        return None

    async def _claim(self, free: int) -> None:
        now = self.ctx.clock()
        self._dispatch(*await self.ctx.db.run_grouped(self._claim_in, now, free))

    def _dispatch(self, claimed: list[ClaimedMessage], standing: dict[str, tuple[str, str | None]]) -> None:
        """Start sending what was claimed (or hold it, when the partner's state says so)."""
        for message in claimed:
            if message.attempts > 1:
                self._retrying.add(message.partner_id)
            refusal = self._lifecycle_refusal(message, *standing[message.partner_id])
            d = defer.ensureDeferred(self._send(message, refusal))
            self._in_flight[message.id] = d

            def settled(result: Any, pk: int = message.id, mid: str = message.message_id[:80]) -> None:
                self._in_flight.pop(pk, None)
                if isinstance(result, Failure):
                    log.error("sending %s crashed: %s", mid, result.getTraceback())
                if not self._stopping:
                    self.poke()

            d.addBoth(settled)

    def _claim_in(
        self, session: Session, now: datetime, free: int
    ) -> tuple[list[ClaimedMessage], dict[str, tuple[str, str | None]]]:
        """The claim, and in the same transaction each claimed partner's lifecycle state and incident hold."""
        from node.lifecycle.gate import outbound_hold
        from node.registry import partner_state
        from node.store.messages import claim_due

        claimed = claim_due(
            session, claimer=self.claimer, now=now, lease=LEASE, limit=free, window=self.window
        )
        sandbox = self.ctx.config.is_sandbox
        standing = {
            partner_id: (
                partner_state(session, partner_id, sandbox=sandbox),
                outbound_hold(session, partner_id),
            )
            for partner_id in {m.partner_id for m in claimed}
        }
        return claimed, standing

    # -- one message ----------------------------------------------------------------------------

    async def _send(self, message: ClaimedMessage, refusal: str | None) -> None:
        ctx = self.ctx
        partner = ctx.partners.by_id(message.partner_id)
        if partner is None:
            try:
                ctx.partners.maybe_reload()
            except Exception:  # a broken file keeps the registry we have; the message fails below
                log.warning("partners.yaml does not load")
            partner = ctx.partners.by_id(message.partner_id)
        if partner is None:
            await self._settle_failed(message, "the partner is no longer in partners.yaml", None)
            return
        if refusal is not None:
            await self._hold(message, refusal)
            return
        if message.wire_digest is None:
            try:
                message = await threads.deferToThread(self._build, message, partner)
            except Exception as exc:  # a message that cannot be built never will be: fail it, say why
                log.error("building %s failed: %s", message.message_id[:80], exc)
                await self._settle_failed(message, f"cannot build the AS4 message: {exc}", None)
                return
            # Kept before the first attempt: every retry, also after a crash, sends these bytes.
            await ctx.db.run_grouped(self._record_wire, message)
        try:
            status, content_type, body = await self._post(message, partner)
        except Exception as exc:
            await self._settle_retry(message, partner, f"transport: {_describe(exc)}", None)
            return
        try:
            check = functools.partial(
                read_response,
                InMemory(body),
                content_type,
                sent=_sent(message),
                partner_certificates=partner.signing_certificates,
                limits=self.limits,
            )
            # A receipt (a few KiB) is checked here: the hop to a worker thread and back cost more.
            outcome = check() if len(body) <= INLINE_CHECK_LIMIT else await threads.deferToThread(check)
        except EbmsException as exc:
            status_text = f"HTTP {status}: {exc.error.code} {exc.detail}"[:1000]
            await self._settle_retry(message, partner, status_text, "invalid")
            return
        if isinstance(outcome, ReceiptOutcome):
            await self._settle_delivered(message, body)
            return
        assert isinstance(outcome, ErrorOutcome)
        codes = sorted({e.error.code if e.error else e.code for e in outcome.errors})
        text = "; ".join(f"{e.error.code if e.error else e.code} {e.detail}" for e in outcome.errors)[:1000]
        if not outcome.authenticated and _refused_as_too_large(status, outcome, ctx.clock()):
            await self._settle_failed(
                message, f"HTTP 413: partner refused the message as too large (signed): {text}", "error"
            )
        elif not outcome.authenticated:
            # Unsigned, not the partner's signature, or a bare SOAP Fault: anything on the way (a proxy,
            # an attacker) can say this, so it is retried like a transport error, its text kept.
            await self._settle_retry(
                message, partner, f"HTTP {status}: unauthenticated error (retried): {text}", "error"
            )
        elif any(code in FATAL_ERRORS for code in codes):
            await self._settle_failed(message, f"HTTP {status}: partner refused: {text}", "error")
        else:
            await self._settle_retry(message, partner, f"HTTP {status}: partner answered {text}", "error")

    @staticmethod
    def _lifecycle_refusal(message: ClaimedMessage, state: str, incident: str | None) -> str | None:
        """Why the partner may not get this message now (suspended, not yet active, an incident), or None."""
        from node.lifecycle import may_exchange
        from protocols.as4.namespaces import TEST_ACTION, TEST_SERVICE

        if incident is not None:
            return incident
        test = message.service == TEST_SERVICE and message.action == TEST_ACTION
        refusal = may_exchange(state, test_message=test, direction="outbound")
        return None if refusal is None else str(refusal)

    async def _hold(self, message: ClaimedMessage, reason: str) -> None:
        """Back in the queue, this attempt not counted: the partner's state, not the message, stops it."""
        from node.store.models import Message, MessageState

        ctx = self.ctx

        def hold(session: Session) -> None:
            now = ctx.clock()
            session.execute(
                update(Message)
                .where(Message.id == message.id, Message.claimed_by == self.claimer)
                .values(
                    state=MessageState.PENDING,
                    claimed_by=None,
                    lease_until=None,
                    attempts=Message.attempts - 1,
                    next_attempt_at=now + HOLD,
                    last_error=f"held: {reason}"[:1000],
                    updated_at=now,
                )
            )

        await ctx.db.run_grouped(hold)
        log.info("holding %s: %s", message.message_id[:80], reason)

    def _build(self, message: ClaimedMessage, partner: Partner) -> ClaimedMessage:
        """Worker thread: build the AS4 message once, keep the wire bytes and what was signed."""
        ctx = self.ctx
        config = ctx.config
        pmode = outbound_pmode(
            config, partner, service=message.service, service_type=message.service_type, action=message.action
        )
        agreement = pmode.agreement
        if message.agreement_ref:
            agreement = AgreementRef(message.agreement_ref)
        user_message = UserMessage(
            message_info=MessageInfo(message.message_id, ctx.clock(), message.ref_to_message_id),
            from_party=Party(pmode.initiator.party_ids, pmode.initiator.role),
            to_party=Party(pmode.responder.party_ids, pmode.responder.role),
            collaboration_info=CollaborationInfo(
                Service(message.service, message.service_type),
                message.action,
                message.conversation_id or str(uuid.uuid4()),
                agreement,
            ),
            message_properties=tuple(
                Property(str(k), str(v))
                for k, v in message.properties.items()
                if not str(k).startswith("_") and isinstance(v, str | int | float)
            ),
            mpc=pmode.mpc,
        )
        opened = ExitStack()
        spools = TempSpools(config.spool_dir)
        try:
            payloads = []
            for index, part in enumerate(message.payloads):
                content_id, props = part.content_id, part.properties
                source = opened.enter_context(ctx.blobs.open_stored(part.blob_digest, part.data))
                cid = (
                    content_id
                    if content_id and _plain_cid(content_id)
                    else f"part{index}.{uuid.uuid4().hex}@aswnode"
                )
                properties = tuple(
                    Property(str(k), str(v))
                    for k, v in props.items()
                    if k not in ("MimeType", "CompressionType")
                )
                payloads.append(Payload(cid, part.mime_type, source, properties))
            built = build_user_message(
                user_message,
                payloads,
                pmode,
                signing=ctx.signing,
                recipient_certificate=partner.encryption_certificate,
                spool=spools,
                boundary=f"MIMEBoundary_{uuid.uuid4().hex}",
            )
            wire = ctx.blobs.put_or_inline(built.body, self.inline_limit)
        finally:
            spools.close()
            opened.close()
        return replace(
            message,
            wire_digest=wire.digest,
            wire_content_type=built.content_type,
            wire_bytes=wire.data,
            signed_references=_references_to_json(built.signed_references),
        )

    def _record_wire(self, session: Session, message: ClaimedMessage) -> None:
        from node.store.messages import set_wire

        assert message.wire_digest is not None and message.wire_content_type is not None
        set_wire(
            session,
            message.id,
            digest=message.wire_digest,
            content_type=message.wire_content_type,
            now=self.ctx.clock(),
            wire_bytes=message.wire_bytes,
            signed_references=message.signed_references,
        )

    def _agent(self, partner: Partner) -> Agent:
        config = self.ctx.config
        key = json.dumps(
            [partner.endpoint, [c.serial_number for c in partner.tls_ca_certificates]], sort_keys=True
        )
        cached = self._agents.get(partner.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        policy = ClientPolicy(
            tls_ca=partner.tls_ca_certificates,
            client_key_file=config.keys.tls_key,
            client_cert_file=config.keys.tls_cert,
        )
        agent = Agent(
            self.ctx.reactor, contextFactory=policy, connectTimeout=CONNECT_TIMEOUT, pool=self._pool
        )
        self._agents[partner.id] = (key, agent)
        return agent

    async def _post(self, message: ClaimedMessage, partner: Partner) -> tuple[int, str, bytes]:
        assert message.wire_digest is not None
        ctx = self.ctx
        handle: Any = None
        producer: Any
        if message.wire_bytes is not None:
            producer = _WireBytes(message.wire_bytes)
        else:
            handle = ctx.blobs.path(message.wire_digest).open("rb")
            producer = FileBodyProducer(handle)
        try:
            headers = Headers(
                {
                    b"content-type": [(message.wire_content_type or SOAP_CONTENT_TYPE).encode("latin-1")],
                    b"user-agent": [b"aswnode"],
                }
            )
            request = self._agent(partner).request(
                b"POST", partner.endpoint.encode("ascii"), headers, producer
            )
            request.addTimeout(RESPONSE_TIMEOUT, ctx.reactor)
            response = await request
            done: defer.Deferred[bytes] = defer.Deferred()
            response.deliverBody(_CappedBody(done, RESPONSE_LIMIT))
            done.addTimeout(RESPONSE_TIMEOUT, ctx.reactor)
            body = await done
            content_type = (response.headers.getRawHeaders(b"content-type") or [b""])[0].decode("latin-1")
            return response.code, content_type, body
        finally:
            if handle is not None:
                handle.close()

    # -- settling -------------------------------------------------------------------------------

    async def _settle_delivered(self, message: ClaimedMessage, receipt: bytes) -> None:
        ctx = self.ctx
        ref = await _keep_receipt(ctx, receipt, self.inline_limit)
        wake = message.partner_id in self._retrying
        self._retrying.discard(message.partner_id)

        def settle(session: Session) -> Any:
            from node.store.messages import mark_delivered

            now = ctx.clock()
            if mark_delivered(
                session,
                message.id,
                wake_retries=wake,
                receipt_digest=ref.digest,
                now=now,
                receipt_content_type=SOAP_CONTENT_TYPE,
                receipt_bytes=ref.data,
            ):
                ctx.audit.append(
                    session,
                    "system:sender",
                    "as4.send",
                    f"message:{message.message_id}",
                    {"partner": message.partner_id, "attempt": message.attempts, "receipt": ref.digest},
                    f"sha256:{message.wire_digest}",
                    "receipt",
                    form="as4",
                    at=now,
                )
            if self._stopping or not self._claim_on_settle:
                return None
            return self._claim_in(session, now, 1)

        replacement = await ctx.db.run_grouped(settle)
        if replacement is not None and not self._stopping:
            self._dispatch(*replacement)
        log.info(
            "delivered %s to %s (attempt %d)",
            message.message_id[:80],
            message.partner_id,
            message.attempts,
        )

    async def _settle_failed(self, message: ClaimedMessage, error: str, receipt_status: str | None) -> None:
        ctx = self.ctx

        def settle(session: Session) -> None:
            from node.store.messages import mark_failed

            now = ctx.clock()
            if mark_failed(
                session, message.id, claimer=self.claimer, error=error, now=now, receipt_status=receipt_status
            ):
                ctx.audit.append(
                    session,
                    "system:sender",
                    "as4.send",
                    f"message:{message.message_id}",
                    {"partner": message.partner_id, "attempt": message.attempts, "error": error[:500]},
                    f"sha256:{message.wire_digest}" if message.wire_digest else None,
                    "failed",
                    form="as4",
                    at=now,
                )

        await ctx.db.run_grouped(settle)
        log.warning("failed %s to %s: %s", message.message_id[:80], message.partner_id, error)

    async def _settle_retry(
        self, message: ClaimedMessage, partner: Partner, error: str, receipt_status: str | None
    ) -> None:
        try:
            pmode = outbound_pmode(
                self.ctx.config,
                partner,
                service=message.service,
                service_type=message.service_type,
                action=message.action,
            )
            reliability = pmode.reliability
        except Exception as exc:
            await self._settle_failed(message, f"{error}; and the P-Mode is unusable: {exc}", receipt_status)
            return
        if message.attempts > reliability.retries:
            await self._settle_failed(
                message, f"{error} (retries spent: {message.attempts} attempts)", receipt_status
            )
            return
        delay = reliability.delay_before(message.attempts)
        ctx = self.ctx
        self._retrying.add(message.partner_id)

        def settle(session: Session) -> None:
            from node.store.messages import mark_retry

            now = ctx.clock()
            mark_retry(
                session,
                message.id,
                claimer=self.claimer,
                error=error,
                next_attempt_at=now + timedelta(seconds=delay),
                now=now,
                receipt_status=receipt_status,
            )

        await ctx.db.run_grouped(settle)
        log.info("retry %s in %.1fs: %s", message.message_id[:80], delay, error)


def _plain_cid(cid: str) -> bool:
    return not any(c in cid for c in "<> \r\n") and not cid.startswith("cid:")


async def _keep_receipt(ctx: NodeContext, receipt: bytes, limit: int) -> Any:
    """A receipt's digest, with its bytes to keep in the row; one too large goes to the blob store."""
    from node.store.blobs import Inlined

    if len(receipt) <= limit:
        return Inlined(hashlib.sha256(receipt).hexdigest(), len(receipt), receipt)
    ref = await threads.deferToThread(ctx.blobs.put_bytes, receipt)
    return Inlined(ref.digest, ref.size, None)


def _describe(exc: BaseException) -> str:
    reasons = getattr(exc, "reasons", None)
    if reasons:
        return "; ".join(r.getErrorMessage() for r in reasons)[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


# -- a signal pushed to us (a late receipt, or an error about what we sent) --------------------------


async def accept_pushed_signal(
    ctx: NodeContext, envelope: Envelope, body: ByteSource, content_type: str
) -> Answer:
    """A receipt that arrives on its own request closes the message it refers to, from any state."""
    from node.store.messages import find_message, mark_delivered

    signal = envelope.signal_message
    assert signal is not None
    ref = signal.message_info.ref_to_message_id or next(
        (e.ref_to_message_id for e in signal.errors if e.ref_to_message_id), None
    )
    if not ref:
        raise EbmsException(EbmsError.INVALID_HEADER, "the signal names no RefToMessageId")
    row = await ctx.db.read(lambda s: find_message(s, ref, direction="outbound"))
    if row is None:
        raise EbmsException(EbmsError.VALUE_INCONSISTENT, "the signal refers to no message we sent")
    partner = ctx.partners.by_id(row.partner_id)
    if partner is None:
        raise EbmsException(EbmsError.PROCESSING_MODE_MISMATCH, "the signal refers to no known partner")
    # Only the partner's signature makes a pushed signal the partner's word: anything else is refused
    # (EBMS:0101) and audited by the inbound side under an unknown actor, never under the partner's name.
    await threads.deferToThread(
        verify_pushed_signal, envelope, partner_certificates=partner.signing_certificates
    )
    outcome = await threads.deferToThread(
        read_response,
        body,
        content_type,
        sent=_sent(row),
        partner_certificates=partner.signing_certificates,
        limits=protocol_limits(ctx),
    )
    if isinstance(outcome, ReceiptOutcome):
        data = b"".join(body.chunks())
        blob = await _keep_receipt(ctx, data, inline_limit(ctx))

        def settle(session: Session) -> None:
            now = ctx.clock()
            if mark_delivered(
                session,
                row.id,
                receipt_digest=blob.digest,
                now=now,
                receipt_content_type=content_type,
                receipt_bytes=blob.data,
            ):
                ctx.audit.append(
                    session,
                    f"partner:{partner.id}",
                    "as4.receipt",
                    f"message:{ref}",
                    {"late": True},
                    f"sha256:{blob.digest}",
                    "receipt",
                    form="as4",
                    at=now,
                )

        await ctx.db.run_grouped(settle)
    else:
        text = "; ".join(f"{e.code or e.error.code} {e.detail}" for e in outcome.errors)[:500]

        def note(session: Session) -> None:
            ctx.audit.append(
                session,
                f"partner:{partner.id}",
                "as4.error",
                f"message:{ref}",
                {"errors": text},
                None,
                "error",
                form="as4",
                at=ctx.clock(),
            )

        await ctx.db.run(note)
    return Answer(200, None, b"")
