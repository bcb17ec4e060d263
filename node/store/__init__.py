"""node/store: the node's database (SQLAlchemy 2 + Alembic), blob store and repository queries.

API for the other node helpers (all times are aware UTC datetimes; no function commits, the
session's transaction does):

node.store.database
    db = Database.open(url, *, reactor=None, upgrade=True)   # sqlite:///path or postgresql://...
        # creates/upgrades the schema to Alembic head; SQLite: WAL, synchronous=FULL, FKs, busy timeout
    with db.session() as s: ...          # one write transaction (SQLite: BEGIN IMMEDIATE)
    with db.read_session() as s: ...     # one read transaction
    d = db.run(fn, *args)                # Deferred[fn(session, *args)] in the write pool (SQLite: 1 thread)
    d = db.read(fn, *args)               # Deferred, read pool; the reactor thread never waits on the DB
    db.close(); db.dialect ('sqlite'|'postgresql'); db.engine
    Results of run/read are detached ORM objects (no expiry on commit): load what you need inside fn.

node.store.models (Base, Partner, Submission, Message, Payload, Delivery,
    AuditRecord, AuditChain; Direction, MessageState, DeliveryState StrEnums). Message.id is the
    monotonic sequence (order of submission); Message.payloads is loaded with the message.

node.store.blobs
    blobs = BlobStore(dir)
    blobs.put(chunks) / put_bytes(b) / put_source(ByteSource) -> BlobRef(digest, size)
    spool = blobs.spool()  # a protocols Spool: write(), finish() -> FileSlice, .ref; close() when done
    blobs.source(digest) -> FileSlice (close .fileobj) ; with blobs.open(digest) as src: ...
    blobs.path(digest), exists, size, read_bytes(digest, limit)
    blobs.verify(digest)   # raises BlobCorrupt / BlobMissing
    blobs.put_or_inline(source, limit) -> Inlined(digest, size, data|None)  # small: bytes for the row
    blobs.read_stored(digest, data, limit) -> bytes   # a row's inline bytes, else the blob
    with blobs.open_stored(digest, data) as src: ...  # the same as a ByteSource, to stream
    Message.wire_bytes / receipt_bytes and Payload.data are deferred columns: read them inside the
    session (payloads.PAYLOADS_WITH_DATA: a loader option for a message's payloads with their bytes).

node.store.messages  (s = session; re-exports node.store.outbound_queue, inbound_messages,
                      message_queries and payloads.NewPayload)
    create_outbound(s, *, partner_id, message_id, service, action, payloads: Sequence[NewPayload], now,
                    service_type, conversation_id, ref_to_message_id, from_party_id, to_party_id,
                    agreement_ref, pmode_id, document_type, ministry, submission_id, is_test,
                    properties, not_before) -> QueuedMessage(id, message_id) (state pending;
                    session.get(Message, queued.id) for the ORM object)
    NewPayload(blob: BlobRef, mime_type, content_id=None, properties=((name, value), ...), data=None)
    NewPayload.stored(blobs.put_or_inline(...), mime_type, ...)  # data: the bytes kept in the row
    set_wire(s, pk, *, digest, content_type, now, wire_bytes=None, signed_references=None)
        # the built message, byte-identical on retries (inline when small)
    claim_due(s, *, claimer, now, lease: timedelta, limit=16, partner_id=None, in_order=True)
        -> list[Message]   # oldest first; pending+due or sending with an expired lease;
        # PG: FOR UPDATE SKIP LOCKED; state -> sending, attempts += 1. Commit promptly.
        # in_order: while an older message to a partner awaits a retry, its younger ones wait.
        # window=N: per partner only the first N of its queue (pending or sending) are claimed.
    renew_lease(s, pk, *, claimer, until) -> bool ; release_claims(s, *, claimer, now) -> int
    mark_delivered(s, pk, *, receipt_digest, now, receipt_content_type=None, receipt_status="valid") -> bool
        # from any state (a late receipt closes a failed message too); False if already delivered;
        # the partner's messages waiting for a retry become due at once
    mark_retry(s, pk, *, claimer, error, next_attempt_at, now, receipt_status=None) -> bool
    mark_failed(s, pk, *, claimer, error, now, receipt_status=None) -> bool   # False: claim lost
    resend(s, pk, *, now, reset_attempts=True) -> bool      # failed -> pending
    find_received(s, *, partner_id, message_id, since=None) -> Message | None   # duplicate elimination
    store_inbound(s, *, partner_id, message_id, service, action, payloads, now, wire_digest, ...,
                  receipt_digest=None, audit: AuditLog | None = None) -> Message (state received)
    insert_inbound(s, **the same) -> int    # Core INSERTs, the receiver's hot path; returns Message.id
        # wire_bytes=, receipt_bytes=: small wire messages and receipts live in the row (blobs.INLINE_LIMIT)
    db.run_grouped(fn, *args)  # group commit: callers share one COMMIT, a failed one retried alone
    set_receipt(s, pk, *, digest, content_type, now)
    get_message(s, pk), find_message(s, message_id, *, direction=None, partner_id=None)
    list_messages(s, MessageFilter(states=(), direction, partner_id, document_type, ministry,
                  submission_id, created_from, created_before, text, is_test), *, limit=50, offset=0,
                  oldest_first=False) -> MessagePage(items, total, offset, limit, total_exact)
                  # total counts at most offset + COUNT_CAP + 1 (total_exact False past that)
    count_by_state(s) -> {(direction, state): n}; count_by_partner(s) -> {(partner, direction, state): n}
    queue_depth(s, *, partner_id=None) -> int

node.store.partners
    ensure_partner(s, partner_id, *, party_id, party_id_type=None, now) -> Partner ; partner_state(s, id)

node.store.locks
    try_job_lock(s, name) -> bool   # PG advisory xact lock: a scheduled job runs on one node at a time

node.audit
    audit = AuditLog(clock=utcnow)
    audit.append(s, actor, action, subject, detail=None, request_digest=None, status=None, *, form, at=None)
        # form in {"as4","api","cli","console","scheduler"}; actor "kind:id" e.g. "ministry:moit"
    audit.verify(s) -> AuditBreak(seq, reason) | None ; audit.retention_sweep(s, now=None, keep_years=3)
    audit.retention_job(s, now=None, keep_years=3) -> int | None   # daily: db.run(audit.retention_job)
    audit.export_jsonl(s, out) -> int ; audit.entries(s, since_seq=0, subject=None) ; audit.head(s)

Adding tables: see node/store/migrations/__init__.py. node/store/lifecycle_models.py and
node/console/session_models.py, when present, are imported here so their models are on Base.metadata.
"""

from __future__ import annotations

import importlib
import importlib.util

from node.store import models
from node.store.blobs import BlobRef, BlobStore
from node.store.database import Database

if importlib.util.find_spec("node.store.lifecycle_models") is not None:
    importlib.import_module("node.store.lifecycle_models")
# The console's tables (operator sessions) live beside its code; on the shared metadata always, so
# the schema (create_all, Alembic's drift check) never depends on whether the console was imported.
if importlib.util.find_spec("node.console.session_models") is not None:
    importlib.import_module("node.console.session_models")

__all__ = ["BlobRef", "BlobStore", "Database", "models"]
