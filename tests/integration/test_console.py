"""The web console (/ui/) in real headless Chromium against the real local stack: every page
loads with real data, a running job's lines appear live, the buttons do what they say.

Each page's screenshot is written to .local/test-logs/screenshots/ for review.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.conftest import LOG_DIR, TEST_IMAGE, Api
from tests.integration.stored_runs import store_finished_runs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = LOG_DIR / "screenshots"
FINISHED = {"done", "failed", "timedout", "stopped", "expired"}


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    assert CHROMIUM and CHROMEDRIVER, "Debian's chromium and chromedriver are needed for the page tests"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1280,1000")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def open_page(browser: webdriver.Chrome, api: Api, hash_path: str, view: str) -> None:
    """Open the console at ``#hash_path`` and wait until that page has rendered its data."""
    browser.get(f"{api.base_url}/ui/#{hash_path}")
    wait_loaded(browser, view)


def wait_loaded(browser: webdriver.Chrome, view: str, timeout: float = 20) -> None:
    def rendered(d: webdriver.Chrome) -> bool:
        body = d.find_element(By.TAG_NAME, "body")
        assert body.get_attribute("data-loaded") != "error", d.find_element(By.ID, "view").text
        return body.get_attribute("data-view") == view and body.get_attribute("data-loaded") == "true"

    WebDriverWait(browser, timeout).until(rendered)


def screenshot(browser: webdriver.Chrome, name: str) -> None:
    browser.save_screenshot(str(SCREENSHOTS / f"console-{name}.png"))


def until(browser: webdriver.Chrome, check: Callable[[webdriver.Chrome], Any], timeout: float = 30) -> Any:
    # Pages that refresh themselves replace their elements: one read mid-refresh is tried again.
    wait = WebDriverWait(browser, timeout, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException])
    return wait.until(check)


def row_texts(browser: webdriver.Chrome, table_id: str) -> list[list[str]]:
    """The cells' texts of a table's data rows, read in one go (a refresh cannot split it)."""
    script = (
        "return Array.from(document.querySelectorAll(arguments[0])).map("
        "r => Array.from(r.querySelectorAll('td')).map(td => td.innerText))"
    )
    return browser.execute_script(script, f"#{table_id} tbody tr[data-{_row_key(table_id)}]")


def rows(browser: webdriver.Chrome, table_id: str) -> list[WebElement]:
    return browser.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr[data-{_row_key(table_id)}]")


def _row_key(table_id: str) -> str:
    return {"tasks": "task", "jobs": "job", "executions": "execution", "hosts": "host", "running": "execution"}[
        table_id
    ]


def running_ids(browser: webdriver.Chrome) -> list[str]:
    return [cells[0] for cells in row_texts(browser, "running")]


def log_lines(browser: webdriver.Chrome) -> list[str]:
    return [span.text for span in browser.find_elements(By.CSS_SELECTOR, "#log .line")]


def job_hash(enqueued: dict[str, Any]) -> str:
    return f"/tasks/{enqueued['taskId']}/jobs/{enqueued['jobId']}"


def executions_of(api: Api, enqueued: dict[str, Any]) -> list[dict[str, Any]]:
    return api.get(f"{job_hash(enqueued)}/").json()["job"]["executions"]


def test_the_page_is_self_contained_html(api: Api) -> None:
    response = api.get("/ui/")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    page = response.text
    assert "<script>" in page and "/*JS*/" not in page and "/*CSS*/" not in page
    # Nothing is fetched from elsewhere: no external script, style sheet or font.
    assert "src=" not in page and "<link" not in page and "http://" not in page.replace("http://www.w3.org", "")


def test_tasks_list_search_and_a_tasks_jobs(api: Api, browser: webdriver.Chrome, task_id: str) -> None:
    enqueued = api.enqueue(task_id, "echo listed")
    api.wait_finished(enqueued["executionUrl"])
    word = task_id.rsplit("-", 1)[1]  # the unique number at the end of the id

    open_page(browser, api, "/tasks", "tasks")
    assert rows(browser, "tasks"), "the tasks list shows the stored tasks"
    screenshot(browser, "tasks")
    # Search by a whole word of the id, through the search box.
    search = browser.find_element(By.ID, "task-search")
    search.send_keys(word)
    browser.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]").click()
    until(browser, lambda d: [r.get_attribute("data-task") for r in rows(d, "tasks")] == [task_id])
    wait_loaded(browser, "tasks")
    assert "page 1 of 1 · 1 in all" in browser.find_element(By.ID, "page-info").text
    screenshot(browser, "tasks-search")

    # The task's page lists its job with its image, command and last status.
    browser.find_element(By.LINK_TEXT, task_id).click()
    wait_loaded(browser, "task")
    (cells,) = row_texts(browser, "jobs")
    assert cells[:5] == [enqueued["jobId"], TEST_IMAGE, "echo listed", "", "done"]
    screenshot(browser, "task")


