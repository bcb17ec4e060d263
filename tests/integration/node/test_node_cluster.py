"""Several node processes on one PostgreSQL database share the sending work: no message is sent twice."""

from __future__ import annotations

import shutil

import pytest
import yaml


@pytest.mark.postgres
def test_two_sender_processes_on_one_postgresql_database_never_send_a_message_twice(
    nodes, postgres_url: str
) -> None:  # type: ignore[no-untyped-def]
    a, b = nodes.pair(tls=False, db_url=postgres_url)
    a.set_sender(window=8, concurrency=8, interval_ms=50)
    # A second process of the same node (same keys, same database), as behind a load balancer.
    twin = nodes.make("node-a-twin", "node-a", tls=False, db_url=postgres_url)
    shutil.rmtree(twin.dir)
    shutil.copytree(a.dir, twin.dir)
    # The blob store is shared too (a shared file system in a cluster).
    shutil.rmtree(twin.dir / "var" / "blobs", ignore_errors=True)
    (twin.dir / "var" / "blobs").symlink_to(a.dir / "var" / "blobs")
    config = yaml.safe_load((twin.dir / "node.yaml").read_text())
    config["listen"]["port"] = twin.port
    (twin.dir / "node.yaml").write_text(yaml.safe_dump(config))
    twin.set_sender(window=8, concurrency=8, interval_ms=50)
    b.start()
    a.start()
    twin.start()
    ids = a.enqueue("node-b", [f"<doc n='{n}'/>".encode() for n in range(150)])
    a.wait_for(
        lambda: all(m["state"] == "delivered" for m in a.messages("outbound")),
        timeout=120,
        what="all delivered",
    )
    assert sorted(m["message_id"] for m in b.messages("inbound")) == sorted(ids)
    # Had both processes sent one message, b would have answered the second as a duplicate.
    assert not [e for e in b.audit() if e.action == "as4.duplicate"]
    # Both processes did part of the work.
    for process in (a, twin):
        assert process.log.read_text().count('"delivered ') > 0, process.name
