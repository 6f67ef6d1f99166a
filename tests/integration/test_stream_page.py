"""The /stream/ pages in real headless Chromium: the log of a running job shows up live."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import Api

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    assert CHROMIUM and CHROMEDRIVER, "Debian's chromium and chromedriver are needed for the page tests"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def shown_lines(driver: webdriver.Chrome) -> list[str]:
    return [span.text for span in driver.find_elements(By.CSS_SELECTOR, "#log .line")]


def test_job_stream_page_shows_a_running_jobs_lines(api: Api, browser: webdriver.Chrome, task_id: str) -> None:
    enqueued = api.enqueue(task_id, "sh -c 'for i in 1 2 3 4 5 6 7 8; do echo tick-$i; sleep 0.5; done'")
    api.wait_for(enqueued["executionUrl"], lambda b: b["execution"]["status"] == "running", timeout=60)
    job = f"/tasks/{enqueued['taskId']}/jobs/{enqueued['jobId']}"
    browser.get(api.base_url + job + "/stream/")
    # Lines show while the job still runs...
    WebDriverWait(browser, 20).until(lambda d: "tick-1" in shown_lines(d))
    status = api.get(enqueued["executionUrl"]).json()["execution"]["status"]
    assert status == "running", "the first line should be on the page before the job ends"
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "status").text == "running")
    # A dropped connection (any close reason but done): the page reconnects, the backlog comes
    # again, and the sequence numbers keep every line shown once.
    browser.execute_script("window.slipwayStream.socket.close(4000, 'dropped by the test')")
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return window.slipwayStream.connects") == 2)
    # ...then all of them once, and the final status.
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-finished"))
    assert shown_lines(browser) == [f"tick-{i}" for i in range(1, 9)]
    assert browser.find_element(By.ID, "status").text.startswith("done")


def test_execution_stream_page_of_a_finished_execution(api: Api, browser: webdriver.Chrome, task_id: str) -> None:
    enqueued = api.enqueue(task_id, "sh -c 'echo first; echo second >&2; exit 2'")
    api.wait_finished(enqueued["executionUrl"])
    path = f"/tasks/{enqueued['taskId']}/jobs/{enqueued['jobId']}/stream/executions/{enqueued['executionId']}/"
    response = api.get(path)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    browser.get(api.base_url + path)
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-finished"))
    time.sleep(0.2)
    assert shown_lines(browser) == ["first", "second"]
    assert browser.find_element(By.CSS_SELECTOR, "#log .stderr").text == "second"
    assert browser.find_element(By.ID, "status").text == "failed (exit code 2)"


def test_stream_page_of_an_unknown_job_is_404(api: Api, task_id: str) -> None:
    response = api.get(f"/tasks/{task_id}/jobs/nope/stream/")
    assert response.status_code == 404
    assert "error" in response.json()
