"""Headless Debian Chromium driven by Selenium, and real nodes (`aswnode serve`) on free loopback ports.

Outside CI a missing /usr/bin/chromium or /usr/bin/chromedriver skips these tests with the reason
(ops/test installs both when run as root); in CI (ASWNODE_REQUIRE_INTEROP=1) it is a failure.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_kit import (
    CHROMEDRIVER,
    CHROMIUM,
    CHROMIUM_FLAGS,
    OPERATOR,
    PASSWORD,
    NodeProcess,
    aswnode,
    unavailable,
)
from free_ports import free_port


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
            unavailable(
                f"{path} is missing: apt-get install chromium chromium-driver (ops/test does it as root)"
            )
    try:
        import selenium  # noqa: F401
    except ImportError:
        unavailable("selenium is not installed (pip install -e '.[test]')")
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
    # chromedriver's port from this worker's range (selenium's own pick races like bind-to-0 does)
    service = Service(str(chromium[1]), port=free_port())
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
