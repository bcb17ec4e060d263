"""`aswnode golive|suspend|resume|terminate|lifecycle` as an operator types them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta


def in_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_golive_without_minutes_is_refused_in_production(production_cli) -> None:  # type: ignore[no-untyped-def]
    result = production_cli.run(
        "golive", str(production_cli.directory), "far", "--at", in_an_hour(), ok=False
    )
    assert result.returncode == 1
    assert "no go-live without minutes" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_golive_without_minutes_is_refused_in_sandbox_too(sandbox_cli) -> None:  # type: ignore[no-untyped-def]
    result = sandbox_cli.run("golive", str(sandbox_cli.directory), "far", "--at", in_an_hour(), ok=False)
    assert result.returncode == 1 and "no go-live without minutes" in result.stderr


def test_golive_needs_a_time_zone(production_cli) -> None:  # type: ignore[no-untyped-def]
    result = production_cli.run(
        "golive", str(production_cli.directory), "far", "--at", "2027-01-01T09:00", ok=False
    )
    assert result.returncode == 1 and "time zone" in result.stderr


def test_a_short_maintenance_notice_is_refused(production_cli) -> None:  # type: ignore[no-untyped-def]
    start = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    restore = (datetime.now(UTC) + timedelta(days=2, hours=3)).isoformat()
    result = production_cli.run(
        "suspend",
        str(production_cli.directory),
        "all",
        "--reason",
        "upgrade",
        "--start",
        start,
        "--restore",
        restore,
        ok=False,
    )
    assert result.returncode == 1 and "7 working days" in result.stderr


def test_suspending_a_partner_that_is_not_active_is_refused_naming_the_rule(production_cli) -> None:  # type: ignore[no-untyped-def]
    result = production_cli.run(
        "suspend",
        str(production_cli.directory),
        "far",
        "--reason",
        "spam",
        "--restore-step",
        "stop",
        ok=False,
    )
    assert result.returncode == 1 and "cannot suspend a partner in state registered" in result.stderr


def test_sandbox_partner_can_be_suspended_resumed_and_terminated(sandbox_cli) -> None:  # type: ignore[no-untyped-def]
    d = str(sandbox_cli.directory)
    out = sandbox_cli.run(
        "suspend", d, "far", "--reason", "unsigned documents", "--restore-step", "sign them"
    )
    assert json.loads(out.stdout)["cause"] == "violation"
    assert "not e-mailed (smtp not configured" in out.stderr
    sandbox_cli.run("resume", d, "far", "--evidence", "20 signed messages checked")
    sandbox_cli.run("terminate", d, "far", "--reason", "authority_order", "--note", "order 12/2026")
    history = json.loads(sandbox_cli.run("lifecycle", "history", d, "far").stdout)
    assert history["state"] == "terminated"
    assert [h["event"] for h in history["history"]] == ["suspend", "resume", "terminate"]
    notices = json.loads(sandbox_cli.run("lifecycle", "notices", d).stdout)
    assert [n["kind"] for n in notices] == ["termination", "restoration", "violation"]


def test_terminate_accepts_only_an_art_13_reason(sandbox_cli) -> None:  # type: ignore[no-untyped-def]
    result = sandbox_cli.run("terminate", str(sandbox_cli.directory), "far", "--reason", "bored", ok=False)
    assert result.returncode != 0 and "purpose_invalid" in result.stderr


def test_the_table_is_printed_with_its_articles(sandbox_cli) -> None:  # type: ignore[no-untyped-def]
    table = sandbox_cli.run("lifecycle", "table").stdout
    assert "tested      --announce" in table and "Art. 10.4" in table and "[sandbox only]" in table


def test_certificates_and_focal_points_are_registered_by_command(sandbox_cli) -> None:  # type: ignore[no-untyped-def]
    d, cert = str(sandbox_cli.directory), str(sandbox_cli.signing_cert)
    row = json.loads(
        sandbox_cli.run("lifecycle", "register-cert", d, "--owner", "partner:far", "--cert", cert).stdout
    )
    assert row["status"] == "active" and row["serial"] and row["not_after"]
    again = sandbox_cli.run(
        "lifecycle", "register-cert", d, "--owner", "partner:far", "--cert", cert, ok=False
    )
    assert again.returncode == 1 and "already registered" in again.stderr
    sandbox_cli.run(
        "lifecycle", "register-cert", d, "--owner", "partner:far", "--cert", cert, "--reason", "revocation"
    )
    listed = json.loads(sandbox_cli.run("lifecycle", "certificates", d).stdout)
    assert [r["status"] for r in listed] == ["revoked"]
    sandbox_cli.run(
        "lifecycle", "focal-point", d, "--owner", "ministry:mard", "--name", "Lan", "--email", "lan@mard.vn"
    )
    out = sandbox_cli.run("suspend", d, "far", "--reason", "spam", "--restore-step", "stop").stderr
    assert "not e-mailed" in out
    from node.config import NodeConfig
    from node.store.database import Database
    from node.store.lifecycle_models import Notice

    db = Database.open(NodeConfig.load(d).database_url, upgrade=False)
    try:
        with db.read_session() as session:
            [notice] = session.query(Notice).all()
            assert "lan@mard.vn" in notice.recipients
    finally:
        db.close()
