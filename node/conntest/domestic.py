"""Art. 10.3 step 2 checks between the NSW and the domestic systems: API, webhooks, mappings.

- node_api: the ministries' submission endpoint (the node's /api/v1/openapi.json) answers.
- ministry_webhook: every ministry webhook of node.yaml `ministries:` accepts a connection (and TLS).
- mapping_eco / mapping_ephyto: the domestic sample certificate validates and maps to the treaty
  format, and back. The sample comes from `mappings.samples` when the mappings offer one, else
  from DIR/conntest/samples/<type>.json (the ministry's own sample).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import socket
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from twisted.internet import threads

from node.conntest.plan import TestCase
from node.conntest.runner import CheckOutcome, RunEnvironment

__all__ = ["CHECKS", "domestic_sample"]

TIMEOUT = 10.0


def _probe_http(url: str, *, cafile: Path | None, client: tuple[Path, Path] | None) -> tuple[int, str]:
    """GET `url`: (status, TLS peer summary). Blocking, bounded by TIMEOUT."""
    import http.client

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    tls = ""
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
        if client is not None:
            context.load_cert_chain(str(client[0]), str(client[1]))
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=TIMEOUT, context=context
        )
    else:
        connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        connection.request("GET", parts.path or "/", headers={"User-Agent": "aswnode-conntest"})
        response = connection.getresponse()
        response.read(65536)
        sock = connection.sock
        if isinstance(sock, ssl.SSLSocket):
            tls = f"{sock.version()} {sock.cipher()[0] if sock.cipher() else ''}".strip()
        return response.status, tls
    finally:
        connection.close()


async def node_api(env: RunEnvironment, case: TestCase) -> CheckOutcome:
    config = env.config
    url = config.endpoint.rsplit("/as4", 1)[0] + "/api/v1/openapi.json"
    anchor = config.keys.tls_ca or config.keys.tls_cert
    try:
        status, tls = await threads.deferToThread(_probe_http, url, cafile=anchor, client=None)
    except (OSError, ssl.SSLError) as exc:
        return CheckOutcome(False, f"{url}: not reachable: {exc}")
    if status >= 500:
        return CheckOutcome(False, f"{url}: HTTP {status}")
    return CheckOutcome(True, f"{url}: HTTP {status} {tls}".strip(), {"url": url, "status": str(status)})


def _connect(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
        if parts.scheme != "https":
            return "TCP connection accepted"
        context = ssl.create_default_context()
        with context.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True) or b""
            return f"{tls.version()}, server certificate sha256 {hashlib.sha256(der).hexdigest()}"


async def ministry_webhook(env: RunEnvironment, case: TestCase) -> CheckOutcome:
    from node.api.ministries import parse_ministries

    registry = parse_ministries(env.config.raw.get("ministries"))
    hooks = [(m.id, m.webhook_url) for m in registry.ministries if m.webhook_url]
    if not registry.ministries:
        return CheckOutcome(False, "no ministry configured in node.yaml ministries: (aswnode ministries add)")
    if not hooks:
        return CheckOutcome(
            True, "no webhook configured: every ministry pulls from its inbox (/api/v1/inbox)"
        )
    evidence: dict[str, str] = {}
    failures = []
    for ministry_id, url in hooks:
        try:
            evidence[ministry_id] = await threads.deferToThread(_connect, url)
        except (OSError, ssl.SSLError) as exc:
            failures.append(f"{ministry_id} {url}: {exc}")
    if failures:
        return CheckOutcome(False, "webhook not reachable: " + "; ".join(failures), evidence)
    return CheckOutcome(True, f"{len(hooks)} webhook(s) reachable", evidence)


def domestic_sample(directory: Path, document_type: str) -> Mapping[str, Any] | None:
    """The domestic sample certificate of `document_type`, or None when there is none."""
    try:
        samples = importlib.import_module("mappings.samples")
    except ModuleNotFoundError:
        samples = None
    if samples is not None and hasattr(samples, "domestic_sample"):
        return samples.domestic_sample(document_type)
    path = directory / "conntest" / "samples" / f"{document_type}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return None


def _map_sample(directory: Path, document_type: str) -> CheckOutcome:
    from mappings.registry import profile

    sample = domestic_sample(directory, document_type)
    if sample is None:
        return CheckOutcome(
            False,
            f"no {document_type} sample certificate: put the ministry's sample in "
            f"{directory / 'conntest' / 'samples' / (document_type + '.json')}",
        )
    mapping = profile(document_type)
    errors = mapping.validate(sample)
    if errors:
        listed = "; ".join(str(e) for e in errors[:5])
        return CheckOutcome(False, f"the {document_type} sample does not validate: {listed}")
    treaty = mapping.to_treaty(dict(sample))
    back = mapping.from_treaty(treaty)
    return CheckOutcome(
        True,
        f"{document_type} sample maps to {mapping.treaty_format} {mapping.version} and back",
        {
            "treaty_digest": "sha256:" + hashlib.sha256(treaty).hexdigest(),
            "domestic_digest": "sha256:"
            + hashlib.sha256(json.dumps(sample, sort_keys=True).encode()).hexdigest(),
            "fields_read_back": str(len(back)),
        },
    )


async def mapping_eco(env: RunEnvironment, case: TestCase) -> CheckOutcome:
    return await threads.deferToThread(_map_sample, env.config.directory, "eco")


async def mapping_ephyto(env: RunEnvironment, case: TestCase) -> CheckOutcome:
    return await threads.deferToThread(_map_sample, env.config.directory, "ephyto")


CHECKS = {
    "node_api": node_api,
    "ministry_webhook": ministry_webhook,
    "mapping_eco": mapping_eco,
    "mapping_ephyto": mapping_ephyto,
}
