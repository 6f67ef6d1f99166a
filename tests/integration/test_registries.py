"""Registries on a stack of its own: a real private registry (Debian's ``docker-registry``, the
Distribution project's) with htpasswd auth on a local port, the test image pushed to it, and jobs
that pull it by digest and by tag with credentials the runner reads (Secrets Manager for one
registry name, a local file for the other), never sent in a job body. A pool's registry
allow-list refuses an image from another registry with a 400.

The registry answers as ``localhost:PORT`` and ``127.0.0.1:PORT``: two registry names for the
runner, each with its own credentials source.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import docker
import pytest

from infra.local.harness import StackProcess
from infra.local.stack import free_port, stop_process
from tests.conftest import LOG_DIR, TEST_IMAGE, Api
from tests.integration.registry_server import start_registry

PORT = free_port()
BY_NAME, BY_ADDRESS = f"localhost:{PORT}", f"127.0.0.1:{PORT}"
USER, PASSWORD = "slipway", uuid.uuid4().hex
SECRET = f"slipway-test-registry-{uuid.uuid4().hex[:8]}"
WORK = Path(tempfile.mkdtemp(prefix="slipway-registry-"))
CREDENTIALS_FILE = WORK / "registries.json"
NETWORK = f"slipway-registries-{uuid.uuid4().hex[:8]}"
POOLS = [
    {"name": "private", "match": "private-.+", "registries": [BY_NAME, BY_ADDRESS], "sandbox": {"network": NETWORK}},
    {"name": "rest", "match": "", "sandbox": {"network": NETWORK}},
]
STACK = StackProcess(
    log_path=LOG_DIR / "registries-stack.log",
    extra_env={
        "SLIPWAY_POOLS": json.dumps(POOLS),
        "SLIPWAY_REGISTRY_SECRETS": json.dumps({BY_NAME: SECRET}),
        "SLIPWAY_REGISTRY_CREDENTIALS_FILE": str(CREDENTIALS_FILE),
        "SLIPWAY_REGISTRY_CREDENTIALS_TTL_SECONDS": "1",
    },
)
REPOSITORY = "slipway-test/busybox"

pytestmark = pytest.mark.skipif(
    shutil.which("docker-registry") is None or shutil.which("htpasswd") is None,
    reason="needs Debian's docker-registry and apache2-utils (bin/setup.sh installs them)",
)


def _push(registry: str) -> str:
    """Push the test image as ``registry/slipway-test/busybox:v1``; its digest."""
    client = docker.from_env()
    repository = f"{registry}/{REPOSITORY}"
    client.images.get(TEST_IMAGE).tag(repository, "v1")
    digest = ""
    for line in client.api.push(repository, "v1", stream=True, decode=True, auth_config=_auth()):
        assert "error" not in line, line
        digest = line.get("aux", {}).get("Digest", digest)
    assert digest.startswith("sha256:")
    return digest


def _auth() -> dict[str, str]:
    return {"username": USER, "password": PASSWORD}


def _forget(registry: str, digest: str) -> None:
    """Remove the host's names for the pushed image, so that a job has to pull it."""
    client = docker.from_env()
    for name in (f"{registry}/{REPOSITORY}:v1", f"{registry}/{REPOSITORY}@{digest}"):
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(name)


def _secret(password: str) -> None:
    env = STACK.client_env()
    client = boto3.client(
        "secretsmanager",
        endpoint_url=STACK.aws_endpoint,
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    value = json.dumps({"username": USER, "password": password})
    try:
        client.create_secret(Name=SECRET, SecretString=value)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=SECRET, SecretString=value)


