"""The connection test's request body producer keeps IBodyProducer's contract when it is stopped.

A partner may answer (a 413) before it has read the whole body; the producer is then stopped and the
Deferred of startProducing must never fire: Twisted logs a traceback for any outcome it gets then.
"""

from __future__ import annotations

from typing import Any

from node.conntest.foreign import _SourceProducer
from protocols.as4.payload import InMemory


class _Collect:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


def test_a_stopped_producer_never_fires_its_deferred() -> None:
    producer = _SourceProducer(InMemory(b"x" * 1_000_000))
    outcomes: list[Any] = []
    d = producer.startProducing(_Collect())
    d.addBoth(outcomes.append)
    producer.stopProducing()
    producer.stopProducing()  # twice (the caller and the transport): no error
    assert outcomes == []