def test_the_job_page_shows_executions_chart_and_filter_and_retry_adds_an_execution(
    api: Api, browser: webdriver.Chrome, task_id: str
) -> None:
    enqueued = api.enqueue(task_id, "sh -c 'echo out; exit 3'", retries=1)
    until(browser, lambda _: len(executions_of(api, enqueued)) == 2, timeout=60)
    for execution in executions_of(api, enqueued):
        api.wait_finished(execution["url"])

    open_page(browser, api, job_hash(enqueued), "job")
    until(browser, lambda d: len(rows(d, "executions")) == 2)
    cells = row_texts(browser, "executions")[0]
    stored = executions_of(api, enqueued)[0]
    port = stored["metadata"]["docker_port"]
    host = stored["metadata"]["docker_host"] + (f":{port}" if port else "")
    assert (cells[0], cells[1], cells[4], cells[5]) == (stored["executionId"], "failed", "3", host)
    assert cells[3].endswith(" s"), "the duration is shown"
    # The chart has one bar per execution, coloured by outcome.
    bars = browser.find_elements(By.CSS_SELECTOR, "#duration-chart rect")
    assert [bar.get_attribute("data-status") for bar in bars] == ["failed", "failed"]
    assert browser.find_element(By.ID, "next-runs-none").text == "none scheduled"
    screenshot(browser, "job")

    # Retry: a new execution appears on the page, and it is a real one (it fails like the
    # others, and has its own retry: four in all).
    browser.find_element(By.ID, "retry-button").click()
    notice = until(browser, lambda d: "Retry enqueued" in d.find_element(By.ID, "notice").text and d)
    retried = notice.find_element(By.ID, "notice").text.rsplit(" ", 1)[1]
    until(browser, lambda d: retried in [r.get_attribute("data-execution") for r in rows(d, "executions")])
    stored = {e["executionId"]: e for e in executions_of(api, enqueued)}
    assert stored[retried]["retryOf"] is None and api.wait_finished(stored[retried]["url"])["status"] == "failed"
    until(browser, lambda _: len(executions_of(api, enqueued)) == 4, timeout=30)
    for execution in executions_of(api, enqueued):
        api.wait_finished(execution["url"])

    # Filter by status: only the matching rows stay.
    until(browser, lambda d: len(rows(d, "executions")) == 4)
    until(browser, lambda d: all(r.get_attribute("data-status") in FINISHED for r in rows(d, "executions")))
    Select(browser.find_element(By.ID, "status-filter")).select_by_value("done")
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#executions td.muted"))
    assert rows(browser, "executions") == []
    Select(browser.find_element(By.ID, "status-filter")).select_by_value("failed")
    until(browser, lambda d: len(rows(d, "executions")) == 4)
    screenshot(browser, "job-filtered")


def test_the_job_pages_chart_covers_the_jobs_history_beyond_one_page_and_keeps_refreshing(
    api: Api, browser: webdriver.Chrome, task_id: str
) -> None:
    # More runs than the chart's 200 (stored as a runner leaves them): the table shows a page of
    # 20, the chart the newest 200, oldest first, coloured by outcome.
    job_id, runs = store_finished_runs(task_id, 205)
    newest = runs[-200:]
    shown = f"/tasks/{task_id}/jobs/{job_id}"
    path = SCREENSHOTS / "console-job-history.png"
    path.unlink(missing_ok=True)

    open_page(browser, api, shown, "job")
    until(browser, lambda d: len(row_texts(d, "executions")) == 20)
    # Read in one go: the page refreshes itself every 3 s, replacing the chart.
    bars = browser.execute_script(
        "return Array.from(document.querySelectorAll('#duration-chart rect'))"
        ".map(r => [r.getAttribute('data-status'), r.querySelector('title').textContent])"
    )
    assert len(bars) == 200  # ten pages of the table, which shows 20
    assert [status for status, _ in bars] == [run.status for run in newest]
    assert bars[0][1].startswith(newest[0].execution_id) and bars[-1][1].startswith(newest[-1].execution_id)
    coverage = until(browser, lambda d: d.find_element(By.ID, "chart-coverage").text)
    assert coverage.startswith("the newest 200 of 205 runs · p50 "), coverage
    assert "205 in all" in until(browser, lambda d: d.find_element(By.ID, "page-info").text)
    screenshot(browser, "job-history")
    assert path.stat().st_size > 0, "the screenshot of the job page is written"

    # It keeps refreshing: a new run joins the chart (its newest bar) without a reload.
    retried = api.post(f"{shown}/retry/").json()
    assert api.wait_finished(retried["executionUrl"])["status"] == "done"
    newest_bar = "return document.querySelector('#duration-chart rect:last-of-type title').textContent"
    until(browser, lambda d: d.execute_script(newest_bar).startswith(retried["executionId"] + ": done"))
    until(browser, lambda d: "the newest 200 of 206 runs" in d.find_element(By.ID, "chart-coverage").text)
    assert browser.execute_script("return document.querySelectorAll('#duration-chart rect').length") == 200


