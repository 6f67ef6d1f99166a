"""On the shared stack (auth and CORS off, the defaults): no credentials needed, idempotent
enqueue with Idempotency-Key, gzip of large answers, and the caller's address as requestIP."""

from __future__ import annotations

import gzip
import threading
import uuid

import requests

from tests.conftest import TEST_IMAGE, Api


def _body(command: str = "echo once") -> dict[str, object]:
    return {"image": TEST_IMAGE, "command": command}


def _jobs_of(api: Api, task_id: str) -> list[dict[str, str]]:
    response = api.get(f"/tasks/{task_id}/")
    assert response.status_code == 200, response.text
    return response.json()["jobs"]


def test_auth_is_off_by_default(api: Api, task_id: str):
    enqueued = requests.post(f"{api.base_url}/tasks/{task_id}/", json=_body(), timeout=30)

    assert enqueued.status_code == 200
    assert "WWW-Authenticate" not in enqueued.headers
    assert requests.get(f"{api.base_url}/tasks/", timeout=30).status_code == 200
    assert (
        "Access-Control-Allow-Origin"
        not in requests.get(f"{api.base_url}/tasks/", headers={"Origin": "https://x.example"}, timeout=30).headers
    )


def test_a_repeated_idempotency_key_answers_the_first_response_and_creates_one_job(api: Api, task_id: str):
    key = str(uuid.uuid4())

    first = api.post(f"/tasks/{task_id}/", json=_body(), headers={"Idempotency-Key": key})
    again = api.post(f"/tasks/{task_id}/", json=_body(), headers={"Idempotency-Key": key})

    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.headers["Idempotent-Replayed"] == "false"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert [job["id"] for job in _jobs_of(api, task_id)] == [first.json()["jobId"]]
    job = api.get(first.json()["jobUrl"] + "/").json()["job"]
    assert job["executionCount"] == 1
    assert api.wait_finished(first.json()["executionUrl"])["status"] == "done"


def test_another_key_or_no_key_makes_a_new_job(api: Api, task_id: str):
    first = api.post(f"/tasks/{task_id}/", json=_body(), headers={"Idempotency-Key": "key-a"})
    other = api.post(f"/tasks/{task_id}/", json=_body(), headers={"Idempotency-Key": "key-b"})
    plain = api.post(f"/tasks/{task_id}/", json=_body())

    ids = {first.json()["jobId"], other.json()["jobId"], plain.json()["jobId"]}
    assert len(ids) == 3
    assert {job["id"] for job in _jobs_of(api, task_id)} == ids
    assert "Idempotent-Replayed" not in plain.headers


def test_the_same_key_on_another_task_is_another_request(api: Api, task_id: str):
    first = api.post(f"/tasks/{task_id}/", json=_body(), headers={"Idempotency-Key": "shared"})
    second = api.post(f"/tasks/{task_id}-b/", json=_body(), headers={"Idempotency-Key": "shared"})

    assert first.status_code == second.status_code == 200
    assert first.json()["jobId"] != second.json()["jobId"]
    assert second.headers["Idempotent-Replayed"] == "false"


def test_the_same_key_with_another_body_is_422_and_creates_nothing(api: Api, task_id: str):
    first = api.post(f"/tasks/{task_id}/", json=_body(), headers={"Idempotency-Key": "k1"})
    changed = api.post(f"/tasks/{task_id}/", json=_body("echo other"), headers={"Idempotency-Key": "k1"})

    assert first.status_code == 200
    assert changed.status_code == 422, changed.text
    assert changed.json()["field"] == "Idempotency-Key"
    assert "different body" in changed.json()["error"]
    assert len(_jobs_of(api, task_id)) == 1


def test_a_refused_body_does_not_use_up_the_key(api: Api, task_id: str):
    bad = api.post(f"/tasks/{task_id}/", json={"image": TEST_IMAGE}, headers={"Idempotency-Key": "k2"})
    good = api.post(f"/tasks/{task_id}/", json=_body(), headers={"Idempotency-Key": "k2"})

    assert bad.status_code == 400
    assert bad.json()["field"] == "command"
    assert good.status_code == 200
    assert good.headers["Idempotent-Replayed"] == "false"


