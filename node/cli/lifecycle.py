"""`aswnode golive|withdraw|activate|suspend|resume|terminate|lifecycle`: Art. 10.4, 12, 13."""

from __future__ import annotations

from pathlib import Path

import click

from node.cli import OperatorError
from node.lifecycle.cli_support import (
    actor_of,
    actor_option,
    directory_argument,
    echo_json,
    open_node,
    operate,
    parse_time,
    send_notices,
)
from node.lifecycle.reasons import SuspensionCause, TerminationReason
from node.lifecycle.states import TRANSITIONS

__all__ = ["register"]

ALL = "all"


@click.command("golive")
@directory_argument
@click.argument("partner")
@click.option(
    "--at", "at", required=True, metavar="ISO-TIME", help="The official connection time, with zone."
)
@actor_option
def golive_command(directory: Path, partner: str, at: str, actor: str | None) -> None:
    """Announce PARTNER's official connection time (Art. 10.4); it becomes active then.

    Refused without minutes of a passed connection test confirmed by every party, in every
    environment. The announcement is published on the status page and e-mailed to the focal points.
    """
    moment = parse_time(at, "--at")
    with open_node(directory) as (config, db, procedure):
        announcement = operate(db, procedure.golive, actor_of(actor), partner, moment)
        echo_json(
            {
                "partner": partner,
                "state": "scheduled",
                "go_live_at": announcement.go_live_at.isoformat(),
                "announcement_id": announcement.id,
            }
        )
        send_notices(config, db, procedure)


@click.command("withdraw")
@directory_argument
@click.argument("partner")
@click.option("--reason", required=True, help="Why the announced go-live is withdrawn.")
@actor_option
def withdraw_command(directory: Path, partner: str, reason: str, actor: str | None) -> None:
    """Withdraw PARTNER's announced go-live before its time (back to `tested`)."""
    with open_node(directory) as (_config, db, procedure):
        operate(db, procedure.withdraw, actor_of(actor), partner, reason)
        click.echo(f"{partner}: go-live withdrawn")


@click.command("activate")
@directory_argument
@click.argument("partner")
@click.option("--reason", default="sandbox activation", show_default=True, help="Why.")
@actor_option
def activate_command(directory: Path, partner: str, reason: str, actor: str | None) -> None:
    """Sandbox only: make PARTNER active without the procedure (a production node refuses)."""
    with open_node(directory) as (_config, db, procedure):
        operate(db, procedure.activate_sandbox, actor_of(actor), partner, reason)
        click.echo(f"{partner}: active (sandbox)")


@click.command("suspend")
@directory_argument
@click.argument("partner", metavar="PARTNER|all")
@click.option("--reason", required=True, help="The violation, the unsafe finding, or the maintenance reason.")
@click.option(
    "--cause",
    type=click.Choice([c.value for c in SuspensionCause]),
    default=None,
    help="violation (default for one partner) | unsafe | maintenance (default for all) | force_majeure.",
)
@click.option(
    "--start", default=None, metavar="ISO-TIME", help="Maintenance: when it starts (≥ 7 working days)."
)
@click.option("--restore", default=None, metavar="ISO-TIME", help="The expected restoration time.")
@click.option(
    "--restore-step",
    "restore_steps",
    multiple=True,
    help="A step the partner must take to restore the connection (repeat; required for one partner).",
)
@actor_option
def suspend_command(
    directory: Path,
    partner: str,
    reason: str,
    cause: str | None,
    start: str | None,
    restore: str | None,
    restore_steps: tuple[str, ...],
    actor: str | None,
) -> None:
    """Suspend PARTNER (violation / unsafe: at once, notice naming the violation and restore steps)
    or `all` exchanges (maintenance: notice ≥ 7 working days ahead; force majeure: at once). Art. 12.
    """
    target = None if partner == ALL else partner
    chosen = SuspensionCause(
        cause or (SuspensionCause.MAINTENANCE if target is None else SuspensionCause.VIOLATION)
    )
    starts_at = parse_time(start, "--start") if start else None
    restore_at = parse_time(restore, "--restore") if restore else None
    with open_node(directory) as (config, db, procedure):
        suspension = operate(
            db,
            procedure.suspend,
            actor_of(actor),
            target,
            cause=chosen,
            reason=reason,
            starts_at=starts_at,
            restore_at=restore_at,
            restore_steps=restore_steps,
        )
        echo_json(
            {
                "suspension_id": suspension.id,
                "scope": partner,
                "cause": chosen.value,
                "starts_at": suspension.starts_at.isoformat(),
                "restore_at": suspension.restore_at.isoformat() if suspension.restore_at else None,
                "notice_id": suspension.notice_id,
            }
        )
        send_notices(config, db, procedure)


