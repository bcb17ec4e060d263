"""The node directory on disk: create it, write its YAML files, load our signing identity."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization

from certs.pki import generate_node_pki
from node.config import NODE_FILE, PARTNERS_FILE, ConfigError, NodeConfig, is_loopback_host

__all__ = [
    "PARTNERS_HEADER",
    "OpenNode",
    "create_node_directory",
    "load_signing_identity",
    "open_node",
    "write_section",
    "write_yaml",
]

PARTNERS_HEADER = (
    "# The foreign gateways this node exchanges with. Edit, then `aswnode partners check DIR`.\n"
    "# Each: id, party_id (+ party_id_type), endpoint, signing_cert (PEM), optional tls_ca (PEM),\n"
    "# focal_points, agreement, treaty, pmode (overrides of the default P-Mode; its `collaborations`\n"
    "# names the eb:Service/eb:Action of eco, ephyto and answer, see node/collaborations.py).\n"
)


def write_yaml(path: Path, data: Mapping[str, Any], *, header: str = "") -> None:
    """Replace `path` atomically (temp file + fsync + rename)."""
    _replace(path, header + yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True))


def _replace(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_section(path: Path, name: str, section: Mapping[str, Any]) -> None:
    """Replace only the top-level `name:` block of a YAML file (node.yaml), keeping the rest of it and its
    comments; atomically, like write_yaml."""
    text = path.read_text(encoding="utf-8")
    block = yaml.safe_dump(
        {name: dict(section)}, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"^{re.escape(name)}\s*:", line)), None)
    if start is None:
        new = text + ("" if text.endswith("\n") or not text else "\n") + block
    else:
        end = start + 1
        while end < len(lines) and (lines[end].startswith((" ", "\t", "#")) or not lines[end].strip()):
            end += 1
        new = "".join(lines[:start]) + block + "".join(lines[end:])
    _replace(path, new)


def create_node_directory(
    directory: Path,
    *,
    party_id: str,
    port: int,
    host: str = "127.0.0.1",
    database_url: str | None = None,
    tls: bool = True,
    environment: str = "sandbox",
) -> NodeConfig:
    """A new node directory: node.yaml, an empty partners.yaml, keys/ with a fresh test PKI, var/."""
    if (directory / NODE_FILE).exists():
        raise ConfigError(NODE_FILE, "", f"{directory} is already a node directory")
    if not tls and not is_loopback_host(host):
        raise ConfigError(
            NODE_FILE, "listen.tls", "plain HTTP (--http) is allowed only on a loopback address"
        )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "var").mkdir(exist_ok=True)
    pki = generate_node_pki(directory / "keys", party_id)
    keys: dict[str, str] = {
        "signing_key": "keys/signing.key",
        "signing_cert": "keys/signing.pem",
        "tls_key": "keys/tls.key",
        "tls_cert": "keys/tls.pem",
    }
    assert pki.signing.cert == directory / keys["signing_cert"]
    node: dict[str, Any] = {
        "party_id": party_id,
        "environment": environment,
        "listen": {"host": host, "port": port, "tls": tls},
        "database": {"url": database_url or f"sqlite:///{(directory / 'var' / 'node.db').resolve()}"},
        "keys": keys,
    }
    write_yaml(directory / NODE_FILE, node, header="# aswnode node configuration (aswnode init).\n")
    if not (directory / PARTNERS_FILE).exists():
        write_yaml(directory / PARTNERS_FILE, {"partners": []}, header=PARTNERS_HEADER)
    return NodeConfig.load(directory)


def load_signing_identity(config: NodeConfig) -> Any:
    """Our SigningIdentity (protocols.as4.security) from node.yaml's keys."""
    from cryptography import x509

    from protocols.as4.security.values import SigningIdentity

    try:
        key = serialization.load_pem_private_key(config.keys.signing_key.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise ConfigError(NODE_FILE, "keys.signing_key", "not an unencrypted PEM private key") from None
    try:
        cert = x509.load_pem_x509_certificate(config.keys.signing_cert.read_bytes())
    except ValueError:
        raise ConfigError(NODE_FILE, "keys.signing_cert", "not a PEM certificate") from None
    try:
        return SigningIdentity(key, cert)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigError(NODE_FILE, "keys.signing_key", str(exc)) from None


@dataclass(frozen=True, slots=True)
class OpenNode:
    """A node directory opened by a command: its configuration, database and blob store."""

    config: NodeConfig
    db: Any
    blobs: Any

    def close(self) -> None:
        self.db.close()


def open_node(directory: Path) -> OpenNode:
    """Open DIR for a command (ConfigError for a bad directory; the database schema is brought to head)."""
    from node.store.blobs import BlobStore
    from node.store.database import Database

    config = NodeConfig.load(directory)
    try:
        db = Database.open(config.database_url)
    except Exception as exc:
        raise ConfigError(
            NODE_FILE, "database.url", f"cannot open the database: {type(exc).__name__}"
        ) from None
    return OpenNode(config=config, db=db, blobs=BlobStore(config.blob_dir))
