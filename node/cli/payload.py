"""`aswnode payload DIR MESSAGE_ID --out F`: a stored payload's bytes, exactly as sent or received."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from node.cli import OperatorError
from node.cli._node import opened_node

__all__ = ["register"]


@click.command("payload")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("message_id")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where to write.")
@click.option("--part", type=click.IntRange(0), default=0, show_default=True, help="Payload part number.")
@click.option("--direction", type=click.Choice(("inbound", "outbound")), default=None)
def payload_command(directory: Path, message_id: str, out: Path, part: int, direction: str | None) -> None:
    """Write payload PART of MESSAGE_ID to OUT (the newest message with that id)."""
    from node.store.blobs import BlobMissing
    from node.store.messages import find_message

    with opened_node(directory) as node:
        with node.db.read_session() as session:
            message = find_message(session, message_id, direction=direction)
            if message is None:
                raise OperatorError(f"no message {message_id}")
            payloads = list(message.payloads)
            if part >= len(payloads):
                raise OperatorError(
                    f"message {message_id} has {len(payloads)} payload part(s), no part {part}"
                )
            chosen = payloads[part]
            inline = chosen.data  # kept in the row when small (deferred: read inside the session)
        tmp = out.with_name(f".{out.name}.part")
        try:
            with node.blobs.open_stored(chosen.blob_digest, inline) as source, tmp.open("wb") as handle:
                for chunk in source.chunks():
                    handle.write(chunk)
            os.replace(tmp, out)
        except BlobMissing:
            raise OperatorError(f"payload blob {chosen.blob_digest} is missing from the blob store") from None
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OperatorError(f"{out}: {exc.strerror}") from None
    click.echo(
        json.dumps(
            {"message_id": message_id, "out": str(out), "mime_type": chosen.mime_type, "size": chosen.size}
        )
    )


def register(cli: click.Group) -> None:
    cli.add_command(payload_command)
