"""The operator's whole walk in a real browser, against two real nodes (`aswnode serve`):

log in, add the partner, draw up the plan, run both test steps against the second node with live
progress, read and confirm the minutes, announce go-live, watch the partner become active and a
message arrive, then suspend the partner. Screenshots of the main pages go to tests/output/screenshots.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from browser_kit import OPERATOR, PASSWORD, aswnode, flashes, json_line, screenshot, submit
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(420)]

SAMPLE = b'<?xml version="1.0"?><ping xmlns="urn:aswnode:test">hello from th-nsw</ping>\n'


def _text(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def _state(driver) -> str:
    return _text(driver, "partner-state")


def _webhook_server() -> ThreadingHTTPServer:
    """The ministry's delivery endpoint: accepts whatever is posted (step 2 checks it is reachable)."""

    class Inbox(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(204)
            self.end_headers()

        do_GET = do_HEAD = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Inbox)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _run_step(driver, base: str, step: str) -> tuple[str, list[str]]:
    """Start a run from the partner page; (the count the run page first showed, the final case rows)."""
    driver.get(base + "/console/partners/th-nsw")
    Select(driver.find_element(By.ID, "run-step")).select_by_value(step)
    driver.find_element(By.ID, "run-test").click()
    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.ID, "run")))
    assert "/runs/" in driver.current_url, flashes(driver)
    first_count = driver.find_element(By.ID, "run-count").text
    # console.js polls the run's JSON and updates the page in place until the run is finished.
    WebDriverWait(driver, 240).until(
        lambda d: d.find_element(By.ID, "run").get_attribute("data-finished") == "true"
    )
    done, total = driver.find_element(By.ID, "run-count").text.split(" / ")
    assert done == total and int(total) > 0
    assert driver.find_element(By.ID, "run-state").text == "finished"
    rows = driver.find_elements(By.CSS_SELECTOR, "#run-cases tr")
    return first_count, [r.text for r in rows]


def _send_to_nsw(partner, sample) -> dict:  # type: ignore[no-untyped-def]
    """The partner node sends the sample to the NSW node and waits for its receipt."""
    args = (
        "send",
        str(partner.directory),
        "--to",
        "nsw-vn",
        "--file",
        str(sample),
        "--wait",
        "--timeout",
        "60",
    )
    return json_line(aswnode(*args).stdout)


