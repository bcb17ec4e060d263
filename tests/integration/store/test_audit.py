"""The audit hash chain: appends in the caller's transaction, tampering found, retention keeps the young."""

from __future__ import annotations

import io
import itertools
import json
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, update

from node.audit import RETENTION_JOB, AuditBreak, AuditLog, record_hash
from node.store.database import Database
from node.store.locks import try_job_lock
from node.store.models import AuditChain, AuditRecord


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _append(audit: AuditLog, db: Database, n: int, **extra) -> None:
    for i in range(n):
        with db.session() as session:
            audit.append(
                session,
                "ministry:moit",
                "submission.create",
                f"submission:{i}",
                {"document_type": "eco", "n": i, "name": "Lê Văn"},
                "sha256:" + "ab" * 32,
                202,
                form="api",
                **extra,
            )


def test_an_untouched_chain_verifies_and_links_each_record_to_the_previous(db: Database, now) -> None:
    audit = AuditLog(Clock(now))
    _append(audit, db, 5)
    with db.read_session() as session:
        assert audit.verify(session) is None
        records = session.query(AuditRecord).order_by(AuditRecord.seq).all()
        assert [r.seq for r in records] == [1, 2, 3, 4, 5]
        assert records[0].prev_hash == "0" * 64
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))
        assert all(record_hash(r) == r.hash for r in records)
        assert (records[0].at, records[0].status, records[0].form) == (now, "202", "api")
        assert audit.head(session) == (5, records[-1].hash)


def test_an_append_rolls_back_with_the_callers_transaction(db: Database, now) -> None:
    audit = AuditLog(Clock(now))
    _append(audit, db, 1)
    with pytest.raises(RuntimeError), db.session() as session:
        audit.append(session, "operator:alice", "partner.suspend", "partner:th", form="console")
        raise RuntimeError("the action failed")
    _append(audit, db, 1)
    with db.read_session() as session:
        assert [r.seq for r in session.query(AuditRecord)] == [1, 2]
        assert audit.verify(session) is None


def test_append_refuses_an_unknown_form_or_an_empty_actor(db: Database, now) -> None:
    audit = AuditLog(Clock(now))
    with db.session() as session:
        with pytest.raises(ValueError, match="form"):
            audit.append(session, "operator:alice", "x", "y", form="email")
        with pytest.raises(ValueError, match="actor"):
            audit.append(session, "", "x", "y", form="cli")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "200"}, "altered"),
        ({"detail": '{"document_type":"ephyto","n":2}'}, "altered"),
        ({"actor": "ministry:other"}, "altered"),
        ({"prev_hash": "f" * 64}, "prev_hash"),
    ],
)
def test_tampering_is_detected_at_the_altered_record(db: Database, now, change, reason) -> None:
    audit = AuditLog(Clock(now))
    _append(audit, db, 5)
    with db.session() as session:
        session.execute(update(AuditRecord).where(AuditRecord.seq == 3).values(**change))
    with db.read_session() as session:
        found = audit.verify(session)
    assert isinstance(found, AuditBreak) and found.seq == 3 and reason in found.reason


def test_a_rehashed_forgery_breaks_the_link_of_the_next_record(db: Database, now) -> None:
    audit = AuditLog(Clock(now))
    _append(audit, db, 5)
    with db.session() as session:
        record = session.get(AuditRecord, 3)
        record.status = "500"
        record.hash = record_hash(record)
    with db.read_session() as session:
        assert audit.verify(session) == AuditBreak(4, "prev_hash does not match the previous record's hash")


def test_a_deleted_record_in_the_middle_or_at_the_end_is_detected(db: Database, now) -> None:
    audit = AuditLog(Clock(now))
    _append(audit, db, 5)
    with db.session() as session:
        session.execute(delete(AuditRecord).where(AuditRecord.seq == 5))
    with db.read_session() as session:
        assert audit.verify(session).seq == 5
    with db.session() as session:
        session.execute(delete(AuditRecord).where(AuditRecord.seq == 2))
    with db.read_session() as session:
        assert audit.verify(session).seq == 2


