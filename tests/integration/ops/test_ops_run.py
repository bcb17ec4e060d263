"""The README's first command: `ops/run` makes a sandbox node whose first document goes the whole way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from free_ports import free_port

ROOT = Path(__file__).resolve().parents[3]
ASWNODE = Path(sys.executable).parent / "aswnode"


def test_ops_run_starts_a_sandbox_node_that_delivers_a_first_document_to_itself(tmp_path: Path) -> None:
    node = tmp_path / "node"
    env = {**os.environ, "ASWNODE_DIR": str(node), "ASWNODE_PORT": str(free_port())}
    log = (tmp_path / "run.log").open("w")
    run = subprocess.Popen(
        [str(ROOT / "ops" / "run")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while "Stop with" not in (tmp_path / "run.log").read_text():
            assert run.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()
            time.sleep(0.2)
        document = tmp_path / "hello.xml"
        document.write_text("<hello/>\n")
        sent = subprocess.run(
            [str(ASWNODE), "send", str(node), "--to", "sandbox-loopback", "--file", str(document),
             "--service", "urn:aswnode:test:business", "--action", "Deliver", "--wait", "--timeout", "60"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert sent.returncode == 0 and '"delivered"' in sent.stdout, sent.stdout + sent.stderr
        verified = subprocess.run(
            [str(ASWNODE), "audit", "verify", str(node)], capture_output=True, text=True, timeout=60
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
        log.close()
