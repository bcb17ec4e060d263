"""Real nodes for the node tests: `aswnode init` directories and `aswnode serve` processes on loopback.

`nodes.make(name, party_id)` gives a RealNode: its directory (made by the CLI), a free port,
and methods to register partners, start/stop/kill -9 the serve process, enqueue outbound
messages and read what the node stored (directly from its database, as an operator's tools do).
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from free_ports import free_port

ASWNODE = str(Path(sys.executable).with_name("aswnode"))
BUSINESS_SERVICE = "urn:aswnode:test:business"
BUSINESS_ACTION = "Deliver"


def cli(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([ASWNODE, *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"aswnode {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result


class RealNode:
    def __init__(self, base: Path, name: str, party_id: str, *, tls: bool, db_url: str | None) -> None:
        self.name = name
        self.party_id = party_id
        self.dir = base / name
        self.port = free_port()
        self.tls = tls
        args = ["init", str(self.dir), "--party-id", party_id, "--port", str(self.port)]
        if not tls:
            args.append("--http")
        if db_url:
            args += ["--db", db_url]
        self.info = json.loads(cli(*args).stdout)
        self.signing_cert = Path(self.info["signing_cert"])
        self.tls_cert = Path(self.info["tls_cert"])
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "serve.log"
        self._db: Any = None

    @property
    def endpoint(self) -> str:
        return self.info["endpoint"]

    # -- configuration --------------------------------------------------------------------------

    def add_partner(
        self,
        partner_id: str,
        party_id: str,
        endpoint: str,
        cert: Path,
        *,
        tls_ca: Path | None = None,
        pmode: dict[str, Any] | None = None,
    ) -> None:
        args = ["partners", "add", str(self.dir), "--id", partner_id, "--party-id", party_id]
        args += ["--endpoint", endpoint, "--cert", str(cert)]
        if tls_ca is not None:
            args += ["--tls-ca", str(tls_ca)]
        cli(*args)
        if pmode:
            path = self.dir / "partners.yaml"
            data = yaml.safe_load(path.read_text())
            for entry in data["partners"]:
                if entry["id"] == partner_id:
                    entry["pmode"] = pmode
            path.write_text(yaml.safe_dump(data, sort_keys=False))

    def knows(self, other: RealNode, *, mtls: bool = False, pmode: dict[str, Any] | None = None) -> None:
        self.add_partner(
            other.name,
            other.party_id,
            other.endpoint,
            other.signing_cert,
            tls_ca=other.tls_cert if mtls else None,
            pmode=pmode,
        )

    def set_sender(self, **values: Any) -> None:
        path = self.dir / "node.yaml"
        data = yaml.safe_load(path.read_text())
        data.setdefault("sender", {}).update(values)
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    # -- the process ----------------------------------------------------------------------------

    def start(self, timeout: float = 40) -> None:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [ASWNODE, "serve", str(self.dir)], stdout=subprocess.PIPE, stderr=handle, start_new_session=True
        )
        handle.close()
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        buffer = b""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            chunk = self.process.stdout.read()
            if chunk:
                buffer += chunk
                if b'"listening"' in buffer:
                    return
            time.sleep(0.05)
        raise AssertionError(f"{self.name} did not start: {self.log.read_text()[-2000:]}")

    def stop(self, timeout: float = 30) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- data -----------------------------------------------------------------------------------

    @property
    def db(self) -> Any:
        if self._db is None:
            from node.config import NodeConfig
            from node.store.database import Database

            self._db = Database.open(NodeConfig.load(self.dir).database_url, upgrade=False)
        return self._db

    @property
    def blobs(self) -> Any:
        from node.store.blobs import BlobStore

        return BlobStore(self.dir / "var" / "blobs")

    def enqueue(
        self,
        partner_id: str,
        payloads: list[bytes],
        *,
        service: str = BUSINESS_SERVICE,
        action: str = BUSINESS_ACTION,
    ) -> list[str]:
        """Outbound messages straight into the queue (what a submission stores), one per payload."""
        from node.store.messages import NewPayload, create_outbound

        blobs = self.blobs
        refs = [blobs.put_bytes(p) for p in payloads]
        ids = [f"{uuid.uuid4()}@{self.party_id}" for _ in payloads]
        with self.db.session() as session:
            for ref, message_id in zip(refs, ids, strict=True):
                create_outbound(
                    session,
                    partner_id=partner_id,
                    message_id=message_id,
                    service=service,
                    action=action,
                    payloads=(NewPayload(ref, "application/octet-stream"),),
                    now=datetime.now(UTC),
                )
        return ids

    def messages(self, direction: str | None = None) -> list[dict[str, Any]]:
        from node.store.messages import MessageFilter, list_messages

        with self.db.read_session() as session:
            page = list_messages(
                session, MessageFilter(direction=direction), limit=100_000, oldest_first=True
            )
            return [
                {
                    "pk": m.id,
                    "message_id": m.message_id,
                    "partner": m.partner_id,
                    "direction": m.direction,
                    "state": m.state,
                    "attempts": m.attempts,
                    "receipt_status": m.receipt_status,
                    "receipt_digest": m.receipt_digest,
                    "receipt": self.blobs.read_stored(m.receipt_digest, m.receipt_bytes, 1 << 22)
                    if m.receipt_digest
                    else None,
                    "wire_digest": m.wire_digest,
                    "wire_inline": m.wire_bytes is not None,
                    "is_test": m.is_test,
                    "ministry": m.ministry,
                    "last_error": m.last_error,
                    "created_at": m.created_at,
                    "payload_digests": [p.blob_digest for p in m.payloads],
                }
                for m in page.items
            ]

    def audit(self) -> list[Any]:
        from node.audit import AuditLog

        with self.db.read_session() as session:
            return list(AuditLog().entries(session))

    def wait_for(self, predicate: Any, timeout: float = 60, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(
            f"{self.name}: timed out waiting for {what}; log: {self.log.read_text()[-1500:]}"
        )

    def close(self) -> None:
        self.kill9()
        if self._db is not None:
            self._db.close()
            self._db = None


class Nodes:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.made: list[RealNode] = []

    def make(
        self, name: str, party_id: str | None = None, *, tls: bool = True, db_url: str | None = None
    ) -> RealNode:
        node = RealNode(self.base, name, party_id or name, tls=tls, db_url=db_url)
        self.made.append(node)
        return node

    def pair(self, *, tls: bool = True, mtls: bool = False, pmode: dict[str, Any] | None = None,
             db_url: str | None = None) -> tuple[RealNode, RealNode]:  # fmt: skip
        a = self.make("node-a", tls=tls, db_url=db_url)
        b = self.make("node-b", tls=tls)
        a.knows(b, mtls=mtls, pmode=pmode)
        b.knows(a, mtls=mtls, pmode=pmode)
        return a, b

    def close(self) -> None:
        for node in self.made:
            node.close()


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    made = Nodes(tmp_path)
    try:
        yield made
    finally:
        made.close()


def post(url: str, body: bytes, content_type: str, *, ca: Path | None = None,
         client: tuple[Path, Path] | None = None) -> tuple[int, str, bytes]:  # fmt: skip
    """POST like a foreign gateway: (status, content type, body); HTTP errors are answers too."""
    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
        context.check_hostname = False
        if client is not None:
            context.load_cert_chain(str(client[0]), str(client[1]))
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


@pytest.fixture
def poster() -> Any:
    return post


def identity(key: Path, cert: Path) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from protocols.as4.security import SigningIdentity

    return SigningIdentity(
        serialization.load_pem_private_key(key.read_bytes(), password=None),  # type: ignore[arg-type]
        x509.load_pem_x509_certificate(cert.read_bytes()),
    )


def craft(
    signer: Any,
    *,
    from_party: str,
    to_party: str,
    recipient_cert: Path,
    payload: bytes,
    message_id: str | None = None,
    timestamp: datetime | None = None,
    service: str = BUSINESS_SERVICE,
    action: str = BUSINESS_ACTION,
    encrypt: bool = True,
) -> tuple[str, str, bytes]:
    """An AS4 message as a foreign gateway builds it, signed by `signer`: (message id, content type, body)."""
    from cryptography import x509

    from protocols.as4.model import CollaborationInfo, MessageInfo, Party, PartyId, Service, UserMessage
    from protocols.as4.namespaces import DEFAULT_ROLE_INITIATOR, DEFAULT_ROLE_RESPONDER
    from protocols.as4.outbound import Payload, build_user_message
    from protocols.as4.payload import InMemory, MemorySpool
    from protocols.as4.pmode import PMode

    message_id = message_id or f"{uuid.uuid4()}@{from_party}"
    pmode = PMode.from_dict(
        {
            "id": "test",
            "initiator": {"party_id": from_party},
            "responder": {"party_id": to_party},
            "service": service,
            "action": action,
            "security": {"encrypt": encrypt},
        }
    )
    message = UserMessage(
        MessageInfo(message_id, timestamp or datetime.now(UTC)),
        Party((PartyId(from_party, pmode.initiator.party_ids[0].type),), DEFAULT_ROLE_INITIATOR),
        Party((PartyId(to_party, pmode.responder.party_ids[0].type),), DEFAULT_ROLE_RESPONDER),
        CollaborationInfo(Service(service), action, "conv-1"),
    )
    built = build_user_message(
        message,
        (Payload("payload-1@test", "application/octet-stream", InMemory(payload)),),
        pmode,
        signing=signer,
        recipient_certificate=x509.load_pem_x509_certificate(recipient_cert.read_bytes()),
        spool=MemorySpool,
        boundary=f"b{uuid.uuid4().hex}",
    )
    return message_id, built.content_type, b"".join(built.body.chunks())


def error_codes(body: bytes) -> list[str]:
    """The eb:Error codes of an error signal."""
    from lxml import etree

    root = etree.fromstring(body)
    return [e.get("errorCode") for e in root.iter("{*}Error")]


@pytest.fixture
def foreign() -> Any:
    """Helpers to play a foreign gateway: identity(key, cert), craft(...), error_codes(body)."""

    class Foreign:
        pass

    helper = Foreign()
    helper.identity = identity  # type: ignore[attr-defined]
    helper.craft = craft  # type: ignore[attr-defined]
    helper.error_codes = error_codes  # type: ignore[attr-defined]
    return helper


@pytest.fixture(scope="module")
def module_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    """Nodes shared by one test module (starting a node is the slow part)."""
    made = Nodes(tmp_path_factory.mktemp("nodes"))
    try:
        yield made
    finally:
        made.close()