def test_an_operator_takes_a_partner_from_registration_to_suspension(browser, make_node, tmp_path):
    nsw = make_node("nsw-vn", environment="production")
    # The foreign gateway: TLS with mutual authentication, and a 32 MiB limit on what it accepts.
    partner = make_node("th-nsw", operator=False, tls=True)
    aswnode(
        "partners", "add", str(partner.directory), "--id", "nsw-vn", "--party-id", "nsw-vn",
        "--endpoint", f"{nsw.base}/as4", "--cert", str(nsw.signing_cert), "--tls-ca", str(nsw.tls_cert),
    )  # fmt: skip
    with (partner.directory / "node.yaml").open("a") as f:
        f.write("limits:\n  max_request_bytes: 33554432\n")
    webhook = _webhook_server()
    aswnode(
        "ministries", "add", str(nsw.directory), "--id", "moit", "--documents", "eco",
        "--webhook", f"http://127.0.0.1:{webhook.server_address[1]}/inbox",
    )  # fmt: skip
    nsw.start()
    partner.start()
    sample = tmp_path / "ping.xml"
    sample.write_bytes(SAMPLE)
    d = browser

    # Log in.
    d.get(nsw.base + "/console/")
    WebDriverWait(d, 10).until(ec.presence_of_element_located((By.ID, "login-password")))
    d.find_element(By.ID, "login-id").send_keys(OPERATOR)
    d.find_element(By.ID, "login-password").send_keys(PASSWORD)
    submit(d, "login-submit")
    assert "Dashboard" in d.title

    # Add the partner: its endpoint and its signing certificate, pasted as PEM.
    d.get(nsw.base + "/console/partners")
    d.find_element(By.ID, "add-partner").click()
    d.find_element(By.ID, "partner-id").send_keys("th-nsw")
    d.find_element(By.ID, "partner-party-id").send_keys("th-nsw")
    d.find_element(By.ID, "partner-endpoint").send_keys(f"{partner.base}/as4")
    d.find_element(By.ID, "partner-cert").send_keys(partner.signing_cert.read_text())
    d.find_element(By.ID, "partner-tls-ca").send_keys(partner.tls_cert.read_text())
    screenshot(d, "partner-new")
    submit(d, "partner-add")
    assert _state(d) == "registered", flashes(d)

    # Art. 10.3 step 1: the plan; the partner is testing and may use the test service.
    submit(d, "start-test")
    assert _state(d) == "testing", flashes(d)
    d.find_element(By.ID, "plan-link").click()
    screenshot(d, "test-plan")

    # The partner sends its own sample (the inbound case of step 4).
    sent = _send_to_nsw(partner, sample)
    assert sent["state"] == "delivered", sent

    # Steps 2 and 4, each followed live.
    _, domestic = _run_step(d, nsw.base, "domestic")
    assert domestic and all(" passed " in row for row in domestic), "\n".join(domestic)
    first_count, foreign = _run_step(d, nsw.base, "foreign")
    screenshot(d, "test-run")
    assert first_count != f"{len(foreign)} / {len(foreign)}", "the page never showed the run in progress"
    assert foreign and all(" passed " in row for row in foreign), "\n".join(foreign)

    # Step 3: the minutes, read and confirmed by the three parties.
    d.get(nsw.base + "/console/partners/th-nsw")
    submit(d, "draw-minutes")
    assert "passed" in flashes(d), flashes(d)
    d.find_element(By.ID, "minutes-link").click()
    assert _text(d, "minutes-outcome") == "passed"
    digest = _text(d, "minutes-digest")
    screenshot(d, "minutes")
    for name, organisation in (("Alice", "NSW"), ("Minh", "MOIT"), ("Lan", "VNACCS")):
        d.get(nsw.base + "/console/partners/th-nsw")
        d.find_element(By.ID, "confirm-name").send_keys(name)
        d.find_element(By.ID, "confirm-organisation").send_keys(organisation)
        submit(d, "confirm-minutes")
        assert "confirmed" in flashes(d), flashes(d)
    assert _state(d) == "tested"
    d.get(nsw.base + "/console/partners/th-nsw/minutes")
    assert _text(d, "minutes-digest") == digest
    assert len(d.find_elements(By.CSS_SELECTOR, "#confirmations tr")) == 4

    # Art. 10.4: the official connection time; the node's scheduler activates the partner then.
    d.get(nsw.base + "/console/partners/th-nsw")
    at = datetime.now(UTC) + timedelta(seconds=20)
    d.execute_script(
        "document.getElementById('golive-at').value = arguments[0];", at.strftime("%Y-%m-%dT%H:%M:%S")
    )
    Select(d.find_element(By.ID, "golive-tz")).select_by_value("Z")
    submit(d, "announce-golive")
    assert _state(d) == "scheduled", flashes(d)
    deadline = time.monotonic() + 120
    while _state(d) != "active":
        assert time.monotonic() < deadline, "the partner was not activated at the announced time"
        time.sleep(2)
        d.refresh()
    screenshot(d, "partner-active")

    # A message from the partner arrives and shows up in the message search.
    arrived = _send_to_nsw(partner, sample)
    assert arrived["state"] == "delivered", arrived
    d.get(nsw.base + "/console/messages?partner=th-nsw&direction=inbound")
    WebDriverWait(d, 30).until(
        lambda drv: (
            drv.find_elements(By.CSS_SELECTOR, f'tr[data-message-id="{arrived["message_id"]}"]')
            or drv.refresh()
        )
    )
    screenshot(d, "messages")
    d.find_element(By.CSS_SELECTOR, f'tr[data-message-id="{arrived["message_id"]}"] a').click()
    assert _text(d, "message-state") == "received"
    screenshot(d, "message")

    # Art. 12: suspend the partner for a violation, naming what it must do.
    d.get(nsw.base + "/console/partners/th-nsw")
    Select(d.find_element(By.ID, "suspend-cause")).select_by_value("violation")
    d.find_element(By.ID, "suspend-reason").send_keys("documents without a valid signature")
    d.find_element(By.ID, "suspend-steps").send_keys("renew the signing certificate\nresend the documents")
    submit(d, "suspend")
    assert _state(d) == "suspended", flashes(d)
    screenshot(d, "partner-suspended")

    d.get(nsw.base + "/console/")
    assert "partners suspended" in d.find_element(By.ID, "tiles").text
    screenshot(d, "dashboard")
    d.get(nsw.base + "/console/partners")
    screenshot(d, "partners")
    d.get(nsw.base + "/console/audit")
    assert "holds" in _text(d, "chain-status")
    screenshot(d, "audit")
    webhook.shutdown()
