"""`aswnode incident open|close|list|report`: incidents at the NSW (seed 000 Art. 14)."""

from __future__ import annotations

from pathlib import Path

import click

from node.lifecycle.cli_support import (
    actor_of,
    actor_option,
    directory_argument,
    echo_json,
    open_node,
    operate,
    send_notices,
)

__all__ = ["register"]


@click.group("incident")
def incident_group() -> None:
    """Incidents (Art. 14): hold outbound traffic, notify, and after repair reconcile and resend."""


@incident_group.command("open")
@directory_argument
@click.option("--title", required=True, help="What happened, in a line.")
@click.option(
    "--partner", "partners", multiple=True, help="An affected partner (repeat); none = all partners."
)
@click.option("--description", default="", help="More detail for the notice.")
@actor_option
def open_command(
    directory: Path, title: str, partners: tuple[str, ...], description: str, actor: str | None
) -> None:
    """Open an incident: outbound messages to the affected partners are held and listed; parties notified."""
    from node.lifecycle.incidents import incident_to_dict

    with open_node(directory) as (config, db, procedure):
        incident = operate(
            db,
            procedure.open_incident,
            actor_of(actor),
            title=title,
            partners=partners,
            description=description,
        )
        echo_json(incident_to_dict(incident))
        send_notices(config, db, procedure)


@incident_group.command("close")
@directory_argument
@click.argument("incident_id", metavar="ID", type=int)
@click.option("--repair", required=True, help="What was repaired.")
@actor_option
def close_command(directory: Path, incident_id: int, repair: str, actor: str | None) -> None:
    """Close incident ID after repair: the hold is lifted, what failed meanwhile is requeued, the
    reconciliation deadline (1 working day) is reported and the parties are notified."""
    with open_node(directory) as (config, db, procedure):
        report = operate(db, procedure.close_incident, actor_of(actor), incident_id, repair_note=repair)
        echo_json(report)
        send_notices(config, db, procedure)


@incident_group.command("list")
@directory_argument
def list_command(directory: Path) -> None:
    """The incidents still open."""
    from node.lifecycle.incidents import incident_to_dict, open_incidents

    with open_node(directory) as (_config, db, _procedure):
        echo_json(operate(db, lambda s: [incident_to_dict(i) for i in open_incidents(s)]))


@incident_group.command("report")
@directory_argument
@click.argument("incident_id", metavar="ID", type=int)
def report_command(directory: Path, incident_id: int) -> None:
    """Where incident ID stands: held, delivered, outstanding, and whether within 1 working day."""
    with open_node(directory) as (_config, db, procedure):
        echo_json(operate(db, procedure.incident_report, incident_id))


def register(cli: click.Group) -> None:
    cli.add_command(incident_group)
