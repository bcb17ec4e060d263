"""Housekeeping of a running node: the scheduled sweep of orphan blobs (node.store.blob_sweep).

`start(ctx, scheduler)` adds the job: first SWEEP_FIRST_DELAY after start, then every
SWEEP_EVERY, in the scheduler's thread pool. Every node sweeps its own blob directory (no
cluster lock: each node's store holds what that node wrote), and a sweep that deletes
something is audited.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from node.context import NodeContext

__all__ = ["SWEEP_EVERY", "SWEEP_FIRST_DELAY", "SWEEP_JOB", "attach", "start", "sweep_blobs"]

log = logging.getLogger("aswnode.housekeeping")

SWEEP_JOB = "housekeeping.blob_sweep"
SWEEP_EVERY = timedelta(hours=6)
SWEEP_FIRST_DELAY = timedelta(minutes=10)


def attach(ctx: NodeContext, root: Any) -> None:
    """Nothing to mount: the jobs start with the scheduler."""


def start(ctx: NodeContext, scheduler: Any) -> None:
    scheduler.add_job(
        sweep_blobs,
        "interval",
        args=(ctx,),
        seconds=SWEEP_EVERY.total_seconds(),
        id=SWEEP_JOB,
        next_run_time=ctx.clock() + SWEEP_FIRST_DELAY,
        replace_existing=True,
        max_instances=1,
        coalesce=True,
    )


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
