"""`aswnode send`: submit a file to a partner through the API's path; optionally wait for the outcome."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from node.cli import OperatorError, one_line
from node.config import ConfigError, NodeConfig
from protocols.as4.namespaces import TEST_ACTION, TEST_SERVICE

__all__ = ["register", "wait_for_outcome"]

FINAL_STATES = ("delivered", "failed")


def _guess_mime_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".xml":
        return "application/xml"
    if suffix == ".json":
        return "application/json"
    if suffix == ".txt":
        return "text/plain"
    return "application/octet-stream"


def _submit(config: NodeConfig, partner: str, path: Path, service: str, action: str, mime_type: str) -> Any:
    from twisted.internet import defer, task

    from node.service import build_context
    from node.submissions import SubmissionRefused, submit
    from protocols.as4.payload import FileSlice

    outcome: dict[str, Any] = {}

    async def main(reactor: Any) -> None:
        try:
            ctx = build_context(config, reactor)
        except ConfigError as exc:  # a broken partners.yaml: the operator's one line, not a traceback
            outcome["config_error"] = str(exc)
            return
        except Exception as exc:  # a read-only node directory, a database it cannot open
            outcome["config_error"] = f"cannot open the node in {config.directory}: {one_line(exc)}"
            return
        try:
            with path.open("rb") as handle:
                size = path.stat().st_size
                try:
                    result = await submit(
                        ctx,
                        ministry="operator:cli",
                        partner_id=partner,
                        document_type="raw",
                        payload=FileSlice(handle, 0, size),
                        mime_type=mime_type,
                        service=service,
                        action=action,
                        form="cli",
                    )
                except SubmissionRefused as exc:
                    outcome["error"] = str(exc)
                    return
            outcome["message_id"] = result.message_id
            outcome["state"] = result.state
        finally:
            ctx.db.close()

    def run(reactor: Any) -> Any:
        return defer.ensureDeferred(main(reactor))

    try:
        task.react(run)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise OperatorError("submission failed (see the node's log)") from None
    if "config_error" in outcome:
        raise OperatorError(outcome["config_error"])
    if "error" in outcome:
        raise OperatorError(f"submission refused: {outcome['error']}")
    return outcome


def wait_for_outcome(config: NodeConfig, message_id: str, timeout: float) -> dict[str, Any]:
    """Poll the database (never the node) until the message is delivered or failed, or `timeout` passes."""
    from node.nodedir import open_node
    from node.store.messages import find_message

    node = open_node(config.directory)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with node.db.read_session() as session:
                row = find_message(session, message_id, direction="outbound")
                info = {
                    "message_id": message_id,
                    "state": row.state if row else "unknown",
                    "attempts": row.attempts if row else 0,
                    "receipt_status": row.receipt_status if row else None,
                    "last_error": row.last_error if row else None,
                }
            if info["state"] in FINAL_STATES or time.monotonic() >= deadline:
                return info
            time.sleep(0.2)
    finally:
        node.close()


@click.command("send")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--to", "partner", required=True, help="The partner id (partners.yaml).")
@click.option("--file", "path", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--service", default=None, help="eb:Service (default: the ebMS3 test service).")
@click.option("--action", default=None, help="eb:Action (default: the ebMS3 test action).")
@click.option("--mime-type", default=None, help="The payload's MIME type (default: from the file name).")
@click.option("--wait", is_flag=True, help="Wait until the message is delivered or failed.")
@click.option("--timeout", type=click.FloatRange(0.1), default=120.0, show_default=True, help="For --wait.")
def send_command(
    directory: Path,
    partner: str,
    path: Path,
    service: str | None,
    action: str | None,
    mime_type: str | None,
    wait: bool,
    timeout: float,
) -> None:
    """Submit FILE to partner TO. Prints {"message_id": ..., "state": ...}; with --wait the final state.

    The running node (`aswnode serve`) sends it; --wait talks to it only through the database.
    Exit 1 when the message failed or --wait timed out.
    """
    try:
        config = NodeConfig.load(directory)
    except ConfigError as exc:
        raise OperatorError(str(exc)) from None
    if (service is None) != (action is None):
        raise OperatorError("--service and --action go together")
    outcome = _submit(
        config,
        partner,
        path,
        service or TEST_SERVICE,
        action or TEST_ACTION,
        mime_type or _guess_mime_type(path),
    )
    if not wait:
        click.echo(json.dumps({"message_id": outcome["message_id"], "state": outcome["state"]}))
        return
    info = wait_for_outcome(config, outcome["message_id"], timeout)
    click.echo(json.dumps(info))
    if info["state"] != "delivered":
        raise SystemExit(1)


def register(cli: click.Group) -> None:
    cli.add_command(send_command)
