"""Outbound submission: validate and map a ministry's document, then store it to be sent, in one transaction.

`submit` is the one path in: the ministry API (`POST /api/v1/submissions`) and the
operator's `aswnode send` both call it. What it stores is what the sender
(node/outbound.py) picks up: an outbound message in state `pending` with its
payload in the blob store, the submission a ministry follows, and an audit record.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from twisted.internet import defer, threads

from node.api.errors import FieldError
from node.collaborations import CERTIFICATE_TYPES, DEFAULT_COLLABORATIONS, Collaborations
from node.context import NodeContext
from node.store.blobs import Inlined
from node.store.messages import NewPayload, create_outbound
from node.store.models import Delivery, Direction, Message, MessageState, Submission
from protocols.as4.payload import ByteSource, InMemory

__all__ = [
    "ANSWER_ACTION",
    "ANSWER_STATUSES",
    "ANSWER_STATUS_OF",
    "DOCUMENT_COLLABORATIONS",
    "DOCUMENT_TYPES",
    "MAX_DOCUMENT_BYTES",
    "SUBMITTED",
    "SubmissionRefused",
    "SubmissionResult",
    "answer_from_json",
    "answer_to_json",
    "derived_status",
    "document_type_for",
    "profile_for",
    "submit",
]

DOCUMENT_TYPES = ("eco", "ephyto", "answer", "raw")
# The importing side's business answers (seed 001 Art. 21), as a submission's status.
ANSWER_STATUSES = ("accepted", "not_accepted", "amendment_requested", "processed")
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
SUBMITTED = "submitted"
TREATY_MIME_TYPE = "application/xml"
# The node's default (service, action) of each certificate type (node.collaborations); a partner's
# P-Mode (partners.yaml `pmode.collaborations`) may name others, used when the caller names none.
DOCUMENT_COLLABORATIONS = {
    t: (DEFAULT_COLLABORATIONS.of(t).service, DEFAULT_COLLABORATIONS.of(t).action) for t in CERTIFICATE_TYPES
}
ANSWER_ACTION = DEFAULT_COLLABORATIONS.answer_action
# mappings.answers.AnswerStatus value → the submission status a ministry sees.
ANSWER_STATUS_OF = {
    "accepted": "accepted",
    "not-accepted": "not_accepted",
    "amendment-requested": "amendment_requested",
    "processing-result": "processed",
}


@dataclass(frozen=True, slots=True)
class SubmissionResult:
    """What a submission answered; `replayed` when an `Idempotency-Key` retry got the first answer again."""

    submission_id: str
    message_id: str
    state: str
    replayed: bool = False


class SubmissionRefused(Exception):
    """A submission not taken: `status` is the HTTP status for a ministry (422, 409), `errors` the fields.

    Pointers are relative to the API's request body (`/payload/exporter/name`, `/partner`).
    Nothing has been stored.
    """

    def __init__(self, status: int, errors: Sequence[FieldError]) -> None:
        self.status = status
        self.errors = tuple(errors)
        super().__init__("; ".join(f"{e.pointer or '(request)'}: {e.message}" for e in self.errors))


def derived_status(stored: str, message_state: str | None) -> str:
    """A submission's status for a ministry: the business answer once there, else the message's state."""
    if stored != SUBMITTED:
        return stored
    return message_state or SUBMITTED


def submit(
    ctx: NodeContext,
    *,
    ministry: str,
    partner_id: str,
    document_type: str,
    payload: bytes | ByteSource,
    mime_type: str | None = None,
    service: str | None = None,
    action: str | None = None,
    idempotency_key: str | None = None,
    form: str = "api",
) -> defer.Deferred[SubmissionResult]:
    """Validate, map and store one outbound document; fires with the result or fails with SubmissionRefused.

    `payload` is the domestic catalogue JSON (UTF-8 bytes) for `eco`/`ephyto`, the bytes
    to send for `raw` (then `mime_type`, `service` and `action` are required).
    `service`/`action` default to the mapping profile's. With `idempotency_key` a retry of
    the same request answers the first result; the same key with another request is refused (422).
    `ministry` is the ministry id (or `kind:identity`, e.g. `operator:alice`, for the audit actor);
    `form` is how the request came (`api`, `cli`), recorded in the audit log.
    """
    return defer.ensureDeferred(
        _submit(
            ctx,
            ministry=ministry,
            partner_id=partner_id,
            document_type=document_type,
            payload=InMemory(payload) if isinstance(payload, bytes | bytearray) else payload,
            mime_type=mime_type,
            service=service,
            action=action,
            idempotency_key=idempotency_key,
            form=form,
        )
    )


# -- the steps --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A valid submission ready to store: the bytes to send and where they go."""

    document_type: str
    partner_id: str
    to_party_id: str
    service: str
    action: str
    mime_type: str
    domestic: bytes | None
    treaty: ByteSource
    ref_to_message_id: str | None = None
    # A business answer: the document type of the certificate it answers (eco, ephyto).
    answered_type: str | None = None


