"""Can a job's container reach the cloud's instance metadata endpoint? Asked once, at start-up.

Where it can, any job can read the credentials of the host's role (every table, every log).
The host rule of ``infra/host/block-metadata.sh`` (a DROP in Docker's ``DOCKER-USER`` chain)
keeps containers from it. Before it takes work the runner starts a probe container, in the
sandbox and on the network its pool's jobs get, that tries an HTTP request to the address:

- ``refuse``: the endpoint answered, or the probe could not tell → the runner takes no work
  and exits (status 3, which the systemd unit does not restart).
- ``warn``: the same findings are logged as warnings, and work goes on.
- ``off``: no probe.
- ``auto`` (the default): ``refuse`` against AWS, ``warn`` against a local AWS (the standard
  ``AWS_ENDPOINT_URL`` is set: the local stack, the tests, a developer's emulator).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.domain.pools import pool_named, sandbox_of
from chalicelib.settings import Settings
from runner.docker_engine import ContainerSpec, DockerEngine, EngineError

logger = logging.getLogger(__name__)

# What wget prints (busybox's and GNU's) once an HTTP answer came back, whatever its status: an
# error page (IMDSv2's 401, a 403, a 404) is an answer all the same.
_ANSWERED = ("server returned error", "ERROR 4", "ERROR 5")
_EXIT = re.compile(r"^exit=(\d+)$", re.MULTILINE)


class MetadataReachable(Exception):
    """The runner refuses to take work: job containers can reach the metadata endpoint."""


@dataclass(frozen=True)
class ProbeResult:
    # True: the endpoint answered; False: it did not; None: the probe itself failed.
    reachable: bool | None
    detail: str


def probe(engine: DockerEngine, settings: Settings) -> ProbeResult:
    """Try the metadata address from a container sandboxed as this runner's pool's jobs are."""
    pool = pool_named(settings.runner_pool, settings)
    sandbox = sandbox_of(pool, settings).apply(None)
    url = f"http://{settings.metadata_address}/"
    timeout = settings.metadata_probe_timeout_seconds
    # ``timeout`` rather than wget's own -T, which crashes some busybox builds.
    script = f'timeout {timeout} wget -O /dev/null {url} 2>&1; echo "exit=$?"'
    spec = ContainerSpec(
        image=settings.metadata_probe_image,
        argv=["sh", "-c", script],
        labels={f"{settings.container_label_prefix}.probe": "metadata"},
        sandbox=sandbox,
    )
    try:
        exit_code, output = engine.run_to_end(spec, timeout=timeout * 2 + 20)
    except EngineError as exc:
        return ProbeResult(None, f"the probe container could not run: {exc}")
    if exit_code is None:
        return ProbeResult(None, "the probe container did not end in time")
    status = _EXIT.search(output)
    if status is None:
        return ProbeResult(None, f"the probe printed no exit status: {output[-300:]!r}")
    answered = status.group(1) == "0" or any(mark in output for mark in _ANSWERED)
    detail = " ".join(output.split())[-300:]
    return ProbeResult(answered, detail)


def mode_of(setting: str, environ: Mapping[str, str]) -> str:
    """``settings.metadata_probe`` with ``auto`` decided: refuse in AWS, warn on a local AWS."""
    if setting != "auto":
        return setting
    return "warn" if environ.get("AWS_ENDPOINT_URL") else "refuse"


def check(engine: DockerEngine, settings: Settings, environ: Mapping[str, str] | None = None) -> ProbeResult | None:
    """The start-up check, as ``settings.metadata_probe`` says; raises MetadataReachable to refuse."""
    mode = mode_of(settings.metadata_probe, os.environ if environ is None else environ)
    if mode == "off":
        return None
    result = probe(engine, settings)
    address = settings.metadata_address
    if result.reachable is False:
        logger.info("metadata endpoint %s is not reachable from job containers: good", address)
        return result
    if result.reachable:
        problem = (
            f"job containers can reach the instance metadata endpoint {address} ({result.detail}): "
            "any job could take this host's credentials. Install the host rule (infra/host/block-metadata.sh)"
        )
    else:
        problem = f"could not check that job containers cannot reach {address}: {result.detail}"
    if mode == "refuse":
        logger.error("%s; refusing to take work (SLIPWAY_METADATA_PROBE=refuse)", problem)
        raise MetadataReachable(problem)
    logger.warning("%s (SLIPWAY_METADATA_PROBE=%s: taking work anyway)", problem, settings.metadata_probe)
    return result
