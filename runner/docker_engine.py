"""The Docker Engine adapter: the only module of the runner that speaks to Docker."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlparse

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import LogConfig

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.image_refs import parse_image
from chalicelib.domain.registries import canonical_registry
from chalicelib.domain.sandbox import AppliedSandbox

# A registry's credentials for a pull ({"username": …, "password": …}), or None: pull anonymously.
RegistryAuth = Callable[[str], dict[str, str] | None]

_NOT_FOUND = re.compile(r"executable file not found|no such file or directory", re.IGNORECASE)
_NOT_EXECUTABLE = re.compile(r"permission denied", re.IGNORECASE)


class EngineError(Exception):
    """Docker could not do what was asked; the message says why, for the execution's ``error``.

    ``host_fault`` tells a fault of the Docker host (unreachable, refusing, erroring) from one
    of the job (its image does not exist, its command cannot run): only host faults count
    towards the runner's circuit breaker.
    """

    def __init__(self, message: str, host_fault: bool = True) -> None:
        super().__init__(message)
        self.host_fault = host_fault


class CommandNotRunnable(EngineError):
    """The container was made but its command could not start (exit code as a shell would give)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message, host_fault=False)
        self.exit_code = exit_code


@dataclass(frozen=True)
class ContainerSpec:
    image: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    # Limits and options of the container (None: Docker's defaults, unconfined).
    sandbox: AppliedSandbox | None = None
    # The network of a container without a sandbox (a sandbox names its own); None: Docker's default.
    network: str | None = None


@dataclass(frozen=True)
class ExitState:
    """How a container ended, beyond its exit code."""

    exit_code: int
    oom_killed: bool


def host_config_options(sandbox: AppliedSandbox | None, network: str | None = None) -> dict[str, object]:
    """The ``create_host_config`` arguments of a sandbox (without one: only ``network``, if any)."""
    if sandbox is None:
        return {"network_mode": network} if network else {}
    box, limits = sandbox.sandbox, sandbox.limits
    options: dict[str, object] = {
        "mem_limit": limits.memory_bytes,
        # The same as the memory: no swap on top of it, so the limit is what the job gets.
        "memswap_limit": limits.memory_bytes,
        "nano_cpus": limits.nano_cpus,
        "pids_limit": limits.pids,
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
        "cap_add": list(box.cap_add) or None,
        "read_only": box.read_only,
        "network_mode": box.network,
        "log_config": LogConfig(
            type=LogConfig.types.JSON, config={"max-size": box.log_max_size, "max-file": str(box.log_max_files)}
        ),
    }
    if box.read_only:
        options["tmpfs"] = {"/tmp": f"rw,nosuid,nodev,size={box.tmpfs_size}"}
    return options


# Client errors that are not the job's: a container gone or in use (409) is about the host's
# state, and a timeout or throttle (408, 429) will pass.
_HOST_CLIENT_ERRORS = frozenset({404, 408, 409, 429})


def _job_refused(exc: Exception) -> bool:
    """Docker refused the request itself (a 4xx: an image reference it cannot parse, a bad
    parameter): the job's fault, which no other host would take either, so not a host fault."""
    if not isinstance(exc, APIError) or exc.response is None:
        return False
    return exc.is_client_error() and exc.response.status_code not in _HOST_CLIENT_ERRORS


def _reason(exc: Exception) -> str:
    if isinstance(exc, APIError):
        return str(exc.explanation or exc)
    return str(exc)


# API version spoken when the Engine cannot be asked for its own at start (it is unreachable):
# the runner still starts, and its circuit breaker deals with the failures.
_FALLBACK_API_VERSION = "1.41"


def _client_from_env(timeout: int) -> docker.DockerClient:
    try:
        return docker.from_env(timeout=timeout)
    except DockerException:
        return docker.from_env(timeout=timeout, version=_FALLBACK_API_VERSION)


