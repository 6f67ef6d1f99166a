"""chalicelib.domain.sandbox and registries: parsing pools' sandboxes, a job's resources within
its pool's ceiling, registry allow-lists; and the runner's pure parts of them."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.payload import JobSpec, parse_job
from chalicelib.domain.pools import PoolConfigError
from chalicelib.domain.registries import refuse_unlisted, registry_of
from chalicelib.domain.sandbox import parse_memory
from chalicelib.settings import Settings
from runner.docker_engine import EngineError, host_config_options
from runner.metadata_probe import mode_of
from runner.registry_auth import RegistryCredentials
from runner.sandboxing import at_process_limit, sandbox_for

MiB = 1024 * 1024


@pytest.mark.parametrize(
    ("text", "size"),
    [("256Mi", 256 * MiB), ("1Gi", 1024 * MiB), ("512m", 512 * MiB), ("0.5Gi", 512 * MiB), (7 * MiB, 7 * MiB)],
)
def test_memory_sizes_are_binary_in_both_spellings(text, size):
    assert parse_memory(text) == size


@pytest.mark.parametrize("text", ["256MB", "lots", "-1Gi", "", True, 1.5])
def test_a_malformed_memory_size_is_refused(text):
    with pytest.raises(ValueError):
        parse_memory(text)


def test_the_service_defaults_apply_without_resources():
    limits = Settings().sandbox_base.limits_for(None)

    assert (limits.memory_bytes, limits.cpus, limits.pids) == (512 * MiB, 1.0, 256)


def test_resources_replace_the_defaults_up_to_the_ceiling():
    limits = Settings().sandbox_base.limits_for({"memory": "2Gi", "cpus": 2, "pids": 1024})

    assert (limits.memory_bytes, limits.nano_cpus, limits.pids) == (2048 * MiB, 2_000_000_000, 1024)


@pytest.mark.parametrize(
    ("resources", "key"), [({"memory": "3Gi"}, "memory"), ({"cpus": 2.5}, "cpus"), ({"pids": 1025}, "pids")]
)
def test_above_the_ceiling_is_a_validation_error_naming_the_key(resources, key):
    with pytest.raises(ValidationError) as raised:
        Settings().sandbox_base.limits_for(resources)

    assert raised.value.details == {"field": "resources"}
    assert f"resources.{key}" in raised.value.message


def test_a_pools_sandbox_refines_the_service_defaults():
    settings = Settings(
        pools=json.dumps(
            [{"name": "p", "sandbox": {"memory": "128Mi", "maxMemory": "4Gi", "capAdd": ["CAP_CHOWN"], "user": "10"}}]
        ),
        sandbox_pids=100,
    )
    [pool] = settings.pool_list

    assert pool.sandbox is not None
    assert pool.sandbox.defaults.memory_bytes == 128 * MiB and pool.sandbox.defaults.pids == 100
    assert pool.sandbox.ceiling.memory_bytes == 4096 * MiB
    assert pool.sandbox.cap_add == ("CHOWN",) and pool.sandbox.user == "10"


@pytest.mark.parametrize(
    "sandbox",
    [
        {"memory": "4Gi"},  # default above the ceiling (2Gi)
        {"capAdd": ["not a cap"]},
        {"readOnly": "yes"},
        {"logMaxSize": "huge"},
        {"network": "has space"},
        {"swap": "1g"},
    ],
)
def test_an_incoherent_pool_sandbox_stops_the_settings(sandbox):
    with pytest.raises(PoolConfigError):
        Settings(pools=json.dumps([{"name": "p", "sandbox": sandbox}]))


def test_resources_are_part_of_the_job_body_and_checked_for_form():
    assert parse_job({"image": "a", "command": "b", "resources": {"pids": 5}}).resources == {"pids": 5}
    with pytest.raises(ValidationError) as raised:
        parse_job({"image": "a", "command": "b", "resources": {"pids": "many"}})
    assert raised.value.details == {"field": "resources"}


def test_host_config_carries_every_sandbox_option():
    applied = Settings(sandbox_read_only=True, sandbox_cap_add=("net_raw",)).sandbox_base.apply({"cpus": 0.25})
    options = host_config_options(applied)

    assert options["nano_cpus"] == 250_000_000 and options["pids_limit"] == 256
    assert options["mem_limit"] == options["memswap_limit"] == 512 * MiB
    assert options["security_opt"] == ["no-new-privileges:true"]
    assert options["cap_drop"] == ["ALL"] and options["cap_add"] == ["NET_RAW"]
    assert options["read_only"] is True and "/tmp" in options["tmpfs"]
    assert host_config_options(None) == {}


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        ("busybox", "docker.io"),
        ("library/busybox:1", "docker.io"),
        ("index.docker.io/library/busybox", "docker.io"),
        ("ghcr.io/org/tool@sha256:" + "a" * 64, "ghcr.io"),
        ("localhost:5000/team/app:v1", "localhost:5000"),
    ],
)
def test_the_registry_of_an_image(image, registry):
    assert registry_of(image) == registry


def test_an_image_from_an_unlisted_registry_is_refused_naming_the_pool():
    refuse_unlisted("ghcr.io/a/b", (), "any")  # no list: any registry
    refuse_unlisted("busybox", ("docker.io",), "p")
    with pytest.raises(ValidationError) as raised:
        refuse_unlisted("ghcr.io/a/b", ("docker.io", "localhost:5000"), "p")
    assert raised.value.details == {"field": "image"}
    assert "'ghcr.io'" in raised.value.message and "pool 'p'" in raised.value.message


def test_the_runner_refuses_a_job_its_pool_no_longer_allows():
    settings = Settings(pools=json.dumps([{"name": "default", "registries": ["ghcr.io"]}]))

    with pytest.raises(EngineError) as raised:
        sandbox_for(JobSpec(image="busybox", command="true"), settings)
    assert raised.value.host_fault is False
    with pytest.raises(EngineError, match="ceiling"):
        sandbox_for(JobSpec(image="ghcr.io/a/b", command="true", resources={"memory": "8Gi"}), settings)
    assert sandbox_for(JobSpec(image="ghcr.io/a/b", command="true"), settings).limits.pids == 256


def test_a_container_at_its_pids_limit_is_named_so():
    applied = Settings().sandbox_base.apply({"pids": 64})

    assert "limit of 64 processes" in (at_process_limit((64, 64), applied) or "")
    assert at_process_limit((12, 64), applied) is None
    assert at_process_limit(None, applied) is None


def test_metadata_probe_auto_refuses_in_aws_and_warns_on_a_local_aws():
    assert mode_of("auto", {}) == "refuse"
    assert mode_of("auto", {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}) == "warn"
    assert mode_of("off", {}) == "off"


def test_registry_credentials_come_from_the_file_and_are_kept_for_the_ttl(tmp_path):
    path = tmp_path / "registries.json"
    path.write_text(json.dumps({"localhost:5000": {"username": "u", "password": "p1"}}))
    now = [0.0]
    credentials = RegistryCredentials(
        Settings(registry_credentials_file=str(path), registry_credentials_ttl_seconds=60), clock=lambda: now[0]
    )

    assert credentials("localhost:5000") == {"username": "u", "password": "p1"}
    assert credentials("ghcr.io") is None
    path.write_text(json.dumps({"localhost:5000": {"username": "u", "password": "p2"}}))
    now[0] = 30
    assert credentials("localhost:5000")["password"] == "p1"  # still cached
    now[0] = 61
    assert credentials("localhost:5000")["password"] == "p2"  # read again after the TTL
