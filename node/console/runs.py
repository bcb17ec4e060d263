"""Connection test runs: start one (steps 2 and 4 of Art. 10.3) and follow its progress live."""

from __future__ import annotations

import importlib
import inspect
import json
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from node.console.lifecycle_port import action_errors, procedure
from node.console.partner_actions import perform
from node.console.web import ConsoleRequest, NotFound, Redirect, Response, Route, url

if TYPE_CHECKING:
    from node.console.app import Console

__all__ = ["ROUTES", "progress"]

_log = Logger(namespace="node.console.runs")
_PID = r"/partners/(?P<partner_id>[A-Za-z0-9._-]{1,64})"


def _runner() -> Any | None:
    """The lifecycle helper's test runner (node.conntest.runner), when this node has it."""
    try:
        return importlib.import_module("node.conntest.runner")
    except ModuleNotFoundError:
        return None


def progress(ctx: Any, session: Any, partner_id: str, run_id: int) -> dict[str, Any]:
    """The run as the page polls it: state, automated cases done out of the step's, each case's result."""
    from node.conntest.plan import Step

    proc = procedure(ctx)
    state = proc.progress(session, run_id)
    _, plan = proc.current_plan(session, partner_id)
    step = Step(state["step"])
    planned = [c for c in plan.cases if c.step is step and c.check != "manual"]
    by_case = {c["case_id"]: c for c in state["cases"]}
    cases = [
        {
            "id": c.id,
            "purpose": c.purpose,
            "result": by_case[c.id]["outcome"] if c.id in by_case else "pending",
            "detail": by_case[c.id]["detail"] if c.id in by_case else "",
        }
        for c in planned
    ]
    cases += [
        {"id": cid, "purpose": "", "result": r["outcome"], "detail": r["detail"]}
        for cid, r in by_case.items()
        if cid not in {c.id for c in planned}
    ]
    return {
        "run_id": run_id,
        "step": step.value,
        "state": state["status"],
        "done": len(by_case),
        "total": max(len(planned), len(by_case)),
        "finished": state["status"] != "running",
        "started_at": state["started_at"],
        "finished_at": state["finished_at"],
        "cases": cases,
    }


async def run_start(console: Console, req: ConsoleRequest, partner_id: str) -> Redirect:
    from node.conntest.plan import Step

    runner = _runner()
    if runner is None:
        assert req.session is not None
        req.session.flash(
            "This node has no automatic test runner: record each case's result by hand below.", "error"
        )
        return Redirect(url(f"/partners/{partner_id}"))
    ctx = console.ctx
    try:
        step = Step(req.get("step", "foreign"))
    except ValueError:
        step = Step.FOREIGN
    actor = f"operator:{req.operator}"
    try:
        started = runner.start(ctx, actor=actor, partner_id=partner_id, step=step, form="console")
        run_id, finished = (await started) if inspect.isawaitable(started) else started
    except action_errors() as exc:
        return await perform(console, req, partner_id, "run", _refuse(str(exc)))
    if isinstance(finished, Deferred):
        finished.addErrback(lambda f: _log.failure("test run {run} failed", failure=f, run=run_id))
    return Redirect(url(f"/partners/{partner_id}/runs/{run_id}"))


def _refuse(text: str) -> Any:
    def operation(*_args: Any) -> str:
        from node.lifecycle.service import LifecycleError

        raise LifecycleError(text)

    return operation


async def _read_progress(console: Console, partner_id: str, run_id: str) -> dict[str, Any]:
    ctx = console.ctx
    if ctx.partners.by_id(partner_id) is None:
        raise NotFound(partner_id)
    try:
        return await ctx.db.read(lambda s: progress(ctx, s, partner_id, int(run_id)))
    except action_errors():
        raise NotFound(run_id) from None


async def run_page(console: Console, req: ConsoleRequest, partner_id: str, run_id: str) -> Response:
    state = await _read_progress(console, partner_id, run_id)
    return console.render(req, "run.html", partner_id=partner_id, run=state)


async def run_progress(console: Console, req: ConsoleRequest, partner_id: str, run_id: str) -> Response:
    state = await _read_progress(console, partner_id, run_id)
    return Response(json.dumps(state).encode(), content_type="application/json")


ROUTES = (
    Route("POST", _PID + "/run", run_start),
    Route("GET", _PID + r"/runs/(?P<run_id>[0-9]{1,12})", run_page),
    Route("GET", _PID + r"/runs/(?P<run_id>[0-9]{1,12})\.json", run_progress),
)
