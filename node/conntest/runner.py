"""Running a step of the connection test (Art. 10.3 step 2 domestic, step 4 foreign), case by case.

Each automated case runs its check; its result (with what failed and why) is stored as soon
as it ends, so progress is visible while the run goes on (`on_progress`, the operator API's
run endpoint). A check that raises is a failed case naming the exception, never a crash.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import defer, threads

from node.config import NodeConfig
from node.conntest.minutes import CaseResult, Outcome
from node.conntest.plan import ConnectionTestPlan, Step, TestCase

__all__ = ["CheckOutcome", "RunEnvironment", "execute_run", "run_step", "start"]


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    passed: bool
    detail: str
    evidence: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.passed and not self.detail:
            raise ValueError("a failed check says what failed and why")


@dataclass
class RunEnvironment:
    """What the checks use: the node's configuration, keys, partner, database, reactor and clock."""

    config: NodeConfig
    procedure: Any  # node.lifecycle.service.Procedure
    db: Any  # node.store.database.Database
    reactor: Any
    plan: ConnectionTestPlan
    partner: Any = None  # node.partners.Partner (foreign step)
    signing: Any = None  # protocols.as4.security.SigningIdentity (foreign step)
    plan_created_at: Any = None


Check = Callable[[RunEnvironment, TestCase], Awaitable[CheckOutcome]]


def _checks() -> dict[str, Check]:
    from node.conntest import domestic, foreign

    return {**domestic.CHECKS, **foreign.CHECKS}


async def run_step(
    env: RunEnvironment,
    actor: str,
    step: Step,
    *,
    only: tuple[str, ...] = (),
    on_progress: Callable[[TestCase, CaseResult], None] = lambda case, result: None,
) -> tuple[int, list[CaseResult]]:
    """Run the automated cases of `step` (or only the case ids in `only`); (run id, results)."""
    run_id = await threads.deferToThread(
        _in_session, env.db, env.procedure.start_run, actor, env.plan.partner_id, step
    )
    results = await execute_run(env, actor, run_id, step, only=only, on_progress=on_progress)
    return run_id, results


async def execute_run(
    env: RunEnvironment,
    actor: str,
    run_id: int,
    step: Step,
    *,
    only: tuple[str, ...] = (),
    on_progress: Callable[[TestCase, CaseResult], None] = lambda case, result: None,
) -> list[CaseResult]:
    """The cases of an open run, one after the other, each stored when it ends; then the run is finished."""
    procedure = env.procedure
    checks = _checks()
    results: list[CaseResult] = []
    try:
        for case in env.plan.cases:
            if case.step is not step or case.check == "manual" or (only and case.id not in only):
                continue
            started = procedure.clock()
            check = checks.get(case.check)
            try:
                if check is None:
                    outcome = CheckOutcome(False, f"no automated check {case.check!r} in this node")
                else:
                    outcome = await check(env, case)
            except Exception as exc:  # a check's failure is the case's result, with the reason
                outcome = CheckOutcome(False, f"{type(exc).__name__}: {exc}"[:2000])
            result = CaseResult(
                case.id,
                Outcome.PASSED if outcome.passed else Outcome.FAILED,
                started.isoformat(),
                procedure.clock().isoformat(),
                outcome.detail,
                dict(outcome.evidence),
            )
            await threads.deferToThread(_in_session, env.db, procedure.record_result, run_id, result)
            results.append(result)
            on_progress(case, result)
    finally:
        await threads.deferToThread(_in_session, env.db, procedure.finish_run, actor, run_id)
    return results


async def start(
    ctx: Any, *, actor: str, partner_id: str, step: Step, form: str = "api"
) -> tuple[int, defer.Deferred[list[CaseResult]]]:
    """From a running node: open a run and let it go on in the background; (run id, its completion)."""
    from node.lifecycle.service import Procedure

    procedure = Procedure(ctx.config, clock=ctx.clock, audit=ctx.audit, form=form)

    def begin(session: Any) -> tuple[int, ConnectionTestPlan, Any]:
        row, plan = procedure.current_plan(session, partner_id)
        run_id = procedure.start_run(session, actor, partner_id, step)
        return run_id, plan, row.created_at

    run_id, plan, created_at = await ctx.db.run(begin)
    env = RunEnvironment(
        config=ctx.config,
        procedure=procedure,
        db=ctx.db,
        reactor=ctx.reactor,
        plan=plan,
        partner=ctx.partners.by_id(partner_id),
        signing=ctx.signing,
        plan_created_at=created_at,
    )
    finished = defer.ensureDeferred(execute_run(env, actor, run_id, step))
    return run_id, finished


def _in_session(db: Any, fn: Callable[..., Any], *args: Any) -> Any:
    with db.session() as session:
        return fn(session, *args)
