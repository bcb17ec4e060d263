"""Crash safety: while messages flow both ways, each node is killed with SIGKILL several times and restarted.

At the end every message was received exactly once (by MessageId and payload digest) and every one
has a verified receipt at its sender.
"""

from __future__ import annotations

import hashlib
import os
import random
import time

import pytest

PER_DIRECTION = 250
KILLS_EACH = 3


@pytest.mark.slow
@pytest.mark.timeout(280)
def test_every_message_is_delivered_exactly_once_despite_kill_9(nodes) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(os.environ.get("ASWNODE_KILL_SEED", "47"))
    a, b = nodes.pair(
        tls=True, mtls=True, pmode={"reliability": {"retries": 1000, "interval_seconds": 0.5, "backoff": 1.0}}
    )
    for node in (a, b):
        node.set_sender(window=4, concurrency=8, interval_ms=200)
    payloads = {
        (a, b): [os.urandom(rng.randrange(512, 12_000)) for _ in range(PER_DIRECTION)],
        (b, a): [os.urandom(rng.randrange(512, 12_000)) for _ in range(PER_DIRECTION)],
    }
    sent: dict[str, tuple[str, str]] = {}  # message id -> (receiver name, payload sha256)

    def enqueue(sender, receiver, chunk):  # type: ignore[no-untyped-def]
        for message_id, data in zip(sender.enqueue(receiver.name, chunk), chunk, strict=True):
            sent[message_id] = (receiver.name, hashlib.sha256(data).hexdigest())

    # Half queued before the start, half while the nodes are being killed.
    for (sender, receiver), data in payloads.items():
        enqueue(sender, receiver, data[: PER_DIRECTION // 2])
    a.start()
    b.start()
    kills = {a.name: 0, b.name: 0}
    late = {pair: data[PER_DIRECTION // 2 :] for pair, data in payloads.items()}
    while min(kills.values()) < KILLS_EACH:
        time.sleep(rng.uniform(0.5, 2.5))
        victim = rng.choice([n for n in (a, b) if kills[n.name] < KILLS_EACH])
        victim.kill9()
        kills[victim.name] += 1
        for (sender, receiver), data in late.items():
            if data:
                step, late[(sender, receiver)] = data[:25], data[25:]
                enqueue(sender, receiver, step)
        time.sleep(rng.uniform(0.0, 0.8))
        victim.start()
    for (sender, receiver), data in late.items():
        if data:
            enqueue(sender, receiver, data)
    assert len(sent) == 2 * PER_DIRECTION

    def all_settled(node):  # type: ignore[no-untyped-def]
        rows = node.messages("outbound")
        return len(rows) == PER_DIRECTION and all(m["state"] == "delivered" for m in rows)

    for node in (a, b):
        node.wait_for(lambda node=node: all_settled(node), timeout=150, what="every message delivered")

    for sender, receiver in ((a, b), (b, a)):
        outbound = sender.messages("outbound")
        assert all(m["receipt_status"] == "valid" and m["receipt_digest"] for m in outbound)
        inbound = receiver.messages("inbound")
        ids = [m["message_id"] for m in inbound]
        assert len(ids) == len(set(ids)) == PER_DIRECTION, "a message was received twice or not at all"
        for message in inbound:
            assert sent[message["message_id"]] == (receiver.name, message["payload_digests"][0])
        assert {m["message_id"] for m in outbound} == set(ids)
