"""`aswnode blobs sweep DIR`: delete payload blobs no row refers to (left by a process killed mid-store)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click

from node.cli import OperatorError
from node.config import ConfigError

__all__ = ["register"]


@click.group("blobs")
def blobs() -> None:
    """The blob store under var/blobs: payloads, large wire messages and receipts, by SHA-256."""


@blobs.command("sweep")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="delete nothing; deleted and bytes say what would go")
@click.option(
    "--older-than",
    "hours",
    type=click.FloatRange(min=1),
    default=24,
    show_default=True,
    help="only blobs last written this many hours ago (at least 1: younger ones may be being stored)",
)
def sweep(directory: Path, dry_run: bool, hours: float) -> None:
    """Delete blob files no message, payload or submission refers to, older than --older-than.

    Safe while the node runs. Prints JSON: scanned, referenced, young, deleted, bytes, restored,
    temporaries, dry_run, older_than_hours. A sweep that deletes something is audited.
    """
    from node.audit import AuditLog
    from node.nodedir import open_node
    from node.store.blob_sweep import sweep_orphans

    try:
        node = open_node(directory)
    except ConfigError as exc:
        raise OperatorError(str(exc)) from None
    try:
        result = sweep_orphans(node.db, node.blobs, older_than=timedelta(hours=hours), dry_run=dry_run)
        if result.deleted and not dry_run:
            with node.db.session() as session:
                AuditLog().append(
                    session,
                    actor="operator:cli",
                    action="blobs.sweep",
                    subject="blobs",
                    detail=result.as_dict(),
                    status="ok",
                    form="cli",
                )
    finally:
        node.close()
    click.echo(json.dumps(result.as_dict()))


def register(cli: click.Group) -> None:
    cli.add_command(blobs)
