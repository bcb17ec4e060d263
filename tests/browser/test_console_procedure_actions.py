"""In a real browser, the procedure actions the walkthrough does not take, each checked on the page,
in the node's state (`aswnode` CLI) and in its audit chain: withdrawing an announced go-live, activating
a partner under test directly in a node switched to sandbox (refused in production), and adding a case
to the test plan.

The steps before each action are taken with the CLI, as an operator may; screenshots of the states the
actions lead to go to tests/output/screenshots.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from browser_kit import (
    OPERATOR,
    NodeProcess,
    aswnode,
    audit_records,
    flashes,
    log_in,
    screenshot,
    submit,
)
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

ACTOR = f"operator:{OPERATOR}"
PARTNER = "th-nsw"


def _text(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def _state(driver) -> str:
    return _text(driver, "partner-state")


def _dd(driver, term: str) -> str:
    """The value beside `term` in the procedure card (plan, minutes, go-live)."""
    return driver.find_element(
        By.XPATH, f'//section[@id="procedure"]//dt[.="{term}"]/following-sibling::dd[1]'
    ).text


def _latest_transition(driver) -> list[str]:
    """The newest row of the partner's history: when, from, event, to, article, who, why."""
    row = driver.find_elements(By.CSS_SELECTOR, "#history tr")[1]
    return [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]


def _forms(driver) -> set[str]:
    return {f.get_attribute("id") for f in driver.find_elements(By.CSS_SELECTOR, ".actions form")}


def _cli_state(node: NodeProcess) -> str:
    rows = json.loads(aswnode("partners", "list", str(node.directory), "--json").stdout)
    return next(row["state"] for row in rows if row["id"] == PARTNER)


def _audited(node: NodeProcess, action: str, after: int = 0) -> list[dict]:
    """The audit records of `action` on the partner after record number `after`; the chain verifies."""
    aswnode("audit", "verify", str(node.directory))
    return [
        r
        for r in audit_records(node.directory)
        if r["action"] == action and r["subject"] == f"partner:{PARTNER}" and int(r["seq"]) > after
    ]


def _head(node: NodeProcess) -> int:
    return max(int(r["seq"]) for r in audit_records(node.directory))


def _post(driver, path: str, **fields: str) -> None:
    """Post a form the page does not offer (with the session's CSRF token), as a crafted request would."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.execute_script(
        "var f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];"
        "var fields = Object.assign({csrf: document.querySelector('input[name=csrf]').value}, arguments[1]);"
        "for (var k in fields) { var i = document.createElement('input'); i.type = 'hidden';"
        "  i.name = k; i.value = fields[k]; f.appendChild(i); }"
        "document.body.appendChild(f); f.submit();",
        "/console" + path,
        fields,
    )
    WebDriverWait(driver, 60, ignored_exceptions=(WebDriverException,)).until(ec.staleness_of(old))
    WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, "footer")))


def _audit_page_row(driver, base: str, action: str) -> str:
    """The console's audit page filtered on `action`: its newest row (and the chain holds)."""
    driver.get(f"{base}/console/audit?action={action}&subject=partner:{PARTNER}")
    assert "holds" in _text(driver, "chain-status"), _text(driver, "chain-status")
    return driver.find_elements(By.CSS_SELECTOR, "#audit tr")[1].text


def _register(nsw: NodeProcess, partner: NodeProcess) -> None:
    aswnode(
        "partners", "add", str(nsw.directory), "--id", PARTNER, "--party-id", PARTNER,
        "--endpoint", f"{partner.base}/as4", "--cert", str(partner.signing_cert),
    )  # fmt: skip


def _hand_add(nsw: NodeProcess, partner: NodeProcess) -> None:
    """Add the partner to partners.yaml by hand (the registry an operator edits), then check it."""
    path = nsw.directory / "partners.yaml"
    entry = (
        f"partners:\n  - id: {PARTNER}\n    party_id: {PARTNER}\n"
        f"    endpoint: {partner.base}/as4\n    signing_cert: {partner.signing_cert}\n"
    )
    path.write_text(path.read_text().replace("partners: []\n", entry))
    aswnode("partners", "check", str(nsw.directory))


