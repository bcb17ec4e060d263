"""Database: engine settings, transactions, and DB work off the reactor thread."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import text
from twisted.internet import defer

from node.store.database import Database, normalise_url
from node.store.models import Partner


def test_sqlite_runs_in_wal_with_full_sync_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path}/var/node.db")
    try:
        with db.session() as session:
            pragma = {
                name: session.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
        assert pragma == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 30000}
    finally:
        db.close()


def test_postgres_urls_use_psycopg_3() -> None:
    assert normalise_url("postgresql://u@h/d").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/d").drivername == "postgresql+psycopg"
    with pytest.raises(ValueError, match="unsupported"):
        normalise_url("mysql://u@h/d")


def test_a_session_commits_at_the_end_and_rolls_back_on_error(db: Database, now) -> None:
    with db.session() as session:
        session.add(Partner(id="kept", party_id="P1", state="registered", state_since=now))
    with pytest.raises(RuntimeError), db.session() as session:
        session.add(Partner(id="dropped", party_id="P2", state="registered", state_since=now))
        session.flush()
        raise RuntimeError("boom")
    with db.read_session() as session:
        assert [p.id for p in session.query(Partner).all()] == ["kept"]


@pytest_twisted.inlineCallbacks
def test_run_calls_the_function_in_a_pool_thread_in_one_transaction(db: Database, now):
    reactor_thread = threading.get_ident()

    def work(session, partner_id):
        session.add(Partner(id=partner_id, party_id="P", state="registered", state_since=now))
        return threading.get_ident()

    worker = yield db.run(work, "th")
    assert worker != reactor_thread
    states = yield db.read(lambda session: session.query(Partner.id).all())
    assert [row[0] for row in states] == ["th"]


@pytest_twisted.inlineCallbacks
def test_run_fails_the_deferred_and_rolls_back_when_the_function_raises(db: Database, now):
    def work(session):
        session.add(Partner(id="x", party_id="P", state="registered", state_since=now))
        session.flush()
        raise LookupError("nope")

    with pytest.raises(LookupError):
        yield db.run(work)
    count = yield db.read(lambda session: session.query(Partner).count())
    assert count == 0


def test_nodes_starting_at_once_on_a_fresh_database_migrate_it_once(db_url: str) -> None:
    opened: list[Database] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def start() -> None:
        try:
            barrier.wait(timeout=30)
            opened.append(Database.open(db_url))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert errors == [] and len(opened) == 3
        with opened[0].read_session() as session:
            assert session.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        for database in opened:
            database.close()


HOLD_THE_WRITE_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
connection.execute("UPDATE audit_chain SET head_seq = head_seq")
print("locked", flush=True)
time.sleep(1.5)
connection.execute("COMMIT")
"""


def test_a_writer_waits_for_another_process_holding_the_sqlite_write_lock(tmp_path: Path, now) -> None:
    db = Database.open(f"sqlite:///{tmp_path}/node.db")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_WRITE_LOCK, str(tmp_path / "node.db")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with db.session() as session:
            session.add(Partner(id="th", party_id="P", state="registered", state_since=now))
        assert time.monotonic() - started > 0.5  # it waited rather than failing with "database is locked"
        assert holder.wait(timeout=30) == 0
    finally:
        holder.kill()
        holder.wait()
        db.close()


@pytest_twisted.inlineCallbacks
def test_sqlite_writes_run_in_one_thread(tmp_path: Path):
    db = Database.open(f"sqlite:///{tmp_path}/node.db")
    try:
        idents = yield defer.gatherResults([db.run(lambda session: threading.get_ident()) for _ in range(20)])
        assert len(set(idents)) == 1
    finally:
        db.close()


@pytest_twisted.inlineCallbacks
def test_grouped_writers_share_a_commit_and_a_failing_one_is_rolled_back_alone(db: Database, now):
    from sqlalchemy.exc import IntegrityError

    from tests.integration.store.factories import inbound

    def store(session, message_id):
        inbound(session, now, message_id=message_id)
        return message_id

    # Queued together behind the first commit: the same MessageId twice in one group.
    results = yield defer.DeferredList(
        [db.run_grouped(store, mid) for mid in ("g1@them", "g2@them", "g2@them", "g3@them")],
        consumeErrors=True,
    )
    outcomes = [ok for ok, _ in results]
    assert outcomes == [True, True, False, True]
    assert results[2][1].check(IntegrityError)
    stored = yield db.read(lambda s: sorted(m for (m,) in s.execute(text("SELECT message_id FROM messages"))))
    assert stored == ["g1@them", "g2@them", "g3@them"]


@pytest_twisted.inlineCallbacks
def test_a_grouped_caller_hears_only_after_its_write_is_committed(db: Database, now):
    seen = []

    def work(session, partner_id):
        session.add(Partner(id=partner_id, party_id="P", state="registered", state_since=now))

    def check(_result, partner_id):
        # A separate connection: sees only what is committed.
        with db.read_session() as session:
            seen.append(session.get(Partner, partner_id) is not None)

    yield defer.gatherResults([db.run_grouped(work, f"p{i}").addCallback(check, f"p{i}") for i in range(10)])
    assert seen == [True] * 10
