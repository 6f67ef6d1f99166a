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


@pytest.mark.parametrize("base_url", ["tcp://127.0.0.1:9", "unix:///nonexistent/docker.sock"])
def test_every_call_on_an_unreachable_engine_is_an_engine_error(base_url: str) -> None:
    """A daemon restarting (its socket gone) is an EngineError on every call, never a raw
    connection error: a heartbeat that kills an abandoned run's container must not die of it."""
    import docker

    engine = DockerEngine(docker.DockerClient(base_url=base_url, version="1.41", timeout=2))
    calls = {
        "kill": lambda: engine.kill("0" * 64),
        "remove": lambda: engine.remove("0" * 64),
        "start": lambda: engine.start("0" * 64),
        "wait": lambda: engine.wait("0" * 64, 1),
        "exit_state": lambda: engine.exit_state("0" * 64),
    }
    for name, call in calls.items():
        with pytest.raises(EngineError):
            call()
            pytest.fail(f"{name} answered on an unreachable engine")


def test_a_reference_docker_would_refuse_is_refused_at_submission(api, task_id: str) -> None:
    # Docker's own grammar is checked before anything is stored (domain/image_refs.py); the engine
    # classification above is what stays for refusals no grammar foresees.
    response = api.post(f"/tasks/{task_id}/", json={"image": "Slipway/Upper-Case:1", "command": "true"})

    assert response.status_code == 400
    assert "must be lowercase" in response.json()["error"]
    assert api.get(f"/tasks/{task_id}/").status_code == 404
