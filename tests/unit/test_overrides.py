"""domain.overrides: the run-now body, checked by the job body's rules, merged over a job."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.overrides import RunOverrides, apply_overrides, parse_overrides
from chalicelib.domain.payload import parse_job


def test_env_is_merged_over_the_jobs_and_command_replaces_it() -> None:
    spec = parse_job({"image": "busybox", "command": "echo a", "envs": {"A": "1", "B": "2"}})

    run = apply_overrides(spec, parse_overrides({"env": {"B": "3", "C": "4"}, "command": "echo b"}))

    assert (run.envs, run.command, run.argv) == ({"A": "1", "B": "3", "C": "4"}, "echo b", ["echo", "b"])
    assert spec.envs == {"A": "1", "B": "2"} and spec.command == "echo a"


def test_an_empty_body_overrides_nothing() -> None:
    overrides = parse_overrides({})
    assert overrides.empty and overrides.to_dict() is None
    assert parse_overrides({"env": None, "command": None}).empty


def test_stored_overrides_read_back_the_same() -> None:
    overrides = parse_overrides({"env": {"X": "1"}, "command": "true"})
    assert RunOverrides.from_dict(overrides.to_dict()) == overrides
    assert RunOverrides.from_dict(None) == RunOverrides()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"envs": {"A": "1"}}, "envs"),
        ({"image": "other"}, "image"),
        ({"env": ["A=1"]}, "env"),
        ({"env": {"A": 1}}, "env"),
        ({"env": {"A=B": "1"}}, "env"),
        ({"command": ""}, "command"),
        ({"command": "echo 'unclosed"}, "command"),
        ({"command": 3}, "command"),
    ],
)
def test_wrong_bodies_name_the_wrong_key(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_overrides(body)
    assert raised.value.details["field"] == field
