"""The HTTP(S) side of the node: a twisted.web Site with POST /as4 (and /), size limits, and the listener."""

from __future__ import annotations

import logging
from typing import Any

from twisted.internet import defer, threads
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.web import http, resource, server

from node.context import NodeContext
from node.inbound import Answer, InboundProcessor, error_signal
from node.tls import ServerTLS, peer_certificate_chain
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.payload import FileSlice

__all__ = ["As4Resource", "RootResource", "build_site", "listen"]

log = logging.getLogger("aswnode.server")

_FORM = b"application/x-www-form-urlencoded"
_TOO_LARGE_HEAD = b"HTTP/1.1 413 Payload Too Large\r\n%bContent-Length: %d\r\nConnection: close\r\n\r\n"
# How long a refused upload is drained at most, and how long the sender may idle meanwhile.
LINGER_SECONDS = 30.0
LINGER_IDLE_SECONDS = 2.0


class _LimitedRequest(server.Request):
    """A request whose body may not exceed the site's limit: refused with 413 before it is spooled.

    The 413 carries a signed ebMS Error signal (EBMS:0004 naming the limit; no RefToMessageId, as
    nothing of the body is read), written as soon as it is signed. The rest of the upload is then
    drained and dropped, not spooled (a "lingering close"): closing while the sender still writes
    makes our TCP stack answer its data with a reset, and a reset makes the sender's stack drop our
    answer unread. The connection closes once the body is in, the sender idles, or LINGER_SECONDS.
    """

    max_body: int = 0
    ctx: NodeContext | None = None
    _too_large = False
    _answered = False
    _body_done = False
    _linger: Any = None
    _refused_at = 0.0
    _last_data = 0.0

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._too_large:
            # The whole refused body has been drained: nothing more comes that could reset the answer.
            self._body_done = True
            self._close_when_done()
            return
        # Twisted reads every POST's Content-Type with the email package to look for a form: ~9 % of
        # a receiving node's busy time. Only the console posts forms, and only URL-encoded ones.
        content_type = self.requestHeaders.getRawHeaders(b"content-type") or (b"",)
        self._parsePOSTFormSubmission = content_type[0][:40].lower().startswith(_FORM)
        super().requestReceived(command, path, version)

    def gotLength(self, length: int | None) -> None:
        self._received = 0
        if length is not None and self.max_body and length > self.max_body:
            # The answer is final: no "100 Continue" invites a body that is refused on its declared length.
            self.requestHeaders.removeHeader(b"expect")
            self._refuse_too_large(length)
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        self._received = getattr(self, "_received", 0) + len(data)
        if self._too_large:
            self._last_data = self._now()
            return
        if self.max_body and self._received > self.max_body:
            self._refuse_too_large(None)
            return
        super().handleContentChunk(data)

    def connectionLost(self, reason: Any) -> None:
        if self._linger is not None and self._linger.active():
            self._linger.cancel()
        self._linger = None
        super().connectionLost(reason)

    def _now(self) -> float:
        clock = self.ctx.reactor if self.ctx is not None else None
        return float(clock.seconds()) if clock is not None else 0.0

    def _refuse_too_large(self, declared: int | None) -> None:
        if self._too_large:
            return
        self._too_large = True
        ctx = self.ctx
        transport = self.channel.transport if self.channel is not None else None
        if ctx is None:
            if transport is not None:
                transport.write(_TOO_LARGE_HEAD % (b"", 0))
                transport.loseConnection()
            return
        self._audit_too_large(ctx, declared)
        if transport is None:
            return
        self._refused_at = self._last_data = self._now()
        size = f"of {declared} bytes " if declared is not None else ""
        error = EbmsException(
            EbmsError.OTHER,
            f"the request body {size}is over this gateway's limit of {self.max_body} bytes; "
            "it was not read (HTTP 413)",
        )
        d = threads.deferToThread(error_signal, ctx, error)
        d.addCallbacks(self._answer_too_large, self._answer_unsigned)
        self._linger = ctx.reactor.callLater(LINGER_IDLE_SECONDS, self._linger_check)

    def _answer_too_large(self, signal: tuple[str, bytes]) -> None:
        content_type, body = signal
        transport = self.channel.transport if self.channel is not None else None
        if transport is None or self._disconnected:  # type: ignore[attr-defined]
            return
        header = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n" if content_type else b""
        transport.write(_TOO_LARGE_HEAD % (header, len(body)) + body)
        self._answered = True
        self._close_when_done()

    def _answer_unsigned(self, failure: Any) -> None:
        log.error("could not sign the 413 error signal: %s", failure.getErrorMessage())
        self._answer_too_large(("", b""))

    def _linger_check(self) -> None:
        self._linger = None
        now = self._now()
        idle = now - self._last_data
        if self._answered and (idle >= LINGER_IDLE_SECONDS or now - self._refused_at >= LINGER_SECONDS):
            self._close()
            return
        if now - self._refused_at >= LINGER_SECONDS + LINGER_IDLE_SECONDS:
            self._close()  # never answered (the worker pool is stuck): do not hold the connection
            return
        assert self.ctx is not None
        wait = max(LINGER_IDLE_SECONDS - idle, 0.1)
        self._linger = self.ctx.reactor.callLater(wait, self._linger_check)

    def _close_when_done(self) -> None:
        if self._answered and self._body_done:
            self._close()

    def _close(self) -> None:
        if self._linger is not None and self._linger.active():
            self._linger.cancel()
        self._linger = None
        transport = self.channel.transport if self.channel is not None else None
        if transport is not None:
            transport.loseConnection()

    def _audit_too_large(self, ctx: NodeContext, declared: int | None) -> None:
        """Audited like any refusal; the sender is unknown (nothing of the body was read)."""
        detail = {
            "code": "HTTP 413",
            "error": EbmsError.OTHER.code,
            "detail": f"request body over the limit of {self.max_body} bytes",
            "declared_size": declared,
            "received": None if declared is not None else self._received,
            "peer": _peer(self),
        }

        def note(session: Any) -> None:
            ctx.audit.append(
                session,
                "party:unknown",
                "as4.refuse",
                "message:(unknown)",
                detail,
                None,
                "413",
                form="as4",
                at=ctx.clock(),
            )

        d = defer.ensureDeferred(ctx.db.run(note))
        d.addErrback(lambda f: log.error("could not audit a 413 refusal: %s", f.getErrorMessage()))


