"""The scheduled probe of each partner's AS4 endpoint: reachable over TLS, answering HTTP, how fast."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import treq
from twisted.internet.defer import CancelledError, DeferredList
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web.client import Agent, HTTPConnectionPool, ResponseNeverReceived
from twisted.web.http_headers import Headers

__all__ = ["EndpointProbe", "ProbeResult"]

_log = Logger(namespace="node.console.probe")


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """`status`: up (any HTTP answer), tls (handshake or certificate refused), down (no answer)."""

    partner_id: str
    endpoint: str
    status: str
    at: datetime
    detail: str
    latency_ms: float | None = None


def _why(failure: Any) -> tuple[str, str]:
    exc = failure.value
    if isinstance(exc, ResponseNeverReceived) and exc.reasons:
        exc = exc.reasons[0].value
    name = type(exc).__name__
    if "SSL" in name or "TLS" in name or "Certificate" in name or "VerificationError" in name:
        return "tls", f"TLS refused: {name}"
    if isinstance(exc, CancelledError) or "Timeout" in name:
        return "down", "no answer within the timeout"
    return "down", f"{name}: {str(exc).splitlines()[0][:160] if str(exc) else 'no connection'}"


class EndpointProbe:
    """Probes every registered partner every `interval` seconds; `results` holds the latest per partner."""

    def __init__(self, ctx: Any, *, interval: float = 60.0, timeout: float = 10.0) -> None:
        self.ctx = ctx
        self.interval = interval
        self.timeout = timeout
        self.results: dict[str, ProbeResult] = {}
        self._loop: LoopingCall | None = None
        self._pool = HTTPConnectionPool(ctx.reactor, persistent=False)

    def start(self) -> None:
        if self._loop is None:
            self._loop = LoopingCall(self.probe_all)
            self._loop.clock = self.ctx.reactor
            self._loop.start(self.interval, now=True).addErrback(
                lambda f: _log.failure("endpoint probe stopped", failure=f)
            )

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def probe_all(self) -> Any:
        partners = tuple(self.ctx.partners)
        return DeferredList([self.probe(p) for p in partners], consumeErrors=True)

    def _agent(self, partner: Any) -> Agent:
        from node.tls import ClientPolicy

        keys = self.ctx.config.keys
        policy = ClientPolicy(
            tls_ca=partner.tls_ca_certificates, client_key_file=keys.tls_key, client_cert_file=keys.tls_cert
        )
        return Agent(self.ctx.reactor, contextFactory=policy, connectTimeout=self.timeout, pool=self._pool)

    def probe(self, partner: Any) -> Any:
        started = time.monotonic()
        try:
            d = self._agent(partner).request(
                b"GET", partner.endpoint.encode("ascii"), Headers({b"User-Agent": [b"aswnode-probe"]})
            )
        except Exception as exc:  # a malformed endpoint is a probe result, not a crash
            self._record(partner, "down", f"cannot probe: {type(exc).__name__}", None)
            return None
        timer = self.ctx.reactor.callLater(self.timeout, d.cancel)

        def answered(response: Any) -> Any:
            latency = (time.monotonic() - started) * 1000
            self._record(partner, "up", f"HTTP {response.code}", latency)
            return treq.content(response).addErrback(lambda _f: None)

        def failed(failure: Any) -> None:
            status, why = _why(failure)
            self._record(partner, status, why, None)

        def done(result: Any) -> Any:
            if timer.active():
                timer.cancel()
            return result

        d.addCallbacks(answered, failed)
        d.addBoth(done)
        return d

    def _record(self, partner: Any, status: str, detail: str, latency: float | None) -> None:
        self.results[partner.id] = ProbeResult(
            partner.id, partner.endpoint, status, self.ctx.clock(), detail, latency
        )
