"""`aswnode operators add|list|remove DIR`: the people allowed into the web console."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from node.cli import OperatorError

__all__ = ["register"]


def _node_yaml(directory: str) -> Path:
    return Path(directory) / "node.yaml"


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@click.group("operators")
def operators() -> None:
    """Console operators (kept in DIR/node.yaml `operators:`; not ministry API clients)."""


@operators.command("add")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--id", "operator_id", required=True, help="operator id (lower case), used to log in")
@click.option("--name", default="", help="the person's name, shown in the audit log")
def add(directory: str, operator_id: str, name: str) -> None:
    """Add an operator or set a new password; the password is prompted for, or read from stdin."""
    from node.console.operators import OperatorsFileError, add_operator
    from node.console.passwords import MIN_PASSWORD_LENGTH

    password = _read_password()
    if len(password) < MIN_PASSWORD_LENGTH:
        raise OperatorError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    try:
        add_operator(_node_yaml(directory), operator_id, password, name=name)
    except (OperatorsFileError, ValueError) as exc:
        raise OperatorError(str(exc)) from None
    click.echo(f"operator {operator_id} can log in to the console")


@operators.command("list")
@click.argument("directory", type=click.Path(file_okay=False))
def list_(directory: str) -> None:
    """List the operators (never their hashes)."""
    from node.console.operators import OperatorsFileError, read_operators

    try:
        found = read_operators(_node_yaml(directory))
    except OperatorsFileError as exc:
        raise OperatorError(str(exc)) from None
    if not found:
        click.echo("no operators (add one with `aswnode operators add DIR --id NAME`)")
    for op in found.values():
        click.echo(f"{op.id}\t{op.name}\t{'disabled' if op.disabled else 'enabled'}")


@operators.command("remove")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--id", "operator_id", required=True)
def remove(directory: str, operator_id: str) -> None:
    """Remove an operator; a running node refuses it at the next request."""
    from node.console.operators import OperatorsFileError, remove_operator

    try:
        remove_operator(_node_yaml(directory), operator_id)
    except OperatorsFileError as exc:
        raise OperatorError(str(exc)) from None
    click.echo(f"operator {operator_id} removed")


def register(cli: click.Group) -> None:
    cli.add_command(operators)
