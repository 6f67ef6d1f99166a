"""infra/systemd/slipway-runner.service: a valid unit that runs the runner image as documented."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

from tests.infra.support import ROOT

UNIT = ROOT / "infra" / "systemd" / "slipway-runner.service"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text().replace("\\\n", " "))
    return parser


def test_unit_runs_the_runner_container_with_the_host_socket_and_environment() -> None:
    service = _unit()["Service"]
    start = " ".join(service["ExecStart"].split())
    assert start.startswith("/usr/bin/docker run ")
    assert "--volume /var/run/docker.sock:/var/run/docker.sock" in start
    assert "--env-file /etc/slipway/runner.env" in start
    assert "--env SLIPWAY_RUNNER_HOST=%H" in start
    assert start.endswith("${SLIPWAY_RUNNER_IMAGE}")
    assert service["Restart"] == "always"


def test_stopping_waits_for_running_executions() -> None:
    service = _unit()["Service"]
    match = re.search(r"^Environment=SLIPWAY_STOP_TIMEOUT=(\d+)$", UNIT.read_text(), re.MULTILINE)
    assert match, "the unit sets a default SLIPWAY_STOP_TIMEOUT"
    stop_timeout = int(match.group(1))
    assert re.search(r"docker stop --time \$\{SLIPWAY_STOP_TIMEOUT\} slipway-runner", service["ExecStop"])
    # systemd must not kill the unit before `docker stop` has waited the whole warm stop.
    assert int(service["TimeoutStopSec"]) > stop_timeout


def test_unit_passes_systemd_analyze_where_systemd_is_installed(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        # The structural checks above still ran; this machine has no systemd to ask.
        return
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text())
    result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "Unknown key" not in result.stderr


def test_the_host_rule_is_installed_before_each_start_and_a_refusing_runner_is_not_restarted() -> None:
    service = _unit()["Service"]
    text = UNIT.read_text()
    start = " ".join(service["ExecStart"].split())

    assert "ExecStartPre=/usr/local/sbin/slipway-block-metadata" in text
    assert "install -D -m 0755 infra/host/block-metadata.sh /usr/local/sbin/slipway-block-metadata" in text
    # On the host's network, the runner's own traffic does not cross DOCKER-USER: it keeps its role.
    assert "--network host" in start
    # runner/__main__.py's EXIT_REFUSED: a runner whose probe reaches the metadata endpoint.
    from runner.__main__ import EXIT_REFUSED

    assert service["RestartPreventExitStatus"] == str(EXIT_REFUSED)


def test_the_host_rule_script_is_valid_sh() -> None:
    script = ROOT / "infra" / "host" / "block-metadata.sh"
    result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, timeout=30, check=False)

    assert result.returncode == 0, result.stderr
    usage = subprocess.run([str(script), "--bogus"], capture_output=True, text=True, timeout=30, check=False)
    assert usage.returncode == 2 and "usage" in usage.stderr
