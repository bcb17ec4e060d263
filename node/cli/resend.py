"""`aswnode resend DIR MESSAGE_ID`: a failed outbound message goes out again, same MessageId and bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from node.cli import OperatorError
from node.cli._node import opened_node

__all__ = ["register"]


@click.command("resend")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("message_id")
def resend_command(directory: Path, message_id: str) -> None:
    """Put a `failed` outbound message back in the queue (the running node sends it)."""
    from node.audit import AuditLog
    from node.store.messages import find_message, resend

    with opened_node(directory) as node:
        now = datetime.now(UTC)
        with node.db.session() as session:
            message = find_message(session, message_id, direction="outbound")
            if message is None:
                raise OperatorError(f"no outbound message {message_id}")
            if message.state != "failed":
                raise OperatorError(
                    f"message {message_id} is {message.state}: only a failed message is resent"
                )
            resend(session, message.id, now=now)
            AuditLog().append(
                session,
                "operator:cli",
                "message.resend",
                f"message:{message_id}",
                {"partner": message.partner_id},
                None,
                "ok",
                form="cli",
                at=now,
            )
    click.echo(json.dumps({"message_id": message_id, "state": "pending"}))


def register(cli: click.Group) -> None:
    cli.add_command(resend_command)
