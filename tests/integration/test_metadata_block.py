"""The instance metadata endpoint, unreachable from job containers: the host rule of
``infra/host/block-metadata.sh`` and the runner's start-up probe, for real.

A "metadata service" of the test's own listens on 169.254.169.254 in a network namespace of its
own, behind a veth pair, as the cloud's sits beyond the host. Only traffic from this module's
Docker network is routed there (a policy-routing rule on its bridge), and the DROP rule is
installed for that bridge only, so nothing else on the machine (other Docker networks, the host's
own view of 169.254.169.254) changes. Everything is removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from chalicelib.settings import Settings
from infra.local.stack import stop_process
from runner.docker_engine import DockerEngine
from runner.metadata_probe import MetadataReachable, check, probe
from tests.conftest import LOG_DIR, TEST_IMAGE

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "infra" / "host" / "block-metadata.sh"
ADDRESS = "169.254.169.254"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("iptables") is None,
    reason="needs root, ip and iptables (network namespaces and the DOCKER-USER chain)",
)


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=check)


@dataclass
class MetadataLab:
    network: str
    bridge: str
    token: str

    def settings(self, **values: object) -> Settings:
        pools = f'[{{"name": "default", "sandbox": {{"network": "{self.network}"}}}}]'
        return Settings(pools=pools, metadata_probe_image=TEST_IMAGE, **values)  # type: ignore[arg-type]

    def block(self, remove: bool = False) -> None:
        _sh(str(SCRIPT), "--interface", self.bridge, *(["--remove"] if remove else []))

    def blocked(self) -> bool:
        rule = ["iptables", "-C", "DOCKER-USER", "-i", self.bridge, "-d", ADDRESS, "-j", "DROP"]
        return _sh(*rule, check=False).returncode == 0


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetadataLab]:
    tag = uuid.uuid4().hex[:6]
    network, bridge, namespace = f"slipway-md-{tag}", f"slmd{tag}", f"slmd-{tag}"
    host_end, ns_end = f"slmdh{tag}", f"slmdn{tag}"
    table = str(20000 + int(tag, 16) % 10000)
    subnet = f"10.254.{int(tag[:2], 16)}"
    served = tmp_path_factory.mktemp("metadata")
    token = uuid.uuid4().hex
    (served / "latest").write_text(token)
    client = docker.from_env()
    net = client.networks.create(network, driver="bridge", options={"com.docker.network.bridge.name": bridge})
    listener: subprocess.Popen[bytes] | None = None
    try:
        _sh("ip", "netns", "add", namespace)
        _sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        _sh("ip", "link", "set", ns_end, "netns", namespace)
        _sh("ip", "addr", "add", f"{subnet}.1/30", "dev", host_end)
        _sh("ip", "link", "set", host_end, "up")
        inside = ["ip", "netns", "exec", namespace]
        _sh(*inside, "ip", "addr", "add", f"{subnet}.2/30", "dev", ns_end)
        _sh(*inside, "ip", "addr", "add", f"{ADDRESS}/32", "dev", ns_end)
        _sh(*inside, "ip", "link", "set", ns_end, "up")
        _sh(*inside, "ip", "link", "set", "lo", "up")
        _sh(*inside, "ip", "route", "add", "default", "via", f"{subnet}.1")
        # Only what comes from this module's bridge is routed to the namespace's listener.
        _sh("ip", "route", "add", f"{ADDRESS}/32", "via", f"{subnet}.2", "dev", host_end, "table", table)
        _sh("ip", "rule", "add", "iif", bridge, "to", f"{ADDRESS}/32", "lookup", table)
        listener = subprocess.Popen(
            [*inside, sys.executable, "-m", "http.server", "--bind", ADDRESS, "80", "--directory", str(served)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_listening(inside, listener)
        yield MetadataLab(network, bridge, token)
    finally:
        if listener is not None:
            listener.terminate()
            listener.wait(10)
        _sh(str(SCRIPT), "--interface", bridge, "--remove", check=False)
        _sh("ip", "rule", "del", "iif", bridge, "to", f"{ADDRESS}/32", "lookup", table, check=False)
        _sh("ip", "route", "flush", "table", table, check=False)
        _sh("ip", "link", "del", host_end, check=False)
        _sh("ip", "netns", "del", namespace, check=False)
        net.remove()


def _wait_listening(inside: list[str], listener: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and listener.poll() is None:
        if f"{ADDRESS}:80" in _sh(*inside, "ss", "-ltn", check=False).stdout:
            return
        time.sleep(0.2)
    raise AssertionError("the metadata listener did not start")


def _fetch_from_container(lab: MetadataLab) -> str:
    """What a job container on the lab's network gets from the metadata address."""
    output = docker.from_env().containers.run(
        TEST_IMAGE,
        ["sh", "-c", f"timeout 3 wget -q -O - http://{ADDRESS}/latest 2>&1; echo exit=$?"],
        network=lab.network,
        remove=True,
    )
    return output.decode()


