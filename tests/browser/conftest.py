"""Headless Debian Chromium driven by Selenium, and real nodes (`aswnode serve`) on free loopback ports.

Outside CI a missing /usr/bin/chromium or /usr/bin/chromedriver skips these tests with the reason
(ops/test installs both when run as root); in CI (ASWNODE_REQUIRE_INTEROP=1) it is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("ASWNODE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("ASWNODE_CHROMEDRIVER", "/usr/bin/chromedriver"))
REQUIRED = os.environ.get("ASWNODE_REQUIRE_INTEROP") == "1"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "output" / "screenshots"
OPERATOR, PASSWORD = "alice", "correct horse battery staple"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1366,1000",
)


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


def aswnode(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The CLI as an operator runs it; a failure shows its one line."""
    exe = Path(sys.executable).with_name("aswnode")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from node.cli import main; main()"]
    result = subprocess.run([*cmd, *args], input=stdin, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"aswnode {' '.join(args)}: {result.stderr.strip()}"
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class NodeProcess:
    """A node directory and its `aswnode serve` process."""

    directory: Path
    party_id: str
    port: int
    log: Path
    tls: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def tls_cert(self) -> Path:
        return self.directory / "keys" / "tls.pem"

    @property
    def signing_cert(self) -> Path:
        return self.directory / "keys" / "signing.pem"

    def start(self) -> None:
        exe = Path(sys.executable).with_name("aswnode")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from node.cli import main; main()"]
        out = self.log.open("ab")
        self.process = subprocess.Popen([*cmd, "serve", str(self.directory)], stdout=out, stderr=out)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"node {self.party_id} exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"node {self.party_id} did not listen on {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture
def make_node(tmp_path: Path) -> Iterator[object]:
    started: list[NodeProcess] = []

    def make(
        party_id: str, *, environment: str = "sandbox", operator: bool = True, tls: bool = False
    ) -> NodeProcess:
        port = free_port()
        directory = tmp_path / party_id
        aswnode(
            "init", str(directory), "--party-id", party_id, "--port", str(port),
            *(() if tls else ("--http",)), "--environment", environment,
        )  # fmt: skip
        if operator:
            aswnode(
                "operators", "add", str(directory), "--id", OPERATOR, "--name", "Alice", stdin=PASSWORD + "\n"
            )
        node = NodeProcess(directory, party_id, port, tmp_path / f"{party_id}.log", tls=tls)
        started.append(node)
        return node

    yield make
    for node in started:
        node.stop()


@pytest.fixture(scope="session")
def chromium() -> tuple[Path, Path]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            _unavailable(
                f"{path} is missing: apt-get install chromium chromium-driver (ops/test does it as root)"
            )
    try:
        import selenium  # noqa: F401
    except ImportError:
        _unavailable("selenium is not installed (pip install -e '.[test]')")
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture
def browser(chromium: tuple[Path, Path]) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="aswnode-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium[0])
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(str(chromium[1])), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: object, name: str) -> Path:
    """Save the whole page (not only the viewport) as tests/output/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")  # type: ignore[attr-defined]
    driver.set_window_size(1366, max(900, min(int(height) + 40, 4000)))  # type: ignore[attr-defined]
    driver.save_screenshot(str(path))  # type: ignore[attr-defined]
    driver.set_window_size(1366, 1000)  # type: ignore[attr-defined]
    return path


def json_line(text: str) -> dict[str, object]:
    """The last JSON object a CLI command printed."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"no JSON in {text!r}")
