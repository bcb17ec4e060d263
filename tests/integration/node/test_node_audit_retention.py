"""A running node keeps its audit log at least 3 years (Decree 47 Art. 45) by a scheduled job, and no
longer: records past the retention are deleted, younger ones never, and the chain still verifies."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest_twisted
from twisted.internet import reactor, threads

from node.config import NodeConfig
from node.nodedir import create_node_directory
from node.service import RunningNode, build_context

ASWNODE = str(Path(sys.executable).with_name("aswnode"))
YEAR = timedelta(days=365)


@pytest_twisted.ensureDeferred
async def test_a_running_node_deletes_audit_records_past_the_retention_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    from node.housekeeping import RETENTION_EVERY, RETENTION_JOB

    directory = tmp_path / "vn"
    create_node_directory(directory, party_id="vn-nsw", port=0, tls=False)
    ctx = build_context(NodeConfig.load(directory), reactor)
    # The chain's first records, as a node that has run for four years has them.
    now = ctx.clock()
    ages = {"old": 4 * YEAR, "just-old": 3 * YEAR + timedelta(days=2), "young": 3 * YEAR - timedelta(days=2)}
    with ctx.db.session() as session:
        for subject, age in ages.items():
            ctx.audit.append(session, "operator:test", "test.record", subject, form="cli", at=now - age)
    running = RunningNode(ctx)
    await running.start()
    try:
        job = running.scheduler.get_job(RETENTION_JOB)
        assert job is not None and job.trigger.interval == RETENTION_EVERY
        deleted = await threads.deferToThread(job.func, *job.args)
        assert deleted == 2
        with ctx.db.read_session() as session:
            subjects = {entry.subject for entry in ctx.audit.entries(session)}
            sweeps = [
                entry for entry in ctx.audit.entries(session) if entry.action == "audit.retention_sweep"
            ]
        assert "old" not in subjects and "just-old" not in subjects and "young" in subjects
        assert sweeps and sweeps[-1].detail["deleted"] == deleted
    finally:
        await running.stop()
    verify = subprocess.run(
        [ASWNODE, "audit", "verify", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
