"""The lifecycle's scheduled jobs: go-live at the announced time, notice delivery, certificate expiry.

Jobs run in the scheduler's thread pool (never on the reactor thread). In a PostgreSQL
cluster each job takes a transaction-level advisory lock first, so one node runs it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from node.lifecycle.certificates import expiry_alerts
from node.lifecycle.notices import deliver_pending
from node.lifecycle.service import Procedure

__all__ = ["ADVISORY_LOCKS", "LifecycleJobs", "once_per_cluster"]

log = logging.getLogger("aswnode.lifecycle")

ADVISORY_LOCKS = {"golive": 0x61737710, "notices": 0x61737711, "certificates": 0x61737712}


@contextmanager
def once_per_cluster(db: Any, job: str) -> Iterator[bool]:
    """True if this node may run `job` now: always on SQLite, under an advisory lock on PostgreSQL."""
    if db.dialect != "postgresql":
        yield True
        return
    with db.engine.connect() as connection:
        key = {"k": ADVISORY_LOCKS[job]}
        got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), key).scalar())
        connection.commit()
        try:
            yield got
        finally:
            if got:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), key)
                connection.commit()


class LifecycleJobs:
    """The jobs of one node, added to an APScheduler 3 scheduler (TwistedScheduler in the node)."""

    def __init__(self, procedure: Procedure, db: Any, metrics: Any = None) -> None:
        self.procedure = procedure
        self.db = db
        self.metrics = metrics

    def add_to(self, scheduler: Any, *, poll_seconds: float = 15.0) -> None:
        common = {"replace_existing": True, "max_instances": 1, "coalesce": True}
        scheduler.add_job(
            self.activate_due, "interval", seconds=poll_seconds, id="lifecycle.golive", **common
        )
        scheduler.add_job(self.deliver_notices, "interval", seconds=60, id="lifecycle.notices", **common)
        scheduler.add_job(
            self.certificate_alerts,
            "interval",
            hours=1,
            id="lifecycle.certificates",
            next_run_time=self.procedure.clock() + timedelta(seconds=5),
            **common,
        )

    def activate_due(self) -> list[str]:
        """Activate the partners whose announced go-live time has come."""
        with once_per_cluster(self.db, "golive") as mine:
            if not mine:
                return []
            with self.db.session() as session:
                activated = self.procedure.activate_due(session)
        for partner_id in activated:
            log.info("partner %s is active: official connection time reached", partner_id)
        return activated

    def deliver_notices(self) -> list[tuple[int, str | None]]:
        with once_per_cluster(self.db, "notices") as mine:
            if not mine:
                return []
            return deliver_pending(self.db.session, self.procedure.config, self.procedure.clock)

    def certificate_alerts(self) -> int:
        with once_per_cluster(self.db, "certificates") as mine:
            if not mine:
                return 0
            with self.db.session() as session:
                return len(expiry_alerts(session, self.procedure, metrics=self.metrics))
