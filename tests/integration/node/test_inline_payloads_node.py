"""Two real nodes: small payload parts live in their row at both ends (no blob file), larger ones stream
through the blob store; `aswnode send` and `aswnode payload` work for both; SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ASWNODE = str(Path(sys.executable).with_name("aswnode"))
LIMIT = 4096  # node.yaml storage.inline_limit of both nodes
SMALL = b"<doc>kept in the payloads row</doc>"
LARGE_SIZE = 48 * 1024


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([ASWNODE, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def _inline_limit(node: Any, limit: int) -> None:
    path = node.dir / "node.yaml"
    data = yaml.safe_load(path.read_text())
    data["storage"] = {**(data.get("storage") or {}), "inline_limit": limit}
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _send(node: Any, partner: str, path: Path) -> str:
    business = ("--service", "urn:aswnode:test:business", "--action", "Deliver")
    out = cli("send", str(node.dir), "--to", partner, "--file", str(path), *business, "--wait").stdout
    outcome = json.loads(out.strip().splitlines()[-1])
    assert outcome["state"] == "delivered", outcome
    return str(outcome["message_id"])


def _stored(node: Any, message_id: str, direction: str) -> tuple[str, int, bytes | None]:
    """(digest, size, inline bytes) of the message's one payload part, as in its row."""
    from sqlalchemy import select
    from sqlalchemy.orm import undefer

    from node.store.models import Message, Payload

    with node.db.read_session() as session:
        part = session.scalars(
            select(Payload)
            .join(Message, Message.id == Payload.message_pk)
            .where(Message.message_id == message_id, Message.direction == direction)
            .options(undefer(Payload.data))
        ).one()
        return part.blob_digest, part.size, part.data


def _payload_cli(node: Any, message_id: str, direction: str, out: Path) -> bytes:
    cli("payload", str(node.dir), message_id, "--direction", direction, "--out", str(out))
    return out.read_bytes()


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_small_payloads_stay_in_their_rows_and_large_ones_stream_through_blobs_at_both_ends(
    nodes, tmp_path: Path, db: str, request: pytest.FixtureRequest
) -> None:  # type: ignore[no-untyped-def]
    # With PostgreSQL the receiving node b keeps its rows there, the sender a in SQLite.
    b_url = request.getfixturevalue("postgres_url") if db == "postgresql" else None
    a = nodes.make("node-a", tls=False)
    b = nodes.make("node-b", tls=False, db_url=b_url)
    a.knows(b)
    b.knows(a)
    for node in (a, b):
        _inline_limit(node, LIMIT)
    small, large = tmp_path / "small.xml", tmp_path / "large.bin"
    small.write_bytes(SMALL)
    large.write_bytes(os.urandom(LARGE_SIZE))
    a.start()
    b.start()
    sent = {name: _send(a, "node-b", path) for name, path in (("small", small), ("large", large))}

    for name, path in (("small", small), ("large", large)):
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        for node, direction in ((a, "outbound"), (b, "inbound")):
            stored_digest, size, inline = _stored(node, sent[name], direction)
            # The digest and size are recorded either way: what ministries and operators see.
            assert (stored_digest, size) == (digest, len(data)), (name, node.name)
            if name == "small":
                assert inline == data and not node.blobs.exists(digest), (name, node.name)
            else:
                assert inline is None and node.blobs.read_bytes(digest, LARGE_SIZE) == data, (name, node.name)
            out = tmp_path / f"{node.name}-{name}.out"
            assert _payload_cli(node, sent[name], direction, out) == data, (name, node.name)
    for node in (a, b):
        assert "audit chain ok" in cli("audit", "verify", str(node.dir)).stdout
