"""`aswnode incident open|list|close|report` (Art. 14)."""

from __future__ import annotations

import json


def test_an_incident_is_opened_listed_closed_and_reported(sandbox_cli) -> None:  # type: ignore[no-untyped-def]
    node, d = sandbox_cli, str(sandbox_cli.directory)
    opened = json.loads(node.run("incident", "open", d, "--title", "HSM failure", "--partner", "far").stdout)
    assert opened["partners"] == ["far"]
    assert [i["id"] for i in json.loads(node.run("incident", "list", d).stdout)] == [opened["id"]]
    report = json.loads(
        node.run("incident", "close", d, str(opened["id"]), "--repair", "HSM replaced").stdout
    )
    assert "reconcile_by" in report and "1 working day" in report["target"]
    assert json.loads(node.run("incident", "list", d).stdout) == []
    status = json.loads(node.run("incident", "report", d, str(opened["id"])).stdout)
    assert status["within_target"] is True and status["outstanding"] == []


def test_an_incident_for_an_unknown_partner_is_refused(sandbox_cli) -> None:  # type: ignore[no-untyped-def]
    result = sandbox_cli.run(
        "incident", "open", str(sandbox_cli.directory), "--title", "x", "--partner", "nope", ok=False
    )
    assert result.returncode == 1 and "no partner 'nope'" in result.stderr
