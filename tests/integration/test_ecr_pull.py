"""A pull from an ECR-named registry with the token the runner fetched, through a real Docker
daemon and a real registry.

No real ECR is reachable here, so the registry is Debian's ``docker-registry`` (the Distribution
project's) with htpasswd auth that accepts exactly the emulator's ECR token (``AWS`` and the
password ``GetAuthorizationToken`` answers), on a loopback address. The image is named
``<account>.dkr.ecr.eu-west-1.amazonaws.com/…``: a Docker daemon of the test's own (the fault
suite's ``PrivateDockerd``) resolves that name to the registry through an ``/etc/hosts`` of its own
mount namespace, and takes it as an insecure (plain HTTP) registry. The machine's daemon and its
``/etc/hosts`` are untouched.

The runner's own parts do the pull: ``RegistryCredentials`` (the ECR adapter against the emulator,
in the registry's region) handed to ``DockerEngine.pull``. Without them the registry refuses it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from chalicelib.adapters import registry_tokens
from chalicelib.domain.ecr import EcrRegistry
from chalicelib.settings import Settings
from infra.local.harness import StackProcess
from infra.local.stack import stop_process
from runner.docker_engine import DockerEngine, EngineError
from runner.registry_auth import RegistryCredentials
from tests.conftest import TEST_IMAGE
from tests.faults.private_docker import PrivateDockerd
from tests.integration.registry_server import start_registry

ACCOUNT, REGION = "000000000000", "eu-west-1"
ECR_HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
# A loopback address of its own: port 80 there is free whatever else listens on 127.0.0.1.
ADDRESS = "127.0.77.1"
REPOSITORY = f"{ECR_HOST}/slipway-test/busybox"

pytestmark = [
    pytest.mark.skipif(
        shutil.which("docker-registry") is None or shutil.which("htpasswd") is None,
        reason="needs Debian's docker-registry and apache2-utils (bin/setup.sh installs them)",
    ),
    pytest.mark.skipif(os.geteuid() != 0, reason="a private dockerd and a registry on port 80 need root"),
]


@pytest.fixture(scope="module")
def ecr_daemon(stack: StackProcess) -> Iterator[docker.DockerClient]:
    """A private Docker daemon that reaches ``ECR_HOST`` at the registry, which holds the test
    image as ``REPOSITORY:v1`` (pushed with the token's credentials) and accepts only those."""
    token = registry_tokens.authorization_token(EcrRegistry(ACCOUNT, REGION))
    work = Path(tempfile.mkdtemp(prefix="slipway-ecr-"))
    registry = start_registry(work, f"{ADDRESS}:80", token.auth["username"], token.auth["password"], "ecr-registry.log")
    dockerd = PrivateDockerd(
        work / "dockerd",
        bridge="slwecr0",
        bridge_address="10.254.214.1/24",
        hosts={ECR_HOST: ADDRESS},
        extra_args=(f"--insecure-registry={ECR_HOST}",),
    )
    try:
        with dockerd:
            dockerd.load_image(TEST_IMAGE)
            client = dockerd.client(timeout=120)
            client.images.get(TEST_IMAGE).tag(REPOSITORY, "v1")
            for line in client.api.push(REPOSITORY, "v1", stream=True, decode=True, auth_config=token.auth):
                assert "error" not in line, line
            yield client
    finally:
        stop_process(registry, "registry")
        shutil.rmtree(work, ignore_errors=True)


def _untagged(client: docker.DockerClient) -> None:
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.remove(f"{REPOSITORY}:v1")


def test_the_runner_pulls_from_an_ecr_registry_with_the_token_it_fetched(ecr_daemon: docker.DockerClient) -> None:
    engine = DockerEngine(ecr_daemon)
    engine.registry_auth = RegistryCredentials(Settings())
    _untagged(ecr_daemon)

    engine.pull(f"{REPOSITORY}:v1")

    assert ecr_daemon.images.get(f"{REPOSITORY}:v1").id == ecr_daemon.images.get(TEST_IMAGE).id


def test_without_the_token_the_registry_refuses_the_pull(ecr_daemon: docker.DockerClient) -> None:
    engine = DockerEngine(ecr_daemon)  # no credentials for any registry
    _untagged(ecr_daemon)

    with pytest.raises(EngineError) as raised:
        engine.pull(f"{REPOSITORY}:v1")

    assert "could not be pulled" in str(raised.value)
    assert "no basic auth credentials" in str(raised.value) or "unauthorized" in str(raised.value).lower()
    assert raised.value.host_fault is False