def test_a_cron_jobs_next_runs_and_the_stop_button_cancels_it(
    api: Api, browser: webdriver.Chrome, task_id: str
) -> None:
    enqueued = api.enqueue(task_id, "echo tick", cron="0 3 * * *", timezone="Europe/Berlin")
    details = api.get(f"{job_hash(enqueued)}/").json()["job"]
    assert len(details["nextRuns"]) == 5 and details["nextRuns"][0] == details["nextRunAt"]

    open_page(browser, api, job_hash(enqueued), "job")
    shown = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#next-runs li")]
    assert shown == [iso.replace("T", " ").split(".")[0] + " UTC" for iso in details["nextRuns"]]
    assert "0 3 * * * (Europe/Berlin)" in browser.find_element(By.ID, "job-facts").text
    assert browser.find_element(By.ID, "suspend-button").is_displayed()
    screenshot(browser, "job-cron")

    browser.find_element(By.ID, "stop-button").click()
    until(browser, lambda d: "Stop requested" in d.find_element(By.ID, "notice").text)
    job = api.wait_for(f"{job_hash(enqueued)}/", lambda b: not b["job"]["scheduled"], timeout=10)["job"]
    assert job["nextRuns"] == [] and job["nextRunAt"] is None
    until(browser, lambda d: "not scheduled (stopped)" in d.find_element(By.ID, "job-facts").text)
    assert browser.find_elements(By.CSS_SELECTOR, "#next-runs li") == []


