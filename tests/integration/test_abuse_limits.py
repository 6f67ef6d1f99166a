"""Caps on what one job may ask of the notification channels: over them is a 400, nothing stored."""

from __future__ import annotations

from chalicelib.settings import Settings
from tests.conftest import TEST_IMAGE, Api

LIMITS = Settings()


def _body(**extra: object) -> dict[str, object]:
    return {"image": TEST_IMAGE, "command": "true", "startIn": "1h", **extra}


def test_more_webhooks_than_allowed_are_refused(api: Api, task_id: str) -> None:
    cap = LIMITS.max_webhooks_per_job
    hooks = [{"url": f"http://127.0.0.1:9/{n}"} for n in range(cap)]
    over = {"starts": hooks[: cap // 2], "finishes": [*hooks[cap // 2 :], {"url": "http://127.0.0.1:9/x"}]}

    refused = api.post(f"/tasks/{task_id}/", json=_body(webhooks=over))
    accepted = api.post(f"/tasks/{task_id}-ok/", json=_body(webhooks={"finishes": hooks}))

    assert refused.status_code == 400
    assert refused.json() == {"error": f"a job may declare at most {cap} webhooks, not {cap + 1}", "field": "webhooks"}
    assert api.get(f"/tasks/{task_id}/").status_code == 404
    assert accepted.status_code == 200, accepted.text


def test_more_email_recipients_than_allowed_are_refused(api: Api, task_id: str) -> None:
    cap = LIMITS.max_email_recipients_per_job
    addresses = [f"team{n}@example.com" for n in range(cap)]

    refused = api.post(f"/tasks/{task_id}/", json=_body(notify={"fails": addresses, "succeeds": ["one@example.com"]}))

    assert refused.status_code == 400
    assert refused.json()["field"] == "notify"
    assert f"at most {cap} e-mail recipients, not {cap + 1}" in refused.json()["error"]
    assert api.get(f"/tasks/{task_id}/").status_code == 404
