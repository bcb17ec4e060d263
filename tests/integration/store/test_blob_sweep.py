"""node.store.blob_sweep: orphan blobs go, every blob a row names stays (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

import node.store  # noqa: F401  (every table on the metadata: lifecycle, console sessions)
from node.store import blob_sweep
from node.store.blob_sweep import QUARANTINE_PREFIX, REFERENCES, _remove, sweep_orphans
from node.store.blobs import BlobRef, BlobStore
from node.store.database import Database
from node.store.messages import NewPayload, create_outbound, mark_delivered, set_wire, store_inbound
from node.store.models import Base, Submission

TWO_DAYS = 2 * 24 * 3600

# Columns named like a digest that do not name a blob file, and why.
NOT_BLOBS = {
    ("audit_chain", "head_hash"): "hash of the audit chain's head record",
    ("audit_chain", "anchor_hash"): "hash the retention sweep anchors the chain to",
    ("audit_records", "prev_hash"): "the chain link",
    ("audit_records", "hash"): "the chain link",
    ("audit_records", "request_digest"): "sha256: of a request, evidence only",
    ("submissions", "request_digest"): "sha256: of the submitted request, for idempotency",
    ("certificate_registrations", "fingerprint"): "a certificate's SHA-256",
    ("conntest_plans", "digest"): "sha256: of the plan's canonical JSON, kept in the row",
    ("conntest_minutes", "digest"): "sha256: of the minutes' canonical JSON, kept in the row",
    ("conntest_confirmations", "minutes_digest"): "which minutes were confirmed",
    ("console_sessions", "id_digest"): "hash of a session cookie",
}


def _age(blobs: BlobStore, digest: str, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(blobs.path(digest), (past, past))


def _blob(blobs: BlobStore, digest: str) -> BlobRef:
    return BlobRef(digest, blobs.size(digest))


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def _one_of_each_kind(db: Database, blobs: BlobStore) -> dict[str, str]:
    """A blob for every column that names one, each referenced by a real row, all two days old."""
    kinds = {
        name: blobs.put_bytes(f"<{name}/>".encode()).digest
        for name in (
            "outbound payload",
            "outbound wire",
            "outbound receipt",
            "submitted document",
            "inbound payload",
            "inbound wire",
            "inbound receipt",
        )
    }
    now = datetime.now(UTC)
    with db.session() as session:
        session.add(
            Submission(
                id="sub-1",
                ministry="moit",
                document_type="eco",
                partner_id="th",
                status="submitted",
                document_digest=kinds["submitted document"],
                created_at=now,
                updated_at=now,
            )
        )
        session.flush()
        message = create_outbound(
            session,
            partner_id="th",
            message_id="out-1@vn",
            service="urn:svc",
            action="Deliver",
            payloads=(NewPayload(_blob(blobs, kinds["outbound payload"]), "application/xml"),),
            now=now,
            submission_id="sub-1",
        )
        set_wire(
            session, message.id, digest=kinds["outbound wire"], content_type="multipart/related", now=now
        )
        assert mark_delivered(session, message.id, receipt_digest=kinds["outbound receipt"], now=now)
        store_inbound(
            session,
            partner_id="th",
            message_id="in-1@th",
            service="urn:svc",
            action="Deliver",
            payloads=(NewPayload(_blob(blobs, kinds["inbound payload"]), "application/xml"),),
            now=now,
            wire_digest=kinds["inbound wire"],
            receipt_digest=kinds["inbound receipt"],
        )
    for digest in kinds.values():
        _age(blobs, digest, TWO_DAYS)
    return kinds


def test_every_blob_a_row_names_survives_and_only_old_orphans_go(db: Database, blobs: BlobStore) -> None:
    kinds = _one_of_each_kind(db, blobs)
    orphan = blobs.put_bytes(b"a payload whose transaction never committed (kill -9)")
    _age(blobs, orphan.digest, TWO_DAYS)
    fresh = blobs.put_bytes(b"a payload being stored right now")

    dry = sweep_orphans(db, blobs, dry_run=True)
    assert (dry.deleted, dry.bytes, dry.dry_run) == (1, orphan.size, True)
    assert blobs.exists(orphan.digest)

    result = sweep_orphans(db, blobs)
    assert result.as_dict() == {
        "scanned": 9,
        "referenced": 7,
        "young": 1,
        "deleted": 1,
        "bytes": orphan.size,
        "restored": 0,
        "temporaries": 0,
        "dry_run": False,
        "older_than_hours": 24.0,
    }
    assert not blobs.exists(orphan.digest)
    assert blobs.exists(fresh.digest)
    for kind, digest in kinds.items():
        assert blobs.exists(digest), f"the {kind} blob was deleted"
    assert sweep_orphans(db, blobs).deleted == 0
    # Once old enough, the unreferenced fresh one goes too.
    assert sweep_orphans(db, blobs, older_than=timedelta(hours=1), now=time.time() + 7200).deleted == 1
    assert not blobs.exists(fresh.digest)


def test_every_digest_column_of_the_schema_is_either_swept_around_or_known_not_to_name_a_blob() -> None:
    covered = {(c.class_.__tablename__, c.key) for c in REFERENCES}
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if any(word in column.name for word in ("digest", "hash", "sha", "fingerprint", "blob")):
                key = (table.name, column.name)
                assert key in covered or key in NOT_BLOBS, (
                    f"{table.name}.{column.name}: does it name a blob? add it to blob_sweep.REFERENCES"
                )


def test_a_blob_a_writer_touched_after_the_walk_is_put_back(blobs: BlobStore) -> None:
    ref = blobs.put_bytes(b"equal bytes stored again by a new message")
    cutoff = time.time() - 3600  # the file was modified after the cutoff: someone reuses it
    assert _remove(blobs, ref.digest, cutoff) is False
    assert blobs.path(ref.digest).read_bytes() == b"equal bytes stored again by a new message"
    assert not list(blobs.root.glob(f"??/??/{QUARANTINE_PREFIX}*"))


def test_a_quarantined_blob_left_by_a_killed_sweep_is_judged_again(db: Database, blobs: BlobStore) -> None:
    kinds = _one_of_each_kind(db, blobs)
    kept = blobs.path(kinds["inbound payload"])
    kept.rename(kept.with_name(QUARANTINE_PREFIX + kept.name))  # killed between rename and unlink
    orphan = blobs.put_bytes(b"orphan")
    _age(blobs, orphan.digest, TWO_DAYS)
    path = blobs.path(orphan.digest)
    path.rename(path.with_name(QUARANTINE_PREFIX + path.name))
    result = sweep_orphans(db, blobs)
    assert (result.restored, result.deleted) == (2, 1)
    assert blobs.exists(kinds["inbound payload"]) and not blobs.exists(orphan.digest)
    assert not list(blobs.root.glob(f"??/??/{QUARANTINE_PREFIX}*"))


def test_a_safe_age_is_required(db: Database, blobs: BlobStore) -> None:
    with pytest.raises(ValueError, match="at least"):
        sweep_orphans(db, blobs, older_than=timedelta(minutes=5))


def _outbound(db: Database, blobs: BlobStore, message_id: str, digest: str) -> None:
    with db.session() as session:
        create_outbound(
            session,
            partner_id="th",
            message_id=message_id,
            service="urn:svc",
            action="Deliver",
            payloads=(NewPayload(_blob(blobs, digest), "application/xml"),),
            now=datetime.now(UTC),
        )


def _nothing_holds_a_snapshot(db: Database) -> bool:
    """SQLite: the whole WAL can be checkpointed; PostgreSQL: no other session holds back vacuum."""
    if db.dialect == "sqlite":
        with sqlite3.connect(db.url.database) as raw:
            busy, frames, checkpointed = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return busy == 0 and frames == checkpointed
    with db.engine.connect() as connection:
        holding = connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND backend_xmin IS NOT NULL"
            )
        )
    return holding == 0


@pytest.fixture
def between_reads(db: Database) -> Iterator[list[Any]]:
    """Callbacks run each time a read transaction of the sweep has ended (its connection is back in the
    pool); a callback's own database work does not call them again."""
    callbacks: list[Any] = []
    running = [False]

    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        if running[0]:
            return
        running[0] = True
        try:
            for callback in callbacks:
                callback()
        finally:
            running[0] = False

    pool = db.read_engine.pool
    event.listen(pool, "checkin", on_checkin)
    yield callbacks
    event.remove(pool, "checkin", on_checkin)


