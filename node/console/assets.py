"""The console's static files (CSS, the small polling script), served by the node: the machine is offline."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from node.console.web import ConsoleRequest, NotFound, Response, Route

if TYPE_CHECKING:
    from node.console.app import Console

__all__ = ["ROUTES"]

_STATIC = Path(__file__).parent / "static"
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
_cache: dict[str, Response] = {}


def _load(name: str) -> Response:
    path = _STATIC / name
    if path.suffix not in _TYPES or not path.is_file() or path.parent != _STATIC:
        raise NotFound(name)
    body = path.read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    return Response(body, content_type=_TYPES[path.suffix], headers=(("ETag", etag),))


async def static(console: Console, req: ConsoleRequest, name: str) -> Response:
    response = _cache.get(name)
    if response is None:
        response = _cache[name] = _load(name)
    req.raw.setHeader(b"Cache-Control", b"private, max-age=3600")
    return response


ROUTES = (Route("GET", r"/static/(?P<name>[a-z0-9_-]+\.(?:css|js|svg))", static, public=True),)
