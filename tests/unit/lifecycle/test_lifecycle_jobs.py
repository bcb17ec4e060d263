"""The scheduler jobs: go-live at the announced time, once per cluster (PostgreSQL advisory lock)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy import text

from node.audit import AuditLog
from node.config import NodeConfig
from node.lifecycle.jobs import ADVISORY_LOCKS, LifecycleJobs
from node.lifecycle.service import Procedure
from node.lifecycle.states import State
from node.store.database import Database


def announce(node) -> None:  # type: ignore[no-untyped-def]
    node.do(node.procedure.draw_up_plan, "operator:alice", "th")
    node.pass_every_case()
    node.do(node.procedure.draw_up_minutes, "operator:alice", "th")
    node.confirm_all()
    node.do(node.procedure.golive, "operator:alice", "th", node.clock.now + timedelta(hours=2))


def test_the_golive_job_activates_the_partner_at_the_announced_time(node) -> None:  # type: ignore[no-untyped-def]
    announce(node)
    jobs = LifecycleJobs(node.procedure, node.db)
    assert jobs.activate_due() == []
    node.clock.advance(hours=2)
    assert jobs.activate_due() == ["th"]
    assert node.do(node.procedure.state, "th") is State.ACTIVE
    assert jobs.activate_due() == []


def test_in_a_postgresql_cluster_only_the_lock_holder_runs_the_job(
    node, postgres_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = node.config.directory / "node.yaml"
    data = yaml.safe_load(path.read_text())
    data["database"] = {"url": postgres_url}
    path.write_text(yaml.safe_dump(data))
    config = NodeConfig.load(node.config.directory)
    db = Database.open(config.database_url)
    try:
        node.db, node.config = db, config
        node.procedure = Procedure(config, clock=node.clock, audit=AuditLog(node.clock))
        announce(node)
        node.clock.advance(hours=2)
        jobs = LifecycleJobs(node.procedure, db)
        with db.engine.connect() as other_node:  # another node of the cluster holds the lock
            other_node.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCKS["golive"]})
            assert jobs.activate_due() == []
            other_node.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCKS["golive"]})
        assert jobs.activate_due() == ["th"]
        assert node.do(node.procedure.state, "th") is State.ACTIVE
    finally:
        db.close()
