"""The benchmarks still measure what they claim: every message settles delivered, every figure is there.

Nothing here is timed (figures belong in ops/bench/*.md): a bench whose messages are refused would
print a throughput of refusals, as one once did for a whole session.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PEER = ROOT.parent / "shared" / "peer"


def _last_json(output: str) -> dict[str, object]:
    return json.loads(output.strip().splitlines()[-1])


def test_node_bench_delivers_every_message_and_prints_every_ratio() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "ops/bench/node"), "-n", "16", "--outstanding", "8", "--window", "4"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    summary = _last_json(run.stdout)
    nodes = summary["nodes"]
    assert isinstance(nodes, dict)
    assert (nodes["messages"], nodes["failed"], nodes["first_errors"]) == (16, 0, [])
    for ratio in ("cpu_ceiling_to_node_cpu", "throughput_to_ceiling", "protocol_alone_to_ceiling"):
        value = float(summary[f"ratio_{ratio}"])  # type: ignore[arg-type]
        assert 0 < value < 1, (ratio, value)
    if (PEER / "build" / ".stamp").exists():
        peer = summary["peer_bench_vs_peer_serve"]
        assert isinstance(peer, dict) and peer.get("ok") == 16 and peer.get("failed") == 0, peer


def test_protocol_bench_prints_its_figures() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "ops/bench/protocol"), "--seconds", "0.2", "--big-mib", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    figures = _last_json(run.stdout)
    assert 0 < float(figures["ratio_of_ceiling"]) < 1  # type: ignore[arg-type]
    big = figures["big"]
    assert isinstance(big, dict) and big["payload_mib"] == 2 and big["peak_rss_mib"] < 128
