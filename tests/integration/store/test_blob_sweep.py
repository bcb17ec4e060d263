"""node.store.blob_sweep: orphan blobs go, every blob a row names stays (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import node.store  # noqa: F401  (every table on the metadata: lifecycle, console sessions)
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