@pytest.fixture(scope="module")
def registry() -> Iterator[dict[str, str]]:
    CREDENTIALS_FILE.write_text(json.dumps({BY_ADDRESS: _auth()}))
    network = docker.from_env().networks.create(NETWORK, driver="bridge")
    process = start_registry(WORK, BY_ADDRESS, USER, PASSWORD, "registry.log")
    digests: dict[str, str] = {}
    try:
        digests.update((registry, _push(registry)) for registry in (BY_NAME, BY_ADDRESS))
        STACK.start()
        try:
            _secret(PASSWORD)
            yield digests
        finally:
            STACK.stop()
    finally:
        for name, digest in digests.items():
            _forget(name, digest)
        stop_process(process, "registry")
        network.remove()
        shutil.rmtree(WORK, ignore_errors=True)


@pytest.fixture(scope="module")
def api(registry: dict[str, str]) -> Api:
    return Api(STACK.base_url)


def _run(api: Api, image: str, command: str = "echo pulled") -> dict[str, Any]:
    task = f"private-{uuid.uuid4().hex[:8]}"
    response = api.post(f"/tasks/{task}/", json={"image": image, "command": command})
    assert response.status_code == 200, response.text
    return api.wait_finished(response.json()["executionUrl"], timeout=120)


def _on_host(name: str) -> bool:
    try:
        docker.from_env().images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


@pytest.mark.parametrize("registry_name", [BY_NAME, BY_ADDRESS], ids=["secrets-manager", "credentials-file"])
def test_a_digest_pinned_image_is_pulled_from_a_private_registry(
    api: Api, registry: dict[str, str], registry_name: str
) -> None:
    digest = registry[registry_name]
    pinned = f"{registry_name}/{REPOSITORY}@{digest}"
    _forget(registry_name, digest)
    assert not _on_host(pinned)

    execution = _run(api, pinned)

    assert execution["status"] == "done", execution
    assert execution["log"] == "pulled\n"
    assert _on_host(pinned)


def test_a_tagged_image_is_pulled_from_a_private_registry(api: Api, registry: dict[str, str]) -> None:
    _forget(BY_NAME, registry[BY_NAME])
    execution = _run(api, f"{BY_NAME}/{REPOSITORY}:v1")

    assert execution["status"] == "done", execution
    assert _on_host(f"{BY_NAME}/{REPOSITORY}:v1")


def test_rotated_credentials_are_read_again_and_wrong_ones_fail_the_run_clearly(
    api: Api, registry: dict[str, str]
) -> None:
    _forget(BY_NAME, registry[BY_NAME])
    _secret("not-the-password")
    try:
        time.sleep(1.5)  # past the runner's credentials TTL (1 s here)
        refused = _run(api, f"{BY_NAME}/{REPOSITORY}:v1")
    finally:
        _secret(PASSWORD)
    assert refused["status"] == "failed"
    assert "could not be pulled" in refused["error"]
    assert "not-the-password" not in json.dumps(refused)

    time.sleep(1.5)
    assert _run(api, f"{BY_NAME}/{REPOSITORY}:v1")["status"] == "done"


def test_an_image_from_a_registry_the_pool_does_not_list_is_a_400(api: Api) -> None:
    task = f"private-{uuid.uuid4().hex[:8]}"
    response = api.post(f"/tasks/{task}/", json={"image": TEST_IMAGE, "command": "true"})

    assert response.status_code == 400
    assert response.json()["field"] == "image"
    assert "'docker.io'" in response.json()["error"] and "pool 'private'" in response.json()["error"]
    assert api.get(f"/tasks/{task}/").status_code == 404
    # Another pool, without an allow-list, takes it.
    assert api.post(f"/tasks/other-{task}/", json={"image": TEST_IMAGE, "command": "true"}).status_code == 200


def test_credentials_are_never_part_of_a_job(api: Api, registry: dict[str, str]) -> None:
    task = f"private-{uuid.uuid4().hex[:8]}"
    body = {"image": f"{BY_NAME}/{REPOSITORY}:v1", "command": "true", "registryAuth": _auth()}

    response = api.post(f"/tasks/{task}/", json=body)

    assert response.status_code == 400
    assert response.json()["field"] == "registryAuth"
