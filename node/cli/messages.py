"""`aswnode messages`: the messages in and out, newest first, filtered by state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from node.cli._node import opened_node

__all__ = ["register"]

STATES = ("pending", "sending", "delivered", "failed", "received")


def _row(m: Any) -> dict[str, Any]:
    return {
        "message_id": m.message_id,
        "direction": m.direction,
        "partner": m.partner_id,
        "service": m.service,
        "action": m.action,
        "state": m.state,
        "attempts": m.attempts,
        "receipt_status": m.receipt_status,
        "test": m.is_test,
        "created_at": m.created_at.isoformat() if m.created_at else None,
        "updated_at": m.updated_at.isoformat() if m.updated_at else None,
        "delivered_at": m.delivered_at.isoformat() if m.delivered_at else None,
        "next_attempt_at": m.next_attempt_at.isoformat() if m.next_attempt_at else None,
        "last_error": m.last_error,
        "payloads": [{"mime_type": p.mime_type, "size": p.size, "sha256": p.blob_digest} for p in m.payloads],
    }


@click.command("messages")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only messages in this state.")
@click.option("--partner", default=None, help="Only this partner's messages.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
def messages_command(
    directory: Path, as_json: bool, state: str | None, partner: str | None, limit: int
) -> None:
    """List messages: id, direction, partner, service, action, state, attempts, receipt status, times."""
    from node.store.messages import MessageFilter, list_messages

    with opened_node(directory) as node, node.db.read_session() as session:
        criteria = MessageFilter(states=(state,) if state else (), partner_id=partner)
        page = list_messages(session, criteria, limit=limit)
        rows = [_row(m) for m in page.items]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no messages")
        return
    for r in rows:
        click.echo(
            f"{r['created_at'][:19]}  {r['direction']:<8}  {r['partner']:<12}  {r['state']:<9}  "
            f"attempts={r['attempts']}  receipt={r['receipt_status'] or '-'}  {r['message_id']}  "
            f"{r['service']} {r['action']}{_why(r)}"
        )


def _why(row: dict[str, Any]) -> str:
    """Why an undelivered message is where it is: its next attempt and last error (a partner down)."""
    if row["state"] not in ("pending", "sending", "failed"):
        return ""
    parts = []
    if row["state"] == "pending" and row["attempts"] and row["next_attempt_at"]:
        parts.append(f"next attempt {row['next_attempt_at'][:19]}")
    if row["last_error"]:
        parts.append(f"last error: {' '.join(row['last_error'].split())}")
    return f"  ({'; '.join(parts)})" if parts else ""


def register(cli: click.Group) -> None:
    cli.add_command(messages_command)
