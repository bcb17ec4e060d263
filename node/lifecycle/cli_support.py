"""What the lifecycle, conntest and incident commands share: open the node, run one operation, send notices.

Every error the operator can act on leaves as one `OperatorError` line; notices stored by the
operation are e-mailed after its transaction committed, and what happened to them is printed.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from node.cli import OperatorError
from node.config import ConfigError, NodeConfig

if TYPE_CHECKING:
    from node.lifecycle.service import Procedure

__all__ = [
    "actor_option",
    "directory_argument",
    "echo_json",
    "open_node",
    "operate",
    "parse_time",
    "send_notices",
]

T = TypeVar("T")

directory_argument = click.argument(
    "directory", type=click.Path(file_okay=False, exists=True, path_type=Path), metavar="DIR"
)
actor_option = click.option(
    "--as",
    "actor",
    default=None,
    metavar="NAME",
    help="Who does this (recorded in the audit log); default: the login name.",
)


def actor_of(name: str | None) -> str:
    return f"operator:{name or getpass.getuser()}"


def parse_time(value: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise OperatorError(f"{option}: not an ISO time (e.g. 2026-12-01T09:00:00+07:00): {value}") from None
    if moment.tzinfo is None:
        raise OperatorError(f"{option}: give the time zone (…Z or …+07:00): {value}")
    return moment


@contextmanager
def open_node(directory: Path) -> Iterator[tuple[NodeConfig, Any, Procedure]]:
    """The node's configuration, database and procedure; errors as one operator line."""
    from node.lifecycle.service import Procedure
    from node.store.database import Database

    try:
        config = NodeConfig.load(directory)
    except ConfigError as exc:
        raise OperatorError(str(exc)) from None
    db = Database.open(config.database_url)
    try:
        yield config, db, Procedure(config)
    finally:
        db.close()


def operate(db: Any, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(session, *args, **kwargs)` in one transaction; lifecycle errors become operator errors."""
    from node.lifecycle.service import LifecycleError
    from node.lifecycle.states import IllegalTransition
    from node.store.lifecycle_models import MinutesImmutable

    try:
        with db.session() as session:
            return fn(session, *args, **kwargs)
    except (LifecycleError, IllegalTransition, MinutesImmutable) as exc:
        raise OperatorError(str(exc)) from None
    except ConfigError as exc:
        raise OperatorError(str(exc)) from None


def send_notices(config: NodeConfig, db: Any, procedure: Procedure) -> None:
    """E-mail the notices the operation stored; say what happened to each on stderr."""
    from node.lifecycle.notices import deliver_pending

    try:
        results = deliver_pending(db.session, config, procedure.clock)
    except ValueError as exc:
        raise OperatorError(f"node.yaml: {exc}") from None
    for notice_id, error in results:
        line = f"notice {notice_id}: " + ("e-mailed" if error is None else f"not e-mailed ({error})")
        click.echo(line, err=True)


def echo_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))
