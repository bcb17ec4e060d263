"""Receiving AS4: from a POSTed body to a stored message and its signed receipt, or an ebMS error.

The order (each step refuses with its ebMS code, and every refusal is audited):
1. read_envelope: size limits, MIME, hardened XML, exactly one message          (0004, 0007, 0009, 0011)
2. the partner by From/PartyId, To must be us; Service/Action (and AgreementRef when the
   P-Mode names one) agreed with the partner (node.collaborations, partners.yaml pmode), From/Role
   and To/Role the P-Mode's initiator and responder roles (not for the ebMS3 test service)  (0010)
3. mutual TLS, for a partner registered with a tls_ca                              (0101)
4. the lifecycle gate (node.lifecycle.gate.exchange_refusal): business only with an active
   partner and outside a suspension of all exchanges, test from testing on          (0010, 0004)
5. open_user_message with the partner's registered certificate(s); the signing certificate's
   registration (node.lifecycle.certificates) must not be expired, revoked or superseded  (0102, 0101, 0303)
6. duplicate elimination: within the partner's window the original receipt is answered again and
   nothing is delivered again; the same MessageId after the window, or a Timestamp older than it,
   is a replay and refused                                                          (0101)
7. in ONE transaction: message, payload blobs, raw signed bytes, receipt, audit and, unless it is a
   test message or a business answer (node.delivery's sweep reads its payload), its deliveries
   (node.delivery.route_on_arrival); then the receipt.
Steps 1–6, the receipt and staging the payloads run in one call in the reactor's thread pool (the
look-up on a read connection there); storing is a group commit (`db.run_grouped`).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from sqlalchemy.exc import IntegrityError
from twisted.internet import threads

from node.context import NodeContext
from node.partners import Partner
from node.pmodes import inbound_pmode, inbound_policy
from node.spooling import TempSpools
from node.tls import client_chain_reaches
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.inbound import Envelope, ReceivedUserMessage, open_user_message, read_envelope
from protocols.as4.limits import Limits
from protocols.as4.model import UserMessage, is_test_message
from protocols.as4.outbound import build_error_signal, build_receipt
from protocols.as4.payload import ByteSource

__all__ = ["Answer", "InboundProcessor", "error_signal", "protocol_limits"]

log = logging.getLogger("aswnode.inbound")

SOAP_CONTENT_TYPE = "application/soap+xml; charset=UTF-8"
# How far a partner's clock may run ahead of ours before its Timestamp is refused.
CLOCK_SKEW = timedelta(minutes=15)
# Routing marker of the delivery component for a message no ministry receives (node.delivery.NOT_ROUTED).
NOT_ROUTED = "-"
RECEIPT_LIMIT = 4 * 1024 * 1024
# The business test collaboration of the acceptance checks (/work/shared/checks): accepted from a
# registered partner whose P-Mode does not restrict its services.
BUSINESS_TEST_SERVICE = "urn:aswnode:test:business"
BUSINESS_TEST_ACTION = "Deliver"


def protocol_limits(ctx: NodeContext) -> Limits:
    limits = ctx.config.limits
    return Limits(
        max_message_bytes=limits.max_request_bytes,
        max_xml_bytes=limits.max_header_bytes,
        max_decompressed_bytes=limits.max_payload_bytes,
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """The HTTP answer to a POST: status, Content-Type, body."""

    status: int
    content_type: str | None
    body: bytes


@dataclass(frozen=True, slots=True)
class _Staged:
    wire: Any  # node.store.blobs.Inlined
    payloads: tuple[Any, ...]  # node.store.messages.NewPayload
    receipt: bytes
    receipt_digest: str


@dataclass(frozen=True, slots=True)
class _Ready:
    """A verified new message, its payloads staged and its receipt signed: to be stored."""

    envelope: Envelope
    partner: Partner
    received: ReceivedUserMessage
    staged: _Staged
    test: bool
    window: timedelta


@dataclass(frozen=True, slots=True)
class _Duplicate:
    """A verified message received before: answered with the original receipt."""

    envelope: Envelope
    partner: Partner
    message_id: str
    window: timedelta
    earlier: Any


@dataclass(frozen=True, slots=True)
class _PushedSignal:
    envelope: Envelope


class _Refused(Exception):
    """An ebMS error for the sender, with what is known of who sent what."""

    def __init__(self, error: EbmsException, partner: Partner | None, envelope: Envelope | None) -> None:
        super().__init__(error.detail)
        self.error, self.partner, self.envelope = error, partner, envelope


def inline_limit(ctx: NodeContext) -> int:
    """node.yaml `storage: {inline_limit: N}`: bytes up to N live in their database row."""
    from node.store.blobs import INLINE_LIMIT

    value = ctx.config.section("storage").get("inline_limit", INLINE_LIMIT)
    return int(value) if isinstance(value, int) and value >= 0 else INLINE_LIMIT


def _new_message_id(ctx: NodeContext) -> str:
    return f"{uuid.uuid4()}@{ctx.config.party_id}"


def error_signal(ctx: NodeContext, error: EbmsException) -> tuple[str, bytes]:
    """The ebMS Error signal for `error`, signed with the node's key so the partner can authenticate
    it: (Content-Type, body). Signing is RSA work: call it in a worker thread."""
    signal = build_error_signal(
        (error,), signing=ctx.signing, message_id=_new_message_id(ctx), now=ctx.clock()
    )
    return signal.content_type, b"".join(signal.body.chunks())


def _digest(source: ByteSource) -> str:
    hasher = hashlib.sha256()
    for chunk in source.chunks():
        hasher.update(chunk)
    return hasher.hexdigest()


def _named(value: Any) -> str | None:
    """A P-Mode value given as a string or as {value: ..., type: ...}."""
    if isinstance(value, dict):
        value = value.get("value")
    return value if isinstance(value, str) and value else None


def _check_collaboration(partner: Partner, message: UserMessage) -> None:
    """EBMS:0010 unless the partner's P-Mode agrees the message's Service, Action and AgreementRef.

    A P-Mode naming `service`/`action` restricts the partner to them; otherwise its collaborations
    (node.collaborations, over the defaults) and the business test service are agreed.
    """
    info = message.collaboration_info
    service, action = info.service.value, info.action
    overrides = partner.pmode_overrides
    named_service, named_action = _named(overrides.get("service")), _named(overrides.get("action"))
    if named_service is not None or named_action is not None:
        agreed = named_service in (None, service) and named_action in (None, action)
    else:
        collaborations = partner.collaborations
        certificates = (collaborations.eco, collaborations.ephyto)
        agreed = (
            (service, action) == (BUSINESS_TEST_SERVICE, BUSINESS_TEST_ACTION)
            or any((c.service, c.action) == (service, action) for c in certificates)
            or (action == collaborations.answer_action and any(c.service == service for c in certificates))
        )
    if not agreed:
        raise EbmsException(
            EbmsError.PROCESSING_MODE_MISMATCH,
            f"service {service[:120]!r} with action {action[:120]!r} is not agreed with this partner",
            ref_to_message_id=message.message_id,
        )
    agreement = _named(overrides.get("agreement")) or partner.config.agreement
    if agreement and (info.agreement_ref is None or info.agreement_ref.value != agreement):
        raise EbmsException(
            EbmsError.PROCESSING_MODE_MISMATCH,
            "the AgreementRef is not the one agreed with this partner",
            ref_to_message_id=message.message_id,
        )


def _check_roles(partner: Partner, message: UserMessage) -> None:
    """EBMS:0010 unless From/Role and To/Role are the roles of the partner's P-Mode.

    The partner sends the one message of a one-way push: it is the MEP's initiator and we are the
    responder, so From/Role must be PMode.Initiator.Role and To/Role PMode.Responder.Role (ebMS 3.0
    Core §5.2.2.3-4, Appendix D). Our own messages to the partner carry the same two roles
    (node.outbound), so one P-Mode, agreed alike on both sides, holds in both directions; by default
    they are the ebMS initiator and responder roles.
    """
    pmode = inbound_pmode(partner)
    for tag, party, expected, which in (
        ("From", message.from_party, pmode.initiator.role, "initiator"),
        ("To", message.to_party, pmode.responder.role, "responder"),
    ):
        if party.role != expected:
            raise EbmsException(
                EbmsError.PROCESSING_MODE_MISMATCH,
                f"{tag}/Role {party.role[:120]!r} is not the {which} role agreed with this partner",
                ref_to_message_id=message.message_id,
            )


class InboundProcessor:
    """Turns one POSTed AS4 body into an Answer. `tls_chain`: None (plain HTTP), () or the client chain."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.limits = protocol_limits(ctx)
        self.inline_limit = inline_limit(ctx)

    async def receive(self, body: ByteSource, content_type: str, tls_chain: tuple[Any, ...] | None) -> Answer:
        ctx = self.ctx
        spools = TempSpools(ctx.config.spool_dir)
        step: _Ready | _Duplicate | _PushedSignal | None = None
        try:
            # Everything up to storing in one worker thread (parse, checks, look-up, crypto, receipt,
            # payloads): each hop between threads cost the receiver more than most of the steps.
            step = await threads.deferToThread(self._prepare, body, content_type, tls_chain, spools)
            if isinstance(step, _PushedSignal):
                from node.outbound import accept_pushed_signal

                return await accept_pushed_signal(ctx, step.envelope, body, content_type)
            if isinstance(step, _Duplicate):
                return await self._answer_duplicate(step.partner, step.message_id, step.window, step.earlier)
            try:
                # Group commit: stored messages of concurrent requests share one transaction (one
                # fsync); the receipt is answered only once that transaction committed.
                await ctx.db.run_grouped(
                    self._store, step.partner, step.received, step.staged, content_type, step.test
                )
            except IntegrityError:
                # The same message arrived twice at once: the other one is stored; answer its receipt.
                ref = step.received.user_message.message_id
                again = await self._earlier(step.partner, ref, step.window)
                if again is not None:
                    return again
                raise
            return Answer(200, SOAP_CONTENT_TYPE, step.staged.receipt)
        except _Refused as refused:
            return await self._refuse(refused.error, refused.partner, refused.envelope, body)
        except EbmsException as exc:
            # A pushed signal refused, or a MessageId received before, outside its window (a replay).
            assert step is not None
            partner = None if isinstance(step, _PushedSignal) else step.partner
            if exc.ref_to_message_id is None:
                exc = exc.with_ref(step.envelope.message_id)
            return await self._refuse(exc, partner, step.envelope, body)
        finally:
            spools.close()

    def _prepare(
        self, body: ByteSource, content_type: str, tls_chain: tuple[Any, ...] | None, spools: TempSpools
    ) -> _Ready | _Duplicate | _PushedSignal:
        """Steps 1–6 and the receipt, in a worker thread; a refusal comes out as _Refused."""
        partner: Partner | None = None
        envelope: Envelope | None = None
        try:
            envelope = read_envelope(body, content_type, limits=self.limits)
            if envelope.signal_message is not None:
                return _PushedSignal(envelope)
            user_message = envelope.user_message
            assert user_message is not None
            ref = user_message.message_id
            partner = self._partner_for(user_message)
            test = is_test_message(user_message)
            if not test:
                _check_collaboration(partner, user_message)
                _check_roles(partner, user_message)
            self._check_tls(partner, tls_chain, ref)
            with self.ctx.db.read_connection() as connection:
                refusal, certificates, earlier_row = self._look_up(connection, partner, ref, test)
            if refusal is not None:
                error = EbmsError.by_code(refusal.ebms_code) or EbmsError.PROCESSING_MODE_MISMATCH
                raise EbmsException(error, str(refusal), ref_to_message_id=ref)
            collaboration = user_message.collaboration_info
            policy = inbound_policy(partner, service=collaboration.service.value, action=collaboration.action)
            window = timedelta(seconds=policy["duplicate_window_seconds"])
            self._check_timestamp(user_message, window)
            received = open_user_message(
                envelope,
                sender_certificates=partner.signing_certificates,
                own=self.ctx.signing,
                require_encryption=policy["require_encryption"],
                limits=self.limits,
                spool=spools,
            )
            if received.signature is not None and certificates:
                refused = certificates.get(received.signature.certificate.fingerprint(hashes.SHA256()).hex())
                if refused is not None:
                    raise EbmsException(EbmsError.FAILED_AUTHENTICATION, refused, ref_to_message_id=ref)
            # A duplicate is recognised only once it verified: the original receipt is for the sender.
            if earlier_row is not None:
                return _Duplicate(envelope, partner, ref, window, earlier_row)
            receipt, receipt_digest = self._receipt(received)
            wire, payloads = self._put_message(received, body)
            staged = _Staged(wire, payloads, receipt, receipt_digest)
            return _Ready(envelope, partner, received, staged, test, window)
        except EbmsException as exc:
            if envelope is not None and exc.ref_to_message_id is None:
                exc = exc.with_ref(envelope.message_id)
            raise _Refused(exc, partner, envelope) from exc

    # -- the checks -----------------------------------------------------------------------------

    def _partner_for(self, message: UserMessage) -> Partner:
        ref = message.message_id
        directory = self.ctx.partners
        partner = None
        for party_id in message.from_party.party_ids:
            partner = directory.by_party_id(party_id.value, party_id.type)
            if partner is not None:
                break
        if partner is None:
            # partners.yaml may have changed under a running node (partners add): read it again once.
            try:
                directory.maybe_reload()
            except Exception:  # a broken file keeps the registry we have
                log.warning("partners.yaml could not be reloaded")
            for party_id in message.from_party.party_ids:
                partner = directory.by_party_id(party_id.value, party_id.type)
                if partner is not None:
                    break
        if partner is None:
            names = ", ".join(p.value for p in message.from_party.party_ids)[:200]
            raise EbmsException(
                EbmsError.PROCESSING_MODE_MISMATCH,
                f"no agreement with the sending party {names}",
                ref_to_message_id=ref,
            )
        ours = self.ctx.config.party_id
        if not any(p.value == ours for p in message.to_party.party_ids):
            raise EbmsException(
                EbmsError.PROCESSING_MODE_MISMATCH,
                "the message is not addressed to this party",
                ref_to_message_id=ref,
            )
        return partner

    def _check_tls(self, partner: Partner, chain: tuple[Any, ...] | None, ref: str) -> None:
        if not partner.tls_ca_certificates:
            return
        if chain is None:
            # Plain HTTP is only ever on loopback behind a TLS proxy: the proxy checks client certificates.
            return
        if not chain:
            raise EbmsException(
                EbmsError.FAILED_AUTHENTICATION,
                "this partner must present a TLS client certificate",
                ref_to_message_id=ref,
            )
        if not client_chain_reaches(chain, partner.tls_ca_certificates):
            raise EbmsException(
                EbmsError.FAILED_AUTHENTICATION,
                "the TLS client certificate does not chain to this partner's TLS CA",
                ref_to_message_id=ref,
            )

    def _look_up(
        self, connection: Any, partner: Partner, message_id: str, test: bool
    ) -> tuple[Any, dict[str, str], Any]:
        """Why the exchange is refused now (or None), why each of the partner's certificates is refused
        (by SHA-256 fingerprint, hex) and an earlier copy of this message, if any. Three reads on one
        connection, no snapshot: each answer is checked again where it matters (the unique MessageId
        when storing), and a state changed between them is one a message a moment earlier also saw."""
        from node.lifecycle.certificates import certificate_refusals
        from node.lifecycle.gate import exchange_refusal
        from node.store.inbound_messages import find_received_receipt

        now = self.ctx.clock()
        refusal = exchange_refusal(
            connection,
            partner.id,
            test_message=test,
            now=now,
            sandbox=self.ctx.config.is_sandbox,
            direction="inbound",
        )
        certificates = {}
        if refusal is None:
            refused = certificate_refusals(
                connection, "partner", partner.id, partner.signing_certificates, now
            )
            certificates = {fp: str(why) for fp, why in refused.items()}
        earlier = find_received_receipt(connection, partner_id=partner.id, message_id=message_id)
        return refusal, certificates, earlier

    def _check_timestamp(self, message: UserMessage, window: timedelta) -> None:
        now = self.ctx.clock()
        stamp = message.message_info.timestamp
        if stamp.tzinfo is None:
            return
        if stamp < now - window or stamp > now + CLOCK_SKEW:
            raise EbmsException(
                EbmsError.FAILED_AUTHENTICATION,
                "the message Timestamp is outside the acceptance window (replayed or clock wrong)",
                ref_to_message_id=message.message_id,
            )

    async def _earlier(self, partner: Partner, message_id: str, window: timedelta) -> Answer | None:
        """The original receipt for a duplicate within the window; a replay after it is refused."""
        from node.store.inbound_messages import find_received_receipt

        row = await self.ctx.db.read(
            lambda s: find_received_receipt(s, partner_id=partner.id, message_id=message_id)
        )
        if row is None:
            return None
        return await self._answer_duplicate(partner, message_id, window, row)

    async def _answer_duplicate(
        self, partner: Partner, message_id: str, window: timedelta, row: Any
    ) -> Answer:
        now = self.ctx.clock()
        if row.created_at < now - window:
            raise EbmsException(
                EbmsError.FAILED_AUTHENTICATION,
                "this MessageId was received before, outside the duplicate window: replay refused",
                ref_to_message_id=message_id,
            )
        receipt = b""
        if row.receipt_bytes is not None:
            receipt = row.receipt_bytes
        elif row.receipt_digest:
            receipt = await threads.deferToThread(
                self.ctx.blobs.read_bytes, row.receipt_digest, RECEIPT_LIMIT
            )
        await self.ctx.db.run(
            self._audit,
            f"partner:{partner.id}",
            "as4.duplicate",
            message_id,
            {"original_received_at": row.created_at.isoformat()},
            None,
            "receipt",
        )
        return Answer(200, row.receipt_content_type or SOAP_CONTENT_TYPE, receipt)

    # -- storing --------------------------------------------------------------------------------

    def _receipt(self, received: ReceivedUserMessage) -> tuple[bytes, str]:
        receipt = build_receipt(
            received, signing=self.ctx.signing, message_id=_new_message_id(self.ctx), now=self.ctx.clock()
        )
        data = b"".join(receipt.body.chunks())
        # Kept in the message's row: receipts are small.
        return data, hashlib.sha256(data).hexdigest()

    def _put_message(self, received: ReceivedUserMessage, body: ByteSource) -> tuple[Any, tuple[Any, ...]]:
        # One thread: the payload sources may be slices of the body's file (not safe to share across threads).
        from node.store.messages import NewPayload

        blobs = self.ctx.blobs
        wire = blobs.put_or_inline(body, self.inline_limit)
        payloads = []
        # Small parts stay in their row (no file, no fsync of their own) while the message's inline
        # bytes stay within the limit; the rest stream into the blob store.
        room = self.inline_limit
        for payload in received.payloads:
            stored = blobs.put_or_inline(payload.source, room)
            if stored.data is not None:
                room -= stored.size
            payloads.append(
                NewPayload.stored(
                    stored,
                    payload.mime_type,
                    payload.content_id,
                    tuple((p.name, p.value) for p in payload.properties),
                )
            )
        return wire, tuple(payloads)

    def _store(
        self,
        session: Any,
        partner: Partner,
        received: ReceivedUserMessage,
        staged: _Staged,
        content_type: str,
        test: bool,
    ) -> None:
        from node.delivery import record_arrival_route, route_on_arrival
        from node.store.messages import insert_inbound

        message = received.user_message
        info = message.collaboration_info
        now = self.ctx.clock()
        # Routed here, in the storing transaction, unless the delivery sweep must read the payload.
        route = (
            None
            if test
            else route_on_arrival(self.ctx, partner.collaborations, info.service.value, info.action)
        )
        pk = insert_inbound(
            session,
            partner_id=partner.id,
            message_id=message.message_id,
            service=info.service.value,
            service_type=info.service.type,
            action=info.action,
            conversation_id=info.conversation_id,
            ref_to_message_id=message.message_info.ref_to_message_id,
            from_party_id=message.from_party.party_ids[0].value,
            to_party_id=message.to_party.party_ids[0].value,
            agreement_ref=info.agreement_ref.value if info.agreement_ref else None,
            payloads=staged.payloads,
            now=now,
            wire_digest=staged.wire.digest,
            wire_content_type=content_type,
            wire_bytes=staged.wire.data,
            receipt_digest=staged.receipt_digest,
            receipt_bytes=staged.receipt,
            receipt_content_type=SOAP_CONTENT_TYPE,
            is_test=test,
            # The ebMS3 test service is receipted and stored, never routed to a ministry.
            ministry=NOT_ROUTED if test else (route.ministry if route is not None else None),
            document_type=route.document_type if route is not None else None,
            properties={p.name: p.value for p in message.message_properties},
            audit=self.ctx.audit,
        )
        if route is not None:
            record_arrival_route(
                session,
                self.ctx,
                route,
                message_pk=pk,
                message_id=message.message_id,
                partner_id=partner.id,
                now=now,
            )

    # -- refusing -------------------------------------------------------------------------------

    def _audit(
        self,
        session: Any,
        actor: str,
        action: str,
        message_id: str,
        detail: dict[str, Any],
        request_digest: str | None,
        status: str,
    ) -> None:
        self.ctx.audit.append(
            session,
            actor,
            action,
            f"message:{message_id or '(unknown)'}",
            detail,
            request_digest,
            status,
            form="as4",
            at=self.ctx.clock(),
        )

    async def _refuse(
        self, exc: EbmsException, partner: Partner | None, envelope: Envelope | None, body: ByteSource
    ) -> Answer:
        ctx = self.ctx
        claimed = None
        if envelope is not None and envelope.user_message is not None:
            claimed = ",".join(p.value for p in envelope.user_message.from_party.party_ids)[:200]
        actor = f"partner:{partner.id}" if partner is not None else f"party:{claimed or 'unknown'}"
        try:
            try:
                digest: str | None = "sha256:" + await threads.deferToThread(_digest, body)
            except (OSError, ValueError):
                # The client went away first and Twisted closed the spooled body: audited without it.
                digest = None
            await ctx.db.run(
                self._audit,
                actor,
                "as4.refuse",
                exc.ref_to_message_id or "",
                {"code": exc.error.code, "detail": exc.detail[:500], "from": claimed}
                | ({} if digest else {"request": "gone before the refusal was audited"}),
                digest,
                exc.error.code,
            )
        except Exception:
            log.exception("could not audit a refusal")
        content_type, signal = await threads.deferToThread(error_signal, ctx, exc)
        log.info("refused %s: %s %s", exc.ref_to_message_id, exc.error.code, exc.detail)
        # HTTP 500 for an ebMS Error: what WSS4J-based MSHs (and the reference peer) answer, so HTTP-level
        # monitoring sees the failure; the AS4 profile also allows 200, and our own sender reads both.
        return Answer(500, content_type, signal)
