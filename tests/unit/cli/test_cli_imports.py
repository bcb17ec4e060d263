"""`aswnode` starts without the server, database or crypto stack: a command imports them when it runs."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from node.cli._choices import LazyChoice

# What only a running command needs; any of it on `import node.cli` costs every command its start-up time.
HEAVY = (
    "twisted",
    "sqlalchemy",
    "alembic",
    "cryptography",
    "lxml",
    "node.api",
    "node.console",
    "node.store",
    "node.nodedir",
    "node.partners",
    "node.registry",
    "node.conntest",
)


def _heavy_modules_after(code: str) -> list[str]:
    """The heavy modules loaded once `code` has run in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout.splitlines()[-1])
    return [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_importing_the_cli_loads_no_server_database_or_crypto_module() -> None:
    assert _heavy_modules_after("import node.cli") == []


def test_the_command_listing_loads_none_either() -> None:
    code = "from node.cli import cli\ncli.main(['--help'], standalone_mode=False)"
    assert _heavy_modules_after(code) == []


def test_lazy_choices_are_loaded_once_when_first_read() -> None:
    loads: list[int] = []

    def colours() -> tuple[str, ...]:
        loads.append(1)
        return ("red", "green")

    @click.command()
    @click.option("--colour", type=LazyChoice(colours), required=True)
    def paint(colour: str) -> None:
        click.echo(colour)

    assert loads == []
    runner = CliRunner()
    assert runner.invoke(paint, ["--colour", "green"]).output == "green\n"
    refused = runner.invoke(paint, ["--colour", "blue"])
    assert refused.exit_code == 2
    assert "'blue' is not one of 'red', 'green'" in refused.output
    assert "[red|green]" in runner.invoke(paint, ["--help"]).output
    assert loads == [1]


@pytest.mark.parametrize(
    ("command", "choices"),
    [
        (["ministries", "add"], "[eco|ephyto|raw]"),
        (["conntest", "confirm"], "[operator|ministry|provider]"),
        (["conntest", "add-case"], "[domestic|foreign]"),
    ],
)
def test_choices_from_heavy_modules_still_show_in_help(command: list[str], choices: str) -> None:
    from node.cli import cli

    assert choices in CliRunner().invoke(cli, [*command, "--help"], terminal_width=200).output