class DockerEngine:
    def __init__(self, client: docker.DockerClient | None = None, timeout: int = 60) -> None:
        self._client = client or _client_from_env(timeout)
        self._api = self._client.api
        # Credentials of private registries, asked for at pull time (runner/registry_auth.py).
        self.registry_auth: RegistryAuth = lambda registry: None

    @property
    def port(self) -> int | None:
        return urlparse(self._api.base_url).port

    def ping(self) -> None:
        try:
            self._api.ping()
        except (DockerException, requests.RequestException) as exc:
            raise EngineError(f"Docker Engine unreachable: {exc}") from exc

    def pull(self, image: str) -> None:
        """Pull ``image`` by its tag or, pinned, by its digest (``repo@sha256:…``)."""
        try:
            reference = parse_image(image)
        except ValidationError as exc:
            raise EngineError(exc.message, host_fault=False) from exc
        try:
            auth = self.registry_auth(canonical_registry(reference.domain))
        except Exception as exc:
            raise EngineError(f"could not read the credentials of {reference.domain or 'docker.io'}: {exc}") from exc
        try:
            self._client.images.pull(reference.name, tag=reference.pull_tag, auth_config=auth)
        except (DockerException, requests.RequestException) as exc:
            # A registry's refusal (no such image, no access) is the job's fault, not the host's.
            raise EngineError(
                f"image {image!r} is not on the Docker host and could not be pulled: {_reason(exc)}",
                host_fault=not isinstance(exc, APIError),
            ) from exc

    def create(self, spec: ContainerSpec) -> str:
        """Create the container, pulling its image first when the host lacks it."""
        try:
            return self._create(spec)
        except ImageNotFound:
            self.pull(spec.image)
            try:
                return self._create(spec)
            except (DockerException, requests.RequestException) as exc:
                raise EngineError(f"could not create the container: {_reason(exc)}", not _job_refused(exc)) from exc
        except (DockerException, requests.RequestException) as exc:
            raise EngineError(f"could not create the container: {_reason(exc)}", not _job_refused(exc)) from exc

    def _create(self, spec: ContainerSpec) -> str:
        container = self._api.create_container(
            image=spec.image,
            command=spec.argv,
            environment=spec.env,
            labels=spec.labels,
            name=spec.name,
            detach=True,
            user=(spec.sandbox.sandbox.user or None) if spec.sandbox is not None else None,
            host_config=self._api.create_host_config(**host_config_options(spec.sandbox, spec.network)),
        )
        return container["Id"]

    def exit_state(self, container_id: str) -> ExitState:
        """How the container ended: its exit code and whether the kernel killed it for memory."""
        try:
            state = self._api.inspect_container(container_id)["State"]
        except (DockerException, requests.RequestException) as exc:
            raise EngineError(f"could not inspect the container: {_reason(exc)}") from exc
        return ExitState(int(state.get("ExitCode") or 0), bool(state.get("OOMKilled")))

    def processes(self, container_id: str) -> tuple[int, int | None] | None:
        """The processes the running container has and its pids limit (None: not known)."""
        try:
            stats = self._api.stats(container_id, stream=False, one_shot=True)
        except (DockerException, requests.RequestException):
            return None
        pids = stats.get("pids_stats") or {}
        if "current" not in pids:
            return None
        limit = pids.get("limit")
        return int(pids["current"]), None if limit in (None, 0) or limit > 2**62 else int(limit)

    def run_to_end(self, spec: ContainerSpec, timeout: float) -> tuple[int | None, str]:
        """Run a short-lived container (a probe) to its end: its exit code (None: still running
        after ``timeout`` s, then killed) and its output; it is removed whatever happens."""
        container_id = self.create(spec)
        try:
            self.start(container_id)
            exit_code = self.wait(container_id, timeout)
            if exit_code is None:
                self.kill(container_id)
            raw = self._api.logs(container_id, stdout=True, stderr=True)
            return exit_code, raw.decode("utf-8", "replace")
        except (DockerException, requests.RequestException) as exc:
            raise EngineError(f"the probe container failed: {_reason(exc)}") from exc
        finally:
            self.remove(container_id)

    def start(self, container_id: str) -> None:
        try:
            self._api.start(container_id)
        except APIError as exc:
            reason = _reason(exc)
            if _NOT_FOUND.search(reason):
                raise CommandNotRunnable(f"command not found: {reason}", 127) from exc
            if _NOT_EXECUTABLE.search(reason):
                raise CommandNotRunnable(f"command not executable: {reason}", 126) from exc
            raise EngineError(f"could not start the container: {reason}", not _job_refused(exc)) from exc
        except (DockerException, requests.RequestException) as exc:
            raise EngineError(f"could not start the container: {_reason(exc)}") from exc

    def output(self, container_id: str, stream: str) -> Iterator[bytes]:
        """Chunks of one stream ("stdout" or "stderr") from the container's start until it ends.

        ``logs --follow`` rather than ``attach``: it replays what was printed before the call and
        ends when the container does, even when it has already exited.
        """
        try:
            yield from self._api.logs(
                container_id, stdout=stream == "stdout", stderr=stream == "stderr", stream=True, follow=True
            )
        except (DockerException, requests.RequestException) as exc:
            raise EngineError(f"lost the container's {stream}: {_reason(exc)}") from exc

    def output_after(self, container_id: str, stream: str, skip: int) -> Iterator[bytes]:
        """The bytes of one stream past its first ``skip``, read once (no follow) from an ended
        container: what a ``logs --follow`` that stopped at the container's exit before reaching
        the end of the log did not deliver."""
        try:
            logs = self._api.logs(container_id, stdout=stream == "stdout", stderr=stream == "stderr", stream=True)
            for chunk in logs:
                if skip >= len(chunk):
                    skip -= len(chunk)
                    continue
                yield chunk[skip:]
                skip = 0
        except (DockerException, requests.RequestException) as exc:
            raise EngineError(f"lost the container's {stream}: {_reason(exc)}") from exc

    def wait(self, container_id: str, timeout: float) -> int | None:
        """The exit code, or None when the container is still running after ``timeout`` seconds."""
        try:
            result = self._api.wait(container_id, timeout=timeout)
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as exc:
            # docker-py reports the end of its read timeout either way, depending on urllib3.
            if isinstance(exc, requests.exceptions.ReadTimeout) or "timed out" in str(exc).lower():
                return None
            raise EngineError(f"lost the container while waiting for it: {exc}") from exc
        except (DockerException, requests.RequestException) as exc:
            raise EngineError(f"lost the container while waiting for it: {_reason(exc)}") from exc
        return int(result.get("StatusCode", -1))

    def kill(self, container_id: str) -> None:
        try:
            self._api.kill(container_id)
        except NotFound:
            return
        except APIError as exc:
            if "is not running" in _reason(exc):
                return
            raise EngineError(f"could not kill the container: {_reason(exc)}") from exc
        except (DockerException, requests.RequestException) as exc:
            # The daemon unreachable (restarting, its socket gone) is an EngineError like any
            # other failure here: its callers (a heartbeat, a stop) log it and go on.
            raise EngineError(f"could not kill the container: {_reason(exc)}") from exc

    def remove(self, container_id: str) -> None:
        try:
            self._api.remove_container(container_id, force=True)
        except NotFound:
            return
        except (DockerException, requests.RequestException) as exc:
            raise EngineError(f"could not remove the container: {_reason(exc)}") from exc

    def rename(self, container_id: str, name: str) -> None:
        try:
            self._api.rename(container_id, name)
        except (DockerException, requests.RequestException) as exc:
            raise EngineError(f"could not rename the container: {_reason(exc)}") from exc

    def started_at(self, container_id: str) -> str:
        return self._api.inspect_container(container_id)["State"]["StartedAt"]

    def containers_labelled(self, label: str) -> list[dict[str, object]]:
        return self._api.containers(all=True, filters={"label": label})

    def find(self, labels: dict[str, str]) -> list[Container]:
        """Every container (running or not) that carries all of ``labels``."""
        try:
            found = self._api.containers(all=True, filters={"label": [f"{k}={v}" for k, v in labels.items()]})
        except (DockerException, requests.RequestException) as exc:
            raise EngineError(f"could not list the containers: {_reason(exc)}") from exc
        return [
            Container(
                id=str(item["Id"]),
                labels=dict(item.get("Labels") or {}),
                state=str(item.get("State") or ""),
                created=datetime.fromtimestamp(int(item.get("Created") or 0), UTC),
            )
            for item in found
        ]

    def started(self, container_id: str) -> datetime | None:
        """When the container started, or None if it never did."""
        try:
            raw = str(self._api.inspect_container(container_id)["State"].get("StartedAt") or "")
        except (DockerException, requests.RequestException) as exc:
            raise EngineError(f"could not inspect the container: {_reason(exc)}") from exc
        return parse_docker_time(raw)


@dataclass(frozen=True)
class Container:
    id: str
    labels: dict[str, str]
    # Docker's state: "created", "running", "exited", "dead", "paused", ...
    state: str
    created: datetime


def parse_docker_time(raw: str) -> datetime | None:
    """Docker's RFC 3339 times carry nanoseconds; the zero time means "never"."""
    if not raw or raw.startswith("0001-"):
        return None
    whole, _, fraction = raw.rstrip("Z").partition(".")
    fraction = "".join(ch for ch in fraction if ch.isdigit())[:6].ljust(6, "0")
    return datetime.strptime(f"{whole}.{fraction}", "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
