"""`aswnode withdraw` e-mails the go-live-withdrawn notice at once, as `golive` e-mails the announcement:
the node need not run for the focal points to hear of it."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import yaml

REASON = "the partner's certificate is to be renewed first"


def _lifecycle_fixtures() -> ModuleType:
    """The lifecycle tests' fixtures: a real SMTP server on 127.0.0.1 and `aswnode` node directories."""
    path = Path(__file__).resolve().parents[1] / "lifecycle" / "conftest.py"
    spec = importlib.util.spec_from_file_location("lifecycle_cli_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_fixtures = _lifecycle_fixtures()
smtp_server = _fixtures.smtp_server
production_cli = _fixtures.production_cli


def _announced(node, smtp_server) -> datetime:  # type: ignore[no-untyped-def]
    """Partner `far` through the procedure by command line, its go-live announced; node.yaml mails
    notices to the test SMTP server and to ops@example.vn."""
    d = str(node.directory)
    node_yaml = node.directory / "node.yaml"
    data = yaml.safe_load(node_yaml.read_text())
    data["smtp"] = {"host": smtp_server.host, "port": smtp_server.port, "from": "nsw@example.vn"}
    data["notices"] = {"recipients": ["ops@example.vn"]}
    node_yaml.write_text(yaml.safe_dump(data))
    node.run(
        "lifecycle",
        "focal-point",
        d,
        "--owner",
        "partner:far",
        "--name",
        "Somchai",
        "--email",
        "focal@far.example",
    )
    cases = [case["id"] for case in json.loads(node.run("conntest", "plan", d, "far").stdout)["cases"]]
    node.run("conntest", "record", d, "far", *cases, "--passed", "--detail", "seen by hand")
    node.run("conntest", "minutes", d, "far")
    for role in ("operator", "ministry", "provider"):
        node.run("conntest", "confirm", d, "far", "--role", role, "--name", f"the {role}")
    at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    golive = node.run("golive", d, "far", "--at", at.isoformat())
    assert "e-mailed" in golive.stderr and "not e-mailed" not in golive.stderr, golive.stderr
    [(_, _, message)] = smtp_server.wait_for(1)
    assert message["X-ASW-Notice-Kind"] == "golive"
    return at


def test_withdrawing_a_go_live_emails_the_focal_points_at_once(production_cli, smtp_server) -> None:  # type: ignore[no-untyped-def]
    node, d = production_cli, str(production_cli.directory)
    at = _announced(node, smtp_server)

    withdrawn = node.run("withdraw", d, "far", "--reason", REASON)
    assert "far: go-live withdrawn" in withdrawn.stdout
    assert "e-mailed" in withdrawn.stderr and "not e-mailed" not in withdrawn.stderr, withdrawn.stderr
    messages = smtp_server.wait_for(2, timeout=5)
    assert len(messages) == 2, [m["Subject"] for _, _, m in messages]
    _, recipients, message = messages[1]
    assert set(recipients) == {"ops@example.vn", "focal@far.example"}
    assert message["X-ASW-Notice-Kind"] == "golive_withdrawn"
    assert "withdrawn" in message["Subject"].lower() and "far" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert REASON in text and at.isoformat().replace("+00:00", "Z") in text

    # Sent once: asking again for the pending notices e-mails nothing more.
    node.run("lifecycle", "notices", d, "--send")
    assert len(smtp_server.wait_for(3, timeout=1)) == 2
    status = json.loads(node.run("conntest", "status", d, "far").stdout)
    assert status["state"] == "tested"
