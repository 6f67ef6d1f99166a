"""infra.local.stack.runner_environments: which runners the local stack starts, in which pools."""

from __future__ import annotations

from chalicelib.settings import Settings
from infra.local.stack import parse_args, runner_environments


def test_by_default_one_runner_in_the_default_pool():
    assert runner_environments(parse_args([]), Settings(runner_host="m")) == [{}]


def test_several_runners_get_distinct_host_names():
    envs = runner_environments(parse_args(["--runners", "2"]), Settings(runner_host="m"))

    assert envs == [{"SLIPWAY_RUNNER_HOST": "m-1"}, {"SLIPWAY_RUNNER_HOST": "m-2"}]


def test_configured_pools_get_their_runners():
    settings = Settings(runner_host="m", pools='[{"name": "a", "runners": 2}, {"name": "b", "match": "x"}]')

    envs = runner_environments(parse_args([]), settings)

    assert envs == [
        {"SLIPWAY_RUNNER_POOL": "a", "SLIPWAY_RUNNER_HOST": "m-a-1"},
        {"SLIPWAY_RUNNER_POOL": "a", "SLIPWAY_RUNNER_HOST": "m-a-2"},
        {"SLIPWAY_RUNNER_POOL": "b", "SLIPWAY_RUNNER_HOST": "m-b-1"},
    ]


def test_explicit_runner_environments_win():
    args = parse_args(["--runner-env", '{"SLIPWAY_RUNNER_POOL": "b", "DOCKER_HOST": "tcp://h:1"}'])

    assert runner_environments(args, Settings(pools='[{"name": "a"}]')) == [
        {"SLIPWAY_RUNNER_POOL": "b", "DOCKER_HOST": "tcp://h:1"}
    ]
