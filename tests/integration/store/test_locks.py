"""Job locks: one holder at a time across connections, released with the transaction."""

from __future__ import annotations

from node.store.database import Database
from node.store.locks import job_lock_key, try_job_lock


def test_job_lock_keys_are_stable_and_distinct() -> None:
    assert job_lock_key("audit-retention") == job_lock_key("audit-retention")
    assert job_lock_key("audit-retention") != job_lock_key("go-live")
    assert -(2**63) <= job_lock_key("x") < 2**63


def test_a_job_lock_excludes_a_second_holder_until_the_first_transaction_ends(db: Database) -> None:
    other = Database.open(db.url, upgrade=False)
    try:
        with db.session() as first:
            assert try_job_lock(first, "audit-retention")
            if db.dialect == "postgresql":
                with other.read_session() as second:
                    assert not try_job_lock(second, "audit-retention")
                    assert try_job_lock(second, "another-job")
        with other.read_session() as second:
            assert try_job_lock(second, "audit-retention")
    finally:
        other.close()
