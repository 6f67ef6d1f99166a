"""The local AWS endpoint: MiniStack in a process of its own, its state kept in a data folder.

Why MiniStack (figures in the README's "Local AWS" section): its DynamoDB costs the same on a
table of 10,000 items as on one of 1,000 (moto's transactions deep-copy the tables they touch,
so its cost grows with the data), each request is applied whole on one event loop (conditional
writes and transactions are atomic, as in DynamoDB), it saves its state across restarts, and it
runs CloudFormation, Lambda and API Gateway, so the CDK app itself can be deployed onto it.

MiniStack pins its own botocore, so it lives in a virtualenv of its own (made by
``bin/setup.sh`` from ``requirements-emulator.txt``) and is started through
``infra/local/ministack_main.py`` with that interpreter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The emulator's interpreter: its own virtualenv (``bin/setup.sh`` makes it).
EMULATOR_PYTHON = Path(os.environ.get("SLIPWAY_EMULATOR_PYTHON", ROOT / ".local" / "emulator-venv" / "bin" / "python"))
# Where ``bin/serve`` keeps the emulator's state unless ``--data-dir`` says otherwise.
DEFAULT_DATA_DIR = ROOT / ".local" / "data"
# Seconds between two saves of the whole state while it runs (bounds what a kill -9 loses).
DEFAULT_CHECKPOINT_SECONDS = 10.0
HEALTH_PATH = "/_ministack/health"


@dataclass(frozen=True)
class EmulatorOptions:
    port: int
    # None: nothing is written to disk and the state ends with the process (tests, benchmarks).
    data_dir: Path | None = None
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS
    # Wake long polls on a send instead of at the emulator's next 100 ms look.
    sqs_wakeup: bool = True
    log_level: str = "WARNING"


def emulator_environment(options: EmulatorOptions) -> dict[str, str]:
    """The variables MiniStack reads at import, for these options."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "PERSIST", "S3_"))}
    env.update(
        {
            "GATEWAY_PORT": str(options.port),
            "BIND_HOST": "127.0.0.1",
            "LOG_LEVEL": options.log_level.upper(),
            "SLIPWAY_EMULATOR_SQS_WAKEUP": "1" if options.sqs_wakeup else "0",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    if options.data_dir is None:
        env.update({"PERSIST_STATE": "0", "S3_PERSIST": "0"})
    else:
        state = options.data_dir / "state"
        env.update(
            {
                "PERSIST_STATE": "1",
                "STATE_DIR": str(state),
                "S3_PERSIST": "1",
                "S3_DATA_DIR": str(options.data_dir / "s3"),
                "SLIPWAY_EMULATOR_CHECKPOINT_SECONDS": str(options.checkpoint_seconds),
            }
        )
    return env


def wipe(data_dir: Path) -> None:
    """Forget everything a previous run stored (``--fresh``)."""
    for part in ("state", "s3"):
        shutil.rmtree(data_dir / part, ignore_errors=True)


def holds_data(data_dir: Path) -> bool:
    return any((data_dir / "state").glob("*.json"))


def start_emulator(options: EmulatorOptions, log_path: Path | None = None) -> subprocess.Popen[bytes]:
    """Start the emulator; the caller waits for ``HEALTH_PATH`` and stops it with SIGTERM
    (which saves its state when it has a data folder)."""
    if not EMULATOR_PYTHON.exists():
        raise RuntimeError(f"the emulator's virtualenv is missing ({EMULATOR_PYTHON}); run bin/setup.sh")
    if options.data_dir is not None:
        options.data_dir.mkdir(parents=True, exist_ok=True)
    output = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [str(EMULATOR_PYTHON), str(Path(__file__).with_name("ministack_main.py"))],
        env=emulator_environment(options),
        cwd=options.data_dir or ROOT,
        stdout=output,
        stderr=output,
    )
