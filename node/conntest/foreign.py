"""Art. 10.3 step 4 checks against the partner's gateway, with the node's own AS4 stack.

Messages are built by protocols.as4 (compress, sign, encrypt from the partner's P-Mode,
node.pmodes) and sent like the node's sender does (Twisted Agent, node.tls.ClientPolicy:
the partner's TLS CA, our client certificate); answers are read by protocols.as4.read_response,
which verifies the receipt's signature and its NonRepudiationInformation. Every case uses the
ebMS3 test service, so nothing reaches a ministry on either side.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import socket
import ssl
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from twisted.internet import defer, protocol, task, threads
from twisted.web.client import Agent, RequestGenerationFailed, ResponseFailed, ResponseNeverReceived
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IBodyProducer
from zope.interface import implementer

from node.conntest.domestic import domestic_sample
from node.conntest.plan import TestCase
from node.conntest.runner import CheckOutcome, RunEnvironment
from node.pmodes import outbound_pmode
from node.spooling import TempSpools
from node.tls import ClientPolicy
from protocols.as4.errors import EbmsException
from protocols.as4.inbound import ErrorOutcome, ReceiptOutcome, read_response
from protocols.as4.model import CollaborationInfo, MessageInfo, Party, Service, UserMessage
from protocols.as4.namespaces import TEST_ACTION, TEST_SERVICE
from protocols.as4.outbound import OutboundMessage, Payload, build_user_message
from protocols.as4.payload import CHUNK, ByteSource, InMemory, read_all

__all__ = ["CHECKS", "Exchange"]

TIMEOUT = 60.0
RESPONSE_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Incompressible:
    """`size` pseudo-random bytes, the same on every read (signing and sending read twice)."""

    size: int
    seed: int

    def chunks(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        rng = random.Random(self.seed)
        left = self.size
        while left > 0:
            n = min(chunk_size, left)
            left -= n
            yield rng.randbytes(n)


@implementer(IBodyProducer)
class _SourceProducer:
    """Streams a ByteSource as a request body without holding it in memory."""

    def __init__(self, source: ByteSource) -> None:
        self._source = source
        self.length = source.size if source.size >= 0 else UNKNOWN_LENGTH
        self._task: Any = None

    def startProducing(self, consumer: Any) -> defer.Deferred[None]:
        def write() -> Iterator[None]:
            for chunk in self._source.chunks():
                consumer.write(chunk)
                yield None

        def stopped(reason: Any) -> defer.Deferred[None]:
            reason.trap(task.TaskStopped)
            return defer.Deferred()  # IBodyProducer: once stopped, this Deferred never fires

        self._task = task.cooperate(write())
        return self._task.whenDone().addCallbacks(lambda _: None, stopped)

    def pauseProducing(self) -> None:
        if self._task is not None:
            self._task.pause()

    def resumeProducing(self) -> None:
        if self._task is not None:
            self._task.resume()

    def stopProducing(self) -> None:
        if self._task is not None:
            with contextlib.suppress(task.TaskFinished):
                self._task.stop()


class _Capped(protocol.Protocol):
    def __init__(self, done: defer.Deferred[bytes], limit: int) -> None:
        self.done, self.limit, self.parts, self.size = done, limit, [], 0

    def dataReceived(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            self.transport.stopProducing()
            return
        self.parts.append(data)

    def connectionLost(self, reason: Any = None) -> None:
        if not self.done.called:
            self.done.callback(b"".join(self.parts))


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.body).hexdigest()


class Exchange:
    """Builds test-service messages for the partner and posts them; one per run environment."""

    def __init__(self, env: RunEnvironment) -> None:
        self.env = env
        partner = env.partner
        config = env.config
        self.partner = partner
        self.pmode = outbound_pmode(
            config, partner, service=TEST_SERVICE, service_type=None, action=TEST_ACTION
        )
        policy = ClientPolicy(
            tls_ca=partner.tls_ca_certificates,
            client_key_file=config.keys.tls_key,
            client_cert_file=config.keys.tls_cert,
        )
        self.agent = Agent(env.reactor, contextFactory=policy, connectTimeout=10)
        config.spool_dir.mkdir(parents=True, exist_ok=True)

    def build(self, payloads: Sequence[tuple[str, ByteSource]], spools: TempSpools) -> OutboundMessage:
        """A signed (and, per P-Mode, compressed and encrypted) test-service UserMessage. Blocking."""
        pmode = self.pmode
        host = self.env.config.party_id.replace(" ", "-") or "aswnode"
        message = UserMessage(
            message_info=MessageInfo(f"conntest-{uuid.uuid4()}@{host}", self.env.procedure.clock(), None),
            from_party=Party(pmode.initiator.party_ids, pmode.initiator.role),
            to_party=Party(pmode.responder.party_ids, pmode.responder.role),
            collaboration_info=CollaborationInfo(
                Service(TEST_SERVICE, None), TEST_ACTION, f"conntest-{uuid.uuid4().hex}", pmode.agreement
            ),
            mpc=pmode.mpc,
        )
        parts = [
            Payload(f"part{index}.{uuid.uuid4().hex}@aswnode", mime_type, source)
            for index, (mime_type, source) in enumerate(payloads)
        ]
        return build_user_message(
            message,
            parts,
            pmode,
            signing=self.env.signing,
            recipient_certificate=self.partner.encryption_certificate,
            spool=spools,
            boundary=f"MIMEBoundary_{uuid.uuid4().hex}",
        )

    async def post(self, content_type: str, body: ByteSource) -> Answer:
        headers = Headers(
            {b"content-type": [content_type.encode("latin-1")], b"user-agent": [b"aswnode-conntest"]}
        )
        producer = _SourceProducer(body)
        request = self.agent.request(b"POST", self.partner.endpoint.encode("ascii"), headers, producer)
        request.addTimeout(TIMEOUT, self.env.reactor)
        response = await request
        done: defer.Deferred[bytes] = defer.Deferred()
        response.deliverBody(_Capped(done, RESPONSE_LIMIT))
        done.addTimeout(TIMEOUT, self.env.reactor)
        try:
            answer = await done
        finally:
            # A partner may answer before it has read the whole body (a 413): stop writing before the
            # caller closes the spool the body is read from.
            producer.stopProducing()
        content_type = (response.headers.getRawHeaders(b"content-type") or [b""])[0].decode("latin-1")
        return Answer(response.code, content_type, answer)

    async def read(self, answer: Answer, sent: OutboundMessage) -> ReceiptOutcome | ErrorOutcome:
        return await threads.deferToThread(
            read_response,
            InMemory(answer.body),
            answer.content_type,
            sent=sent,
            partner_certificates=self.partner.signing_certificates,
        )

    async def send(
        self, payloads: Sequence[tuple[str, ByteSource]] = ()
    ) -> tuple[OutboundMessage, Answer, Any]:
        """Build, post and read one message: (sent, answer, outcome or the EbmsException)."""
        spools = TempSpools(self.env.config.spool_dir)
        try:
            sent = await threads.deferToThread(self.build, payloads, spools)
            answer = await self.post(sent.content_type, sent.body)
        finally:
            spools.close()
        return sent, answer, await self.outcome(answer, sent)

    async def outcome(self, answer: Answer, sent: OutboundMessage) -> Any:
        """The answer read as `read`, with an EbmsException returned instead of raised."""
        try:
            return await self.read(answer, sent)
        except EbmsException as exc:
            return exc

    async def build_in_memory(self, text: bytes) -> tuple[OutboundMessage, bytes]:
        """A test-service message with one text/plain part, and its wire bytes to post again or tamper."""
        spools = TempSpools(self.env.config.spool_dir)
        try:
            sent = await threads.deferToThread(self.build, [("text/plain", InMemory(text))], spools)
            wire = await threads.deferToThread(read_all, sent.body, RESPONSE_LIMIT * 4)
        finally:
            spools.close()
        return sent, wire


def _exchange(env: RunEnvironment) -> Exchange:
    if env.partner is None:
        raise RuntimeError("the partner is not in partners.yaml (or its certificate cannot be read)")
    return Exchange(env)


def _receipt_outcome(sent: OutboundMessage, answer: Answer, outcome: Any, what: str) -> CheckOutcome:
    evidence = {
        "message_id": sent.message_id,
        "http_status": str(answer.status),
        "answer_digest": answer.digest,
    }
    if isinstance(outcome, ReceiptOutcome):
        der = outcome.signature.certificate.public_bytes(serialization.Encoding.DER)
        evidence["receipt_signer_sha256"] = hashlib.sha256(der).hexdigest()
        evidence["receipt_digest"] = answer.digest
        return CheckOutcome(True, f"{what}: signed receipt verified (NRR digests match)", evidence)
    if isinstance(outcome, ErrorOutcome):
        codes = ", ".join(f"{e.code} {e.detail}".strip() for e in outcome.errors)
        return CheckOutcome(False, f"{what}: the partner answered with an ebMS error: {codes}", evidence)
    return CheckOutcome(False, f"{what}: no valid receipt (HTTP {answer.status}): {outcome}", evidence)


# -- the checks -----------------------------------------------------------------------------------


def _tls_handshake(
    endpoint: str, tls_ca: Sequence[x509.Certificate], client: tuple[Any, Any]
) -> dict[str, str]:
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    port = parts.port or 443
    context = ssl.create_default_context()
    if tls_ca:
        context = ssl.create_default_context(
            cadata="".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in tls_ca)
        )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if client[0] is not None and client[1] is not None:
        context.load_cert_chain(str(client[1]), str(client[0]))
    with (
        socket.create_connection((host, port), timeout=15) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True) or b""
        leaf = x509.load_der_x509_certificate(der)
        return {
            "tls_version": tls.version() or "",
            "cipher": (tls.cipher() or ("",))[0],
            "server_certificate_sha256": hashlib.sha256(der).hexdigest(),
            "server_subject": leaf.subject.rfc4514_string(),
            "server_issuer": leaf.issuer.rfc4514_string(),
            "server_not_after": leaf.not_valid_after_utc.isoformat(),
        }


async def tls_chain(env: RunEnvironment, case: TestCase) -> CheckOutcome:
    partner = env.partner
    if partner is None:
        return CheckOutcome(False, "the partner is not in partners.yaml")
    if urlsplit(partner.endpoint).scheme != "https":
        return CheckOutcome(False, f"{partner.endpoint} is plain HTTP: there is no TLS to test (use https)")
    anchors = "the partner's registered TLS CA" if partner.tls_ca_certificates else "the system trust store"
    try:
        evidence = await threads.deferToThread(
            _tls_handshake,
            partner.endpoint,
            partner.tls_ca_certificates,
            (env.config.keys.tls_key, env.config.keys.tls_cert),
        )
    except ssl.SSLCertVerificationError as exc:
        return CheckOutcome(
            False, f"the server certificate does not verify against {anchors}: {exc.verify_message}"
        )
    except (OSError, ssl.SSLError) as exc:
        return CheckOutcome(False, f"TLS to {partner.endpoint} failed: {exc}")
    return CheckOutcome(
        True, f"{evidence['tls_version']}; chain verified against {anchors}; host name matches", evidence
    )


async def test_ping(env: RunEnvironment, case: TestCase) -> CheckOutcome:
    sent, answer, outcome = await _exchange(env).send()
    result = _receipt_outcome(sent, answer, outcome, "test-service ping")
    revocation = dict((env.partner.pmode_overrides.get("inbound") or {}).get("revocation") or {})
    if not result.passed or not revocation.get("crl"):
        return result
    from node.lifecycle.certificates import crl_refusal

    signer = outcome.signature.certificate
    issuer = next((c for c in env.partner.signing_certificates if c.subject == signer.issuer), None)
    refused = await threads.deferToThread(
        crl_refusal, signer, crl_location=str(revocation["crl"]), issuer=issuer, now=env.procedure.clock()
    )
    if refused is not None:
        return CheckOutcome(False, f"receipt signer refused: {refused}", result.evidence)
    return CheckOutcome(True, result.detail + "; signer not revoked (CRL checked)", result.evidence)


async def _sample(env: RunEnvironment, document_type: str) -> CheckOutcome:
    from mappings.registry import profile

    sample = domestic_sample(env.config.directory, document_type)
    if sample is None:
        return CheckOutcome(
            False, f"no {document_type} sample certificate to send (see the domestic mapping case)"
        )
    mapping = profile(document_type)
    treaty = await threads.deferToThread(mapping.to_treaty, dict(sample))
    sent, answer, outcome = await _exchange(env).send([(mapping.mime_type, InMemory(treaty))])
    result = _receipt_outcome(sent, answer, outcome, f"sample {document_type}")
    evidence = dict(result.evidence)
    evidence["document_digest"] = "sha256:" + hashlib.sha256(treaty).hexdigest()
    return CheckOutcome(result.passed, result.detail, evidence)


async def sample_eco(env: RunEnvironment, case: TestCase) -> CheckOutcome:
    return await _sample(env, "eco")


async def sample_ephyto(env: RunEnvironment, case: TestCase) -> CheckOutcome:
    return await _sample(env, "ephyto")


def _tamper(body: bytes, conversation_id: str) -> bytes:
    """Change one character of the signed ConversationId: same length, so MIME framing still holds."""
    needle = conversation_id.encode("ascii")
    if needle not in body:
        raise RuntimeError("the ConversationId is not visible in the envelope to tamper with")
    last = needle[-1:]
    swapped = needle[:-1] + (b"0" if last != b"0" else b"1")
    return body.replace(needle, swapped, 1)


async def bad_signature(env: RunEnvironment, case: TestCase) -> CheckOutcome:
    exchange = _exchange(env)
    sent, wire = await exchange.build_in_memory(b"conntest: bad signature")
    conversation = wire.split(b"ConversationId>", 1)[1].split(b"<", 1)[0].decode("ascii")
    tampered = _tamper(wire, conversation)
    answer = await exchange.post(sent.content_type, InMemory(tampered))
    evidence = {
        "message_id": sent.message_id,
        "http_status": str(answer.status),
        "answer_digest": answer.digest,
    }
    outcome = await exchange.outcome(answer, sent)
    if isinstance(outcome, ErrorOutcome) and outcome.signal is not None:
        codes = ", ".join(e.code for e in outcome.errors)
        evidence["ebms_errors"] = codes
        return CheckOutcome(True, f"refused with an ebMS error ({codes})", evidence)
    if isinstance(outcome, ErrorOutcome):
        return CheckOutcome(
            False, f"refused with a SOAP fault, not an ebMS error signal: {outcome.errors}", evidence
        )
    if isinstance(outcome, ReceiptOutcome):
        return CheckOutcome(
            False, "the partner RECEIPTED a message whose signature does not verify", evidence
        )
    return CheckOutcome(
        False,
        f"the answer was neither a receipt nor an ebMS error (HTTP {answer.status}): {outcome}",
        evidence,
    )


async def duplicate(env: RunEnvironment, case: TestCase) -> CheckOutcome:
    exchange = _exchange(env)
    sent, wire = await exchange.build_in_memory(b"conntest: duplicate")
    first = await exchange.post(sent.content_type, InMemory(wire))
    second = await exchange.post(sent.content_type, InMemory(wire))
    evidence = {
        "message_id": sent.message_id,
        "first_answer_digest": first.digest,
        "second_answer_digest": second.digest,
    }
    outcomes = [await exchange.outcome(answer, sent) for answer in (first, second)]
    if not isinstance(outcomes[0], ReceiptOutcome):
        return CheckOutcome(False, f"the first copy got no valid receipt: {outcomes[0]}", evidence)
    if isinstance(outcomes[1], ReceiptOutcome):
        same = "the same receipt" if first.body == second.body else "a receipt for the same MessageId"
        return CheckOutcome(
            True,
            f"the duplicate was answered with {same} (reception awareness); the partner confirms in the "
            "minutes that it delivered the message once",
            evidence,
        )
    if isinstance(outcomes[1], ErrorOutcome):
        codes = ", ".join(e.code for e in outcomes[1].errors)
        return CheckOutcome(True, f"the duplicate was refused as such ({codes})", evidence)
    return CheckOutcome(
        False, f"the duplicate got neither a receipt nor an ebMS error: {outcomes[1]}", evidence
    )


async def too_large(env: RunEnvironment, case: TestCase) -> CheckOutcome:
    exchange = _exchange(env)
    size = env.plan.max_message_bytes + 64 * 1024
    evidence = {"payload_bytes": str(size), "agreed_max_bytes": str(env.plan.max_message_bytes)}
    spools = TempSpools(env.config.spool_dir)
    try:
        sent = await threads.deferToThread(
            exchange.build, [("application/octet-stream", Incompressible(size, 1))], spools
        )
        evidence["message_id"] = sent.message_id
        try:
            answer = await exchange.post(sent.content_type, sent.body)
        except (ResponseNeverReceived, ResponseFailed, RequestGenerationFailed) as exc:
            # The partner cut the upload short: a refusal, as long as it had accepted the connection.
            return CheckOutcome(
                True, f"refused: the partner closed the connection ({type(exc).__name__})", evidence
            )
    finally:
        spools.close()
    outcome = await exchange.outcome(answer, sent)
    evidence.update(http_status=str(answer.status), answer_digest=answer.digest)
    if isinstance(outcome, ReceiptOutcome):
        return CheckOutcome(
            False, f"the partner RECEIPTED a message of {size} bytes, above the agreed limit", evidence
        )
    if isinstance(outcome, ErrorOutcome):
        codes = ", ".join(e.code for e in outcome.errors)
        return CheckOutcome(True, f"refused with an ebMS error ({codes})", evidence)
    return CheckOutcome(True, f"refused (HTTP {answer.status})", evidence)


async def inbound_sample(env: RunEnvironment, case: TestCase) -> CheckOutcome:
    from node.store.models import Direction, Message

    partner_id = env.plan.partner_id
    since = env.plan_created_at

    def received(session: Any) -> list[tuple[str, str | None]]:
        query = select(Message.message_id, Message.receipt_digest).where(
            Message.partner_id == partner_id,
            Message.direction == Direction.INBOUND.value,
            Message.is_test.is_(True),
        )
        if since is not None:
            query = query.where(Message.created_at >= since)
        return [(row[0], row[1]) for row in session.execute(query.order_by(Message.id).limit(20))]

    def read() -> list[tuple[str, str | None]]:
        with env.db.read_session() as session:
            return received(session)

    rows = await threads.deferToThread(read)
    if not rows:
        return CheckOutcome(
            False,
            "no test-service message from the partner since the plan was drawn up: ask the partner to run "
            "its own step 4 (or send its samples), then run this case again",
        )
    evidence = {f"inbound_{i}": f"{mid} receipt {digest or '-'}" for i, (mid, digest) in enumerate(rows[:5])}
    return CheckOutcome(True, f"{len(rows)} verified test message(s) received from the partner", evidence)


CHECKS = {
    "tls_chain": tls_chain,
    "test_ping": test_ping,
    "sample_eco": sample_eco,
    "sample_ephyto": sample_ephyto,
    "bad_signature": bad_signature,
    "duplicate": duplicate,
    "too_large": too_large,
    "inbound_sample": inbound_sample,
}
