"""Step 4 of the connection test against the independent Java peer as the foreign gateway.

The peer answers the test service with signed receipts and refuses a broken signature with
EBMS:0101, so those cases pass with evidence; it has no TLS on its loopback port and no size
limit, so the TLS and too-large cases fail and say why: its minutes are failed and go-live is refused.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from lifecycle_harness import harness

pytestmark = pytest.mark.interop
SAMPLE = Path(__file__).with_name("ephyto-sample.json")


def wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the peer exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("the peer did not listen")


def test_the_foreign_run_against_the_java_peer_reports_each_case(
    peer_bin: Path, peer_pki: Path, tmp_path: Path
) -> None:
    directory = tmp_path / "node"
    info = json.loads(
        harness.cli(
            "init",
            str(directory),
            "--party-id",
            "peer-a",
            "--port",
            str(harness.free_port()),
            "--http",
            "--environment",
            "production",
        ).stdout
    )
    port = harness.free_port()
    harness.cli(
        "partners",
        "add",
        str(directory),
        "--id",
        "peer-b",
        "--party-id",
        "peer-b",
        "--endpoint",
        f"http://127.0.0.1:{port}/",
        "--cert",
        str(peer_pki / "b.crt"),
    )
    partners = yaml.safe_load((directory / "partners.yaml").read_text())
    partners["partners"][0]["agreement"] = "IPPC ePhyto"
    (directory / "partners.yaml").write_text(yaml.safe_dump(partners))
    (directory / "conntest" / "samples").mkdir(parents=True)
    shutil.copy(SAMPLE, directory / "conntest" / "samples" / "ephyto.json")
    peer = subprocess.Popen(
        [
            str(peer_bin),
            "serve",
            "--port",
            str(port),
            "--our-key",
            str(peer_pki / "b.key"),
            "--our-cert",
            str(peer_pki / "b.crt"),
            "--their-cert",
            info["signing_cert"],
            "--store",
            str(tmp_path / "inbox"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, peer)
        harness.cli("conntest", "plan", str(directory), "peer-b", "--max-message-bytes", str(1024 * 1024))
        run = harness.cli("conntest", "run", str(directory), "peer-b", "--step", "foreign", check=False)
    finally:
        peer.terminate()
        peer.wait(20)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    lines = {line.split()[1]: line for line in run.stdout.splitlines() if line[:2] in ("F-",)}
    for passed in ("test_ping", "sample_ephyto", "bad_signature"):
        assert " passed: " in lines[passed], lines[passed]
    assert "EBMS:0101" in lines["bad_signature"]
    assert "FAILED" in lines["tls_chain"] and "plain HTTP" in lines["tls_chain"]
    assert "FAILED" in lines["too_large"] and "RECEIPTED" in lines["too_large"]
    stored = [p for p in (tmp_path / "inbox").iterdir() if (p / "meta.json").exists()]
    assert any(json.loads((p / "meta.json").read_text()).get("test_message") for p in stored)
    minutes = json.loads(harness.cli("conntest", "minutes", str(directory), "peer-b").stdout)
    assert minutes["minutes"]["outcome"] == "failed"
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    refused = harness.cli("golive", str(directory), "peer-b", "--at", at, check=False)
    assert refused.returncode == 1 and "no go-live without minutes" in refused.stderr