@click.command("resume")
@directory_argument
@click.argument("partner", metavar="PARTNER|all")
@click.option("--evidence", default=None, help="What shows the cause is removed (kept with the transition).")
@click.option("--reason", default=None, help="Said instead of --evidence: recorded as the evidence.")
@actor_option
def resume_command(
    directory: Path, partner: str, evidence: str | None, reason: str | None, actor: str | None
) -> None:
    """Restore PARTNER (or `all` exchanges) after a suspension, with evidence (Art. 12)."""
    target = None if partner == ALL else partner
    evidence = evidence or reason
    if not evidence:
        raise OperatorError("resume needs --evidence: what shows the cause of the suspension is removed")
    with open_node(directory) as (config, db, procedure):
        operate(db, procedure.resume, actor_of(actor), target, evidence=evidence)
        click.echo(f"{partner}: restored")
        send_notices(config, db, procedure)


@click.command("terminate")
@directory_argument
@click.argument("partner")
@click.option(
    "--reason",
    required=True,
    type=click.Choice([r.value for r in TerminationReason]),
    help="The Art. 13 reason.",
)
@click.option("--note", default="", help="Details (e.g. the authority's order, the agreement's end).")
@actor_option
def terminate_command(directory: Path, partner: str, reason: str, note: str, actor: str | None) -> None:
    """Terminate PARTNER's connection under Art. 13; the result is notified; data and logs are kept."""
    with open_node(directory) as (config, db, procedure):
        operate(
            db, procedure.terminate, actor_of(actor), partner, reason=TerminationReason(reason), note=note
        )
        click.echo(f"{partner}: terminated ({reason})")
        send_notices(config, db, procedure)


@click.group("lifecycle")
def lifecycle_group() -> None:
    """The partner lifecycle: its table, a partner's history, the notices."""


@lifecycle_group.command("table")
def table_command() -> None:
    """Print the transition table with the article of each row."""
    for (source, event), row in TRANSITIONS.items():
        extra = " [sandbox only]" if row.sandbox_only else ""
        click.echo(f"{source.value:<11} --{event.value:<16}--> {row.target.value:<11} {row.article}{extra}")


@lifecycle_group.command("history")
@directory_argument
@click.argument("partner")
def history_command(directory: Path, partner: str) -> None:
    """PARTNER's state and every transition: who, when, why, evidence."""
    with open_node(directory) as (_config, db, procedure):

        def read(session):  # type: ignore[no-untyped-def]
            return procedure.state(session, partner).value, [
                {
                    "at": e.at.isoformat(),
                    "from": e.from_state,
                    "event": e.event,
                    "to": e.to_state,
                    "article": e.article,
                    "actor": e.actor,
                    "reason": e.reason,
                    "evidence": e.evidence,
                }
                for e in procedure.history(session, partner)
            ]

        state, events = operate(db, read)
        echo_json({"partner": partner, "state": state, "history": events})


@lifecycle_group.command("notices")
@directory_argument
@click.option("--send", is_flag=True, help="E-mail the notices not sent yet.")
def notices_command(directory: Path, send: bool) -> None:
    """The notices issued (newest first); with --send, e-mail those not sent yet."""
    from sqlalchemy import select

    from node.lifecycle.notices import notice_to_dict
    from node.store.lifecycle_models import Notice

    with open_node(directory) as (config, db, procedure):
        if send:
            send_notices(config, db, procedure)
        echo_json(
            operate(
                db,
                lambda s: [notice_to_dict(n) for n in s.scalars(select(Notice).order_by(Notice.id.desc()))],
            )
        )


def register(cli: click.Group) -> None:
    for command in (
        golive_command,
        withdraw_command,
        activate_command,
        suspend_command,
        resume_command,
        terminate_command,
        lifecycle_group,
    ):
        cli.add_command(command)
