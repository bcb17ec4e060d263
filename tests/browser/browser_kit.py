"""What the browser tests share by import: the CLI, node processes, screenshots (conftests share one name)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
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


def unavailable(reason: str) -> None:
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


def audit_records(directory: Path) -> list[dict[str, object]]:
    """The node's audit chain as `aswnode audit export` prints it, oldest first."""
    lines = aswnode("audit", "export", str(directory)).stdout.splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def flashes(driver: object) -> str:
    """The flash messages of the page, joined (what the operator reads after an action)."""
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, ".flash")  # type: ignore[attr-defined]
    return " | ".join(e.text for e in found)


def submit(driver: object, button_id: str) -> None:
    """Click and wait for the next page (the form posts, the console redirects, the page loads)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")  # type: ignore[attr-defined]
    driver.find_element(By.ID, button_id).click()  # type: ignore[attr-defined]
    # Chromium may answer "node does not belong to the document" mid-navigation: ask again.
    WebDriverWait(driver, 60, ignored_exceptions=(WebDriverException,)).until(ec.staleness_of(old))
    WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, "footer")))


def log_in(driver: object, base: str) -> None:
    """Log in as the test operator and land on the dashboard."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base + "/console/login")  # type: ignore[attr-defined]
    WebDriverWait(driver, 10).until(ec.presence_of_element_located((By.ID, "login-password")))
    driver.find_element(By.ID, "login-id").send_keys(OPERATOR)  # type: ignore[attr-defined]
    driver.find_element(By.ID, "login-password").send_keys(PASSWORD)  # type: ignore[attr-defined]
    submit(driver, "login-submit")
    assert "Dashboard" in driver.title, flashes(driver)  # type: ignore[attr-defined]