async def _submit(
    ctx: NodeContext,
    *,
    ministry: str,
    partner_id: str,
    document_type: str,
    payload: ByteSource,
    mime_type: str | None,
    service: str | None,
    action: str | None,
    idempotency_key: str | None,
    form: str,
) -> SubmissionResult:
    if document_type not in DOCUMENT_TYPES:
        raise _refused(
            422, "/document_type", "unknown_document_type", f"must be one of {', '.join(DOCUMENT_TYPES)}"
        )
    if idempotency_key is not None and not (0 < len(idempotency_key) <= 255):
        raise _refused(422, "", "bad_idempotency_key", "the Idempotency-Key must be 1 to 255 characters")
    payload_digest = await _in_thread(ctx, _sha256_source, payload)
    request_digest = _request_digest(document_type, partner_id, service, action, mime_type, payload_digest)
    if idempotency_key is not None:
        earlier = await ctx.db.read(_find_by_key, ministry, idempotency_key)
        if earlier is not None:
            return _replay(earlier, request_digest)

    partner = ctx.partners.by_id(partner_id)
    if partner is None:
        raise _refused(422, "/partner", "unknown_partner", f"no partner {partner_id!r} is registered")
    prepared = await _in_thread(
        ctx,
        _prepare,
        document_type,
        partner_id,
        partner.party_id,
        payload,
        mime_type,
        service,
        action,
        partner.collaborations,
    )
    if prepared.answered_type is not None:
        _check_answer_type(ctx, ministry, prepared.answered_type)
        refused = await ctx.db.read(_answer_reference_refusal, ministry, prepared)
        if refused is not None:
            raise refused
    is_test = _is_test_service(prepared.service, prepared.action)
    refusal = await ctx.db.read(_lifecycle_refusal, partner_id, is_test, ctx.config.is_sandbox, ctx.clock())
    if refusal is not None:
        raise refusal

    from node.inbound import inline_limit

    # A small document stays in its payload row (no file, no fsync of its own); a larger one streams
    # into the blob store.
    treaty = await _in_thread(ctx, ctx.blobs.put_or_inline, prepared.treaty, inline_limit(ctx))
    domestic_digest = None
    if prepared.domestic is not None:
        domestic_digest = (await _in_thread(ctx, ctx.blobs.put_bytes, prepared.domestic)).digest
    try:
        row = await ctx.db.run(
            _store,
            ctx,
            ministry,
            prepared,
            is_test,
            treaty,
            domestic_digest,
            idempotency_key,
            request_digest,
            form,
            ctx.clock(),
        )
    except IntegrityError:
        if idempotency_key is None:
            raise
        # The same key was stored by a concurrent request between our look-up and our insert.
        earlier = await ctx.db.read(_find_by_key, ministry, idempotency_key)
        if earlier is None:
            raise
        return _replay(earlier, request_digest)
    if isinstance(row, SubmissionRefused):
        raise row
    return row


def _refused(status: int, pointer: str | None, code: str, message: str) -> SubmissionRefused:
    return SubmissionRefused(status, (FieldError(code, message, pointer),))


def _in_thread(ctx: NodeContext, fn: Any, *args: Any) -> defer.Deferred[Any]:
    reactor = ctx.reactor
    return threads.deferToThreadPool(reactor, reactor.getThreadPool(), fn, *args)


def _sha256_source(source: ByteSource) -> str:
    hasher = hashlib.sha256()
    for block in source.chunks():
        hasher.update(block)
    return hasher.hexdigest()