def test_concurrent_requests_with_one_key_create_one_job(api: Api, task_id: str):
    key = str(uuid.uuid4())
    answers: list[requests.Response] = []

    def post() -> None:
        answers.append(
            requests.post(f"{api.base_url}/tasks/{task_id}/", json=_body(), headers={"Idempotency-Key": key})
        )

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    # Each one either got the job or was told to retry (409 while the first was in progress).
    assert {answer.status_code for answer in answers} <= {200, 409}, [a.text for a in answers]
    assert {answer.json()["jobId"] for answer in answers if answer.status_code == 200} == {
        _jobs_of(api, task_id)[0]["id"]
    }
    assert len(_jobs_of(api, task_id)) == 1
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["field"] == "Idempotency-Key"


def test_a_malformed_key_is_400(api: Api, task_id: str):
    response = api.post(f"/tasks/{task_id}/", json=_body(), headers={"Idempotency-Key": "x" * 300})

    assert response.status_code == 400
    assert response.json()["field"] == "Idempotency-Key"


def test_large_json_answers_are_gzipped_for_clients_that_accept_it(api: Api):
    raw = requests.get(f"{api.base_url}/openapi.json", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=30)
    plain = requests.get(f"{api.base_url}/openapi.json", headers={"Accept-Encoding": "identity"}, timeout=30)
    refused = requests.get(f"{api.base_url}/openapi.json", headers={"Accept-Encoding": "gzip;q=0"}, timeout=30)

    assert raw.headers["Content-Encoding"] == "gzip"
    assert raw.headers["Content-Type"].startswith("application/json")
    body = raw.raw.read()
    assert gzip.decompress(body) == plain.content
    assert len(body) < len(plain.content) / 3
    assert "Content-Encoding" not in plain.headers
    assert "Content-Encoding" not in refused.headers
    assert "Accept-Encoding" in plain.headers["Vary"]


def test_small_answers_are_not_compressed(api: Api):
    response = requests.get(f"{api.base_url}/tasks/no-such-task/", headers={"Accept-Encoding": "gzip"}, timeout=30)

    assert response.status_code == 404
    assert "Content-Encoding" not in response.headers


def test_request_ip_prefers_x_real_ip_then_x_forwarded_for_then_the_peer(api: Api, task_id: str):
    cases = [
        ({"X-Real-IP": "203.0.113.7", "X-Forwarded-For": "198.51.100.1"}, "203.0.113.7"),
        ({"X-Forwarded-For": "198.51.100.1, 10.0.0.2"}, "198.51.100.1"),
        ({}, "127.0.0.1"),
    ]
    for headers, expected in cases:
        enqueued = api.post(f"/tasks/{task_id}/", json=_body(), headers=headers).json()
        execution = api.get(enqueued["executionUrl"]).json()["execution"]
        assert execution["requestIP"] == expected, headers


def test_retries_and_scheduled_runs_carry_the_callers_address(api: Api, task_id: str):
    failing = api.post(
        f"/tasks/{task_id}/",
        json={**_body("bash -c 'exit 3'"), "retries": 1, "retryBackoff": {"minMs": 100}},
        headers={"X-Real-IP": "203.0.113.9"},
    ).json()
    retried = api.post(failing["jobUrl"] + "/retry/", headers={"X-Real-IP": "192.0.2.44"}).json()
    scheduled = api.post(f"/tasks/{task_id}/", json={**_body(), "startIn": "1s"}, headers={"X-Real-IP": "192.0.2.5"})

    def executions(job_url: str, count: int, retry_of: str | None = None) -> list[dict]:
        # The manual retry fails too and gets an automatic retry of its own, which can be
        # created before the first run's: wait for the one of the first run when it is asked for.
        def ready(b: dict) -> bool:
            found = b["job"]["executions"]
            return len(found) >= count and (retry_of is None or any(e["retryOf"] == retry_of for e in found))

        return api.wait_for(job_url + "/", ready, timeout=60)["job"]["executions"]

    by_id = {e["executionId"]: e for e in executions(failing["jobUrl"], 3, retry_of=failing["executionId"])}
    assert by_id[failing["executionId"]]["requestIP"] == "203.0.113.9"
    assert by_id[retried["executionId"]]["requestIP"] == "192.0.2.44"
    automatic = [e for e in by_id.values() if e["retryOf"] == failing["executionId"]]
    assert [e["requestIP"] for e in automatic] == ["203.0.113.9"]
    assert [e["requestIP"] for e in executions(scheduled.json()["jobUrl"], 1)] == ["192.0.2.5"]
