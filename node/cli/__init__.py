"""The `aswnode` command line: what an operator types.

Each module in this package adds one group of commands through `register(main)`;
modules are found by name, so a new group needs no edit here. Every command
fails with one clear line and an exit code, never a traceback.

All of them are imported for every `aswnode` run, so a command module imports at its top
only what its decorators need (click, node.config, the lifecycle CLI helpers) and the rest
inside the command, or every run, even `--help`, pays for Twisted, SQLAlchemy and cryptography.
tests/unit/cli/test_cli_imports.py holds the line.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import click

__all__ = ["OperatorError", "main", "one_line"]


class OperatorError(click.ClickException):
    """An error the operator can act on: printed as one line, exit code 1 (or `exit_code`)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        click.echo(f"aswnode: {self.format_message()}", err=True)


def one_line(exc: BaseException) -> str:
    """What went wrong, for an error no command foresaw: the file an OSError names, else the first line."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Cross-border AS4 exchange node for a National Single Window."""


def _register_command_modules() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(cli)


def _first_lines_as_short_help(group: click.Group) -> None:
    """Click cuts a command's short help at its first ". ", which halves "Art. 10.3" in listings:
    show the first line of each command's help instead (shortened at a word if long)."""
    for command in group.commands.values():
        if command.short_help is None and command.help:
            line = command.help.strip().splitlines()[0].rstrip()
            if len(line) > 64:
                line = line[:63].rsplit(" ", 1)[0] + " …"
            command.short_help = line
        if isinstance(command, click.Group):
            _first_lines_as_short_help(command)


_register_command_modules()
_first_lines_as_short_help(cli)


def _usage_line(exc: click.UsageError) -> str:
    """Click's usage error (Usage:, Try '...', a blank line, Error:) as the operator's one line."""
    path = exc.ctx.command_path if exc.ctx is not None else "aswnode"
    return f"{path}: {exc.format_message()} (see {path} --help)"


def main() -> None:
    try:
        code = cli.main(standalone_mode=False)
    except KeyboardInterrupt:
        sys.exit(130)
    except click.exceptions.Abort:
        click.echo("aswnode: aborted", err=True)
        sys.exit(1)
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `aswnode` alone: the help, as click shows it
            exc.show()
        else:
            click.echo(_usage_line(exc), err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BrokenPipeError:  # `aswnode messages DIR | head`: the reader left; nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception as exc:  # a read-only node directory, a database newer than this aswnode, ...
        if os.environ.get("ASWNODE_DEBUG"):
            raise
        click.echo(f"aswnode: {one_line(exc)} (ASWNODE_DEBUG=1 shows the traceback)", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
