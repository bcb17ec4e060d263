"""In a real browser: a visitor without a login, or with a ministry's credential, does not get in."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from browser_kit import OPERATOR, PASSWORD, aswnode, json_line, screenshot
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = [pytest.mark.browser]


def _login(driver, base: str, operator: str, password: str) -> None:
    driver.get(base + "/console/login")
    driver.find_element(By.ID, "login-id").send_keys(operator)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()


def test_an_unauthenticated_visitor_lands_on_the_login_page(browser, make_node):
    node = make_node("nsw-vn")
    node.start()
    for page in ("/console", "/console/partners", "/console/messages", "/console/audit"):
        browser.get(node.base + page)
        WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "login-password")))
        assert "/console/login" in browser.current_url
        assert "Partners" not in browser.find_element(By.TAG_NAME, "body").text.split("Operator login")[0]
    screenshot(browser, "login")


def test_a_ministry_credential_does_not_open_the_console(browser, make_node):
    node = make_node("nsw-vn")
    ministry = json_line(
        aswnode("ministries", "add", str(node.directory), "--id", "moit", "--documents", "eco").stdout
    )
    token = next(str(v) for k, v in ministry.items() if "token" in k)
    node.start()
    _login(browser, node.base, "moit", token)
    alert = WebDriverWait(browser, 10).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".flash-error"))
    )
    assert "Wrong operator id or password" in alert.text
    request = urllib.request.Request(
        node.base + "/console/partners", headers={"Authorization": f"Bearer {token}"}
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.build_opener(NoRedirect).open(request, timeout=10)
    assert refused.value.code in (302, 303, 401, 403)
    _login(browser, node.base, OPERATOR, PASSWORD)
    WebDriverWait(browser, 10).until(ec.title_contains("Dashboard"))


def test_a_form_posted_without_its_csrf_token_is_refused(browser, make_node):
    node = make_node("nsw-vn")
    node.start()
    _login(browser, node.base, OPERATOR, PASSWORD)
    WebDriverWait(browser, 10).until(ec.title_contains("Dashboard"))
    browser.execute_script(
        "var f = document.querySelector('form.logout');"
        "f.querySelector('input[name=csrf]').remove(); f.submit();"
    )
    WebDriverWait(browser, 10).until(ec.title_contains("Refused"))
    assert "CSRF" in browser.find_element(By.TAG_NAME, "body").text
    browser.get(node.base + "/console/")
    WebDriverWait(browser, 10).until(ec.title_contains("Dashboard"))  # still logged in
