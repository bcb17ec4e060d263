"""Fixtures every test may use: ../shared (peer and vectors), a test PKI, a throwaway PostgreSQL database.

Outside CI a missing ../shared or PostgreSQL skips the tests that need them and says why;
in CI (`ASWNODE_REQUIRE_INTEROP=1`, set by .ci/run) a missing one is a failure.

ops/test runs the suite on several pytest-xdist workers with `--dist loadfile`: a file's tests run
on one worker in order (module fixtures start once; some files' tests build on each other),
session fixtures run once per worker, and each worker has its own tmp_path root.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ASWNODE_SHARED", ROOT.parent / "shared")).resolve()
REQUIRED = os.environ.get("ASWNODE_REQUIRE_INTEROP") == "1"
PG_ADMIN_URL = os.environ.get("ASWNODE_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "vectors").is_dir():
        _unavailable(f"no ../shared beside the project (looked in {SHARED})")
    return SHARED


@pytest.fixture(scope="session")
def vectors(shared_dir: Path) -> Path:
    return shared_dir / "vectors"


@pytest.fixture(scope="session")
def peer_bin(shared_dir: Path) -> Path:
    peer = shared_dir / "peer" / "peer"
    if not peer.exists():
        _unavailable("no ../shared/peer/peer")
    if not (shared_dir / "peer" / "build" / ".stamp").exists():
        _unavailable("the peer is not built: run ../shared/peer/setup.sh")
    _rebuild_if_stale(shared_dir / "peer")
    return peer


def _peer_stale(peer_dir: Path) -> bool:
    stamp = (peer_dir / "build" / ".stamp").stat().st_mtime
    return any(source.stat().st_mtime > stamp for source in (peer_dir / "src").rglob("*.java"))


def _rebuild_if_stale(peer_dir: Path) -> None:
    """Build a peer whose sources changed once, here: `peer` would rebuild on its first call in
    every worker at the same time (build.sh empties build/classes that another worker runs from)."""
    if not _peer_stale(peer_dir):
        return
    with open(Path(tempfile.gettempdir()) / "aswnode-peer-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _peer_stale(peer_dir):
            subprocess.run([str(peer_dir / "build.sh")], check=True, capture_output=True, timeout=600)


@pytest.fixture(scope="session")
def peer_pki(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The peer's throwaway PKI: ca, a, b (CA-signed, also TLS) and untrusted mallory."""
    out = tmp_path_factory.mktemp("peer-pki")
    subprocess.run(
        [str(shared_dir / "peer" / "gen-pki.sh"), str(out)], check=True, capture_output=True, timeout=120
    )
    return out


def _pg_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards (SQLAlchemy URL)."""
    if not _pg_reachable():
        _unavailable(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    import psycopg

    name = f"aswnode_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            # A child process of the test (a node being stopped) may still reconnect:
            # FORCE (PostgreSQL 13+) ends those sessions with the drop itself.
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
