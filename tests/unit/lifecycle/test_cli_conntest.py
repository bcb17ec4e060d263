"""`aswnode conntest plan|add-case|record|minutes|confirm|status` and then `golive`, in a production node."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta


def test_the_procedure_by_command_line_ends_in_an_announced_go_live(production_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    node, d = production_cli, str(production_cli.directory)
    plan = json.loads(node.run("conntest", "plan", d, "far").stdout)
    assert plan["partner_id"] == "far" and len(plan["cases"]) >= 10
    node.run(
        "conntest",
        "add-case",
        d,
        "far",
        "--id",
        "X-1",
        "--purpose",
        "Amendment round trip",
        "--do",
        "send an amendment",
        "--expected",
        "answered 'amendment requested'",
    )
    html = tmp_path / "plan.html"
    node.run("conntest", "plan", d, "far", "--show", "--format", "html", "--out", str(html))
    assert "X-1" in html.read_text() and "Amendment round trip" in html.read_text()
    ids = [case["id"] for case in plan["cases"]]
    node.run("conntest", "record", d, "far", *ids, "X-1", "--passed", "--evidence", "message_id=m-1")
    minutes = json.loads(node.run("conntest", "minutes", d, "far").stdout)
    assert minutes["digest"] in node.run("conntest", "minutes", d, "far", "--show", "--format", "html").stdout
    assert minutes["minutes"]["outcome"] == "passed" and minutes["signature"]["alg"] == "PS256"
    golive_too_early = node.run("golive", d, "far", "--at", "2030-01-01T00:00:00Z", ok=False)
    assert "no go-live without minutes" in golive_too_early.stderr
    for role in ("operator", "ministry", "provider"):
        out = node.run(
            "conntest",
            "confirm",
            d,
            "far",
            "--role",
            role,
            "--name",
            f"{role} X",
            "--email",
            f"{role}@example.vn",
        ).stdout
    assert "partner far is tested" in out
    status = json.loads(node.run("conntest", "status", d, "far").stdout)
    assert status["state"] == "tested" and status["minutes"]["confirmed_by"] == [
        "operator",
        "ministry",
        "provider",
    ]
    at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    announced = json.loads(node.run("golive", d, "far", "--at", at.isoformat()).stdout)
    assert announced["state"] == "scheduled" and announced["go_live_at"] == at.isoformat()


def test_a_failed_case_must_say_why(production_cli) -> None:  # type: ignore[no-untyped-def]
    node, d = production_cli, str(production_cli.directory)
    node.run("conntest", "plan", d, "far")
    result = node.run("conntest", "record", d, "far", "F-1", "--failed", ok=False)
    assert result.returncode == 1 and "what failed and why" in result.stderr


def test_the_domestic_run_reports_each_case_and_fails_without_a_running_node(production_cli) -> None:  # type: ignore[no-untyped-def]
    node, d = production_cli, str(production_cli.directory)
    node.run("conntest", "plan", d, "far")
    result = node.run("conntest", "run", d, "far", "--step", "domestic", ok=False)
    assert result.returncode == 1
    assert "D-1" in result.stdout and "FAILED" in result.stdout and "not reachable" in result.stdout
    assert "case(s) failed" in result.stderr
    status = json.loads(node.run("conntest", "status", d, "far").stdout)
    d1 = next(c for c in status["cases"] if c["id"] == "D-1")
    assert d1["outcome"] == "failed" and "not reachable" in d1["detail"]
