"""`aswnode blobs sweep` on a real node directory, and the sweep job a running node schedules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor, threads

from node.config import NodeConfig
from node.nodedir import create_node_directory
from node.service import RunningNode, build_context

ASWNODE = str(Path(sys.executable).with_name("aswnode"))
TWO_DAYS = 2 * 24 * 3600


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([ASWNODE, *args], capture_output=True, text=True, timeout=120, check=False)
    assert not check or result.returncode == 0, result.stderr
    return result


def _age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def _sweep(directory: Path, *args: str) -> dict[str, object]:
    return json.loads(cli("blobs", "sweep", str(directory), *args).stdout)


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_sweep_deletes_an_orphan_payload_and_keeps_a_queued_ones(nodes, request, db: str) -> None:
    db_url = request.getfixturevalue("postgres_url") if db == "postgresql" else None
    node = nodes.make("vn", tls=False, db_url=db_url)
    (message_id,) = node.enqueue("th", [b"<queued certificate/>"])
    kept = node.messages()[0]["payload_digests"][0]
    orphan = node.blobs.put_bytes(b"<written, then kill -9 before the commit/>")
    for digest in (kept, orphan.digest):
        _age(node.blobs.path(digest), TWO_DAYS)

    dry = _sweep(node.dir, "--dry-run")
    assert (dry["deleted"], dry["bytes"], dry["dry_run"]) == (1, orphan.size, True)
    assert node.blobs.exists(orphan.digest)
    assert _sweep(node.dir, "--older-than", "72")["deleted"] == 0

    node.start()  # safe while the node runs
    done = _sweep(node.dir)
    assert (done["deleted"], done["bytes"], done["referenced"], done["dry_run"]) == (1, orphan.size, 1, False)
    assert not node.blobs.exists(orphan.digest) and node.blobs.exists(kept)
    assert [e.action for e in node.audit() if e.action == "blobs.sweep"] == ["blobs.sweep"]
    assert _sweep(node.dir)["deleted"] == 0
    out = cli("payload", str(node.dir), message_id, "--out", str(node.dir / "out.bin"))
    assert json.loads(out.stdout)["size"] == len(b"<queued certificate/>")


def test_an_unsafe_age_is_refused(nodes) -> None:
    node = nodes.make("vn", tls=False)
    result = cli("blobs", "sweep", str(node.dir), "--older-than", "0.5", check=False)
    assert result.returncode == 2 and "--older-than" in result.stderr


@pytest_twisted.ensureDeferred
async def test_a_running_node_schedules_the_sweep(tmp_path: Path) -> None:
    from node.housekeeping import SWEEP_EVERY, SWEEP_JOB

    directory = tmp_path / "vn"
    create_node_directory(directory, party_id="vn-nsw", port=0, tls=False)
    running = RunningNode(build_context(NodeConfig.load(directory), reactor))
    await running.start()
    try:
        job = running.scheduler.get_job(SWEEP_JOB)
        assert job is not None and job.trigger.interval == SWEEP_EVERY
        blobs = running.ctx.blobs
        orphan = blobs.put_bytes(b"orphan")
        _age(blobs.path(orphan.digest), TWO_DAYS)
        result = await threads.deferToThread(job.func, *job.args)
        assert (result.deleted, result.bytes) == (1, len(b"orphan")) and not blobs.exists(orphan.digest)
        assert result.older_than_hours == timedelta(days=1).total_seconds() / 3600
    finally:
        await running.stop()