def test_without_the_rule_a_container_reaches_the_listener_and_with_it_cannot(lab: MetadataLab) -> None:
    lab.block(remove=True)
    assert lab.token in _fetch_from_container(lab)
    assert probe(DockerEngine(), lab.settings()).reachable is True

    lab.block()
    lab.block()  # idempotent: a second run adds nothing
    try:
        listing = _sh("iptables", "-S", "DOCKER-USER").stdout
        assert listing.count(f"-i {lab.bridge} ") == 1
        fetched = _fetch_from_container(lab)
        assert lab.token not in fetched and "exit=0" not in fetched
        assert probe(DockerEngine(), lab.settings()).reachable is False
    finally:
        lab.block(remove=True)
    assert not lab.blocked()


def test_the_start_up_check_refuses_warns_or_passes(lab: MetadataLab) -> None:
    engine = DockerEngine()
    lab.block(remove=True)
    with pytest.raises(MetadataReachable, match="can reach the instance metadata endpoint"):
        check(engine, lab.settings(metadata_probe="refuse"))
    assert check(engine, lab.settings(metadata_probe="warn")).reachable is True  # type: ignore[union-attr]
    assert check(engine, lab.settings(metadata_probe="off")) is None

    lab.block()
    try:
        assert check(engine, lab.settings(metadata_probe="refuse")).reachable is False  # type: ignore[union-attr]
    finally:
        lab.block(remove=True)


def _runner(lab: MetadataLab, mode: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SLIPWAY_POOLS": f'[{{"name": "default", "sandbox": {{"network": "{lab.network}"}}}}]',
        "SLIPWAY_METADATA_PROBE": mode,
        "SLIPWAY_METADATA_PROBE_IMAGE": TEST_IMAGE,
        "SLIPWAY_RUNNER_HOST": f"md-{uuid.uuid4().hex[:6]}",
    }
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "runner"], cwd=ROOT, env=env, stdout=out, stderr=out)


def _wait_for_line(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if process.poll() is not None and text not in log.read_text(errors="replace"):
            break
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in the runner's log: {log.read_text(errors='replace')[-2000:]}")


def test_a_runner_refuses_to_take_work_when_its_probe_reaches_the_endpoint(lab: MetadataLab, stack) -> None:
    lab.block(remove=True)
    log = LOG_DIR / "metadata-runner-refuse.log"
    refusing = _runner(lab, "refuse", log)

    assert refusing.wait(60) == 3
    text = log.read_text()
    assert "refusing to take work" in text and "taking work (concurrency" not in text

    warn_log = LOG_DIR / "metadata-runner-warn.log"
    warning = _runner(lab, "warn", warn_log)
    try:
        _wait_for_line(warn_log, "taking work anyway", warning)
        _wait_for_line(warn_log, "taking work (concurrency", warning)
    finally:
        stop_process(warning, "runner")


def test_a_runner_behind_the_rule_takes_work_with_refuse(lab: MetadataLab, stack) -> None:
    lab.block()
    log = LOG_DIR / "metadata-runner-blocked.log"
    runner = _runner(lab, "refuse", log)
    try:
        _wait_for_line(log, "is not reachable from job containers", runner)
        _wait_for_line(log, "taking work (concurrency", runner)
    finally:
        stop_process(runner, "runner")
        lab.block(remove=True)
