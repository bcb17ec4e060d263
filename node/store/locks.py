"""Cluster-wide "only one node does this now" locks for scheduled jobs (PostgreSQL advisory locks)."""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["job_lock_key", "try_job_lock"]


def job_lock_key(name: str) -> int:
    """A stable signed 64-bit key for a job name (the same in every node and Python version)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


def try_job_lock(session: Session, name: str) -> bool:
    """Take the lock named `name` for the rest of this transaction, if no other transaction holds it.

    PostgreSQL: `pg_try_advisory_xact_lock`, released at commit or rollback (also when the
    holder dies). SQLite serves one node and its write transactions already exclude each other:
    always True.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": job_lock_key(name)}))
