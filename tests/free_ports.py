"""Free loopback TCP ports for the servers a test starts, from a range of its own per pytest-xdist worker.

Asking the kernel (bind to port 0, close, hand the number to a child that binds it a second later)
races: in that second another worker's probe may get the same number, and an outgoing connection
may take it as its source port. The ranges here lie below the kernel's ephemeral ports (32768+
on Linux) and do not overlap between workers; within one worker the numbers go round, so a port
a test has just closed is not handed out again at once.
"""

from __future__ import annotations

import itertools
import os
import random
import socket

__all__ = ["free_port"]

_FIRST = 20000
_SPAN = 1500  # 8 workers fit below 32000
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % 8
_START = _FIRST + _WORKER * _SPAN
# A random start: a second pytest run beside this one (one file at a time) rarely meets it.
_ports = itertools.cycle(range(_START, _START + _SPAN))
for _ in range(random.randrange(_SPAN)):
    next(_ports)


def free_port() -> int:
    """A port nothing listens on now, on 127.0.0.1, that no other worker of this run hands out."""
    for _ in range(_SPAN):
        port = next(_ports)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in {_START}-{_START + _SPAN - 1}")
