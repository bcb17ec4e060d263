"""`aswnode conntest plan|add-case|run|record|minutes|confirm|status`: the Art. 10.3 connection test."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from node.cli import OperatorError
from node.cli._choices import LazyChoice
from node.lifecycle.cli_support import (
    actor_of,
    actor_option,
    directory_argument,
    echo_json,
    open_node,
    operate,
)

if TYPE_CHECKING:
    from node.conntest.minutes import CaseResult
    from node.conntest.plan import TestCase

__all__ = ["register"]


def _steps() -> list[str]:
    from node.conntest.plan import Step

    return [s.value for s in Step]


def _parties() -> tuple[str, ...]:
    from node.conntest.minutes import PARTIES

    return PARTIES


@click.group("conntest")
def conntest_group() -> None:
    """The Art. 10.3 connection test: plan (step 1), runs (steps 2, 4), minutes and confirmations (step 3)."""


@conntest_group.command("plan")
@directory_argument
@click.argument("partner")
@click.option("--domestic-only", is_flag=True, help="A domestic connection (Art. 8.1): no foreign run.")
@click.option(
    "--max-message-bytes",
    type=click.IntRange(1024),
    default=None,
    help="The agreed size limit (too_large case).",
)
@click.option("--show", is_flag=True, help="Show the current plan instead of drawing up a new one.")
@click.option("--format", "fmt", type=click.Choice(["json", "html"]), default="json", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write to FILE.")
@actor_option
def plan_command(
    directory: Path,
    partner: str,
    domestic_only: bool,
    max_message_bytes: int | None,
    show: bool,
    fmt: str,
    out: Path | None,
    actor: str | None,
) -> None:
    """Draw up PARTNER's test plan from its agreement and P-Mode (step 1); the partner enters `testing`."""
    with open_node(directory) as (_config, db, procedure):
        if show:
            plan = operate(db, lambda s: procedure.current_plan(s, partner)[1])
        else:
            plan = operate(
                db,
                procedure.draw_up_plan,
                actor_of(actor),
                partner,
                foreign=not domestic_only,
                max_message_bytes=max_message_bytes,
            )
    import json

    text = plan.render_html() if fmt == "html" else json.dumps(plan.to_dict(), indent=2, ensure_ascii=False)
    if out is not None:
        out.write_text(text, encoding="utf-8")
        click.echo(f"plan {plan.digest} written to {out}", err=True)
    else:
        click.echo(text)


@conntest_group.command("add-case")
@directory_argument
@click.argument("partner")
@click.option("--id", "case_id", required=True, help="The case id (letters, digits, '-').")
@click.option("--step", type=LazyChoice(_steps), default="foreign", show_default=True)
@click.option("--purpose", required=True, help="What the case proves.")
@click.option("--do", "steps", multiple=True, help="A step of the case (repeat).")
@click.option("--expected", required=True, help="The expected result.")
@actor_option
def add_case_command(
    directory: Path,
    partner: str,
    case_id: str,
    step: str,
    purpose: str,
    steps: tuple[str, ...],
    expected: str,
    actor: str | None,
) -> None:
    """Add a case of your own to PARTNER's plan (its result is recorded with `conntest record`)."""
    from node.conntest.plan import Step, TestCase

    try:
        case = TestCase(case_id, Step(step), purpose, steps, expected, "manual")
    except ValueError as exc:
        raise OperatorError(str(exc)) from None
    with open_node(directory) as (_config, db, procedure):
        plan = operate(db, procedure.add_case, actor_of(actor), partner, case)
    click.echo(f"case {case_id} added; plan {plan.digest}")


