"""The ministries as node.yaml says now: credentials added, changed or revoked apply without a restart."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509

from node.api.ministries import Ministry, MinistryConfigError, MinistryRegistry, parse_ministries

__all__ = ["RACY_SECONDS", "LiveMinistries"]

log = logging.getLogger("aswnode.api")

# A file written within this many seconds of our last look may change again without its stat
# changing (coarse timestamps, same size, same inode): its bytes are compared until it is older.
RACY_SECONDS = 2.0

_Stamp = tuple[int, int, int, int, int]


class LiveMinistries:
    """The registry of node.yaml `ministries:`, the same look-ups as MinistryRegistry.

    Every look-up first stats node.yaml (a few microseconds) and rereads the section when the
    file changed, so a revoked token is refused from the first request after the file is
    written. A section that does not load keeps the ministries we have and logs one line
    naming the file and the key, once per change of the file.
    """

    def __init__(
        self,
        path: Path,
        registry: MinistryRegistry,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._path = path
        self._registry = registry
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        # Unknown until the first look-up: the registry we were given may predate the file.
        self._stamp: _Stamp | None = None
        self._digest: bytes | None = None
        self._racy = True
        # Called with the new registry after every reload that loaded (e.g. the TLS server's trusted CAs).
        self.listeners: list[Callable[[MinistryRegistry], None]] = []

    @property
    def path(self) -> Path:
        return self._path

    def current(self) -> MinistryRegistry:
        """The registry as node.yaml says now (or the last one that loaded)."""
        if self._changed():
            with self._lock:
                if self._changed():
                    self._reload()
        return self._registry

    # -- the look-ups of MinistryRegistry -------------------------------------------------------

    @property
    def ministries(self) -> tuple[Ministry, ...]:
        return self.current().ministries

    def by_id(self, ministry_id: str) -> Ministry | None:
        return self.current().by_id(ministry_id)

    def by_token(self, token: str) -> Ministry | None:
        return self.current().by_token(token)

    def by_certificate(self, sha256_hex: str) -> Ministry | None:
        return self.current().by_certificate(sha256_hex)

    def receivers(
        self, document_type: str | None, service: str | None, action: str | None
    ) -> tuple[Ministry, ...]:
        return self.current().receivers(document_type, service, action)

    def client_cas(self) -> tuple[x509.Certificate, ...]:
        return self.current().client_cas()

    # -- watching the file ----------------------------------------------------------------------

    def _stat(self) -> _Stamp | None:
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _changed(self) -> bool:
        stamp = self._stat()
        if stamp != self._stamp:
            return True
        if not self._racy or stamp is None:
            return False
        if self._wall_clock() - stamp[3] / 1e9 > RACY_SECONDS:
            self._racy = False
        return self._read_digest() != self._digest

    def _read_digest(self) -> bytes | None:
        try:
            return hashlib.sha256(self._path.read_bytes()).digest()
        except OSError:
            return None

    def _reload(self) -> None:
        from node.config import ConfigError, read_yaml

        stamp = self._stat()
        self._racy = stamp is None or self._wall_clock() - stamp[3] / 1e9 <= RACY_SECONDS
        digest = self._read_digest()
        first, unchanged = self._digest is None, digest is not None and digest == self._digest
        self._stamp, self._digest = stamp, digest
        if unchanged:
            return
        name = self._path.name
        try:
            section = read_yaml(self._path).get("ministries")
            registry = parse_ministries(section, self._path.parent)
        except ConfigError as exc:
            self._keep(str(exc))
            return
        except MinistryConfigError as exc:
            self._keep(f"{name}: {exc.key}: {exc.message}")
            return
        before = {m.id for m in self._registry.ministries}
        self._registry = registry
        for listener in list(self.listeners):
            listener(registry)
        after = {m.id for m in registry.ministries}
        if not first or before != after:
            log.info(
                "%s: ministries reloaded: %d ministry(ies)%s",
                name,
                len(after),
                _difference(before, after),
            )

    def _keep(self, problem: str) -> None:
        log.error(
            "%s (the ministries section changed but does not load; keeping the %d ministry(ies) we have)",
            problem,
            len(self._registry.ministries),
        )


def _difference(before: set[str], after: set[str]) -> str:
    added, removed = sorted(after - before), sorted(before - after)
    parts = [f"added {', '.join(added)}"] if added else []
    parts += [f"removed {', '.join(removed)}"] if removed else []
    return f" ({'; '.join(parts)})" if parts else ""