def _request_digest(
    document_type: str,
    partner_id: str,
    service: str | None,
    action: str | None,
    mime_type: str | None,
    payload_digest: str,
) -> str:
    canonical = json.dumps(
        {
            "action": action,
            "document_type": document_type,
            "mime_type": mime_type,
            "partner": partner_id,
            "payload_sha256": payload_digest,
            "service": service,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _replay(earlier: tuple[Submission, Message | None], request_digest: str) -> SubmissionResult:
    submission, message = earlier
    if submission.request_digest != request_digest:
        raise _refused(
            422,
            "",
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request; use a new key for a new submission",
        )
    return SubmissionResult(
        submission.id,
        message.message_id if message else "",
        message.state if message else MessageState.PENDING.value,
        replayed=True,
    )


def _prepare(
    document_type: str,
    partner_id: str,
    to_party_id: str,
    payload: ByteSource,
    mime_type: str | None,
    service: str | None,
    action: str | None,
    collaborations: Collaborations = DEFAULT_COLLABORATIONS,
) -> _Prepared:
    """Validation and mapping (CPU work, in a worker thread); SubmissionRefused names every error at once.
    `service`/`action` default to the partner's `collaborations` for the document type."""
    if document_type == "raw":
        missing = [
            FieldError("required", f"{name} is required for a raw document", f"/{name}")
            for name, value in (("mime_type", mime_type), ("service", service), ("action", action))
            if not value
        ]
        if missing:
            raise SubmissionRefused(422, missing)
        return _Prepared(
            document_type,
            partner_id,
            to_party_id,
            service,
            action,
            mime_type,
            None,
            payload,  # type: ignore[arg-type]
        )

    if payload.size > MAX_DOCUMENT_BYTES:
        raise _refused(
            422, "/payload", "too_large", f"the document is larger than {MAX_DOCUMENT_BYTES} bytes"
        )
    raw = b"".join(payload.chunks())
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _refused(422, "/payload", "malformed_json", f"the document is not JSON: {exc}") from None
    except RecursionError:
        raise _refused(422, "/payload", "malformed_json", "the document is nested too deeply") from None
    if document_type == "answer":
        return _prepare_answer(partner_id, to_party_id, document, mime_type, service, raw, collaborations)
    from mappings.errors import DomesticInvalid, MappingError

    profile = profile_for(document_type)
    try:
        treaty = profile.to_treaty(document)  # validates; DomesticInvalid names every problem
    except DomesticInvalid as exc:
        raise SubmissionRefused(422, tuple(_field_error(p) for p in exc.errors)) from None
    except MappingError as exc:
        raise _refused(422, "/payload", exc.code, exc.message) from None
    if isinstance(treaty, str):
        treaty = treaty.encode("utf-8")
    default = collaborations.of(document_type) if document_type in CERTIFICATE_TYPES else None
    service = service or (default.service if default else None)
    action = action or (default.action if default else None)
    missing = [
        FieldError(
            "required", f"{name} is required: the {document_type} mapping names no default", f"/{name}"
        )
        for name, value in (("service", service), ("action", action))
        if not value
    ]
    if missing:
        raise SubmissionRefused(422, missing)
    return _Prepared(
        document_type,
        partner_id,
        to_party_id,
        service,  # type: ignore[arg-type]
        action,  # type: ignore[arg-type]
        mime_type or getattr(profile, "mime_type", None) or TREATY_MIME_TYPE,
        json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8"),
        InMemory(bytes(treaty)),
    )


def _prepare_answer(
    partner_id: str,
    to_party_id: str,
    document: Any,
    mime_type: str | None,
    service: str | None,
    raw: bytes,
    collaborations: Collaborations = DEFAULT_COLLABORATIONS,
) -> _Prepared:
    from mappings import answers
    from mappings.errors import MappingError

    answer = answer_from_json(document)
    try:
        xml = answers.to_xml(answer)
    except MappingError as exc:
        raise _refused(422, "/payload", exc.code, exc.message) from None
    return _Prepared(
        "answer",
        partner_id,
        to_party_id,
        service or collaborations.of(answer.document_type).service,
        collaborations.answer_action,
        mime_type or answers.MIME_TYPE,
        raw,
        InMemory(xml),
        answer.ref_to_message_id,
        answer.document_type,
    )


_ANSWER_FIELDS = (
    "document_type",
    "certificate_reference",
    "status",
    "issued_at",
    "authority",
    "country",
    "reasons",
    "result",
    "ref_to_message_id",
)


def answer_from_json(document: Any) -> Any:
    """A mappings.answers.BusinessAnswer from its JSON form; SubmissionRefused names the bad fields."""
    from mappings.answers import AnswerStatus, BusinessAnswer, Reason

    if not isinstance(document, dict):
        raise _refused(422, "/payload", "not_an_object", "the answer must be an object")
    errors = [
        FieldError("unknown_field", f"unknown field {key!r}", f"/payload/{key}")
        for key in document
        if key not in _ANSWER_FIELDS
    ]
    # An answer answers a received certificate: its AS4 message is required (checked on submit).
    required = ("document_type", "certificate_reference", "status", "issued_at", "authority", "country")
    for key in (*required, "ref_to_message_id"):
        if not isinstance(document.get(key), str) or not document[key]:
            errors.append(FieldError("required", f"{key} is required (a string)", f"/payload/{key}"))
    statuses = [s.value for s in AnswerStatus]
    if isinstance(document.get("status"), str) and document["status"] not in statuses:
        errors.append(
            FieldError("unknown-code", f"status must be one of {', '.join(statuses)}", "/payload/status")
        )
    if (
        isinstance(document.get("document_type"), str)
        and document["document_type"] not in DOCUMENT_COLLABORATIONS
    ):
        errors.append(
            FieldError("unknown-code", "document_type must be eco or ephyto", "/payload/document_type")
        )
    issued_at = None
    if isinstance(document.get("issued_at"), str):
        try:
            issued_at = datetime.fromisoformat(document["issued_at"].replace("Z", "+00:00"))
            if issued_at.tzinfo is None:
                raise ValueError
        except ValueError:
            errors.append(
                FieldError("format", "issued_at must be a date-time with a zone", "/payload/issued_at")
            )
    reasons = []
    for i, item in enumerate(document.get("reasons") or []):
        if not isinstance(item, dict) or not item.get("code") or not item.get("text"):
            errors.append(FieldError("invalid", "a reason needs a code and a text", f"/payload/reasons/{i}"))
            continue
        reasons.append(Reason(str(item["code"]), str(item["text"]), item.get("field")))
    if errors:
        raise SubmissionRefused(422, errors)
    try:
        return BusinessAnswer(
            document_type=document["document_type"],
            certificate_reference=document["certificate_reference"],
            status=AnswerStatus(document["status"]),
            issued_at=issued_at,  # type: ignore[arg-type]
            authority=document["authority"],
            country=document["country"],
            reasons=tuple(reasons),
            result=document.get("result"),
            ref_to_message_id=document.get("ref_to_message_id"),
        )
    except ValueError as exc:
        raise _refused(422, "/payload", "invalid", str(exc)) from None


def answer_to_json(answer: Any) -> dict[str, Any]:
    """The JSON form of a business answer, as a ministry submits and receives it."""
    return {
        "document_type": answer.document_type,
        "certificate_reference": answer.certificate_reference,
        "status": answer.status.value,
        "issued_at": answer.issued_at.isoformat(),
        "authority": answer.authority,
        "country": answer.country,
        "reasons": [{"code": r.code, "text": r.text, "field": r.field} for r in answer.reasons],
        "result": answer.result,
        "ref_to_message_id": answer.ref_to_message_id,
    }


def profile_for(document_type: str) -> Any:
    """The mapping profile of a document type (mappings.registry, or the package's own PROFILE)."""
    try:
        from mappings import registry
    except ImportError:
        module = importlib.import_module(f"mappings.{document_type}.profile")
        return module.PROFILE
    return registry.profile(document_type)


def document_type_for(
    service: str | None, action: str | None, collaborations: Collaborations = DEFAULT_COLLABORATIONS
) -> str | None:
    """The document type a received (service, action) carries: a business answer, a certificate, or None."""
    return collaborations.document_type(service, action)


def _field_error(problem: Any) -> FieldError:
    """A mapping validation problem (pointer relative to the document) as an error relative to the request."""
    if isinstance(problem, dict):
        where, code, message = problem.get("pointer", ""), problem.get("code"), problem.get("message")
    else:
        where, code, message = problem.pointer, problem.code, problem.message
    return FieldError(str(code or "invalid"), str(message or "invalid value"), "/payload" + (where or ""))


def _is_test_service(service: str, action: str) -> bool:
    from protocols.as4.namespaces import TEST_ACTION, TEST_SERVICE

    return service == TEST_SERVICE and action == TEST_ACTION


# -- in the database (worker threads) ----------------------------------------------------------------


def _find_by_key(session: Session, ministry: str, key: str) -> tuple[Submission, Message | None] | None:
    submission = session.scalar(
        select(Submission).where(Submission.ministry == ministry, Submission.idempotency_key == key)
    )
    if submission is None:
        return None
    message = session.scalar(
        select(Message).where(Message.submission_id == submission.id).order_by(Message.id).limit(1)
    )
    return submission, message


def _lifecycle_refusal(
    session: Session, partner_id: str, is_test: bool, sandbox: bool, now: datetime
) -> SubmissionRefused | None:
    """Art. 10.4, 12: documents go only to a partner that may exchange now, and not while all exchanges
    are suspended (maintenance, force majeure); node.lifecycle.gate decides."""
    from node.lifecycle.gate import exchange_refusal

    refusal = exchange_refusal(
        session, partner_id, test_message=is_test, now=now, sandbox=sandbox, direction="outbound"
    )
    if refusal is None:
        return None
    return SubmissionRefused(409, (FieldError("partner_not_exchanging", str(refusal), "/partner"),))


def _check_answer_type(ctx: NodeContext, ministry: str, answered_type: str) -> None:
    """A ministry answers only certificates of the types it handles (an operator answers any)."""
    if ":" in ministry:
        return
    from node.api import ministries_of

    entry = ministries_of(ctx).by_id(ministry)
    if entry is None or answered_type not in entry.documents:
        raise _refused(
            422,
            "/payload/document_type",
            "document_type_not_allowed",
            f"this ministry does not handle {answered_type} certificates",
        )


def _answer_reference_refusal(
    session: Session, ministry: str, prepared: _Prepared
) -> SubmissionRefused | None:
    """The answered message must be one this partner sent us, of the answered type, routed to this ministry.

    The refusal reads the same whether the message does not exist or is another ministry's."""
    message = session.scalar(
        select(Message).where(
            Message.message_id == prepared.ref_to_message_id,
            Message.direction == Direction.INBOUND.value,
            Message.partner_id == prepared.partner_id,
        )
    )
    found = message is not None and message.document_type in (None, prepared.answered_type)
    if found and ":" not in ministry:
        routed = session.scalar(
            select(Delivery.id).where(Delivery.message_pk == message.id, Delivery.ministry == ministry)
        )
        found = routed is not None or message.ministry == ministry
    if found:
        return None
    return _refused(
        422,
        "/payload/ref_to_message_id",
        "unknown_message",
        f"no {prepared.answered_type} received from partner {prepared.partner_id!r} for this ministry "
        f"has the message id {prepared.ref_to_message_id!r}",
    )


def _message_id(party_id: str) -> str:
    # An RFC 2822 msg-id (ebMS3 §5.2.2.1): unique left part, the sender's party as the right part.
    right = re.sub(r"[^A-Za-z0-9.-]+", "-", party_id).strip("-.") or "aswnode"
    return f"{uuid.uuid4()}@{right}"


def _store(
    session: Session,
    ctx: NodeContext,
    ministry: str,
    prepared: _Prepared,
    is_test: bool,
    treaty: Inlined,
    domestic_digest: str | None,
    idempotency_key: str | None,
    request_digest: str,
    form: str,
    now: datetime,
) -> SubmissionResult | SubmissionRefused:
    refusal = _lifecycle_refusal(session, prepared.partner_id, is_test, ctx.config.is_sandbox, now)
    if refusal is not None:
        return refusal
    submission_id = str(uuid.uuid4())
    message_id = _message_id(ctx.party_id)
    submission = Submission(
        id=submission_id,
        ministry=ministry,
        document_type=prepared.document_type,
        partner_id=prepared.partner_id,
        status=SUBMITTED,
        history=[{"at": now.isoformat(), "status": SUBMITTED, "detail": f"queued as {message_id}"}],
        idempotency_key=idempotency_key,
        request_digest=request_digest,
        document_digest=domestic_digest,
        created_at=now,
        updated_at=now,
    )
    session.add(submission)
    session.flush()
    create_outbound(
        session,
        partner_id=prepared.partner_id,
        message_id=message_id,
        service=prepared.service,
        action=prepared.action,
        payloads=(
            NewPayload.stored(
                treaty,
                prepared.mime_type,
                content_id=f"{uuid.uuid4()}@{message_id.rsplit('@', 1)[1]}",
            ),
        ),
        now=now,
        conversation_id=str(uuid.uuid4()),
        from_party_id=ctx.party_id,
        to_party_id=prepared.to_party_id,
        document_type=prepared.document_type,
        ministry=ministry,
        submission_id=submission_id,
        is_test=is_test,
        ref_to_message_id=prepared.ref_to_message_id,
    )
    ctx.audit.append(
        session,
        actor=ministry if ":" in ministry else f"ministry:{ministry}",
        action="submission.accept",
        subject=f"submission:{submission_id}",
        detail={
            "message_id": message_id,
            "partner": prepared.partner_id,
            "document_type": prepared.document_type,
            "service": prepared.service,
            "action": prepared.action,
            "payload_sha256": treaty.digest,
            "payload_size": treaty.size,
            "document_sha256": domestic_digest,
        },
        request_digest=request_digest,
        status="202",
        form=form,
    )
    return SubmissionResult(submission_id, message_id, MessageState.PENDING.value)