def test_the_execution_page_follows_a_running_job_live(api: Api, browser: webdriver.Chrome, task_id: str) -> None:
    command = "bash -c 'sleep 1; for i in $(seq 1 60); do echo tick-$i; echo warn-$i >&2; sleep 0.2; done'"
    enqueued = api.enqueue(task_id, command)
    api.wait_for(enqueued["executionUrl"], lambda b: b["execution"]["status"] == "running", timeout=60)

    open_page(browser, api, f"{job_hash(enqueued)}/executions/{enqueued['executionId']}", "execution")
    until(browser, lambda d: "tick-3" in log_lines(d))
    assert api.get(enqueued["executionUrl"]).json()["execution"]["status"] == "running", (
        "lines must show while the container still runs"
    )
    until(browser, lambda d: d.find_element(By.ID, "execution-status").get_attribute("data-status") == "running")
    stderr = browser.find_elements(By.CSS_SELECTOR, "#log .stderr")
    assert stderr and stderr[0].text == "warn-1"
    assert stderr[0].value_of_css_property("color") != browser.find_element(
        By.CSS_SELECTOR, "#log .stdout"
    ).value_of_css_property("color")
    screenshot(browser, "execution-live")

    # Following: the log is scrolled to its end as lines come...
    log = browser.find_element(By.ID, "log")
    until(browser, lambda d: d.execute_script("return arguments[0].scrollHeight > arguments[0].clientHeight", log))
    at_end = "return arguments[0].scrollTop + arguments[0].clientHeight >= arguments[0].scrollHeight - 4"
    until(browser, lambda d: d.execute_script(at_end, log))
    # ...until the user scrolls up: then it stays where the user is while lines keep coming.
    browser.execute_script("arguments[0].scrollTop = 0", log)
    until(browser, lambda d: log.get_attribute("data-autoscroll") == "off")
    count = len(log_lines(browser))
    until(browser, lambda d: len(log_lines(d)) > count + 4)
    assert browser.execute_script("return arguments[0].scrollTop", log) == 0
    assert "paused" in browser.find_element(By.ID, "follow-state").text
    # Back at the end, it follows again.
    browser.execute_script("arguments[0].scrollTop = arguments[0].scrollHeight", log)
    until(browser, lambda d: log.get_attribute("data-autoscroll") == "on")

    until(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-finished") == "true", timeout=40)
    lines = log_lines(browser)
    assert [line for line in lines if line.startswith("tick-")] == [f"tick-{i}" for i in range(1, 61)]
    assert browser.find_element(By.ID, "execution-status").get_attribute("data-status") == "done"
    assert browser.find_element(By.ID, "exit-code").text == "0"
    download = browser.find_element(By.ID, "download-log").get_attribute("href")
    assert download.endswith(f"/executions/{enqueued['executionId']}/logs/")
    assert api.get(download).text.startswith("tick-1\n")
    screenshot(browser, "execution-done")


def test_the_stop_button_ends_the_execution_stopped(api: Api, browser: webdriver.Chrome, task_id: str) -> None:
    enqueued = api.enqueue(task_id, "sleep 60")
    api.wait_for(enqueued["executionUrl"], lambda b: b["execution"]["status"] == "running", timeout=60)

    open_page(browser, api, f"{job_hash(enqueued)}/executions/{enqueued['executionId']}", "execution")
    browser.find_element(By.ID, "stop-execution").click()

    assert api.wait_finished(enqueued["executionUrl"], timeout=20)["status"] == "stopped"
    until(browser, lambda d: d.find_element(By.ID, "execution-status").get_attribute("data-status") == "stopped")
    assert browser.find_element(By.ID, "stop-execution").get_attribute("disabled") is not None


def test_the_farm_page_shows_the_runner_and_its_running_container(
    api: Api, browser: webdriver.Chrome, task_id: str
) -> None:
    enqueued = api.enqueue(task_id, "sleep 30")
    api.wait_for(enqueued["executionUrl"], lambda b: b["execution"]["status"] == "running", timeout=60)
    status = api.get("/status/").json()
    (host,) = [h for h in status["hosts"] if h["alive"]]

    open_page(browser, api, "/farm", "farm")
    (cells,) = row_texts(browser, "hosts")
    assert (cells[0], cells[1], cells[2], cells[5]) == (host["id"], host["pool"], "yes", "closed")
    until(browser, lambda d: enqueued["executionId"] in running_ids(d))
    assert "jobs (default)" in browser.find_element(By.ID, "queues").text
    screenshot(browser, "farm")
    # It refreshes itself: the stopped container leaves the page without a reload.
    refreshes = int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-refreshes"))
    api.post(f"{enqueued['executionUrl']}stop/")
    until(browser, lambda d: enqueued["executionId"] not in running_ids(d))
    assert int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-refreshes")) > refreshes


def test_suspend_and_resume_buttons_of_a_cron_job(api: Api, browser: webdriver.Chrome, task_id: str) -> None:
    enqueued = api.enqueue(task_id, "echo tick", cron="0 3 * * *")
    open_page(browser, api, job_hash(enqueued), "job")

    browser.find_element(By.ID, "suspend-button").click()
    until(browser, lambda d: d.find_element(By.ID, "notice").text == "Cron suspended")
    api.wait_for(f"{job_hash(enqueued)}/", lambda b: b["job"]["nextRuns"] == [], timeout=10)
    browser.find_element(By.ID, "resume-button").click()
    until(browser, lambda d: d.find_element(By.ID, "notice").text == "Cron resumed")
    api.wait_for(f"{job_hash(enqueued)}/", lambda b: len(b["job"]["nextRuns"]) == 5, timeout=10)
    api.post(f"{job_hash(enqueued)}/stop/")


def test_run_now_with_overrides(api: Api, browser: webdriver.Chrome, task_id: str) -> None:
    enqueued = api.enqueue(task_id, "echo plain")
    api.wait_finished(enqueued["executionUrl"])
    open_page(browser, api, job_hash(enqueued), "job")

    browser.find_element(By.ID, "override-env").send_keys("GREETING=overridden")
    browser.find_element(By.ID, "override-command").send_keys("sh -c 'echo $GREETING'")
    browser.find_element(By.ID, "run-button").click()
    until(browser, lambda d: "Run enqueued" in d.find_element(By.ID, "notice").text)
    until(browser, lambda _: len(executions_of(api, enqueued)) == 2)
    newest = executions_of(api, enqueued)[0]
    finished = api.wait_finished(newest["url"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and finished["log"] != "overridden\n":
        finished = api.get(newest["url"]).json()["execution"]
    assert finished["log"] == "overridden\n"
