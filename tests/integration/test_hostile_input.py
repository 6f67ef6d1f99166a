"""Bodies and headers a careless or hostile client sends, through the real app over HTTP: each
gets a 4xx with a JSON body saying what is wrong, and nothing is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import TEST_IMAGE, Api

JOB = f'"image": "{TEST_IMAGE}", "command": "true"'


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"n": value}
    return value


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (("{" + JOB + ', "metadata": {"x": NaN}}').encode(), "NaN is not a JSON value"),
        (("{" + JOB + ', "metadata": {"x": Infinity}}').encode(), "Infinity is not a JSON value"),
        (("{" + JOB + ', "metadata": {"x": 1e400}}').encode(), "beyond what a double can hold"),
        (("{" + JOB + ', "metadata": {"x": "\\ud800"}}').encode(), "lone UTF-16 surrogate"),
        (json.dumps({"image": TEST_IMAGE, "command": "true", "metadata": _nested(600)}).encode(), "deeper than"),
        (
            json.dumps(
                {"image": TEST_IMAGE, "command": "true", "metadata": {"t": "漢" * 80_000}}, ensure_ascii=False
            ).encode(),
            "bytes once stored",
        ),
    ],
    ids=["nan", "infinity", "1e400", "lone-surrogate", "600-deep", "80k-cjk"],
)
def test_a_body_strict_json_or_the_store_cannot_hold_is_refused(
    api: Api, task_id: str, body: bytes, message: str
) -> None:
    response = api.post(f"/tasks/{task_id}/", data=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert api.get(f"/tasks/{task_id}/").status_code == 404


def test_a_forged_forwarded_host_never_reaches_the_answers_urls(api: Api, task_id: str) -> None:
    response = api.post(
        f"/tasks/{task_id}/",
        json={"image": TEST_IMAGE, "command": "true"},
        headers={"X-Forwarded-Host": "attacker.example", "X-Forwarded-Proto": "javascript"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["jobUrl"].startswith(api.base_url + "/")
    assert "attacker.example" not in response.text and "javascript" not in response.text


def test_a_host_header_that_is_not_a_host_is_not_echoed(api: Api, task_id: str) -> None:
    response = api.post(
        f"/tasks/{task_id}/", json={"image": TEST_IMAGE, "command": "true"}, headers={"Host": 'x"><script>'}
    )

    assert response.status_code == 200, response.text
    assert "<script>" not in response.text
    assert response.json()["jobUrl"].startswith("http://localhost/tasks/")
