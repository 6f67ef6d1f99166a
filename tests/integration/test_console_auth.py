"""The console on a stack with API keys: its page loads without credentials (it holds no data),
every request it makes needs the key, and the key prompt keeps the key for the tab. /metrics is
guarded like the API. No runner: these need the API only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.common.by import By

from infra.local.harness import StackProcess
from tests.conftest import LOG_DIR, TEST_IMAGE
from tests.integration.test_console import SCREENSHOTS, browser, rows, screenshot, until, wait_loaded

__all__ = ["browser"]  # the module's Chromium, shared with test_console.py

KEY = "console-key-1"


@pytest.fixture(scope="module")
def secured() -> Iterator[StackProcess]:
    stack = StackProcess(
        runners=0, log_path=LOG_DIR / "stack-console-auth.log", extra_env={"SLIPWAY_AUTH_API_KEYS": KEY}
    )
    stack.start()
    yield stack
    stack.stop()


def test_metrics_need_the_key(secured: StackProcess) -> None:
    refused = requests.get(f"{secured.base_url}/metrics", timeout=30)
    assert refused.status_code == 401 and refused.json()["error"] == "authentication required"
    answered = requests.get(f"{secured.base_url}/metrics", headers={"X-Api-Key": KEY}, timeout=30)
    assert answered.status_code == 200 and "# TYPE slipway_tasks gauge" in answered.text


def test_the_console_asks_for_the_key_and_then_shows_the_data(secured: StackProcess, browser: webdriver.Chrome) -> None:
    task = "console-secured"
    body = {"image": TEST_IMAGE, "command": "echo hi", "startIn": "1h"}
    enqueued = requests.post(f"{secured.base_url}/tasks/{task}/", json=body, headers={"X-Api-Key": KEY}, timeout=30)
    assert enqueued.status_code == 200, enqueued.text
    page = requests.get(f"{secured.base_url}/ui/", timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")

    browser.get(f"{secured.base_url}/ui/#/tasks")
    # Without a key the API answers 401 and the page asks for one.
    until(browser, lambda d: d.find_element(By.ID, "key-dialog").is_displayed())
    assert "needs a key" in browser.find_element(By.ID, "notice").text
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "error"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    screenshot(browser, "key-prompt")

    browser.find_element(By.ID, "key-input").send_keys(KEY)
    browser.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    wait_loaded(browser, "tasks")
    assert [row.get_attribute("data-task") for row in rows(browser, "tasks")] == [task]
    assert browser.execute_script("return sessionStorage.getItem('slipway.apiKey')") == KEY
    assert not browser.find_element(By.ID, "key-dialog").is_displayed()
    assert browser.find_element(By.ID, "notice").text == ""

    # The key stays for the tab: another page loads with it, no prompt.
    browser.get(f"{secured.base_url}/ui/#/farm")
    wait_loaded(browser, "farm")
    assert browser.find_element(By.ID, "key-state").text == "key set"
