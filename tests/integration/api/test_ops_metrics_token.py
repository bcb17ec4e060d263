"""/metrics behind node.yaml `metrics: {token | token_file}`: Prometheus sends Authorization: Bearer."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import pytest_twisted
import yaml
from free_ports import free_port

ASWNODE = str(Path(sys.executable).with_name("aswnode"))
TOKEN = "prometheus-scrape-7f3c9a1e5b"


def _set_metrics(directory: Path, section: dict[str, str]) -> None:
    path = directory / "node.yaml"
    data = yaml.safe_load(path.read_text())
    data["metrics"] = section
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def node_dir(node_dir: tuple[Path, dict[str, str], str]) -> tuple[Path, dict[str, str], str]:
    """The api fixtures' node, its /metrics behind TOKEN."""
    _set_metrics(node_dir[0], {"token": TOKEN})
    return node_dir


@pytest_twisted.ensureDeferred
async def test_metrics_answer_only_the_configured_bearer_token(api_node):
    bare = await api_node.call("GET", "/metrics", ministry=None)
    assert bare.code == 401 and bare.header("www-authenticate") == 'Bearer realm="aswnode-metrics"'
    assert TOKEN not in bare.body.decode()
    for wrong in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN):
        r = await api_node.call("GET", "/metrics", ministry=None, headers={"Authorization": wrong})
        assert r.code == 401, wrong
    # A ministry's API token is not the metrics token.
    moit = await api_node.call("GET", "/metrics", ministry="moit")
    assert moit.code == 401
    ok = await api_node.call("GET", "/metrics", ministry=None, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.code == 200 and ok.header("content-type").startswith("text/plain")
    assert "aswnode_messages" in ok.body.decode()
    # Health and readiness stay open for the load balancer.
    assert (await api_node.call("GET", "/health", ministry=None)).code == 200
    assert (await api_node.call("GET", "/ready", ministry=None)).code == 200


def _get(url: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _init(directory: Path) -> int:
    port = free_port()
    args = [ASWNODE, "init", str(directory), "--party-id", "vn-nsw", "--port", str(port), "--http"]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    return port


def test_a_served_node_reads_the_token_from_a_file_and_never_logs_it(tmp_path: Path) -> None:
    directory = tmp_path / "node"
    port = _init(directory)
    (directory / "keys" / "metrics.token").write_text(TOKEN + "\n")
    _set_metrics(directory, {"token_file": "keys/metrics.token"})
    log = tmp_path / "serve.log"
    with log.open("wb") as err:
        process = subprocess.Popen(
            [ASWNODE, "serve", str(directory), "--log-level", "debug"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()[-2000:]
            try:
                if _get(f"{base}/health") == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        assert _get(f"{base}/metrics") == 401
        assert _get(f"{base}/metrics", "not-the-token-at-all") == 401
        assert _get(f"{base}/metrics", TOKEN) == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert TOKEN not in log.read_text()


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"token": "short-secret"}, "metrics.token"),
        ({"token": "a-token-long-enough but-with-a-space"}, "metrics.token"),
        ({"token_file": "keys/nowhere.token"}, "metrics.token_file"),
        ({"token": TOKEN, "token_file": "keys/x"}, "metrics"),
        ({"tokn": TOKEN}, "metrics.tokn"),
    ],
    ids=["short", "space", "missing-file", "both", "unknown-key"],
)
def test_a_bad_metrics_setting_stops_serve_with_one_line_naming_the_key(
    tmp_path: Path, section: dict[str, str], key: str
) -> None:
    directory = tmp_path / "node"
    _init(directory)
    _set_metrics(directory, section)
    result = subprocess.run(
        [ASWNODE, "serve", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("aswnode:")]
    assert len(lines) == 1 and lines[0].startswith(f"aswnode: node.yaml: {key}:"), result.stderr
    for value in section.values():
        assert value not in result.stderr or value.startswith("keys/"), result.stderr
    assert "Traceback" not in result.stderr
