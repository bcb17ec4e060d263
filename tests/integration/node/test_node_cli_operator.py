"""What an operator trips over at 3 a.m.: broken files, signals twice; one line each, never a traceback."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import yaml
from conftest import Nodes, cli
from free_ports import free_port


def test_send_with_a_broken_partners_yaml_names_the_file_and_key(nodes: Nodes, tmp_path: Path) -> None:
    node = nodes.make("vn", "vn-asw")
    node.add_partner("th", "th-nsw", "https://127.0.0.1:9/as4", node.signing_cert)
    registry = node.dir / "partners.yaml"
    data = yaml.safe_load(registry.read_text())
    data["partners"][0]["signing_cert"] = str(tmp_path / "gone.pem")
    registry.write_text(yaml.safe_dump(data))
    document = tmp_path / "hello.xml"
    document.write_text("<hello/>")

    result = cli("send", str(node.dir), "--to", "th", "--file", str(document), check=False)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("aswnode: partners.yaml: partners[0].signing_cert: file not found")


def test_a_second_stop_signal_while_stopping_is_no_traceback(nodes: Nodes) -> None:
    node = nodes.make("vn", "vn-asw")
    node.start()
    assert node.process is not None
    process = node.process
    # Ctrl-C in ops/run's terminal reaches the node, then ops/run's trap sends SIGTERM too.
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGTERM)
    code = process.wait(60)
    node.process = None

    log = node.log.read_text()
    assert code == 0, log[-2000:]
    assert "Traceback" not in log and "ReactorNotRunning" not in log, log[-2000:]
    assert '"stopped"' in log


def test_ops_demo_exits_0_when_both_documents_arrive() -> None:
    root = Path(__file__).resolve().parents[3]
    demo = str(root / "ops" / "demo")
    result = subprocess.run([demo], capture_output=True, text=True, timeout=300, cwd=root)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "byte-identical at th-nsw: yes; the ePhyto at vn-asw: yes" in result.stdout
    assert result.stdout.rstrip().endswith("== demo passed")


def test_messages_says_why_a_message_waits_for_a_partner_that_is_down(nodes: Nodes, tmp_path: Path) -> None:
    node = nodes.make("vn", "vn-asw")
    node.add_partner("th", "th-nsw", f"https://127.0.0.1:{free_port()}/as4", node.signing_cert)
    document = tmp_path / "hello.xml"
    document.write_text("<hello/>")
    cli("send", str(node.dir), "--to", "th", "--file", str(document))
    node.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = json.loads(cli("messages", str(node.dir), "--json").stdout)
        if listed[0]["attempts"] >= 1:
            break
        time.sleep(0.2)
    assert listed[0]["state"] == "pending" and listed[0]["next_attempt_at"]

    line = cli("messages", str(node.dir)).stdout.strip()

    assert "next attempt " + listed[0]["next_attempt_at"][:19] in line
    assert "last error: transport: ConnectionRefusedError" in line, line


def test_a_node_directory_it_cannot_write_is_one_line_per_command(nodes: Nodes, tmp_path: Path) -> None:
    node = nodes.make("vn", "vn-asw")
    # What a read-only mount does to mkdir, reproduced without root: the directories are files.
    for name in ("var/spool", "partners"):
        target = node.dir / name
        if target.is_dir():
            target.rmdir()
        target.write_text("not a directory")
    document = tmp_path / "hello.xml"
    document.write_text("<hello/>")
    commands = (
        ("send", str(node.dir), "--to", "th", "--file", str(document)),
        ("serve", str(node.dir)),
        (
            "partners",
            "add",
            str(node.dir),
            "--id",
            "th",
            "--party-id",
            "th-nsw",
            "--endpoint",
            "https://127.0.0.1:9/as4",
            "--cert",
            str(node.signing_cert),
        ),
    )
    for args in commands:
        result = cli(*args, check=False, timeout=60)
        assert result.returncode == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, (args, result.stderr)
        assert result.stderr.startswith("aswnode: ") and str(node.dir) in result.stderr, (args, result.stderr)


def test_a_usage_error_is_one_line_naming_the_option_with_exit_code_2(nodes: Nodes, tmp_path: Path) -> None:
    node = nodes.make("vn", "vn-asw")
    cases = (
        (("messages", str(node.dir), "--state", "bogus"), "aswnode messages: Invalid value for '--state'"),
        (("messages", str(tmp_path / "missing")), "aswnode messages: Invalid value for 'DIRECTORY'"),
        (("send", str(node.dir), "--to", "th", "--file", str(tmp_path / "gone.xml")), "'--file'"),
        (("bogus",), "aswnode: No such command 'bogus'"),
    )
    for args, expected in cases:
        result = cli(*args, check=False)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and expected in result.stderr, (args, result.stderr)
        assert "--help)" in result.stderr


def test_empty_operator_and_ministry_lists_say_so_and_how_to_add_one(nodes: Nodes) -> None:
    node = nodes.make("vn", "vn-asw")
    assert (
        "no operators (add one with `aswnode operators add" in cli("operators", "list", str(node.dir)).stdout
    )
    assert (
        "no ministries (add one with `aswnode ministries add"
        in cli("ministries", "list", str(node.dir)).stdout
    )
