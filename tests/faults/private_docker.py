"""A Docker daemon of the fault suite's own, to restart mid-run without touching anyone else's.

The machine's ``dockerd`` runs every other test's containers (and other checkouts' tests): a
restart of it would kill theirs too. This is a second, real ``dockerd`` with its own socket,
data root and exec root (and its own containerd), a bridge of its own and no iptables rules,
so it changes nothing on the host. Not ``--bridge=none``: a daemon started so deletes the
host's ``docker0`` on its way up, which cuts every container of the machine's daemon off.
Only the fault suite's runner is pointed at it (``DOCKER_HOST``); the test image is copied in
from the machine's daemon (``docker save`` | ``docker load``).

Stopping it is what a ``systemctl restart docker`` does first: SIGTERM. Without live-restore
the daemon stops its containers on the way out (SIGTERM, then SIGKILL after their stop
timeout: exit code 137), and the next start finds them exited, with their logs.

Starting ``dockerd`` needs root: as root it is run directly, else through ``sudo -n``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import docker


def _as_root(argv: list[str]) -> list[str]:
    return argv if os.geteuid() == 0 else ["sudo", "-n", *argv]


# The private daemon's own bridge (an interface name: 15 characters at most) and its address.
BRIDGE = "slwfault0"
BRIDGE_ADDRESS = "10.254.213.1/24"


def _ensure_bridge(bridge: str, address: str) -> None:
    if subprocess.run(["ip", "link", "show", bridge], capture_output=True, check=False).returncode == 0:
        return
    subprocess.run(_as_root(["ip", "link", "add", bridge, "type", "bridge"]), check=True)
    subprocess.run(_as_root(["ip", "addr", "add", address, "dev", bridge]), check=True)
    subprocess.run(_as_root(["ip", "link", "set", bridge, "up"]), check=True)


def _remove_bridge(bridge: str) -> None:
    subprocess.run(_as_root(["ip", "link", "delete", bridge]), capture_output=True, check=False)


class PrivateDockerd:
    """``bridge``/``bridge_address``: another suite's daemon takes another bridge, so the two can
    run at once. ``hosts``: names the daemon alone resolves to addresses of this machine (it runs
    in a mount namespace of its own whose ``/etc/hosts`` adds them; the machine's is untouched).
    ``extra_args``: more ``dockerd`` options (``--insecure-registry=…``)."""

    def __init__(
        self,
        root: Path,
        bridge: str = BRIDGE,
        bridge_address: str = BRIDGE_ADDRESS,
        hosts: dict[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.pidfile = root / "docker.pid"
        self.log_path = root / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.bridge, self.bridge_address = bridge, bridge_address
        self.hosts = hosts or {}
        self.extra_args = extra_args

    def _hosts_wrapper(self) -> list[str]:
        """The command prefix that runs dockerd with its own ``/etc/hosts`` (none without ``hosts``)."""
        if not self.hosts:
            return []
        hosts_file = self.root / "hosts"
        added = "".join(f"{address} {name}\n" for name, address in self.hosts.items())
        hosts_file.write_text(Path("/etc/hosts").read_text() + "\n" + added)
        script = 'mount --bind "$0" /etc/hosts && exec "$@"'
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(hosts_file)]

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def client(self, timeout: int = 60) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=timeout)

    def start(self, timeout: float = 60) -> PrivateDockerd:
        assert shutil.which("dockerd"), "dockerd is not installed (bin/setup.sh installs it)"
        self.root.mkdir(parents=True, exist_ok=True)
        _ensure_bridge(self.bridge, self.bridge_address)
        command = [
            *self._hosts_wrapper(),
            "dockerd",
            f"--host={self.url}",
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.pidfile}",
            f"--bridge={self.bridge}",
            "--iptables=false",
            "--ip-masq=false",
            *self.extra_args,
        ]
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps its copy
        self.process = subprocess.Popen(_as_root(command), stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, f"dockerd exited with {self.process.returncode}; see {self.log_path}"
            try:
                self.client(timeout=2).ping()
                return self
            except Exception:  # noqa: BLE001 - not up yet
                assert time.monotonic() < deadline, f"dockerd did not answer within {timeout} s; see {self.log_path}"
                time.sleep(0.1)

    def load_image(self, image: str) -> None:
        """Copy ``image`` from the machine's daemon (no registry involved)."""
        saved = docker.from_env(timeout=120).images.get(image).save(named=True)
        self.client(timeout=120).images.load(b"".join(saved))

    def stop(self, timeout: float = 60) -> float:
        """SIGTERM, as a service manager stops it; the seconds it took to exit."""
        started = time.monotonic()
        if self.process is None or self.process.poll() is not None:
            return 0.0
        pid = int(self.pidfile.read_text()) if self.pidfile.exists() else self.process.pid
        subprocess.run(_as_root(["kill", "-TERM", str(pid)]), check=True)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            subprocess.run(_as_root(["kill", "-KILL", str(pid)]), check=False)
            self.process.wait(10)
        return time.monotonic() - started

    def restart(self) -> float:
        """Stop and start again; the seconds the daemon did not answer."""
        started = time.monotonic()
        self.stop()
        self.start()
        self.restarts += 1
        return time.monotonic() - started

    def remove_all(self) -> None:
        """Remove every container left on it, then stop it and delete its data."""
        if self.process is not None and self.process.poll() is None:
            client = self.client()
            for container in client.containers.list(all=True, sparse=True):
                container.remove(force=True)
        self.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        subprocess.run(_as_root(["rm", "-rf", str(self.root / "data"), str(self.root / "exec")]), check=False)
        _remove_bridge(self.bridge)

    def __enter__(self) -> PrivateDockerd:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.remove_all()