def _plan(nsw: NodeProcess) -> list[str]:
    """Draw up a domestic-only plan with the CLI (the partner enters `testing`); its case ids."""
    plan = json.loads(
        aswnode("conntest", "plan", str(nsw.directory), PARTNER, "--domestic-only", "--as", OPERATOR).stdout
    )
    return [case["id"] for case in plan["cases"]]


def _partner_page(driver, node: NodeProcess) -> None:
    driver.get(f"{node.base}/console/partners/{PARTNER}")
    WebDriverWait(driver, 10).until(ec.presence_of_element_located((By.ID, "partner-state")))


def test_an_operator_withdraws_an_announced_go_live(browser, make_node):
    nsw = make_node("nsw-vn", environment="production")
    partner = make_node(PARTNER, operator=False)  # its directory and certificate; it is not started
    _register(nsw, partner)
    cases = _plan(nsw)
    d = str(nsw.directory)
    aswnode(
        "conntest", "record", d, PARTNER, *cases, "--passed", "--detail", "seen by hand", "--as", OPERATOR
    )
    aswnode("conntest", "minutes", d, PARTNER, "--as", OPERATOR)
    for role in ("operator", "ministry", "provider"):
        aswnode("conntest", "confirm", d, PARTNER, "--role", role, "--name", f"the {role}", "--as", OPERATOR)
    at = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    aswnode("golive", d, PARTNER, "--at", at.isoformat(), "--as", OPERATOR)
    assert _cli_state(nsw) == "scheduled"
    nsw.start()
    head = _head(nsw)

    log_in(browser, nsw.base)
    _partner_page(browser, nsw)
    assert _state(browser) == "scheduled"
    assert "scheduled" in _dd(browser, "go-live")
    assert "form-withdraw" in _forms(browser) and "form-golive" not in _forms(browser)
    assert "form-activate-sandbox" not in _forms(browser)  # a production node
    screenshot(browser, "partner-scheduled")

    reason = "the partner's certificate is to be renewed first"
    browser.find_element(By.ID, "withdraw-reason").send_keys(reason)
    submit(browser, "withdraw")
    assert "Go-live announcement withdrawn." in flashes(browser), flashes(browser)
    assert _state(browser) == "tested"
    assert "withdrawn" in _dd(browser, "go-live") and "scheduled" not in _dd(browser, "go-live")
    assert "form-golive" in _forms(browser) and "form-withdraw" not in _forms(browser)
    _, source, event, target, _, who, why = _latest_transition(browser)
    assert (source, event, target, who, why) == ("scheduled", "withdraw", "tested", ACTOR, reason)
    screenshot(browser, "partner-golive-withdrawn")

    assert _cli_state(nsw) == "tested"
    [record] = _audited(nsw, "partner.withdraw", after=head)
    assert (record["actor"], record["form"], record["status"]) == (ACTOR, "console", "ok")
    assert record["detail"]["from"] == "scheduled" and record["detail"]["to"] == "tested"
    assert record["detail"]["reason"] == reason
    assert ACTOR in _audit_page_row(browser, nsw.base, "partner.withdraw")
    # The public status page no longer announces the go-live.
    browser.get(f"{nsw.base}/api/v1/status")
    status = json.loads(browser.find_element(By.TAG_NAME, "body").text)
    assert [a for a in status["announcements"] if a["partner_id"] == PARTNER] == [], status

    # A production node refuses the sandbox shortcut even when the form is crafted: one line, audited.
    _partner_page(browser, nsw)
    head = _head(nsw)
    _post(browser, f"/partners/{PARTNER}/activate-sandbox", reason="hurry")
    assert "in production" in flashes(browser) and "flash-error" in browser.page_source, flashes(browser)
    assert _state(browser) == "tested" and _cli_state(nsw) == "tested"
    [refused] = _audited(nsw, "console.activate-sandbox", after=head)
    assert (refused["actor"], refused["status"]) == (ACTOR, "refused")
    assert _audited(nsw, "partner.activate_sandbox") == []


