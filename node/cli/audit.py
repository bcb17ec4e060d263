"""`aswnode audit verify|export`: check the audit hash chain; export it as JSON lines."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from node.cli._node import opened_node

__all__ = ["register"]


@contextmanager
def _read_session(directory: Path) -> Iterator[Any]:
    """A read session on DIR's database, the node closed after; a bad DIR is one operator line."""
    with opened_node(directory) as node, node.db.read_session() as session:
        yield session


@click.group("audit")
def audit_group() -> None:
    """The audit log (Decree 47 Art. 45): a hash chain of every exchange and operator action."""


@audit_group.command("verify")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
def verify_command(directory: Path) -> None:
    """Check the chain from its anchor to its head; exit 1 naming the first bad record."""
    from node.audit import AuditLog

    with _read_session(directory) as session:
        broken = AuditLog().verify(session)
        seq, _ = AuditLog().head(session)
    if broken is not None:
        click.echo(f"audit chain broken at record {broken.seq}: {broken.reason}", err=True)
        raise SystemExit(1)
    click.echo(f"audit chain ok: {seq} record(s)")


@audit_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--since", "since_seq", type=click.IntRange(0), default=0, help="From this record number.")
def export_command(directory: Path, since_seq: int) -> None:
    """The audit records as JSON lines on stdout."""
    from node.audit import AuditLog

    with _read_session(directory) as session:
        AuditLog().export_jsonl(session, sys.stdout, since_seq=since_seq)


def register(cli: click.Group) -> None:
    cli.add_command(audit_group)
