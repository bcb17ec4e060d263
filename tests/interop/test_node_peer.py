"""The running node (`aswnode serve`) against the independent Java peer: it receives, it sends, over mTLS."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from free_ports import free_port

pytestmark = pytest.mark.interop

ASWNODE = str(Path(sys.executable).with_name("aswnode"))
BUSINESS = ("--service", "urn:aswnode:test:business", "--action", "Deliver")


def _cli(*args: str) -> str:
    result = subprocess.run([ASWNODE, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"aswnode {args[0]}: {result.stderr}"
    return result.stdout


def _wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the process exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


class Node:
    def __init__(self, directory: Path, party_id: str, *, tls: bool) -> None:
        self.dir = directory
        self.port = free_port()
        args = ["init", str(directory), "--party-id", party_id, "--port", str(self.port)]
        self.info = json.loads(_cli(*args, *(() if tls else ("--http",))))
        self.process: subprocess.Popen[bytes] | None = None

    def serve(self) -> None:
        log = (self.dir / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [ASWNODE, "serve", str(self.dir)], stdout=subprocess.DEVNULL, stderr=log
        )
        log.close()
        _wait_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Node]]:
    made: list[Node] = []
    yield made
    for node in made:
        node.stop()


def _peer_send(peer_bin: Path, pki: Path, url: str, node: Node, *args: str) -> dict:  # type: ignore[type-arg]
    result = subprocess.run(
        [
            str(peer_bin),
            "send",
            "--url",
            url,
            "--our-key",
            str(pki / "a.key"),
            "--our-cert",
            str(pki / "a.crt"),
            "--their-cert",
            node.info["signing_cert"],
            "--from",
            "peer-a",
            "--to",
            "node-b",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    outcome = json.loads(lines[-1]) if lines else {"ok": False, "problem": result.stderr[-500:]}
    outcome["exit"] = result.returncode
    return outcome


def test_the_peer_delivers_to_the_node_with_every_key_reference_and_gets_valid_receipts(
    peer_bin: Path, peer_pki: Path, tmp_path: Path, started: list[Node]
) -> None:
    node = Node(tmp_path / "node", "node-b", tls=False)
    _cli(
        "partners",
        "add",
        str(node.dir),
        "--id",
        "peer-a",
        "--party-id",
        "peer-a",
        "--endpoint",
        "http://127.0.0.1:9/",
        "--cert",
        str(peer_pki / "a.crt"),
    )
    node.serve()
    started.append(node)
    url = f"http://127.0.0.1:{node.port}/as4"
    xml = tmp_path / "doc.xml"
    xml.write_bytes(b'<?xml version="1.0"?>\n<doc xmlns="urn:x">  <a  b="1"/>\n</doc>\n')
    binary = tmp_path / "doc.bin"
    binary.write_bytes(os.urandom(10240))
    assert _peer_send(peer_bin, peer_pki, url, node, "--payload", str(xml))["receipt_valid"]
    sent = {}
    for ref in ("bst", "issuer-serial", "ski"):
        outcome = _peer_send(
            peer_bin,
            peer_pki,
            url,
            node,
            "--payload",
            str(binary),
            "--encrypt",
            "--compress",
            "--enc-key-ref",
            ref,
            *BUSINESS,
        )
        assert outcome["receipt_valid"], outcome
        sent[outcome["message_id"]] = binary
    outcome = _peer_send(peer_bin, peer_pki, url, node, "--payload", str(xml), "--encrypt", *BUSINESS)
    assert outcome["receipt_valid"], outcome
    sent[outcome["message_id"]] = xml
    for message_id, original in sent.items():
        out = tmp_path / "got"
        _cli("payload", str(node.dir), message_id, "--out", str(out))
        assert out.read_bytes() == original.read_bytes()
    # The receiver's checks hold against a foreign implementation too.
    tampered = _peer_send(
        peer_bin,
        peer_pki,
        url,
        node,
        "--payload",
        str(binary),
        "--encrypt",
        "--tamper",
        "ciphertext",
        "--expect-error",
        "EBMS:0102",
        *BUSINESS,
    )
    assert tampered["exit"] == 0, tampered
    forged = subprocess.run(
        [
            str(peer_bin),
            "send",
            "--url",
            url,
            "--our-key",
            str(peer_pki / "mallory.key"),
            "--our-cert",
            str(peer_pki / "mallory.crt"),
            "--their-cert",
            node.info["signing_cert"],
            "--from",
            "peer-a",
            "--to",
            "node-b",
            "--payload",
            str(xml),
            "--expect-error",
            "EBMS:0101",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert forged.returncode == 0, forged.stdout[-500:]


def test_the_peer_over_mutual_tls_is_received_and_bad_clients_are_refused(
    peer_bin: Path, peer_pki: Path, tmp_path: Path, started: list[Node]
) -> None:
    node = Node(tmp_path / "node", "node-b", tls=True)
    _cli(
        "partners",
        "add",
        str(node.dir),
        "--id",
        "peer-a",
        "--party-id",
        "peer-a",
        "--endpoint",
        "https://127.0.0.1:9/",
        "--cert",
        str(peer_pki / "a.crt"),
        "--tls-ca",
        str(peer_pki / "ca.crt"),
    )
    node.serve()
    started.append(node)
    url = f"https://127.0.0.1:{node.port}/as4"
    doc = tmp_path / "doc.txt"
    doc.write_text("hello over mutual TLS\n")
    tls = ("--server-ca", node.info["tls_cert"], "--payload", str(doc), "--encrypt", "--compress")
    me = ("--client-cert", str(peer_pki / "a.crt"), "--client-key", str(peer_pki / "a.key"))
    assert _peer_send(peer_bin, peer_pki, url, node, *tls, *me)["receipt_valid"]
    assert not _peer_send(peer_bin, peer_pki, url, node, *tls)["ok"]
    mallory = ("--client-cert", str(peer_pki / "mallory.crt"), "--client-key", str(peer_pki / "mallory.key"))
    assert not _peer_send(peer_bin, peer_pki, url, node, *tls, *mallory)["ok"]


def test_the_node_delivers_to_the_peer_requiring_encryption_and_verifies_its_receipt(
    peer_bin: Path, peer_pki: Path, tmp_path: Path, started: list[Node]
) -> None:
    node = Node(tmp_path / "node", "peer-a", tls=False)
    port = free_port()
    _cli(
        "partners",
        "add",
        str(node.dir),
        "--id",
        "peer-b",
        "--party-id",
        "peer-b",
        "--endpoint",
        f"http://127.0.0.1:{port}/",
        "--cert",
        str(peer_pki / "b.crt"),
    )
    inbox = tmp_path / "inbox"
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
            node.info["signing_cert"],
            "--store",
            str(inbox),
            "--require-encryption",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, peer)
        node.serve()
        started.append(node)
        document = tmp_path / "doc.bin"
        document.write_bytes(os.urandom(20000))
        out = json.loads(
            _cli("send", str(node.dir), "--to", "peer-b", "--file", str(document), *BUSINESS, "--wait")
        )
        assert out["state"] == "delivered" and out["receipt_status"] == "valid"
        [stored] = list((inbox / out["message_id"]).glob("payload-*.bin"))
        assert stored.read_bytes() == document.read_bytes()
    finally:
        peer.terminate()
        peer.wait(20)


def test_a_receipt_with_a_wrong_digest_from_the_peer_is_not_accepted(
    peer_bin: Path, peer_pki: Path, tmp_path: Path, started: list[Node]
) -> None:
    node = Node(tmp_path / "node", "peer-a", tls=False)
    port = free_port()
    _cli(
        "partners",
        "add",
        str(node.dir),
        "--id",
        "peer-b",
        "--party-id",
        "peer-b",
        "--endpoint",
        f"http://127.0.0.1:{port}/",
        "--cert",
        str(peer_pki / "b.crt"),
    )
    path = node.dir / "partners.yaml"
    path.write_text(
        path.read_text().rstrip() + "\n  pmode:\n    reliability: {retries: 0, interval_seconds: 1}\n"
    )
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
            node.info["signing_cert"],
            "--store",
            str(tmp_path / "inbox"),
            "--misbehave",
            "nri",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, peer)
        node.serve()
        started.append(node)
        document = tmp_path / "doc.bin"
        document.write_bytes(b"<x/>")
        result = subprocess.run(
            [ASWNODE, "send", str(node.dir), "--to", "peer-b", "--file", str(document), *BUSINESS, "--wait"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        out = json.loads(result.stdout)
        assert result.returncode == 1
        assert out["state"] == "failed" and out["receipt_status"] == "invalid"
        assert "EBMS:0302" in out["last_error"]
    finally:
        peer.terminate()
        peer.wait(20)
