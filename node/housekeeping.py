"""Housekeeping of a running node: the scheduled sweep of orphan blobs (node.store.blob_sweep) and
the audit log's retention (node.audit: records are kept at least 3 years, Decree 47 Art. 45).

`start(ctx, scheduler)` adds the jobs, run in the scheduler's thread pool:
- the blob sweep, first SWEEP_FIRST_DELAY after start, then every SWEEP_EVERY. Every node sweeps its
  own blob directory (no cluster lock: each node's store holds what that node wrote), and a sweep
  that deletes something is audited;
- the audit retention, first RETENTION_FIRST_DELAY after start, then every RETENTION_EVERY: on one
  node of a cluster at a time (a job lock); each run is itself audited.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from node.context import NodeContext

__all__ = [
    "RETENTION_EVERY",
    "RETENTION_FIRST_DELAY",
    "RETENTION_JOB",
    "SWEEP_EVERY",
    "SWEEP_FIRST_DELAY",
    "SWEEP_JOB",
    "attach",
    "keep_audit",
    "start",
    "sweep_blobs",
]

log = logging.getLogger("aswnode.housekeeping")

SWEEP_JOB = "housekeeping.blob_sweep"
SWEEP_EVERY = timedelta(hours=6)
SWEEP_FIRST_DELAY = timedelta(minutes=10)
RETENTION_JOB = "housekeeping.audit_retention"
RETENTION_EVERY = timedelta(days=1)
RETENTION_FIRST_DELAY = timedelta(minutes=20)


def attach(ctx: NodeContext, root: Any) -> None:
    """Nothing to mount: the jobs start with the scheduler."""


def start(ctx: NodeContext, scheduler: Any) -> None:
    for job, every, first_delay, run in (
        (SWEEP_JOB, SWEEP_EVERY, SWEEP_FIRST_DELAY, sweep_blobs),
        (RETENTION_JOB, RETENTION_EVERY, RETENTION_FIRST_DELAY, keep_audit),
    ):
        scheduler.add_job(
            run,
            "interval",
            args=(ctx,),
            seconds=every.total_seconds(),
            id=job,
            next_run_time=ctx.clock() + first_delay,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
        )


def keep_audit(ctx: NodeContext) -> int | None:
    """One retention run: records older than the retention deleted; None if another node ran it."""
    with ctx.db.session() as session:
        deleted = ctx.audit.retention_job(session, ctx.clock())
    if deleted:
        log.info("audit retention: deleted %d record(s) older than the retention period", deleted)
    return deleted


def sweep_blobs(ctx: NodeContext) -> Any:
    """One sweep with the default safe age; what it deleted is logged and audited."""
    from node.store.blob_sweep import sweep_orphans

    result = sweep_orphans(ctx.db, ctx.blobs)
    if result.deleted:
        log.info(
            "blob sweep: deleted %d orphan blob(s), %d bytes; %d referenced, %d too young",
            result.deleted,
            result.bytes,
            result.referenced,
            result.young,
        )
        with ctx.db.session() as session:
            ctx.audit.append(
                session,
                actor="system:housekeeping",
                action="blobs.sweep",
                subject="blobs",
                detail=result.as_dict(),
                status="ok",
                form="scheduler",
            )
    return result
