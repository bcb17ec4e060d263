"""The audit log (Decree 47 Art. 45): a hash chain of who did what, in which form, with what answer.

Each record's `hash` is sha256 over a canonical JSON serialisation of its fields including
`prev_hash`, the previous record's hash; `seq` numbers the records without gaps. Appends lock the
single `audit_chain` head row (PostgreSQL `FOR UPDATE`; on SQLite the write transaction already
holds the database's one write lock), so concurrent transactions chain one after the other.
The lock is held until the caller's transaction ends: append late in a transaction.

The retention sweep deletes the oldest records (never one younger than 3 years) and moves the
chain's anchor to the first record kept, so `verify` checks the rest from there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import PurePath
from typing import Any, TextIO
from uuid import UUID

from sqlalchemy import bindparam, delete, event, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from node.store.direct import DirectWrite
from node.store.locks import try_job_lock
from node.store.models import AuditChain, AuditRecord
from node.store.types import utcnow

__all__ = [
    "FORMS",
    "GENESIS_HASH",
    "MIN_RETENTION_YEARS",
    "RETENTION_JOB",
    "AppendedRecord",
    "AuditBreak",
    "AuditEntry",
    "AuditLog",
    "record_hash",
]

GENESIS_HASH = "0" * 64
MIN_RETENTION_YEARS = 3
# How the request reached us: AS4 from a partner, the ministry API, the CLI, the console, a scheduled job.
FORMS = frozenset({"as4", "api", "cli", "console", "scheduler"})
RETENTION_JOB = "audit-retention"
_CHAIN_ID = 1
_CHAIN = AuditChain.__table__
_CHAIN_KEY = identity_key(AuditChain, _CHAIN_ID)  # the head row's key in a session's identity map
_LOCK_HEAD = select(_CHAIN.c.head_seq, _CHAIN.c.head_hash).where(_CHAIN.c.id == _CHAIN_ID).with_for_update()
# The head as this transaction last wrote it: the row stays locked until the transaction ends, so the
# next append in the same transaction (a group commit holds many) need not read it again.
_HEAD_IN_TRANSACTION = "aswnode.audit.head"


@event.listens_for(Session, "after_soft_rollback")
def _forget_head(session: Session, _previous: Any) -> None:
    # Also a SAVEPOINT rolled back (one caller of a group commit failed): what it appended is gone.
    session.info.pop(_HEAD_IN_TRANSACTION, None)


@event.listens_for(Session, "after_commit")
def _release_head(session: Session) -> None:
    # The lock went with the commit: another writer may append before this session's next transaction.
    session.info.pop(_HEAD_IN_TRANSACTION, None)


@dataclass(frozen=True, slots=True)
class AuditBreak:
    """The first record at which the chain does not hold, and why."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit record {self.seq}: {self.reason}"


@dataclass(frozen=True, slots=True)
class AppendedRecord:
    """A record as appended (the values inserted; `detail` as its stored canonical text)."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    form: str
    request_digest: str | None
    status: str | None
    detail: str
    prev_hash: str
    hash: str = ""


_INSERT_RECORD = DirectWrite(
    insert(AuditRecord.__table__),
    keys=[f.name for f in fields(AppendedRecord)],
)
_ADVANCE_HEAD = DirectWrite(
    update(_CHAIN)
    .where(_CHAIN.c.id == _CHAIN_ID)
    .values(head_seq=bindparam("seq"), head_hash=bindparam("hash"))
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A record as exported (and as hashed): plain values only."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    form: str
    request_digest: str | None
    status: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, record: AuditRecord) -> AuditEntry:
        return cls(
            seq=record.seq,
            at=_timestamp(record.at),
            actor=record.actor,
            action=record.action,
            subject=record.subject,
            form=record.form,
            request_digest=record.request_digest,
            status=record.status,
            detail=json.loads(record.detail),
            prev_hash=record.prev_hash,
            hash=record.hash,
        )

    def to_json(self) -> str:
        return _canonical({name: getattr(self, name) for name in self.__slots__})


def _canonical(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_plain
    )


def _plain(value: Any) -> Any:
    """Detail values JSON has no type for: times as ISO 8601, enums as their value, ids and paths as text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (date, UUID, PurePath)):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"audit detail value of type {type(value).__name__} is not JSON")


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(record: AuditRecord | AppendedRecord) -> str:
    """sha256 over the canonical JSON of every field but `hash` (the detail as its stored text)."""
    content = {
        "seq": record.seq,
        "at": _timestamp(record.at),
        "actor": record.actor,
        "action": record.action,
        "subject": record.subject,
        "form": record.form,
        "request_digest": record.request_digest,
        "status": record.status,
        "detail": record.detail,
        "prev_hash": record.prev_hash,
    }
    return hashlib.sha256(_canonical(content).encode("utf-8")).hexdigest()