def _run_reactor(main: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
    """Run `main(reactor)` on the global reactor until it ends; its result, or its exception raised here."""
    from twisted.internet import defer, reactor
    from twisted.python.failure import Failure

    outcome: dict[str, Any] = {}

    def go() -> None:
        d = defer.ensureDeferred(main(reactor))
        d.addBoth(lambda result: outcome.setdefault("result", result))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(go)
    reactor.run()
    result = outcome.get("result")
    if isinstance(result, Failure):
        result.raiseException()
    return result


@conntest_group.command("run")
@directory_argument
@click.argument("partner")
@click.option(
    "--step",
    type=click.Choice(["domestic", "foreign", "all"]),
    default="all",
    show_default=True,
    help="domestic = Art. 10.3 step 2, foreign = step 4 against the partner's gateway.",
)
@click.option("--case", "cases", multiple=True, help="Run only this case id (repeat).")
@actor_option
def run_command(directory: Path, partner: str, step: str, cases: tuple[str, ...], actor: str | None) -> None:
    """Run the automated cases of PARTNER's plan, printing each result as it ends.

    Exit code 1 when a case failed; every result (with what failed and why) is kept for the minutes.
    """
    from node.config import ConfigError
    from node.conntest.minutes import Outcome
    from node.conntest.plan import Step
    from node.conntest.runner import RunEnvironment, run_step
    from node.nodedir import load_signing_identity
    from node.partners import PartnerDirectory

    steps = [Step.DOMESTIC, Step.FOREIGN] if step == "all" else [Step(step)]
    with open_node(directory) as (config, db, procedure):
        plan_row, plan = operate(db, procedure.current_plan, partner)
        if not plan.foreign:
            steps = [s for s in steps if s is Step.DOMESTIC]
        try:
            partner_entry = PartnerDirectory(config.directory).by_id(partner)
            signing = load_signing_identity(config)
        except ConfigError as exc:
            raise OperatorError(str(exc)) from None
        actor_name = actor_of(actor)

        def progress(case: TestCase, result: CaseResult) -> None:
            mark = "passed" if result.outcome is Outcome.PASSED else "FAILED"
            click.echo(f"{case.id:<6} {case.check:<17} {mark}: {result.detail}")

        async def main(reactor: Any) -> list[CaseResult]:
            env = RunEnvironment(
                config=config,
                procedure=procedure,
                db=db,
                reactor=reactor,
                plan=plan,
                partner=partner_entry,
                signing=signing,
                plan_created_at=plan_row.created_at,
            )
            results: list[CaseResult] = []
            for chosen in steps:
                click.echo(f"— {chosen.value} run (Art. 10.3 step {'2' if chosen is Step.DOMESTIC else '4'})")
                try:
                    run_id, step_results = await run_step(
                        env, actor_name, chosen, only=cases, on_progress=progress
                    )
                except Exception as exc:
                    from node.lifecycle.service import LifecycleError

                    if isinstance(exc, LifecycleError):
                        raise OperatorError(str(exc)) from None
                    raise
                click.echo(f"  run {run_id}: {len(step_results)} case(s)")
                results += step_results
            return results

        results = _run_reactor(main)
    failed = [r for r in results if r.outcome is not Outcome.PASSED]
    if failed:
        raise OperatorError(
            f"{len(failed)} of {len(results)} case(s) failed: {', '.join(r.case_id for r in failed)}"
        )
    click.echo(f"all {len(results)} case(s) passed")


@conntest_group.command("record")
@directory_argument
@click.argument("partner")
@click.argument("case_ids", metavar="CASE...", nargs=-1, required=True)
@click.option("--passed/--failed", "passed", required=True, help="The case's result.")
@click.option("--detail", default="", help="What was observed (required for a failed case).")
@click.option("--evidence", multiple=True, metavar="KEY=VALUE", help="Evidence (message id, digest...).")
@actor_option
def record_command(
    directory: Path,
    partner: str,
    case_ids: tuple[str, ...],
    passed: bool,
    detail: str,
    evidence: tuple[str, ...],
    actor: str | None,
) -> None:
    """Record the result of cases run by hand (added cases, or ones observed with the partner)."""
    from node.conntest.minutes import Outcome

    pairs = {}
    for item in evidence:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise OperatorError(f"--evidence {item!r}: use KEY=VALUE")
        pairs[key] = value
    outcome = Outcome.PASSED if passed else Outcome.FAILED
    with open_node(directory) as (_config, db, procedure):
        for case_id in case_ids:
            operate(db, procedure.record_manual, actor_of(actor), partner, case_id, outcome, detail, pairs)
            click.echo(f"{case_id}: {outcome.value}")


@conntest_group.command("minutes")
@directory_argument
@click.argument("partner")
@click.option("--show", is_flag=True, help="Show the latest minutes instead of drawing up new ones.")
@click.option("--format", "fmt", type=click.Choice(["json", "html"]), default="json", show_default=True)
@actor_option
def minutes_command(directory: Path, partner: str, show: bool, fmt: str, actor: str | None) -> None:
    """Draw up PARTNER's minutes from the latest result of every case, signed with the node's key (step 3).

    Prints the minutes, their digest, signature and confirmations as JSON.
    """
    with open_node(directory) as (_config, db, procedure):
        if not show:
            operate(db, procedure.draw_up_minutes, actor_of(actor), partner)
        document = operate(db, procedure.minutes_document, partner)
    if fmt == "html":
        from node.conntest.canonical import canonical_json
        from node.conntest.minutes import SignedMinutes

        signed = SignedMinutes(canonical_json(document["minutes"]), document["signature"])
        click.echo(signed.render_html(document["confirmations"]))
    else:
        echo_json(document)


@conntest_group.command("confirm")
@directory_argument
@click.argument("partner")
@click.option("--role", required=True, type=LazyChoice(_parties), help="The party that confirms.")
@click.option("--name", required=True, help="The person confirming.")
@click.option("--organisation", default="", help="Their organisation.")
@click.option("--position", default="", help="Their position.")
@click.option("--email", default="", help="Their e-mail.")
@click.option("--digest", default=None, help="The minutes' digest being confirmed (default: the latest).")
@actor_option
def confirm_command(
    directory: Path,
    partner: str,
    role: str,
    name: str,
    organisation: str,
    position: str,
    email: str,
    digest: str | None,
    actor: str | None,
) -> None:
    """A party (operator, ministry focal point, provider) confirms PARTNER's latest minutes (step 3).

    When every party has confirmed minutes of a passed test, the partner becomes `tested`.
    """
    with open_node(directory) as (_config, db, procedure):
        operate(
            db,
            procedure.confirm,
            actor_of(actor),
            partner,
            role=role,
            name=name,
            organisation=organisation,
            position=position,
            email=email,
            digest=digest,
        )
        document = operate(db, procedure.minutes_document, partner)
        state = operate(db, procedure.state, partner).value
    roles = ", ".join(c["role"] for c in document["confirmations"])
    click.echo(f"minutes {document['digest']} confirmed by: {roles}; partner {partner} is {state}")


@conntest_group.command("status")
@directory_argument
@click.argument("partner")
def status_command(directory: Path, partner: str) -> None:
    """PARTNER's state, the current plan's cases with their latest results, and the latest minutes."""
    from node.lifecycle.service import LifecycleError

    with open_node(directory) as (_config, db, procedure):

        def read(session: Any) -> dict[str, Any]:
            out: dict[str, Any] = {"partner": partner, "state": procedure.state(session, partner).value}
            try:
                _, plan = procedure.current_plan(session, partner)
            except LifecycleError:
                return out
            results = {r.case_id: r for r in procedure.results(session, partner)}
            out["plan_digest"] = plan.digest
            out["cases"] = [
                {
                    "id": c.id,
                    "step": c.step.value,
                    "check": c.check,
                    "outcome": results[c.id].outcome.value if c.id in results else "not_run",
                    "detail": results[c.id].detail if c.id in results else "",
                }
                for c in plan.cases
            ]
            try:
                minutes = procedure.latest_minutes(session, partner)
                out["minutes"] = {
                    "digest": minutes.digest,
                    "outcome": minutes.outcome,
                    "confirmed_at": minutes.confirmed_at.isoformat() if minutes.confirmed_at else None,
                    "confirmed_by": [c.role for c in procedure.confirmations(session, minutes.id)],
                }
            except LifecycleError:
                pass
            return out

        echo_json(operate(db, read))


def register(cli: click.Group) -> None:
    cli.add_command(conntest_group)
