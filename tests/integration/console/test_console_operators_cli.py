"""`aswnode operators add|list|remove`: scrypt hashes in node.yaml, the rest kept, no secret shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from node.console.passwords import verify_password

ASWNODE = [sys.executable, "-c", "from node.cli import main; main()"]


def _run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ASWNODE, *args], input=stdin, capture_output=True, text=True, timeout=60)


def _node(tmp_path: Path) -> Path:
    (tmp_path / "node.yaml").write_text("party_id: nsw-vn\n# the operators follow\nlisten:\n  port: 8443\n")
    return tmp_path


def test_add_reads_the_password_from_stdin_and_stores_only_a_scrypt_hash(tmp_path):
    node = _node(tmp_path)
    r = _run(
        "operators", "add", str(node), "--id", "alice", "--name", "Alice", stdin="correct horse battery\n"
    )
    assert r.returncode == 0, r.stderr
    text = (node / "node.yaml").read_text()
    assert "correct horse" not in text and "# the operators follow" in text
    entry = yaml.safe_load(text)["operators"]["alice"]
    assert entry["password_hash"].startswith("scrypt$")
    assert verify_password("correct horse battery", entry["password_hash"])
    assert not verify_password("correct horse batterx", entry["password_hash"])
    listed = _run("operators", "list", str(node))
    assert "alice\tAlice\tenabled" in listed.stdout and "scrypt" not in listed.stdout


def test_a_short_password_or_a_bad_id_is_one_line_and_changes_nothing(tmp_path):
    node = _node(tmp_path)
    before = (node / "node.yaml").read_text()
    r = _run("operators", "add", str(node), "--id", "alice", stdin="short\n")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "12 characters" in r.stderr
    r = _run("operators", "add", str(node), "--id", "Alice Smith", stdin="long enough password\n")
    assert r.returncode == 1 and "Traceback" not in r.stderr and "operator id" in r.stderr
    assert (node / "node.yaml").read_text() == before


def test_remove_takes_the_operator_out(tmp_path):
    node = _node(tmp_path)
    _run("operators", "add", str(node), "--id", "bob", stdin="another long password\n")
    assert _run("operators", "remove", str(node), "--id", "bob").returncode == 0
    assert "bob" not in (yaml.safe_load((node / "node.yaml").read_text()).get("operators") or {})
    r = _run("operators", "remove", str(node), "--id", "bob")
    assert r.returncode == 1 and "no such operator" in r.stderr


def test_a_missing_node_directory_is_one_line(tmp_path):
    r = _run("operators", "add", str(tmp_path / "nowhere"), "--id", "alice", stdin="long enough password\n")
    assert r.returncode == 1 and "not found" in r.stderr and "Traceback" not in r.stderr
