"""The partner lifecycle and the legal procedure (seed 000 Art. 10, 12–14) as a node component.

`may_exchange` is the gate the sender and the receiver ask (states.py holds the table).
`attach(ctx, root)` mounts the operator API and the status page; `start(ctx, scheduler)` adds
the jobs (go-live at the announced time, notice delivery, certificate expiry); `stop()` ends them.
"""

from __future__ import annotations

from typing import Any

from node.lifecycle.states import Event, IllegalTransition, Refusal, State, may_exchange, transition

__all__ = [
    "Event",
    "IllegalTransition",
    "Refusal",
    "State",
    "attach",
    "may_exchange",
    "start",
    "stop",
    "transition",
]

_own_schedulers: list[Any] = []


def attach(ctx: Any, root: Any) -> None:
    """Mount /api/v1/operator/..., /api/v1/status and /status; start the jobs when the reactor runs."""
    from node.lifecycle.api import mount

    mount(ctx, root)
    if "node.lifecycle.jobs" not in ctx.extras:
        ctx.reactor.callWhenRunning(start, ctx, None)


def start(ctx: Any, scheduler: Any = None) -> None:
    """Add the lifecycle jobs to `scheduler` (APScheduler 3); without one, run our own TwistedScheduler."""
    if "node.lifecycle.jobs" in ctx.extras:
        return
    from node.lifecycle.jobs import LifecycleJobs
    from node.lifecycle.service import Procedure

    jobs = LifecycleJobs(
        Procedure(ctx.config, clock=ctx.clock, audit=ctx.audit, form="scheduler"), ctx.db, metrics=ctx.metrics
    )
    ctx.extras["node.lifecycle.jobs"] = jobs
    if scheduler is None:
        from apscheduler.schedulers.twisted import TwistedScheduler

        scheduler = TwistedScheduler(reactor=ctx.reactor, timezone="UTC")
        jobs.add_to(scheduler)
        scheduler.start()
        _own_schedulers.append(scheduler)
    else:
        jobs.add_to(scheduler)


def stop() -> None:
    while _own_schedulers:
        scheduler = _own_schedulers.pop()
        if scheduler.running:
            scheduler.shutdown(wait=False)