def test_concurrent_appends_form_one_unbroken_chain(db: Database, now) -> None:
    audit = AuditLog(Clock(now))
    other = Database.open(db.url)
    errors: list[BaseException] = []

    def worker(database: Database) -> None:
        try:
            _append(audit, database, 15)
        except BaseException as error:  # reported below
            errors.append(error)

    try:
        threads = [threading.Thread(target=worker, args=(d,)) for d in (db, db, other, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        other.close()
    assert errors == []
    with db.read_session() as session:
        assert session.query(AuditRecord).count() == 60
        assert audit.verify(session) is None


def test_retention_keeps_every_record_younger_than_three_years_and_the_chain_verifies(
    db: Database, now
) -> None:
    clock = Clock(now - timedelta(days=4 * 365))
    audit = AuditLog(clock)
    _append(audit, db, 3)  # four years old
    clock.now = now - timedelta(days=3 * 365 - 2)
    _append(audit, db, 2)  # just under three years old
    clock.now = now - timedelta(days=5 * 365)  # a clock that went backwards: old, but after young ones
    _append(audit, db, 1)
    clock.now = now
    _append(audit, db, 2)
    with db.session() as session:
        assert audit.retention_sweep(session, now) == 3
    with db.read_session() as session:
        kept = [r.seq for r in session.query(AuditRecord).order_by(AuditRecord.seq)]
        assert kept == [4, 5, 6, 7, 8, 9]  # 9: the sweep's own record
        assert session.get(AuditRecord, 9).action == "audit.retention_sweep"
        assert audit.verify(session) is None
    _append(audit, db, 1)
    with db.session() as session:
        assert audit.retention_sweep(session, now) == 0
        assert audit.verify(session) is None


def test_retention_refuses_to_keep_less_than_three_years(db: Database, now) -> None:
    with db.session() as session, pytest.raises(ValueError, match="at least 3"):
        AuditLog().retention_sweep(session, now, keep_years=2)


def test_retention_of_an_all_old_chain_anchors_at_the_sweep_record(db: Database, now) -> None:
    audit = AuditLog(Clock(now - timedelta(days=5 * 365)))
    _append(audit, db, 4)
    with db.session() as session:
        assert audit.retention_sweep(session, now, keep_years=4) == 4
    with db.read_session() as session:
        assert [r.seq for r in session.query(AuditRecord)] == [5]
        assert session.get(AuditChain, 1).anchor_seq == 5
        assert audit.verify(session) is None
    with db.session() as session:
        session.execute(update(AuditRecord).where(AuditRecord.seq == 5).values(prev_hash="1" * 64))
    with db.read_session() as session:
        assert audit.verify(session).seq == 5


def test_export_writes_one_canonical_json_line_per_record(db: Database, now) -> None:
    audit = AuditLog(Clock(now))
    _append(audit, db, 3)
    out = io.StringIO()
    with db.read_session() as session:
        assert audit.export_jsonl(session, out) == 3
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3]
    assert lines[0]["at"] == "2026-11-23T09:00:00.123456Z"
    assert lines[0]["detail"] == {"document_type": "eco", "n": 0, "name": "Lê Văn"}
    assert lines[1]["prev_hash"] == lines[0]["hash"]


def test_the_retention_job_runs_on_one_node_at_a_time(db: Database, now) -> None:
    audit = AuditLog(Clock(now - timedelta(days=4 * 365)))
    _append(audit, db, 2)
    if db.dialect == "postgresql":
        other = Database.open(db.url, upgrade=False)
        try:
            with db.session() as first, other.session() as second:
                assert try_job_lock(first, RETENTION_JOB)
                assert audit.retention_job(second, now) is None
        finally:
            other.close()
    with db.session() as session:
        assert audit.retention_job(session, now) == 2
        assert audit.verify(session) is None


def test_detail_values_without_a_json_type_are_written_as_text(db: Database, now) -> None:
    audit = AuditLog(Clock(now))
    with db.session() as session:
        record = audit.append(
            session,
            "system:sender",
            "message.send",
            "message:1",
            {"at": now, "ids": ("a", "b")},
            form="scheduler",
        )
        assert json.loads(record.detail) == {"at": "2026-11-23T09:00:00.123456+00:00", "ids": ["a", "b"]}
        with pytest.raises(TypeError, match="not JSON"):
            audit.append(session, "system:sender", "x", "y", {"blob": object()}, form="scheduler")
        assert audit.verify(session) is None


def test_verify_while_others_append_sees_an_unbroken_chain(db: Database, now) -> None:
    audit = AuditLog(Clock(now))
    _append(audit, db, 3)
    done = threading.Event()
    errors: list[BaseException] = []

    def appender() -> None:
        try:
            _append(audit, db, 30)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            done.set()

    thread = threading.Thread(target=appender)
    thread.start()
    verdicts = []
    while not done.is_set():
        with db.read_session() as session:
            verdicts.append(audit.verify(session))
    thread.join(timeout=60)
    with db.read_session() as session:
        verdicts.append(audit.verify(session))
        assert session.query(AuditRecord).count() == 33
    assert errors == [] and set(verdicts) == {None}


def _one(audit: AuditLog, session, action: str) -> None:
    audit.append(session, "system:sender", action, "message:m", {}, None, "ok", form="as4")


def test_many_appends_in_one_transaction_with_a_savepoint_rolled_back_keep_one_chain(
    db: Database, now
) -> None:
    """A group commit appends many records in one transaction; one caller's savepoint may roll back."""
    audit = AuditLog(Clock(now))
    with db.session() as session:
        _one(audit, session, "first")
        with pytest.raises(RuntimeError), session.begin_nested():
            _one(audit, session, "rolled-back")
            raise RuntimeError("this caller failed")
        _one(audit, session, "second")
        with session.begin_nested():
            _one(audit, session, "third")
    with db.session() as session:  # a later transaction (another writer may have appended between)
        _one(audit, session, "fourth")
    with db.read_session() as session:
        assert audit.verify(session) is None
        actions = [r.action for r in session.query(AuditRecord).order_by(AuditRecord.seq)]
        assert actions == ["first", "second", "third", "fourth"]


def test_a_session_used_for_two_transactions_rereads_the_head_another_writer_moved(db: Database, now) -> None:
    audit = AuditLog(Clock(now))
    from sqlalchemy.orm import Session

    with Session(db.engine) as long_lived:
        _one(audit, long_lived, "mine-1")
        long_lived.commit()
        _append(audit, db, 1)  # someone else, in between
        _one(audit, long_lived, "mine-2")
        long_lived.commit()
    with db.read_session() as session:
        assert audit.verify(session) is None
        assert session.query(AuditRecord).count() == 3
