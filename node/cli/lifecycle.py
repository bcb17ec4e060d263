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
    """Withdraw PARTNER's announced go-live before its time (back to `tested`).

    The withdrawal is published on the status page and e-mailed to the focal points.
    """
    with open_node(directory) as (config, db, procedure):
        operate(db, procedure.withdraw, actor_of(actor), partner, reason)
        click.echo(f"{partner}: go-live withdrawn")
        send_notices(config, db, procedure)


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
    from node.lifecycle.service import lifecycle_event_to_dict

    with open_node(directory) as (_config, db, procedure):

        def read(session):  # type: ignore[no-untyped-def]
            return procedure.state(session, partner).value, [
                lifecycle_event_to_dict(e) for e in procedure.history(session, partner)
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


def _owner(value: str) -> tuple[str, str]:
    kind, sep, owner_id = value.partition(":")
    if not sep or kind not in ("partner", "ministry", "node", "operator") or not owner_id:
        raise OperatorError(f"--owner {value!r}: use partner:ID, ministry:ID or node:ID")
    return kind, owner_id


@lifecycle_group.command("register-cert")
@directory_argument
@click.option("--owner", required=True, metavar="KIND:ID", help="partner:ID, ministry:ID or node:ID.")
@click.option("--cert", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True)
@click.option(
    "--reason",
    type=click.Choice(["initial", "renewal", "key_change", "revocation"]),
    default="initial",
    show_default=True,
    help="Renewal/key change: the previous certificate stays accepted during --overlap-days.",
)
@click.option("--overlap-days", type=click.IntRange(0, 365), default=30, show_default=True)
@actor_option
def register_cert_command(
    directory: Path, owner: str, cert: Path, reason: str, overlap_days: int, actor: str | None
) -> None:
    """Register a signing certificate (subject, serial, validity; seed 001 Art. 12), or its revocation."""
    from datetime import timedelta

    from cryptography import x509

    from node.lifecycle.certificates import RegistrationReason, register_certificate

    kind, owner_id = _owner(owner)
    try:
        certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    except ValueError:
        raise OperatorError(f"--cert {cert}: not a PEM certificate") from None
    with open_node(directory) as (_config, db, procedure):

        def register(session):  # type: ignore[no-untyped-def]
            try:
                row = register_certificate(
                    session,
                    procedure,
                    actor_of(actor),
                    owner_kind=kind,
                    owner_id=owner_id,
                    certificate=certificate,
                    reason=RegistrationReason(reason),
                    overlap=timedelta(days=overlap_days),
                )
            except ValueError as exc:
                raise OperatorError(str(exc)) from None
            return {
                "owner": owner,
                "subject": row.subject,
                "serial": row.serial,
                "status": row.status,
                "not_before": row.not_before.isoformat(),
                "not_after": row.not_after.isoformat(),
            }

        echo_json(operate(db, register))


@lifecycle_group.command("certificates")
@directory_argument
def certificates_command(directory: Path) -> None:
    """Every certificate registration, with its status (active, superseded, revoked) and validity."""
    from sqlalchemy import select

    from node.store.lifecycle_models import CertificateRegistration as Row

    with open_node(directory) as (_config, db, _procedure):
        echo_json(
            operate(
                db,
                lambda s: [
                    {
                        "owner": f"{r.owner_kind}:{r.owner_id}",
                        "subject": r.subject,
                        "serial": r.serial,
                        "status": r.status,
                        "reason": r.reason,
                        "not_after": r.not_after.isoformat(),
                        "overlap_until": r.overlap_until.isoformat() if r.overlap_until else None,
                    }
                    for r in s.scalars(select(Row).order_by(Row.id))
                ],
            )
        )


@lifecycle_group.command("focal-point")
@directory_argument
@click.option("--owner", required=True, metavar="KIND:ID", help="ministry:ID, partner:ID or operator:ID.")
@click.option("--name", required=True)
@click.option("--position", default="")
@click.option("--phone", default="")
@click.option("--email", required=True, help="Where notices are e-mailed.")
def focal_point_command(
    directory: Path, owner: str, name: str, position: str, phone: str, email: str
) -> None:
    """Register a focal point for connection (Decree 47 Art. 7): it receives the notices."""
    from node.store.lifecycle_models import FocalPoint

    kind, owner_id = _owner(owner)
    if "@" not in email:
        raise OperatorError(f"--email {email!r}: not an e-mail address")
    with open_node(directory) as (_config, db, _procedure):
        operate(
            db,
            lambda s: s.add(
                FocalPoint(
                    owner_kind=kind, owner_id=owner_id, name=name, position=position, phone=phone, email=email
                )
            ),
        )
    click.echo(f"focal point {name} <{email}> registered for {owner}")