def _years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


class AuditLog:
    """Appends to, verifies, sweeps and exports the audit chain, always inside the caller's session."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock

    def append(
        self,
        session: Session,
        actor: str,
        action: str,
        subject: str,
        detail: Mapping[str, Any] | None = None,
        request_digest: str | None = None,
        status: str | int | None = None,
        *,
        form: str,
        at: datetime | None = None,
    ) -> AppendedRecord:
        """Add one record to the chain in `session`'s transaction (it commits or rolls back with it).

        actor: who asked, as `kind:identity` (`operator:alice`, `ministry:moit`, `partner:th-nsw`,
        `system:sender`); form: one of FORMS; request_digest: e.g. `sha256:<hex>` of the request
        content; status: the answer (HTTP status, `receipt`, ebMS error code, `ok` ...).
        """
        if form not in FORMS:
            raise ValueError(f"audit form {form!r} is not one of {sorted(FORMS)}")
        for name, value in (("actor", actor), ("action", action), ("subject", subject)):
            if not value:
                raise ValueError(f"audit record needs a non-empty {name}")
        if session.new or session.dirty or session.deleted:
            session.flush()  # as before: what the caller added is written with (before) its record
        head = session.info.get(_HEAD_IN_TRANSACTION)
        head_seq, head_hash = head if head is not None else self._lock_head_values(session)
        values: dict[str, Any] = {
            "seq": head_seq + 1,
            "at": at or self._clock(),
            "actor": actor,
            "action": action,
            "subject": subject,
            "form": form,
            "request_digest": request_digest,
            "status": None if status is None else str(status),
            "detail": _canonical(dict(detail or {})),
            "prev_hash": head_hash,
        }
        # Not an ORM object (building one costs more than the insert): the values as inserted.
        unhashed = AppendedRecord(**values)
        record = replace(unhashed, hash=record_hash(unhashed))
        values["hash"] = record.hash
        # On the driver's cursor (node.store.direct), not the ORM: appending is on every exchange's hot
        # path. The record handed back is not in the session (its values are those inserted).
        connection = session.connection()
        _INSERT_RECORD.execute_on(connection, values)
        _ADVANCE_HEAD.execute_on(connection, {"seq": record.seq, "hash": record.hash})
        session.info[_HEAD_IN_TRANSACTION] = (record.seq, record.hash)
        loaded = session.identity_map.get(_CHAIN_KEY)
        if loaded is not None:  # keep a chain row this session already holds in step with the table
            set_committed_value(loaded, "head_seq", record.seq)
            set_committed_value(loaded, "head_hash", record.hash)
        return record

    def verify(self, session: Session, *, batch: int = 1000) -> AuditBreak | None:
        """None if the chain holds from its anchor to its head; else the first record where it breaks."""
        chain = session.get(AuditChain, _CHAIN_ID)
        if chain is None:
            return AuditBreak(0, "the audit chain head row is missing")
        expected_seq, expected_prev = chain.anchor_seq, chain.anchor_hash
        # Records committed after the head was read are not ours to judge yet.
        query = (
            select(AuditRecord)
            .where(AuditRecord.seq <= chain.head_seq)
            .order_by(AuditRecord.seq)
            .execution_options(yield_per=batch)
        )
        for record in session.scalars(query):
            if record.seq < expected_seq:
                return AuditBreak(record.seq, f"record precedes the chain's anchor at {expected_seq}")
            if record.seq > expected_seq:
                return AuditBreak(expected_seq, f"record missing (next present is {record.seq})")
            if record.prev_hash != expected_prev:
                return AuditBreak(record.seq, "prev_hash does not match the previous record's hash")
            if record_hash(record) != record.hash:
                return AuditBreak(record.seq, "content does not match its hash (altered)")
            expected_seq, expected_prev = record.seq + 1, record.hash
            session.expunge(record)
        if expected_seq <= chain.head_seq:
            return AuditBreak(expected_seq, f"record missing (the chain head is {chain.head_seq})")
        if chain.head_seq >= chain.anchor_seq and expected_prev != chain.head_hash:
            return AuditBreak(chain.head_seq, "the last record's hash is not the chain head's")
        return None

    def retention_sweep(
        self,
        session: Session,
        now: datetime | None = None,
        keep_years: int = MIN_RETENTION_YEARS,
        *,
        actor: str = "system:retention",
    ) -> int:
        """Delete records older than `keep_years` (at least 3) from the start of the chain; audited.

        Only a prefix of the chain is deleted, ending before the first record younger than the
        cutoff, so no young record is ever deleted even if the clock once went backwards.
        """
        if keep_years < MIN_RETENTION_YEARS:
            raise ValueError(f"audit records are kept at least {MIN_RETENTION_YEARS} years, not {keep_years}")
        now = now or self._clock()
        cutoff = _years_before(now, keep_years)
        chain = self._lock_head(session)
        first_young = session.scalar(select(func.min(AuditRecord.seq)).where(AuditRecord.at >= cutoff))
        keep_from = chain.head_seq + 1 if first_young is None else first_young
        deleted = 0
        if keep_from > chain.anchor_seq:
            if first_young is None:
                anchor_hash = chain.head_hash
            else:
                anchor_hash = session.scalar(
                    select(AuditRecord.prev_hash).where(AuditRecord.seq == first_young)
                )
            result = session.execute(
                delete(AuditRecord)
                .where(AuditRecord.seq < keep_from)
                .execution_options(synchronize_session=False)
            )
            deleted = result.rowcount or 0
            chain.anchor_seq = keep_from
            chain.anchor_hash = anchor_hash
            session.flush()
        self.append(
            session,
            actor,
            "audit.retention_sweep",
            "audit",
            {"cutoff": _timestamp(cutoff), "deleted": deleted, "keep_years": keep_years},
            status="ok",
            form="scheduler",
            at=now,
        )
        return deleted

    def retention_job(
        self, session: Session, now: datetime | None = None, keep_years: int = MIN_RETENTION_YEARS
    ) -> int | None:
        """The scheduled sweep: runs on one node of a cluster at a time; None if another node is at it.

        Schedule it with e.g. `ctx.db.run(ctx.audit.retention_job)` once a day.
        """
        if not try_job_lock(session, RETENTION_JOB):
            return None
        return self.retention_sweep(session, now, keep_years)

    def entries(
        self, session: Session, *, since_seq: int = 0, subject: str | None = None, batch: int = 1000
    ) -> Iterator[AuditEntry]:
        query = select(AuditRecord).where(AuditRecord.seq >= since_seq)
        if subject is not None:
            query = query.where(AuditRecord.subject == subject)
        for record in session.scalars(query.order_by(AuditRecord.seq).execution_options(yield_per=batch)):
            yield AuditEntry.of(record)
            session.expunge(record)

    def export_jsonl(self, session: Session, out: TextIO, *, since_seq: int = 0) -> int:
        """Write the records as JSON lines (canonical, one per record); returns how many."""
        count = 0
        for entry in self.entries(session, since_seq=since_seq):
            out.write(entry.to_json())
            out.write("\n")
            count += 1
        return count

    def head(self, session: Session) -> tuple[int, str]:
        """(seq, hash) of the last record: publish it elsewhere to pin the chain."""
        chain = session.get(AuditChain, _CHAIN_ID)
        return (0, GENESIS_HASH) if chain is None else (chain.head_seq, chain.head_hash)

    def _lock_head_values(self, session: Session) -> tuple[int, str]:
        """(head_seq, head_hash), the chain's row locked for this transaction."""
        row = session.connection().execute(_LOCK_HEAD).first()
        if row is None:
            chain = self._lock_head(session)
            return chain.head_seq, chain.head_hash
        return int(row[0]), str(row[1])

    def _lock_head(self, session: Session) -> AuditChain:
        session.info.pop(_HEAD_IN_TRANSACTION, None)  # the caller may move the chain by the ORM row
        query = (
            select(AuditChain)
            .where(AuditChain.id == _CHAIN_ID)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        chain = session.scalars(query).one_or_none()
        if chain is None:
            # Revision 0001 inserts the row; this only serves a schema made by create_all.
            chain = AuditChain(
                id=_CHAIN_ID, head_seq=0, head_hash=GENESIS_HASH, anchor_seq=1, anchor_hash=GENESIS_HASH
            )
            session.add(chain)
            session.flush()
        return chain
