"""The operator CLI: init, partners add/list/check, messages, audit verify; one-line errors, no tracebacks."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ASWNODE = str(Path(sys.executable).with_name("aswnode"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ASWNODE, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:  # type: ignore[type-arg]
    directory = tmp_path_factory.mktemp("cli") / "node"
    result = run("init", str(directory), "--party-id", "vn-asw", "--port", "18443")
    assert result.returncode == 0, result.stderr
    return directory, json.loads(result.stdout)


def test_init_prints_one_json_object_with_the_signing_certificate_first(initialised) -> None:  # type: ignore[no-untyped-def]
    directory, out = initialised
    keys = list(out)
    assert keys.index("signing_cert") < keys.index("tls_cert")
    assert Path(out["signing_cert"]).is_file() and Path(out["tls_cert"]).is_file()
    assert out["endpoint"] == "https://127.0.0.1:18443/as4"
    assert (directory / "var" / "node.db").is_file()


def test_init_refuses_an_existing_node_and_plain_http_off_loopback(initialised, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory, _ = initialised
    again = run("init", str(directory), "--party-id", "x")
    assert again.returncode == 1 and "already a node directory" in again.stderr
    public = run("init", str(tmp_path / "n"), "--party-id", "x", "--http", "--host", "0.0.0.0")
    assert public.returncode == 1 and public.stderr.count("\n") == 1 and "loopback" in public.stderr


def test_partners_add_list_and_check(initialised, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory, out = initialised
    added = run(
        "partners",
        "add",
        str(directory),
        "--id",
        "th",
        "--party-id",
        "TH-NSW",
        "--endpoint",
        "https://gw.example.th/as4",
        "--cert",
        out["signing_cert"],
        "--tls-ca",
        out["tls_cert"],
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["state"] == "active"  # a sandbox node
    listed = json.loads(run("partners", "list", str(directory), "--json").stdout)
    assert [(p["id"], p["state"], bool(p["tls_ca"])) for p in listed] == [("th", "active", True)]
    assert run("partners", "check", str(directory)).returncode == 0
    dup = run(
        "partners",
        "add",
        str(directory),
        "--id",
        "th2",
        "--party-id",
        "TH-NSW",
        "--endpoint",
        "https://gw.example.th/as4",
        "--cert",
        out["signing_cert"],
    )
    assert dup.returncode == 1 and "already registered" in dup.stderr and "Traceback" not in dup.stderr
    not_pem = tmp_path / "x.pem"
    not_pem.write_text("hello")
    bad = run(
        "partners",
        "add",
        str(directory),
        "--id",
        "zz",
        "--party-id",
        "ZZ",
        "--endpoint",
        "https://zz.example/as4",
        "--cert",
        str(not_pem),
    )
    assert bad.returncode == 1 and "no X.509 certificate" in bad.stderr


def test_a_production_node_registers_partners_without_activating_them(tmp_path: Path) -> None:
    directory = tmp_path / "prod"
    out = json.loads(run("init", str(directory), "--party-id", "vn", "--environment", "production").stdout)
    assert out["environment"] == "production"
    added = run(
        "partners",
        "add",
        str(directory),
        "--id",
        "th",
        "--party-id",
        "TH",
        "--endpoint",
        "https://gw.example.th/as4",
        "--cert",
        out["signing_cert"],
    )
    assert json.loads(added.stdout)["state"] == "registered"


def test_partners_check_names_every_problem_and_exits_1(initialised) -> None:  # type: ignore[no-untyped-def]
    directory, _ = initialised
    path = directory / "partners.yaml"
    saved = path.read_text()
    try:
        data = yaml.safe_load(saved)
        data["partners"].append(
            {"id": "broken", "party_id": "B", "endpoint": "nope", "signing_cert": "keys/signing.pem"}
        )
        path.write_text(yaml.safe_dump(data))
        result = run("partners", "check", str(directory))
        assert result.returncode == 1
        assert (
            result.stdout.strip()
            == "partners.yaml: partners[1].endpoint: not an http(s) URL (partner broken)"
        )
    finally:
        path.write_text(saved)


def test_messages_and_audit_verify_and_a_tampered_audit_record(initialised) -> None:  # type: ignore[no-untyped-def]
    directory, _ = initialised
    assert run("messages", str(directory)).returncode == 0
    ok = run("audit", "verify", str(directory))
    assert ok.returncode == 0 and "audit chain ok" in ok.stdout
    with sqlite3.connect(directory / "var" / "node.db") as db:
        db.execute("UPDATE audit_records SET status = 'forged' WHERE seq = 1")
    broken = run("audit", "verify", str(directory))
    assert broken.returncode == 1 and "record 1" in broken.stderr


def test_unknown_things_are_one_line_errors(initialised, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory, _ = initialised
    for args in (
        ("payload", str(directory), "no-such-id", "--out", str(tmp_path / "o")),
        ("resend", str(directory), "no-such-id"),
        ("send", str(directory), "--to", "nobody", "--file", str(directory / "node.yaml")),
        ("messages", str(tmp_path)),
    ):
        result = run(*args)
        assert result.returncode != 0, args
        assert "Traceback" not in result.stderr and result.stderr.strip().count("\n") == 0, result.stderr


@pytest.mark.parametrize(
    "command",
    [
        "init",
        "serve",
        "partners add",
        "partners list",
        "partners check",
        "send",
        "messages",
        "payload",
        "audit verify",
        "resend",
    ],
)
def test_every_command_has_help(command: str) -> None:
    assert run(*command.split(), "--help").returncode == 0
