"""runner/docker_engine.py on the real Docker Engine: which failures are the host's and which
the job's. Only host faults count towards a runner's circuit breaker and hand a run back; a
request Docker refuses (a 4xx) would be refused by every host, so it fails the run."""

from __future__ import annotations

import pytest

from runner.docker_engine import ContainerSpec, DockerEngine, EngineError
from tests.conftest import TEST_IMAGE


@pytest.mark.parametrize(
    "image",
    [
        "Slipway/Upper-Case:1",  # Docker: "repository name must be lowercase"
        "slipway-test/" + "x" * 300,  # "repository name must not be more than 255 characters"
    ],
)
def test_an_image_reference_docker_refuses_is_the_jobs_fault(image: str) -> None:
    with pytest.raises(EngineError) as raised:
        DockerEngine().create(ContainerSpec(image=image, argv=["true"]))

    assert raised.value.host_fault is False
    assert "could not create the container" in str(raised.value)


def test_an_unreachable_engine_is_the_hosts_fault() -> None:
    import docker

    engine = DockerEngine(docker.DockerClient(base_url="tcp://127.0.0.1:9", version="1.41", timeout=2))

    with pytest.raises(EngineError) as raised:
        engine.create(ContainerSpec(image=TEST_IMAGE, argv=["true"]))

    assert raised.value.host_fault is True


def test_a_refused_image_fails_the_run_instead_of_handing_it_back(api, task_id: str) -> None:
    body = api.post(f"/tasks/{task_id}/", json={"image": "Slipway/Upper-Case:1", "command": "true"}).json()

    execution = api.wait_finished(body["executionUrl"], timeout=60)

    assert execution["status"] == "failed"
    assert "lowercase" in execution["error"]
    job = api.get(body["jobUrl"]).json()
    # One run, not a run handed back and retried on host after host.
    assert len(job["job"]["executions"]) == 1