def _switch_to_sandbox(node: NodeProcess) -> None:
    """Stop the node and turn its node.yaml `environment` to sandbox (a test bed reused for trials)."""
    node.stop()
    path = node.directory / "node.yaml"
    text = path.read_text()
    assert "environment: production\n" in text, text
    path.write_text(text.replace("environment: production\n", "environment: sandbox\n"))


def test_a_sandbox_operator_activates_a_partner_under_test(browser, make_node):
    """A node switched from production to sandbox keeps its partners mid-procedure; there the
    operator may activate one directly (a hand-added sandbox partner is active already)."""
    nsw = make_node("nsw-vn", environment="production")
    partner = make_node(PARTNER, operator=False)
    _register(nsw, partner)
    _plan(nsw)  # in production the partner goes through the procedure: it is testing now
    assert _cli_state(nsw) == "testing"
    _switch_to_sandbox(nsw)
    assert _cli_state(nsw) == "testing"
    nsw.start()
    head = _head(nsw)

    log_in(browser, nsw.base)
    _partner_page(browser, nsw)
    assert _state(browser) == "testing"
    assert "form-activate-sandbox" in _forms(browser)
    submit(browser, "activate-sandbox")
    assert "Active (sandbox)." in flashes(browser), flashes(browser)
    assert _state(browser) == "active"
    assert "form-activate-sandbox" not in _forms(browser) and "form-suspend" in _forms(browser)
    _, source, event, target, article, who, why = _latest_transition(browser)
    assert (source, event, target, who) == ("testing", "activate_sandbox", "active", ACTOR)
    assert why == "sandbox activation from the console" and "development shortcut" in article
    screenshot(browser, "partner-sandbox-activated")

    assert _cli_state(nsw) == "active"
    [record] = _audited(nsw, "partner.activate_sandbox", after=head)
    assert (record["actor"], record["form"], record["status"]) == (ACTOR, "console", "ok")
    assert record["detail"]["from"] == "testing" and record["detail"]["to"] == "active"
    assert ACTOR in _audit_page_row(browser, nsw.base, "partner.activate_sandbox")
    browser.get(f"{nsw.base}/console/partners")
    assert browser.find_element(By.CSS_SELECTOR, f'[data-partner-state="{PARTNER}"]').text == "active"


def test_opening_a_hand_added_sandbox_partner_changes_nothing(browser, make_node):
    """A sandbox partner with no lifecycle row yet is active (the CLI and the exchange gate say so):
    the console shows it so, and reading its page writes no other state."""
    nsw = make_node("nsw-vn", environment="sandbox")
    partner = make_node(PARTNER, operator=False)
    _hand_add(nsw, partner)
    assert _cli_state(nsw) == "active"
    nsw.start()

    log_in(browser, nsw.base)
    browser.get(f"{nsw.base}/console/partners")
    assert browser.find_element(By.CSS_SELECTOR, f'[data-partner-state="{PARTNER}"]').text == "active"
    _partner_page(browser, nsw)
    assert _state(browser) == "active"
    assert "form-activate-sandbox" not in _forms(browser)
    assert _cli_state(nsw) == "active"
    assert [r for r in audit_records(nsw.directory) if r["subject"] == f"partner:{PARTNER}"] == []


