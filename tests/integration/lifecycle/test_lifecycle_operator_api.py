"""The operator API and the public status on a running node; the ministry API still answers beside them."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from lifecycle_harness import harness

PASSWORD = "correct horse battery staple"


def call(
    node: Any, method: str, path: str, body: dict[str, Any] | None = None, *, auth: bool = True
) -> tuple[int, Any]:
    context = ssl.create_default_context(cafile=str(node.tls_cert))
    context.check_hostname = False
    base = node.endpoint.rsplit("/as4", 1)[0]
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            raw, status, kind = response.read(), response.status, response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        raw, status, kind = error.read(), error.code, error.headers.get("Content-Type", "")
    return status, json.loads(raw) if "json" in kind else raw.decode()


@pytest.fixture
def node(real_nodes) -> Any:  # type: ignore[no-untyped-def]
    vn = real_nodes.make("vn", "VN-NSW")
    path = vn.dir / "node.yaml"
    data = yaml.safe_load(path.read_text())
    data["environment"] = "production"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    subprocess.run(
        [harness.ASWNODE, "operators", "add", str(vn.dir), "--id", "alice"],
        input=PASSWORD + "\n",
        text=True,
        capture_output=True,
        check=True,
        timeout=60,
    )
    vn.add_partner("th", "TH-NSW", "https://127.0.0.1:9/as4", Path(vn.signing_cert))
    vn.start()
    return vn


def test_operator_calls_need_an_operator_login(node) -> None:  # type: ignore[no-untyped-def]
    status, body = call(node, "GET", "/api/v1/operator/partners/th", auth=False)
    assert status == 401 and "login" in body["error"]


def test_the_procedure_through_the_operator_api(node) -> None:  # type: ignore[no-untyped-def]
    status, plan = call(node, "POST", "/api/v1/operator/partners/th/conntest/plan", {})
    assert status == 201 and plan["partner_id"] == "th"
    status, partner = call(node, "GET", "/api/v1/operator/partners/th")
    assert (
        status == 200 and partner["state"] == "testing" and partner["history"][0]["actor"] == "operator:alice"
    )
    at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    status, refused = call(node, "POST", "/api/v1/operator/partners/th/golive", {"at": at})
    assert status == 409 and "no go-live without minutes" in refused["error"]
    status, run = call(node, "POST", "/api/v1/operator/partners/th/conntest/runs", {"step": "foreign"})
    assert status == 201
    deadline = time.monotonic() + 120
    while True:
        status, progress = call(node, "GET", run["progress"])
        if progress["status"] == "finished" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert progress["status"] == "finished"
    tls = next(c for c in progress["cases"] if c["case_id"] == "F-1")
    assert tls["outcome"] == "failed" and tls["detail"]
    status, bad = call(node, "POST", "/api/v1/operator/partners/th/suspend", {"reason": "x", "cause": "nope"})
    assert status == 400 and "/cause" in bad["error"]


def test_the_status_page_is_public_and_the_ministry_api_still_answers(node) -> None:  # type: ignore[no-untyped-def]
    status, opened = call(
        node, "POST", "/api/v1/operator/incidents", {"title": "HSM failure", "partners": ["th"]}
    )
    assert status == 201
    status, page = call(node, "GET", "/status", auth=False)
    assert status == 200 and "HSM failure" in page
    status, document = call(node, "GET", "/api/v1/status", auth=False)
    assert status == 200 and document["incidents"][0]["id"] == opened["id"]
    assert any("Incident" in n["subject"] for n in document["notices"])
    status, openapi = call(node, "GET", "/api/v1/openapi.json", auth=False)
    assert status == 200 and "paths" in openapi
