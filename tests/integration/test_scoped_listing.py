"""Listings and search by scoped keys read the caller's tasks through the task-id index, on a
stack of its own (no runner: the API, its dispatcher and the emulator).

Each key's answers are compared with what the filtered read of every task gives (the listing
of a full key, filtered by the key's pattern): the same tasks, in the same order, on every
page, and never one of another team. Keys whose pattern forces no prefix take that filtered
read themselves. Tasks stored before the index existed (no ``id_shard``) are still listed, and
the dispatcher's tick puts them in the index.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import requests

from chalicelib.adapters.models import TASK_LISTING, TaskModel, TaskWordModel
from chalicelib.adapters.task_repository import ID_INDEX_MARKER
from chalicelib.domain.access import Scope
from chalicelib.domain.clock import ISO_FORMAT
from chalicelib.domain.shards import shard_value
from chalicelib.domain.task_words import task_words
from chalicelib.settings import Settings
from infra.local.harness import StackProcess
from infra.local.stack import FAKE_CREDENTIALS
from tests.conftest import LOG_DIR, TEST_IMAGE

OPS = f"ops-{uuid.uuid4().hex}"
# name → (key, tasks pattern)
KEYS = {
    "producta": (f"a-{uuid.uuid4().hex}", "producta-.*"),
    "teams": (f"t-{uuid.uuid4().hex}", "^team-(a|b)-.*"),
    "two-prefixes": (f"x-{uuid.uuid4().hex}", "producta-x.*|productb-.*"),
    # Forcing no prefix: these take the filtered read of every task id.
    "shared": (f"s-{uuid.uuid4().hex}", ".*-shared"),
    "producta-noprefix": (f"n-{uuid.uuid4().hex}", "(?:producta)-.*"),
    # Every task, read only: listed as a full key's listing is (its pages walk the index).
    "dashboard": (f"d-{uuid.uuid4().hex}", ".*"),
}
TASKS = [
    *(f"producta-app-{n}" for n in range(12)),
    "producta-x-1",
    "producta-shared",
    *(f"productb-app-{n}" for n in range(3)),
    "productaz-app-1",
    "x-producta-app-1",
    "team-a-1",
    "team-b-app-1",
    "team-c-1",
    "team-ab-1",
    "one-shared",
]
SHARDS = 2


@pytest.fixture(scope="module")
def scoped() -> Iterator[StackProcess]:
    entries = [{"name": name, "key": key, "tasks": pattern, "verbs": ["read"]} for name, (key, pattern) in KEYS.items()]
    stack = StackProcess(
        runners=0,
        log_path=LOG_DIR / "stack-scoped-listing.log",
        extra_env={
            "SLIPWAY_AUTH_API_KEYS": OPS,
            "SLIPWAY_AUTH_SCOPED_KEYS": json.dumps(entries),
            "SLIPWAY_TASK_ID_SHARDS": str(SHARDS),
        },
    )
    stack.start()
    session = requests.Session()
    for task in TASKS:
        response = session.post(
            f"{stack.base_url}/tasks/{task}/",
            headers={"X-Api-Key": OPS},
            json={"image": TEST_IMAGE, "command": "true"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
    yield stack
    stack.stop()


def _get(stack: StackProcess, path: str, key: str, **params: Any) -> dict[str, Any]:
    response = requests.get(stack.base_url + path, headers={"X-Api-Key": key}, params=params, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _pages(stack: StackProcess, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    first = _get(stack, path, key, **params)
    return [first, *(_get(stack, path, key, page=page, **params) for page in range(2, first["pages"] + 1))]


def _ids(pages: list[dict[str, Any]]) -> list[str]:
    return [item["taskId"] for page in pages for item in page["items"]]


def _dynamodb(stack: StackProcess) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=stack.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


@pytest.mark.parametrize("name", list(KEYS))
def test_a_scoped_listing_answers_what_filtering_every_task_gives(scoped: StackProcess, name: str) -> None:
    key, pattern = KEYS[name]
    everything = _ids(_pages(scoped, "/tasks/", OPS))
    expected = [task for task in everything if re.fullmatch(pattern, task)]

    pages = _pages(scoped, "/tasks/", key)

    assert set(TASKS) <= set(everything)
    assert expected, pattern
    assert _ids(pages) == expected
    assert [page["page"] for page in pages] == list(range(1, len(pages) + 1))
    assert all(page["pages"] == -(-len(expected) // 10) for page in pages)
    assert [len(page["items"]) for page in pages[:-1]] == [10] * (len(pages) - 1)
    assert pages[0]["hasPrev"] is False and pages[-1]["hasNext"] is False
    # Past the last page: nothing, and still no other team's task.
    assert _get(scoped, "/tasks/", key, page=len(pages) + 1)["items"] == []


def test_the_prefixes_used_are_those_of_each_pattern() -> None:
    assert Scope(tasks=KEYS["producta"][1]).task_prefixes == ("producta-",)
    assert Scope(tasks=KEYS["teams"][1]).task_prefixes == ("team-",)
    assert Scope(tasks=KEYS["two-prefixes"][1]).task_prefixes == ("producta-x", "productb-")
    assert Scope(tasks=KEYS["shared"][1]).task_prefixes is None
    assert Scope(tasks=KEYS["producta-noprefix"][1]).task_prefixes is None


def test_the_listing_pages_of_one_team_never_show_another_teams_tasks(scoped: StackProcess) -> None:
    listed = _ids(_pages(scoped, "/tasks/", KEYS["producta"][0]))

    assert len(set(listed)) == len(listed)
    assert {task for task in TASKS if task.startswith("producta-")} <= set(listed)
    assert all(task.startswith("producta-") for task in listed)
    assert "productaz-app-1" not in listed and "x-producta-app-1" not in listed
    # The same answer as a key of the same tasks whose pattern forces no prefix (the filtered read).
    assert listed == _ids(_pages(scoped, "/tasks/", KEYS["producta-noprefix"][0]))
    teams = _ids(_pages(scoped, "/tasks/", KEYS["teams"][0]))
    assert sorted(teams) == ["team-a-1", "team-b-app-1"]


@pytest.mark.parametrize("name", list(KEYS))
def test_a_scoped_search_answers_what_filtering_every_hit_gives(scoped: StackProcess, name: str) -> None:
    key, pattern = KEYS[name]
    for word in ("app", "shared", "1"):
        everything = _ids(_pages(scoped, "/search/", OPS, query=word))
        expected = [task for task in everything if re.fullmatch(pattern, task)]

        pages = _pages(scoped, "/search/", key, query=word)

        assert _ids(pages) == expected, word
        assert all(page["pages"] == -(-len(expected) // 10) for page in pages)


def test_tasks_stored_before_the_index_are_listed_and_then_indexed(scoped: StackProcess) -> None:
    """A task item as an older release wrote it (no ``id_shard``) on a table whose index is not
    yet known complete: listed through the filtered read, then put in the index by the
    dispatcher's tick, and listed through the index."""
    settings = Settings(stage=scoped.stage)
    dynamodb = _dynamodb(scoped)
    old = f"producta-old-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    item = TaskModel(
        old,
        listing=TASK_LISTING,
        created_key=f"{now.strftime(ISO_FORMAT)}#{old}",
        created_at=now,
        last_modified_at=now,
        jobs_count=0,
    ).serialize()
    assert "id_shard" not in item
    dynamodb.put_item(TableName=settings.tasks_table, Item=item)
    dynamodb.update_item(
        TableName=settings.counters_table,
        Key={"name": {"S": "tasks"}},
        UpdateExpression="ADD #v :one",
        ExpressionAttributeNames={"#v": "value"},
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    for word in task_words(old):
        dynamodb.put_item(TableName=settings.task_words_table, Item=TaskWordModel(word, old).serialize())
    key, noprefix = KEYS["producta"][0], KEYS["producta-noprefix"][0]
    # While the index is marked complete, the listing reads it, and it holds no such item: the
    # prefix lookup misses it where the filtered read finds it (why the marker is needed).
    assert old not in _ids(_pages(scoped, "/tasks/", key))
    assert _ids(_pages(scoped, "/tasks/", noprefix))[0] == old
    # What a table kept from before the index holds: no marker of a complete index.
    dynamodb.delete_item(TableName=settings.counters_table, Key={"name": {"S": ID_INDEX_MARKER}})

    listed_at_once = _ids(_pages(scoped, "/tasks/", key))

    assert listed_at_once[0] == old
    deadline = time.monotonic() + 30
    marker: dict[str, Any] = {}
    while time.monotonic() < deadline and marker.get("value", {}).get("N") != str(SHARDS):
        time.sleep(0.2)
        marker = dynamodb.get_item(
            TableName=settings.counters_table, Key={"name": {"S": ID_INDEX_MARKER}}, ConsistentRead=True
        ).get("Item", {})
    assert marker.get("value", {}).get("N") == str(SHARDS), "the dispatcher did not complete the backfill"
    stored = dynamodb.get_item(TableName=settings.tasks_table, Key={"task_id": {"S": old}}, ConsistentRead=True)
    assert stored["Item"]["id_shard"] == {"S": shard_value("ids", old, SHARDS)}
    listed_by_index = _ids(_pages(scoped, "/tasks/", key))
    assert listed_by_index == listed_at_once
    assert _ids(_pages(scoped, "/search/", key, query="old")) == [old]
