"""Payload parts up to the inline limit live in their row (payloads.data), larger ones in the blob store."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import inspect

from node.store.blobs import BlobMissing, BlobStore, Inlined
from node.store.database import Database
from node.store.messages import (
    MessageFilter,
    NewPayload,
    claim_due,
    create_outbound,
    list_messages,
    mark_retry,
    set_wire,
    store_inbound,
)
from node.store.models import Message, Payload
from node.store.payloads import PAYLOADS_WITH_DATA
from node.store.schema import alembic_config
from node.store.types import UtcDateTime
from protocols.as4.payload import FileSlice, InMemory

LEASE = timedelta(minutes=5)
LIMIT = 1024
SMALL = b"<doc>small enough for its row</doc>"
LARGE = bytes(range(256)) * 20  # 5120 bytes: over LIMIT


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def _files(blobs: BlobStore) -> list[str]:
    return list(blobs.digests())


def _inbound(db: Database, now: datetime, payloads: tuple[NewPayload, ...]) -> int:
    with db.session() as session:
        return store_inbound(
            session,
            partner_id="th",
            message_id="in-1@them",
            service="urn:svc",
            action="Deliver",
            payloads=payloads,
            now=now,
            wire_digest="12" * 32,
        ).id


def test_a_small_payload_is_kept_in_its_row_and_writes_no_file(
    db: Database, blobs: BlobStore, now: datetime
) -> None:
    stored = blobs.put_or_inline(InMemory(SMALL), LIMIT)
    assert stored == Inlined(hashlib.sha256(SMALL).hexdigest(), len(SMALL), SMALL)
    pk = _inbound(db, now, (NewPayload.stored(stored, "application/xml", "doc@them"),))
    assert _files(blobs) == []
    with db.read_session() as session:
        part = session.get(Message, pk, options=(PAYLOADS_WITH_DATA,)).payloads[0]
    # Digest and size as before: what ministries and operators are shown does not change.
    assert (part.blob_digest, part.size, part.data) == (hashlib.sha256(SMALL).hexdigest(), len(SMALL), SMALL)
    with blobs.open_stored(part.blob_digest, part.data) as source:
        assert b"".join(source.chunks()) == SMALL
    assert blobs.read_stored(part.blob_digest, part.data, len(SMALL)) == SMALL


def test_a_payload_over_the_limit_streams_to_a_blob_file(
    db: Database, blobs: BlobStore, now: datetime, tmp_path: Path
) -> None:
    path = tmp_path / "large.bin"
    path.write_bytes(LARGE)
    with path.open("rb") as handle:
        stored = blobs.put_or_inline(FileSlice(handle, 0, len(LARGE)), LIMIT)
    assert stored.data is None and stored.size == len(LARGE)
    pk = _inbound(db, now, (NewPayload.stored(stored, "application/octet-stream"),))
    assert _files(blobs) == [hashlib.sha256(LARGE).hexdigest()]
    with db.read_session() as session:
        part = session.get(Message, pk, options=(PAYLOADS_WITH_DATA,)).payloads[0]
    assert part.data is None
    with blobs.open_stored(part.blob_digest, part.data) as source:
        assert isinstance(source, FileSlice)
        assert b"".join(source.chunks(1000)) == LARGE
    assert source.fileobj.closed


def test_a_blob_gone_from_the_store_is_reported_missing(blobs: BlobStore) -> None:
    with pytest.raises(BlobMissing), blobs.open_stored("ab" * 32, None):
        pass


def test_new_payload_refuses_inline_bytes_of_another_size() -> None:
    stored = Inlined(hashlib.sha256(SMALL).hexdigest(), len(SMALL) + 1, SMALL)
    with pytest.raises(ValueError, match="inline bytes"):
        NewPayload.stored(stored, "application/xml")


def test_listing_messages_leaves_the_payload_bytes_in_the_database(
    db: Database, blobs: BlobStore, now: datetime
) -> None:
    _inbound(db, now, (NewPayload.stored(blobs.put_or_inline(InMemory(SMALL), LIMIT), "application/xml"),))
    with db.read_session() as session:
        page = list_messages(session, MessageFilter())
        part = page.items[0].payloads[0]
        assert "data" in inspect(part).unloaded
        assert part.data == SMALL  # loaded on access, inside the session
    with db.read_session() as session:
        loaded = session.get(Message, page.items[0].id, options=(PAYLOADS_WITH_DATA,))
    assert "data" not in inspect(loaded.payloads[0]).unloaded


def _outbound(db: Database, blobs: BlobStore, now: datetime, *documents: bytes) -> int:
    with db.session() as session:
        return create_outbound(
            session,
            partner_id="th",
            message_id="out-1@aswnode",
            service="urn:svc",
            action="Deliver",
            payloads=tuple(
                NewPayload.stored(blobs.put_or_inline(InMemory(d), LIMIT), "application/xml", f"p{i}@x")
                for i, d in enumerate(documents)
            ),
            now=now,
        ).id


def test_the_sender_claims_a_message_to_build_with_its_inline_payload_bytes(
    db: Database, blobs: BlobStore, now: datetime
) -> None:
    pk = _outbound(db, blobs, now, SMALL, LARGE)
    assert _files(blobs) == [hashlib.sha256(LARGE).hexdigest()]
    with db.session() as session:
        (claimed,) = claim_due(session, claimer="n", now=now, lease=LEASE)
    assert claimed.id == pk
    assert [(p.blob_digest, p.data) for p in claimed.payloads] == [
        (hashlib.sha256(SMALL).hexdigest(), SMALL),
        (hashlib.sha256(LARGE).hexdigest(), None),
    ]
    for part, expected in zip(claimed.payloads, (SMALL, LARGE), strict=True):
        with blobs.open_stored(part.blob_digest, part.data) as source:
            assert b"".join(source.chunks()) == expected


def test_a_built_message_is_claimed_again_without_its_payload_bytes(
    db: Database, blobs: BlobStore, now: datetime
) -> None:
    """A retry sends the wire bytes: the payloads' bytes are not read for it."""
    pk = _outbound(db, blobs, now, SMALL)
    with db.session() as session:
        claim_due(session, claimer="n", now=now, lease=LEASE)
        set_wire(session, pk, digest="56" * 32, content_type="multipart/related", now=now, wire_bytes=b"w")
        mark_retry(session, pk, claimer="n", error="down", next_attempt_at=now, now=now)
    with db.session() as session:
        (claimed,) = claim_due(session, claimer="n", now=now + timedelta(seconds=1), lease=LEASE)
    assert claimed.wire_digest == "56" * 32
    assert [p.data for p in claimed.payloads] == [None]