def test_an_operator_adds_a_case_to_the_test_plan(browser, make_node):
    nsw = make_node("nsw-vn", environment="production")
    partner = make_node(PARTNER, operator=False)
    _register(nsw, partner)
    cases = _plan(nsw)
    nsw.start()
    head = _head(nsw)

    log_in(browser, nsw.base)
    _partner_page(browser, nsw)
    assert _state(browser) == "testing"
    assert _dd(browser, "test plan").startswith(f"{len(cases)} cases")
    browser.find_element(By.ID, "case-id").send_keys("M-1")
    Select(browser.find_element(By.ID, "case-step")).select_by_value("domestic")
    browser.find_element(By.ID, "case-purpose").send_keys("Customs reads the e-C/O in VNACCS")
    browser.find_element(By.ID, "case-steps").send_keys("Submit the sample e-C/O\nOpen it in VNACCS")
    browser.find_element(By.ID, "case-expected").send_keys("VNACCS shows the certificate")
    submit(browser, "add-case")
    assert "Case M-1 added to the plan." in flashes(browser), flashes(browser)
    assert _state(browser) == "testing"
    assert _dd(browser, "test plan").startswith(f"{len(cases) + 1} cases")
    row = browser.find_element(By.CSS_SELECTOR, '#cases tr[data-case="M-1"]').text
    assert "domestic" in row and "Customs reads the e-C/O in VNACCS" in row and "not run" in row
    options = Select(browser.find_element(By.ID, "record-case")).options
    assert "M-1" in [o.get_attribute("value") for o in options]

    browser.find_element(By.ID, "plan-link").click()
    WebDriverWait(browser, 10).until(ec.title_contains("Test plan"))
    plan_row = browser.find_element(By.XPATH, '//td[.="M-1"]/parent::tr')
    assert [li.text for li in plan_row.find_elements(By.TAG_NAME, "li")] == [
        "Submit the sample e-C/O",
        "Open it in VNACCS",
    ]
    digest = browser.find_element(By.XPATH, '//dt[.="digest"]/following-sibling::dd[1]').text
    screenshot(browser, "test-plan-case-added")

    shown = json.loads(aswnode("conntest", "plan", str(nsw.directory), PARTNER, "--show").stdout)
    assert [c["id"] for c in shown["cases"]] == [*cases, "M-1"]
    assert shown["cases"][-1]["steps"] == ["Submit the sample e-C/O", "Open it in VNACCS"]
    [record] = _audited(nsw, "conntest.plan", after=head)
    assert (record["actor"], record["form"], record["status"]) == (ACTOR, "console", "ok")
    assert record["detail"]["cases"] == [*cases, "M-1"] and record["detail"]["plan_digest"] == digest

    # Its result is recorded by hand, and the same id cannot be added twice.
    _partner_page(browser, nsw)
    Select(browser.find_element(By.ID, "record-case")).select_by_value("M-1")
    browser.find_element(By.ID, "record-detail").send_keys("seen in VNACCS")
    submit(browser, "record")
    assert "Result of case M-1 recorded." in flashes(browser), flashes(browser)
    assert "passed" in browser.find_element(By.CSS_SELECTOR, '#cases tr[data-case="M-1"]').text
    head = _head(nsw)
    browser.find_element(By.ID, "case-id").send_keys("M-1")
    browser.find_element(By.ID, "case-purpose").send_keys("again")
    browser.find_element(By.ID, "case-expected").send_keys("refused")
    submit(browser, "add-case")
    assert "unique" in flashes(browser) and "flash-error" in browser.page_source, flashes(browser)
    assert _dd(browser, "test plan").startswith(f"{len(cases) + 1} cases")
    [refused] = _audited(nsw, "console.add-case", after=head)
    assert (refused["actor"], refused["status"]) == (ACTOR, "refused")
    assert _audited(nsw, "conntest.plan", after=head) == []


def test_adding_a_case_keeps_the_results_already_recorded(browser, make_node):
    nsw = make_node("nsw-vn", environment="production")
    partner = make_node(PARTNER, operator=False)
    _register(nsw, partner)
    cases = _plan(nsw)
    aswnode("conntest", "record", str(nsw.directory), PARTNER, cases[0], "--passed", "--as", OPERATOR)
    nsw.start()

    log_in(browser, nsw.base)
    _partner_page(browser, nsw)
    assert "passed" in browser.find_element(By.CSS_SELECTOR, f'#cases tr[data-case="{cases[0]}"]').text
    browser.find_element(By.ID, "case-id").send_keys("M-1")
    browser.find_element(By.ID, "case-purpose").send_keys("Customs reads the e-C/O in VNACCS")
    browser.find_element(By.ID, "case-expected").send_keys("VNACCS shows the certificate")
    submit(browser, "add-case")
    assert "Case M-1 added to the plan." in flashes(browser), flashes(browser)
    assert "passed" in browser.find_element(By.CSS_SELECTOR, f'#cases tr[data-case="{cases[0]}"]').text
