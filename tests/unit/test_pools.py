"""chalicelib.domain.pools: parsing the pool list and routing task ids to pools."""

from __future__ import annotations

import pytest

from chalicelib.domain.pools import Pool, PoolConfigError, parse_pools, pool_for_task
from chalicelib.resources import job_queue_names, queue_specs
from chalicelib.settings import Settings

POOLS = (
    '[{"name": "a", "match": "producta.+", "maxRunning": 1}, '
    '{"name": "b", "match": "productb", "maxRunningPerTask": 2, "runners": 2}, {"name": "rest", "match": ""}]'
)


def test_no_configuration_is_one_default_pool_for_every_task():
    assert parse_pools("") == (Pool("default"),)
    assert pool_for_task("anything-at-all", Settings()) == Pool("default", sandbox=Settings().sandbox_base)


def test_the_first_matching_pool_wins_and_an_empty_expression_matches_all():
    settings = Settings(pools=POOLS)

    assert pool_for_task("producta-mail", settings).name == "a"
    assert pool_for_task("productb-mail", settings).name == "b"
    # "producta" alone does not match "producta.+": it falls through to the catch-all.
    assert pool_for_task("producta", settings).name == "rest"
    assert pool_for_task("other", settings).name == "rest"


def test_limits_and_runner_counts_are_read():
    a, b, rest = parse_pools(POOLS)

    assert (a.max_running, a.max_running_per_task, a.runners) == (1, 0, 1)
    assert (b.max_running, b.max_running_per_task, b.runners) == (0, 2, 2)
    assert rest.max_running == 0


def test_a_task_no_pool_matches_has_no_pool():
    settings = Settings(pools='[{"name": "a", "match": "producta.+"}]')

    assert pool_for_task("productb-x", settings) is None


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "{}",
        "[]",
        '[{"match": "x"}]',
        '[{"name": "a", "match": "("}]',
        '[{"name": "a", "maxRunning": -1}]',
        '[{"name": "a", "maxRunning": "2"}]',
        '[{"name": "a"}, {"name": "a"}]',
    ],
)
def test_bad_configurations_are_refused(raw: str):
    with pytest.raises(PoolConfigError):
        parse_pools(raw)


def test_each_pool_has_its_own_job_queue_and_all_share_the_dead_letter_queue():
    settings = Settings(stage="s1", pools=POOLS)

    assert job_queue_names(settings) == [f"s1-slipway-jobs-pool-{name}" for name in ("a", "b", "rest")]
    specs = {spec.name: spec for spec in queue_specs(settings)}
    assert {specs[name].dead_letter for name in job_queue_names(settings)} == {settings.job_dead_letter_queue}


def test_the_default_pool_keeps_the_historic_queue():
    settings = Settings(stage="s1")

    assert job_queue_names(settings) == [settings.job_queue] == ["s1-slipway-jobs"]