def _peer(request: server.Request) -> str | None:
    try:
        address = request.getClientAddress()
    except Exception:
        return None
    host = getattr(address, "host", None)
    return str(host) if host is not None else None


class As4Resource(resource.Resource):
    """POST an AS4 message here: answered with a signed receipt or an ebMS error signal."""

    isLeaf = True

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.processor = InboundProcessor(ctx)
        self.in_flight: set[defer.Deferred[Any]] = set()

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"aswnode AS4 endpoint: POST ebMS3/AS4 messages here.\n"

    def render_POST(self, request: server.Request) -> Any:
        content = request.content
        assert content is not None
        # The body is ours until it is answered: Twisted closes a request's content when the client goes
        # away, and a refusal must still be audited with the digest of what was sent.
        request.content = None
        content.seek(0, 2)
        size = content.tell()
        content.seek(0)
        body = FileSlice(content, 0, size)  # type: ignore[arg-type]
        content_type = (request.getHeader(b"content-type") or b"").decode("latin-1")
        chain = peer_certificate_chain(request.channel.transport if request.channel else None)
        d = defer.ensureDeferred(self.processor.receive(body, content_type, chain))
        self.in_flight.add(d)
        finished = request.notifyFinish()
        finished.addErrback(lambda _: None)

        def answer(result: Answer) -> None:
            self.in_flight.discard(d)
            content.close()
            if request._disconnected:  # type: ignore[attr-defined]
                return
            request.setResponseCode(result.status)
            if result.content_type:
                request.setHeader(b"content-type", result.content_type.encode("latin-1"))
            request.setHeader(b"content-length", str(len(result.body)).encode())
            request.write(result.body)
            request.finish()

        def crashed(failure: Any) -> None:
            self.in_flight.discard(d)
            content.close()
            log.error("inbound processing failed: %s", failure.getTraceback())
            if request._disconnected:  # type: ignore[attr-defined]
                return
            request.setResponseCode(http.INTERNAL_SERVER_ERROR)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            request.write(b"internal error\n")
            request.finish()

        d.addCallbacks(answer, crashed)
        return server.NOT_DONE_YET

    def drain(self) -> defer.Deferred[Any]:
        """Fires when every message being received has been answered."""
        return defer.DeferredList(list(self.in_flight), consumeErrors=True)


class RootResource(resource.Resource):
    """`/`: POST is AS4 as at /as4; children (/as4, /api/v1, /console, /metrics ...) are mounted by name."""

    def __init__(self, as4: As4Resource) -> None:
        super().__init__()
        self.as4 = as4
        self.putChild(b"as4", as4)

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        if path == b"":
            return self
        return super().getChild(path, request)

    def render_GET(self, request: server.Request) -> bytes:
        return self.as4.render_GET(request)

    def render_POST(self, request: server.Request) -> Any:
        return self.as4.render_POST(request)


def build_site(ctx: NodeContext) -> tuple[server.Site, RootResource]:
    as4 = As4Resource(ctx)
    root = RootResource(as4)
    site = server.Site(root)

    class Request(_LimitedRequest):
        max_body = ctx.config.limits.max_request_bytes

    Request.ctx = ctx

    site.requestFactory = Request
    site.displayTracebacks = False
    site.timeOut = 300
    return site, root


def listen(ctx: NodeContext, site: server.Site, *, tls: ServerTLS | None) -> Any:
    """Listen where node.yaml says: HTTPS (the default) or plain HTTP on loopback. Returns the port."""
    listen_cfg = ctx.config.listen
    factory: Any = site
    if listen_cfg.tls:
        assert tls is not None
        factory = TLSMemoryBIOFactory(tls, False, site)
    return ctx.reactor.listenTCP(listen_cfg.port, factory, interface=listen_cfg.host, backlog=128)
