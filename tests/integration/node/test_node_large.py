"""Large payloads stream through both nodes: never whole in memory (peak RSS measured from /proc)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

SIZE_MIB = int(os.environ.get("ASWNODE_LARGE_MIB", "200"))
RSS_LIMIT_MIB = 128


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.slow
@pytest.mark.timeout(280)
def test_a_200_mib_payload_crosses_two_nodes_under_128_mib_rss_each(nodes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = nodes.pair(tls=True, mtls=True)
    big = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with big.open("wb") as handle:
        for _ in range(SIZE_MIB):
            block = os.urandom(1 << 20)
            digest.update(block)
            handle.write(block)
    ref = a.blobs.put(iter(lambda f=big.open("rb"): f.read(1 << 20), b""))
    assert ref.digest == digest.hexdigest()
    from datetime import UTC, datetime

    from node.store.messages import NewPayload, create_outbound

    with a.db.session() as session:
        create_outbound(
            session,
            partner_id="node-b",
            message_id="large-1@node-a",
            service="urn:aswnode:test:business",
            action="Deliver",
            payloads=(NewPayload(ref, "application/octet-stream"),),
            now=datetime.now(UTC),
        )
    a.start()
    b.start()
    a.wait_for(
        lambda: a.messages("outbound")[0]["state"] == "delivered", timeout=240, what="the large message"
    )
    [received] = b.messages("inbound")
    assert received["payload_digests"] == [ref.digest]
    # Above the inline limit the wire message streams to the blob store at both ends.
    assert not received["wire_inline"] and b.blobs.exists(received["wire_digest"])
    assert not a.messages("outbound")[0]["wire_inline"]
    for node in (a, b):
        assert node.process is not None
        peak = _peak_rss_mib(node.process.pid)
        print(f"{node.name}: peak RSS {peak:.1f} MiB")
        assert peak < RSS_LIMIT_MIB, node.name