# -- the migration ------------------------------------------------------------------------------


def _payloads_table() -> sa.TableClause:
    return sa.table("payloads", sa.column("id"), sa.column("data", sa.LargeBinary()))


def test_the_migration_adds_the_column_to_a_database_with_payloads_in_blobs(
    db_url: str, blobs: BlobStore, now: datetime
) -> None:
    """A database at 0004 with a payload in the blob store: after the upgrade it still reads from there."""
    ref = blobs.put_bytes(SMALL)
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), "0004")
            connection.commit()
            assert "data" not in {c["name"] for c in inspect(connection).get_columns("payloads")}
            messages = sa.table(
                "messages",
                *(sa.column(n) for n in ("direction", "message_id", "partner_id", "service", "action")),
                *(sa.column(n) for n in ("state", "attempts", "is_test")),
                sa.column("properties", sa.JSON()),
                sa.column("created_at", UtcDateTime()),
                sa.column("updated_at", UtcDateTime()),
            )
            connection.execute(
                sa.insert(messages).values(
                    direction="inbound",
                    message_id="old@them",
                    partner_id="th",
                    service="urn:svc",
                    action="Deliver",
                    properties={},
                    state="received",
                    attempts=0,
                    is_test=False,
                    created_at=now,
                    updated_at=now,
                )
            )
            message_pk = connection.scalar(sa.text("SELECT id FROM messages"))
            connection.execute(
                sa.text(
                    "INSERT INTO payloads (message_pk, position, mime_type, blob_digest, size, properties) "
                    "VALUES (:pk, 0, 'application/xml', :digest, :size, '{}')"
                ),
                {"pk": message_pk, "digest": ref.digest, "size": ref.size},
            )
            connection.commit()
    finally:
        engine.dispose()
    upgraded = Database.open(db_url)
    try:
        with upgraded.read_session() as session:
            part = session.scalars(sa.select(Payload)).one()
            assert (part.blob_digest, part.size, part.data) == (ref.digest, len(SMALL), None)
            with blobs.open_stored(part.blob_digest, part.data) as source:
                assert b"".join(source.chunks()) == SMALL
    finally:
        upgraded.close()


def test_the_downgrade_refuses_to_drop_payloads_kept_only_in_their_row(
    db: Database, blobs: BlobStore, now: datetime
) -> None:
    _inbound(db, now, (NewPayload.stored(blobs.put_or_inline(InMemory(SMALL), LIMIT), "application/xml"),))
    with db.engine.connect() as connection:
        with pytest.raises(RuntimeError, match="would lose them"):
            command.downgrade(alembic_config(connection), "0004")
        connection.rollback()
    with db.session() as session:
        session.execute(sa.update(_payloads_table()).values(data=None))
    with db.engine.connect() as connection:
        command.downgrade(alembic_config(connection), "0004")
        connection.commit()
        assert "data" not in {c["name"] for c in inspect(connection).get_columns("payloads")}


def test_the_orphan_sweep_expects_no_file_for_a_payload_kept_in_its_row(
    db: Database, blobs: BlobStore, now: datetime
) -> None:
    from node.store.blob_sweep import sweep_orphans

    _inbound(db, now, (NewPayload.stored(blobs.put_or_inline(InMemory(SMALL), LIMIT), "application/xml"),))
    orphan = blobs.put_bytes(LARGE)
    past = time.time() - 2 * 24 * 3600
    os.utime(blobs.path(orphan.digest), (past, past))
    result = sweep_orphans(db, blobs)
    assert (result.scanned, result.referenced, result.deleted) == (1, 0, 1)
    assert _files(blobs) == []
