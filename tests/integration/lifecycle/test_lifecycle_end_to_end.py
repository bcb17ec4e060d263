"""The whole Art. 10 procedure between two real production nodes over mutual TLS, and a failing partner.

VN and TH each register the other, draw up a plan, and run the four steps against the other's
running gateway (TLS chain, test ping with a verified receipt, ePhyto sample, bad signature,
duplicate, too-large message). VN's minutes are signed, confirmed by the three parties, the
go-live is announced and the node's scheduler job activates TH at that time. A partner whose
gateway does not answer fails its test, and its go-live is refused.
"""

from __future__ import annotations

import json
import shutil
import ssl
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from lifecycle_harness import harness

SAMPLE = Path(__file__).with_name("ephyto-sample.json")
LIMIT = 1024 * 1024

pytestmark = pytest.mark.slow


def production(node: Any) -> None:
    """Production environment, a 1 MiB request limit (the too_large case), a pulling ministry, a sample."""
    path = node.dir / "node.yaml"
    data = yaml.safe_load(path.read_text())
    data["environment"] = "production"
    data.setdefault("limits", {})["max_request_bytes"] = LIMIT
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    harness.cli("ministries", "add", str(node.dir), "--id", "mard", "--documents", "ephyto")
    samples = node.dir / "conntest" / "samples"
    samples.mkdir(parents=True)
    shutil.copy(SAMPLE, samples / "ephyto.json")


def agreement(node: Any, partner_id: str, text: str) -> None:
    path = node.dir / "partners.yaml"
    data = yaml.safe_load(path.read_text())
    for entry in data["partners"]:
        if entry["id"] == partner_id:
            entry["agreement"] = text
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def aswnode(*args: str, check: bool = True) -> Any:
    result = harness.cli(*args, check=False, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    if check:
        assert result.returncode == 0, f"aswnode {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def state(node: Any, partner_id: str) -> str:
    return json.loads(aswnode("lifecycle", "history", str(node.dir), partner_id).stdout)["state"]


def confirm_all(node: Any, partner_id: str) -> None:
    for role in ("operator", "ministry", "provider"):
        aswnode("conntest", "confirm", str(node.dir), partner_id, "--role", role, "--name", f"{role} X")


def test_the_procedure_between_two_real_nodes_goes_live_and_a_failing_partner_does_not(real_nodes) -> None:  # type: ignore[no-untyped-def]
    vn = real_nodes.make("vn", "VN-NSW")
    th = real_nodes.make("th", "TH-NSW")
    for node in (vn, th):
        production(node)
    vn.knows(th, mtls=True)
    th.knows(vn, mtls=True)
    agreement(vn, "th", "IPPC ePhyto bilateral")
    agreement(th, "vn", "IPPC ePhyto bilateral")
    dead = f"https://127.0.0.1:{harness.free_port()}/as4"
    vn.add_partner("far", "FAR-NSW", dead, th.signing_cert, tls_ca=th.tls_cert)
    assert state(vn, "th") == "registered"
    vn.start()
    th.start()

    # Step 1 on both sides: the partner enters `testing`, the test service opens.
    for node, partner in ((vn, "th"), (th, "vn"), (vn, "far")):
        aswnode("conntest", "plan", str(node.dir), partner, "--max-message-bytes", str(LIMIT))
    assert state(vn, "th") == "testing"

    # TH runs its step 4 against VN: VN receives TH's test messages (the other direction).
    aswnode("conntest", "run", str(th.dir), "vn", "--step", "foreign", check=False)

    # VN runs steps 2 and 4 against TH: every case passes, each printed as it ends.
    run = aswnode("conntest", "run", str(vn.dir), "th")
    for check in (
        "node_api",
        "ministry_webhook",
        "mapping_ephyto",
        "tls_chain",
        "test_ping",
        "sample_ephyto",
        "inbound_sample",
        "bad_signature",
        "duplicate",
        "too_large",
    ):
        assert check in run.stdout
    assert "all 10 case(s) passed" in run.stdout

    minutes = json.loads(aswnode("conntest", "minutes", str(vn.dir), "th").stdout)
    assert minutes["minutes"]["outcome"] == "passed"
    cases = {c["check"]: c for c in minutes["minutes"]["cases"]}
    assert cases["test_ping"]["evidence"]["receipt_digest"].startswith("sha256:")
    assert "EBMS:" in cases["bad_signature"]["evidence"]["ebms_errors"]
    confirm_all(vn, "th")
    assert state(vn, "th") == "tested"

    # Go-live: announced, published, and activated by the running node's scheduler at that time.
    at = (datetime.now(UTC) + timedelta(seconds=30)).replace(microsecond=0)
    aswnode("golive", str(vn.dir), "th", "--at", at.isoformat())
    assert state(vn, "th") == "scheduled"
    context = ssl.create_default_context(cafile=str(vn.tls_cert))
    context.check_hostname = False
    base = vn.endpoint.rsplit("/as4", 1)[0]
    with urllib.request.urlopen(f"{base}/api/v1/status", context=context, timeout=30) as response:
        status = json.loads(response.read())
    assert status["announcements"] == [
        {"partner_id": "th", "go_live_at": at.isoformat(), "status": "scheduled"}
    ]
    deadline = time.monotonic() + 150
    while state(vn, "th") != "active":
        assert time.monotonic() < deadline, "the scheduler did not activate the partner"
        time.sleep(2)
    last = json.loads(aswnode("lifecycle", "history", str(vn.dir), "th").stdout)["history"][-1]
    assert last["event"] == "activate" and last["actor"] == "system:scheduler"

    # The failing partner: its gateway does not answer; the test fails and go-live is refused.
    failing = aswnode("conntest", "run", str(vn.dir), "far", check=False)
    assert failing.returncode == 1 and "tls_chain" in failing.stdout and "FAILED" in failing.stdout
    assert (
        json.loads(aswnode("conntest", "minutes", str(vn.dir), "far").stdout)["minutes"]["outcome"]
        == "failed"
    )
    confirm_all(vn, "far")
    refused = aswnode(
        "golive",
        str(vn.dir),
        "far",
        "--at",
        (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        check=False,
    )
    assert (
        refused.returncode == 1 and "no go-live without minutes of a passed connection test" in refused.stderr
    )
    assert state(vn, "far") == "testing"