def test_the_sweep_reads_in_short_transactions_and_a_row_added_meanwhile_keeps_its_blob(
    db: Database, blobs: BlobStore, between_reads: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blob_sweep, "WALK_ROWS", 2)
    kept = [blobs.put_bytes(f"<payload {i}/>".encode()).digest for i in range(9)]
    for i, digest in enumerate(kept):
        _outbound(db, blobs, f"out-{i}@vn", digest)
    orphan = blobs.put_bytes(b"a payload whose transaction never committed").digest
    reused = blobs.put_bytes(b"bytes a new message names without storing them again").digest
    for digest in (*kept, orphan, reused):
        _age(blobs, digest, TWO_DAYS)

    reads: list[bool] = []
    added: list[bool] = []
    statements: list[str] = []
    event.listen(db.read_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    def after_each_read() -> None:
        reads.append(_nothing_holds_a_snapshot(db))
        if not added and "FROM submissions" in statements[-1]:
            # Payloads and messages walked: this row comes too late for the walk.
            _outbound(db, blobs, "late@vn", reused)
            added.append(_nothing_holds_a_snapshot(db))

    between_reads.append(after_each_read)
    result = sweep_orphans(db, blobs)
    between_reads.clear()

    assert (result.scanned, result.referenced, result.deleted) == (11, 10, 1)
    assert not blobs.exists(orphan) and blobs.exists(reused)
    assert all(blobs.exists(digest) for digest in kept)
    # 11 digests and 9 messages 2 at a time, the submissions, then the same for the 2 old orphans: each
    # its own read, and after each one nothing kept a snapshot, not even with a write committed meanwhile.
    assert added == [True]
    assert len(reads) >= 12 and all(reads)


def test_a_second_sweep_of_the_store_waits_for_the_first(db: Database, blobs: BlobStore, monkeypatch) -> None:
    """The node's job and `aswnode blobs sweep` may overlap: a second sweep's restore of quarantined files
    could hand the first one a blob a writer just touched (a committed row's blob lost), so they take
    turns on the store's lock file."""
    import threading

    entered: list[str] = []
    first_inside, release_first = threading.Event(), threading.Event()
    restore = blob_sweep._restore_quarantined

    def restore_then_hold(store: BlobStore) -> int:
        name = threading.current_thread().name
        entered.append(name)
        if name == "first":
            first_inside.set()
            release_first.wait(30)
        return restore(store)

    monkeypatch.setattr(blob_sweep, "_restore_quarantined", restore_then_hold)
    first = threading.Thread(target=sweep_orphans, args=(db, blobs), name="first")
    second = threading.Thread(target=sweep_orphans, args=(db, blobs), name="second")
    first.start()
    assert first_inside.wait(30)
    second.start()
    second.join(1.0)  # without the lock the second sweep is inside at once
    assert entered == ["first"]
    release_first.set()
    first.join(30)
    second.join(30)
    assert entered == ["first", "second"]


def test_a_blob_another_process_removed_meanwhile_is_not_counted_and_stops_nothing(
    blobs: BlobStore, monkeypatch
) -> None:
    digest = blobs.put_bytes(b"<gone/>").digest
    _age(blobs, digest, TWO_DAYS)
    real_replace = os.replace

    def replace_then_lose(src: Any, dst: Any) -> None:
        real_replace(src, dst)
        os.unlink(dst)  # another sweep of the same directory took it

    monkeypatch.setattr(blob_sweep.os, "replace", replace_then_lose)
    assert _remove(blobs, digest, time.time() - 3600) is False
