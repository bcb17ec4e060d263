"""`aswnode mappings ...`: print the published field-by-field mapping tables (Art. 10.1)."""

from __future__ import annotations

import click

from node.cli import OperatorError

__all__ = ["register"]


@click.group("mappings")
def mappings_group() -> None:
    """Domestic catalogue ⇄ treaty format mappings."""


@mappings_group.command("table")
@click.argument("document_type", type=click.Choice(["eco", "ephyto"]))
@click.option("--format", "fmt", type=click.Choice(["md", "html", "csv"]), default="md", show_default=True)
@click.option(
    "--version", "version", default=None, help="treaty-format profile version (default: the current one)"
)
def table(document_type: str, fmt: str, version: str | None) -> None:
    """Print the mapping table of DOCUMENT_TYPE to stdout."""
    from mappings.tables import render

    try:
        click.echo(render(document_type, fmt, version), nl=False)
    except KeyError as exc:
        raise OperatorError(str(exc.args[0])) from None


def register(cli: click.Group) -> None:
    cli.add_command(mappings_group)
