"""A small method + path router on twisted.web: coroutine handlers in, JSON answers out."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import resource, server, static
from twisted.web.iweb import IRequest

from node.api.errors import ApiError, FieldError, query_pointer

__all__ = ["MAX_BODY", "ApiCall", "ApiResource", "BytesAnswer", "FileAnswer", "JsonAnswer", "Route"]

MAX_BODY = 32 * 1024 * 1024
_log = Logger()


@dataclass(frozen=True, slots=True)
class JsonAnswer:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FileAnswer:
    """A 200 streamed from a file (a payload from the blob store), never read whole into memory."""

    path: Path
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BytesAnswer:
    """A 200 with bytes already in memory (a small payload kept in its database row)."""

    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


Answer = JsonAnswer | FileAnswer | BytesAnswer


@dataclass(frozen=True, slots=True)
class ApiCall:
    """What a handler sees of one request: the authenticated client, path parameters, query, headers, body."""

    client: Any
    params: Mapping[str, str]
    query: Mapping[str, tuple[str, ...]]
    headers: Mapping[str, str]
    body: bytes
    request: IRequest

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError.single(400, "malformed_json", f"the body is not JSON: {exc}", "") from None
        except RecursionError:
            raise ApiError.single(400, "malformed_json", "the body is nested too deeply", "") from None

    def query_one(self, name: str) -> str | None:
        values = self.query.get(name, ())
        return values[-1] if values else None

    def query_int(self, name: str, default: int | None) -> int | None:
        """An integer query parameter (`default` when absent); 400 bad_parameter pointing at `?name`."""
        value = self.query_one(name)
        if not value:
            return default
        try:
            return int(value)
        except ValueError:
            raise ApiError.single(
                400, "bad_parameter", f"{name} must be an integer", query_pointer(name)
            ) from None


Handler = Callable[[ApiCall], Awaitable[Answer]]
Authenticator = Callable[[IRequest], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Route:
    """`pattern` is a path below the mount point, segments in braces are parameters: `submissions/{id}`."""

    method: str
    pattern: str
    handler: Handler
    public: bool = False
    # The handler reads the body itself from `call.request.content` (large uploads, never read whole).
    stream_body: bool = False

    def match(self, method: str, segments: tuple[str, ...]) -> dict[str, str] | None:
        parts = tuple(p for p in self.pattern.split("/") if p)
        if len(parts) != len(segments):
            return None
        params: dict[str, str] = {}
        for part, seg in zip(parts, segments, strict=True):
            if part.startswith("{") and part.endswith("}"):
                if not seg:
                    return None
                params[part[1:-1]] = seg
            elif part != seg:
                return None
        return params


class ApiResource(resource.Resource):
    """A leaf resource: everything below its mount point is dispatched to `routes`."""

    isLeaf = True

    def __init__(self, routes: tuple[Route, ...], authenticate: Authenticator) -> None:
        super().__init__()
        self._routes = routes
        self._authenticate = authenticate

    def render(self, request: server.Request) -> object:
        finished = [False]
        request.notifyFinish().addBoth(lambda _: finished.__setitem__(0, True))
        d = defer.ensureDeferred(self._dispatch(request))

        def write(answer: Answer) -> None:
            if finished[0]:
                return
            if isinstance(answer, FileAnswer):
                _stream(request, answer)
                return
            if isinstance(answer, BytesAnswer):
                body, status, content_type = answer.body, 200, answer.content_type
            else:
                body = b"" if answer.body is None else json.dumps(answer.body, ensure_ascii=False).encode()
                status = answer.status
                content_type = None if answer.body is None else "application/json"
            request.setResponseCode(status)
            for name, value in answer.headers.items():
                request.setHeader(name, value)
            if content_type is not None:
                request.setHeader("Content-Type", content_type)
            request.setHeader("Cache-Control", "no-store")
            request.setHeader("Content-Length", str(len(body)))
            if request.method != b"HEAD":
                request.write(body)
            request.finish()

        d.addCallback(write)
        d.addErrback(lambda f: _log.failure("ministry API answer failed", f))
        return server.NOT_DONE_YET

    async def _dispatch(self, request: server.Request) -> Answer:
        try:
            return await self._answer(request)
        except ApiError as exc:
            return JsonAnswer(exc.status, exc.as_json(), exc.headers)
        except Exception:
            _log.failure(
                "ministry API handler failed: {method} {path}", method=request.method, path=request.path
            )
            return JsonAnswer(
                500,
                {
                    "errors": [
                        FieldError("internal_error", "the node could not answer; try again", "").as_json()
                    ]
                },
            )

    async def _answer(self, request: server.Request) -> Answer:
        method = request.method.decode("ascii", "replace")
        try:
            segments = tuple(s.decode("utf-8") for s in request.postpath)
        except UnicodeDecodeError:
            raise ApiError.single(404, "not_found", "no such resource", "") from None
        if segments and segments[-1] == "":
            segments = segments[:-1]
        allowed: list[str] = []
        for route in self._routes:
            params = route.match(method, segments)
            if params is None:
                continue
            if route.method != method:
                allowed.append(route.method)
                continue
            client = None if route.public else await self._authenticate(request)
            call = ApiCall(
                client=client,
                params=params,
                query={
                    k.decode("utf-8", "replace"): tuple(v.decode("utf-8", "replace") for v in vs)
                    for k, vs in request.args.items()
                },
                headers={
                    k.decode("latin-1").lower(): v[-1].decode("latin-1")
                    for k, v in request.requestHeaders.getAllRawHeaders()
                },
                body=_read_body(request)
                if method in ("POST", "PUT", "PATCH") and not route.stream_body
                else b"",
                request=request,
            )
            return await route.handler(call)
        if allowed:
            raise ApiError(
                405,
                (FieldError("method_not_allowed", f"{method} is not allowed here", ""),),
                {"Allow": ", ".join(sorted(set(allowed)))},
            )
        raise ApiError.single(404, "not_found", "no such resource", "")


def _read_body(request: server.Request) -> bytes:
    content = request.content
    if content is None:
        return b""
    content.seek(0, 2)
    size = content.tell()
    if size > MAX_BODY:
        raise ApiError.single(413, "too_large", f"the body is larger than {MAX_BODY} bytes", "")
    content.seek(0)
    return content.read()


def _stream(request: server.Request, answer: FileAnswer) -> None:
    try:
        handle = answer.path.open("rb")
    except OSError:
        request.setResponseCode(410)
        request.finish()
        return
    size = os.fstat(handle.fileno()).st_size
    request.setResponseCode(200)
    for name, value in answer.headers.items():
        request.setHeader(name, value)
    request.setHeader("Content-Type", answer.content_type)
    request.setHeader("Content-Length", str(size))
    request.setHeader("Cache-Control", "no-store")
    if request.method == b"HEAD":
        handle.close()
        request.finish()
        return
    # Reads and writes one chunk at a time, paced by the client (push-back), then finishes and closes.
    static.NoRangeStaticProducer(request, handle).start()
