"""``python -m infra.local.deployed``: the deployment itself, run locally.

Deploys ``infra/cdk`` (the CDK app and template that go to AWS) onto the local AWS emulator
(MiniStack, started by ``aws_emulator.py``) with the CDK CLI, ``cdk bootstrap`` then ``cdk
deploy``, and runs the service through it: REST routes through API Gateway to the Lambda
functions, the WebSocket API (``$connect``, ``@connections`` posts from the runner), the
EventBridge schedule of the dispatcher and the notifications queue's event source. Then a runner
(``python -m runner``) on the local Docker Engine, configured from the stack's outputs, exactly
as a runner host is (``RunnerEnvironment``). Prints the REST base URL and the WebSocket URL and
stays in the foreground until Ctrl-C or SIGTERM, which stops the runners and the emulator.

The template differs from AWS's only by the deploy option ``local_emulator`` (the emulator's
endpoint): see ``infra/cdk/local_emulator.py`` for the three changes it makes and why.
The emulator's state lives in memory: each start deploys afresh (about a minute, most of it
``chalice package`` and ``cdk synth``).
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from infra.local.aws_emulator import HEALTH_PATH, EmulatorOptions, start_emulator
from infra.local.stack import FAKE_CREDENTIALS, free_port, stop_process, wait_for_http

logger = logging.getLogger("slipway.deployed")

ROOT = Path(__file__).resolve().parents[2]
CDK_DIR = ROOT / "infra" / "cdk"
REGION = "us-east-1"
DEFAULT_WORK_DIR = ROOT / ".local" / "deployed"


@dataclass
class DeployedOptions:
    stage: str = "local"
    # Port of the emulator, which serves the APIs too (0: a free one).
    emulator_port: int = 0
    runners: int = 1
    # cdk.out, the CLI's and the emulator's logs (and the runners' when ``runner_log`` is set).
    work_dir: Path = DEFAULT_WORK_DIR
    # Extra ``-c key=value`` of the deployment: any setting or deploy option (infra/README.md).
    context: dict[str, str] = field(default_factory=dict)
    # Extra environment of every runner.
    runner_env: dict[str, str] = field(default_factory=dict)
    # The runners' output goes there (None: to this process's stdout/stderr).
    runner_log: Path | None = None
    log_level: str = "INFO"


@dataclass
class DeployedStack:
    """One stage of the CDK app deployed onto a fresh emulator, with its runners."""

    options: DeployedOptions = field(default_factory=DeployedOptions)
    outputs: dict[str, str] = field(default_factory=dict)
    # Seconds each phase took: emulator, synth and bootstrap (together), deploy, first answer.
    timings: dict[str, float] = field(default_factory=dict)
    emulator: subprocess.Popen[bytes] | None = None
    runners: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _files: list[IO[bytes]] = field(default_factory=list)

    # -- where things are ------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.options.emulator_port

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stack_name(self) -> str:
        return f"slipway-{self.options.stage}"

    @property
    def rest_url(self) -> str:
        """The REST API's base, ending in ``/`` (the ``ApiUrl`` output)."""
        return self.outputs["ApiUrl"]

    @property
    def websocket_url(self) -> str:
        """The WebSocket API (the ``WebSocketUrl`` output); ids go in the query string."""
        return self.outputs["WebSocketUrl"]

    def runner_environment(self) -> dict[str, str]:
        """The ``RunnerEnvironment`` output, as a runner host writes it to its runner.env."""
        pairs = (item.split("=", 1) for item in self.outputs["RunnerEnvironment"].split())
        return dict(pair for pair in pairs if len(pair) == 2)

    def client_env(self) -> dict[str, str]:
        """What a process needs to call the emulator's AWS APIs (as the runners do)."""
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": REGION}

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> DeployedStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        work = self.options.work_dir.resolve()
        work.mkdir(parents=True, exist_ok=True)
        cli = cdk_cli()
        if not self.options.emulator_port:
            self.options.emulator_port = free_port()
        started = time.monotonic()
        logger.info("starting the local AWS emulator (MiniStack) on port %d", self.port)
        self.emulator = start_emulator(EmulatorOptions(port=self.port, data_dir=None), work / "emulator.log")
        wait_for_http(f"{self.endpoint}{HEALTH_PATH}", timeout=60, process=self.emulator)
        self.timings["emulator"] = time.monotonic() - started

        env = self._cdk_env(work)
        # Each synthesis leaves a package of ~20 MB in chalice.out: keep only this one's.
        for stale in ("chalice.out", "cdk.out"):
            shutil.rmtree(work / stale, ignore_errors=True)
        # The app's feature flags are in cdk.json's context; the app itself is given with --app.
        (work / "cdk.json").write_text((CDK_DIR / "cdk.json").read_text())
        # Bootstrapping needs no app: it runs where no cdk.json is.
        (work / "bootstrap").mkdir(exist_ok=True)
        assembly = work / "cdk.out"
        started = time.monotonic()
        logger.info("cdk synth (chalice package) and cdk bootstrap, side by side")
        with ThreadPoolExecutor(max_workers=2) as pool:
            synth = pool.submit(self._cdk, cli, ["synth", *self._app_args(assembly), "--quiet"], env, work, "synth")
            environment = f"aws://{self._account(env)}/{REGION}"
            boot = pool.submit(self._cdk, cli, ["bootstrap", environment], env, work / "bootstrap", "bootstrap")
            synth.result()
            boot.result()
        self.timings["synth+bootstrap"] = time.monotonic() - started

        started = time.monotonic()
        logger.info("cdk deploy %s onto %s", self.stack_name, self.endpoint)
        deploy = ["deploy", "--app", str(assembly), self.options.stage, "--require-approval", "never"]
        self._cdk(cli, deploy, env, work, "deploy")
        self.timings["deploy"] = time.monotonic() - started

        self.outputs = self._read_outputs()
        started = time.monotonic()
        self._wait_healthy(timeout=120)
        self.timings["first answer"] = time.monotonic() - started
        self._start_runners(work)

    def stop(self) -> None:
        for runner in self.runners:
            stop_process(runner, "runner", 40)
        self.runners.clear()
        if self.emulator is not None:
            stop_process(self.emulator, "local AWS emulator", 30)
            self.emulator = None
        for handle in self._files:
            handle.close()
        self._files.clear()

    def __enter__(self) -> DeployedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_healthy(self, timeout: float) -> None:
        """Until ``GET /healthcheck/`` answers 200 through API Gateway (the first call starts the
        function: a cold start)."""
        url = f"{self.rest_url}healthcheck/"
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.emulator is not None and self.emulator.poll() is not None:
                raise RuntimeError(f"the emulator exited with {self.emulator.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    if response.status == 200:
                        return
                    last = f"{response.status}"
            except urllib.error.HTTPError as exc:
                last = f"{exc.code} {exc.read()[:500]!r}"
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise TimeoutError(f"{url} did not answer 200 within {timeout} s; last: {last}")

    # -- the CDK CLI -----------------------------------------------------------------------

    def _app_args(self, assembly: Path) -> list[str]:
        app = f"{shlex.quote(sys.executable)} {shlex.quote(str(CDK_DIR / 'app.py'))}"
        context = {**self.options.context, "stage": self.options.stage, "local_emulator": self.endpoint}
        args = ["--app", app, "--output", str(assembly)]
        for key, value in context.items():
            args += ["--context", f"{key}={value}"]
        return args

    def _cdk_env(self, work: Path) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SLIPWAY_", "CDK_"))}
        env.update(self.client_env())
        env.update(
            {
                "AWS_REGION": REGION,
                "AWS_EC2_METADATA_DISABLED": "true",
                # Nothing of the user's own AWS configuration (profiles, SSO) reaches the CLI.
                "AWS_CONFIG_FILE": str(work / "no-aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(work / "no-aws-credentials"),
                "CDK_DISABLE_VERSION_CHECK": "1",
                "CDK_DISABLE_CLI_TELEMETRY": "true",
                "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
                "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": _node_major(),
                "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            }
        )
        return env

    def _account(self, env: dict[str, str]) -> str:
        """The emulator's account for these credentials (STS GetCallerIdentity)."""
        import boto3

        sts = boto3.client(
            "sts",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env.get("AWS_SESSION_TOKEN"),
        )
        return str(sts.get_caller_identity()["Account"])

    def _cdk(self, cli: Path, args: list[str], env: dict[str, str], work: Path, name: str) -> None:
        command = [str(cli), *args, "--no-notices", "--no-version-reporting"]
        log = self.options.work_dir.resolve() / f"cdk-{name}.log"
        with open(log, "wb") as output:
            result = subprocess.run(command, cwd=work, env=env, stdout=output, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise RuntimeError(f"cdk {name} failed ({result.returncode}); the end of {log}:\n{tail}")

    def _read_outputs(self) -> dict[str, str]:
        """The stack's Outputs, read back from the emulator's CloudFormation."""
        import boto3

        cloudformation = boto3.client(
            "cloudformation",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        )
        stack = cloudformation.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}

    # -- runners ---------------------------------------------------------------------------

    def _start_runners(self, work: Path) -> None:
        base = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SLIPWAY_"))}
        base.update(self.client_env())
        base.update(self.runner_environment())
        base.update(self.options.runner_env)
        output: IO[bytes] | None = None
        if self.options.runner_log is not None:
            output = open(self.options.runner_log, "ab")  # noqa: SIM115
            self._files.append(output)
        for index in range(self.options.runners):
            env = dict(base)
            if self.options.runners > 1:
                env["SLIPWAY_RUNNER_HOST"] = f"{env.get('SLIPWAY_RUNNER_HOST', 'deployed')}-{index + 1}"
            command = [sys.executable, "-m", "runner", "--log-level", self.options.log_level]
            runner = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
            self.runners.append(runner)
            logger.info("runner %d started (pid %d) on the local Docker Engine", index + 1, runner.pid)


def _node_major() -> str:
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout
    return version.strip().lstrip("v").split(".")[0]


def cdk_cli() -> Path:
    """The pinned CDK CLI (``infra/cdk/setup.sh`` installs it, and Node.js/npm when missing)."""
    result = subprocess.run(
        ["bash", str(CDK_DIR / "setup.sh")], capture_output=True, text=True, timeout=900, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"infra/cdk/setup.sh failed: {result.stderr.strip()}")
    return Path(result.stdout.strip().splitlines()[-1])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.local.deployed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default=os.environ.get("SLIPWAY_STAGE", "local"))
    parser.add_argument("--emulator-port", type=int, default=0, help="the emulator's port (default: a free one)")
    parser.add_argument("--runners", type=int, default=1, help="runners to start on the local Docker Engine")
    parser.add_argument("--work-dir", default=str(DEFAULT_WORK_DIR), help="cdk.out and the logs")
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting or deploy option of the deployment, as `cdk deploy -c` takes it (repeatable)",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def serve_deployed(options: DeployedOptions) -> int:
    """Deploy, print where the service is, and wait for Ctrl-C or SIGTERM (``bin/serve --deployed``)."""
    stop = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)}
    deployed = DeployedStack(options)
    try:
        started = time.monotonic()
        deployed.start()
        timings = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in deployed.timings.items())
        logger.info("deployed in %.1f s (%s)", time.monotonic() - started, timings)
        print(
            f"\nSlipway stage {options.stage!r}, deployed from infra/cdk onto the local emulator:\n"
            f"  REST API   {deployed.rest_url}\n"
            f"  WebSocket  {deployed.websocket_url}?taskId=<task>&jobId=<job>[&executionId=<execution>]\n"
            f"  AWS        {deployed.endpoint} (AWS_ENDPOINT_URL, any credentials)\n"
            f"  logs       {options.work_dir}\n"
            "Ctrl-C stops it.\n",
            flush=True,
        )
        while not stop.wait(1):
            for runner in deployed.runners:
                if runner.poll() is not None:
                    logger.error("runner pid %d exited with %s", runner.pid, runner.returncode)
                    stop.set()
            if deployed.emulator is not None and deployed.emulator.poll() is not None:
                logger.error("the emulator exited with %s", deployed.emulator.returncode)
                stop.set()
        logger.info("stopping")
    finally:
        deployed.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    logger.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    from chalicelib.logs_setup import configure

    args = parse_args(argv)
    configure(args.log_level, "deployed")
    context = dict(item.split("=", 1) for item in args.context)
    options = DeployedOptions(
        stage=args.stage,
        emulator_port=args.emulator_port,
        runners=args.runners,
        work_dir=Path(args.work_dir),
        context=context,
        log_level=args.log_level,
    )
    return serve_deployed(options)


if __name__ == "__main__":
    sys.exit(main())
