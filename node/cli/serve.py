"""`aswnode serve DIR`: run the node in the foreground until SIGTERM or SIGINT, then stop cleanly."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from node.cli import OperatorError
from node.config import ConfigError, NodeConfig

__all__ = ["register"]


class _JsonFormatter(logging.Formatter):
    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        return json.dumps(entry)


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    from twisted.python import log as twisted_log

    twisted_log.PythonLoggingObserver(loggerName="twisted").start()
    # Twisted's factory start/stop lines and Alembic's plugin lines are noise at info level.
    for noisy in ("twisted", "alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))


@click.command("serve")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--log-level",
    type=click.Choice(("debug", "info", "warning", "error")),
    default="info",
    show_default=True,
)
def serve_command(directory: Path, log_level: str) -> None:
    """Run the node: AS4 at /as4 (and /), the ministry API, the console; until SIGTERM/SIGINT.

    A clean stop stops accepting, answers what is being received and lets in-flight sends finish.
    SIGHUP rereads partners.yaml.
    """
    try:
        config = NodeConfig.load(directory)
    except ConfigError as exc:
        raise OperatorError(str(exc)) from None
    _setup_logging(log_level)
    from twisted.internet import defer, reactor

    from node.service import RunningNode, build_context

    try:
        ctx = build_context(config, reactor)
        node = RunningNode(ctx)
    except ConfigError as exc:
        raise OperatorError(str(exc)) from None
    failed: list[str] = []

    async def start() -> None:
        try:
            await node.start()
        except Exception as exc:
            failed.append(f"cannot start: {type(exc).__name__}: {exc}")
            reactor.stop()  # type: ignore[attr-defined]
            return
        click.echo(
            json.dumps(
                {"listening": node.endpoint, "party_id": config.party_id, "pid": __import__("os").getpid()}
            ),
            err=False,
        )
        sys.stdout.flush()

    def stopping() -> Any:
        if failed:
            return None
        return defer.ensureDeferred(node.stop())

    def reload(*_: Any) -> None:
        def do() -> None:
            try:
                node.reload_partners()
                logging.getLogger("aswnode").info("partners.yaml reloaded")
            except ConfigError as exc:
                logging.getLogger("aswnode").error("partners.yaml not reloaded: %s", exc)

        reactor.callFromThread(do)  # type: ignore[attr-defined]

    def stop_on_signal(number: int, _frame: Any) -> None:
        # Twisted's own handler calls reactor.stop again on a second signal (Ctrl-C twice, ops/run's
        # trap after the terminal's SIGINT, `timeout` signalling the group): a ReactorNotRunning traceback.
        if stop_requested:
            reactor.callFromThread(  # type: ignore[attr-defined]
                logging.getLogger("aswnode").info,
                "%s: already stopping (in-flight work finishing; SIGKILL to force)",
                signal.Signals(number).name,
            )
            return
        stop_requested.append(number)
        reactor.callFromThread(reactor.stop)  # type: ignore[attr-defined]

    stop_requested: list[int] = []

    def own_stop_signals() -> None:
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, stop_on_signal)

    signal.signal(signal.SIGHUP, reload)
    reactor.callWhenRunning(own_stop_signals)  # type: ignore[attr-defined]
    reactor.addSystemEventTrigger("before", "shutdown", stopping)  # type: ignore[attr-defined]
    reactor.callWhenRunning(lambda: defer.ensureDeferred(start()))  # type: ignore[attr-defined]
    started = time.monotonic()
    reactor.run()  # type: ignore[attr-defined]
    if failed:
        raise OperatorError(failed[0])
    logging.getLogger("aswnode").info("exiting (%.0f s up)", time.monotonic() - started)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is committed and closed: skip the interpreter's slow teardown of a large import graph,
    # so a supervisor's SIGTERM-then-SIGKILL grace period is not spent on it.
    os._exit(0)


def register(cli: click.Group) -> None:
    cli.add_command(serve_command)
