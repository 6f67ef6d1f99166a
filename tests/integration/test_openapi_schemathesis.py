"""schemathesis against GET /openapi.json on a real local stack: generated requests for every
operation (the older /job/ forms too), examples, boundary values, fuzzing and link-following
sequences (enqueue → job → execution → stop/retry). No 5xx, and every answer must match the
document: status code, content type, headers and body schema; what the document forbids must be
refused with a 4xx.

Its own stack without a runner: generated jobs are stored and queued, never run (their random
images would otherwise be pulled). ``SLIPWAY_FUZZ_EXAMPLES`` / ``SLIPWAY_FUZZ_SEED`` tune the run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.harness import StackProcess
from tests.conftest import LOG_DIR

EXAMPLES = os.environ.get("SLIPWAY_FUZZ_EXAMPLES", "25")
SECURED_EXAMPLES = os.environ.get("SLIPWAY_FUZZ_SECURED_EXAMPLES", "8")
USER, PASSWORD = "fuzzer", "fuzz-pass"
SEED = os.environ.get("SLIPWAY_FUZZ_SEED", "20261122")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[StackProcess]:
    # No reconciler resends during the run: nothing would run them anyway.
    stack = StackProcess(
        runners=0,
        log_path=LOG_DIR / "stack-schemathesis.log",
        extra_env={"SLIPWAY_RECONCILE_AFTER_SECONDS": "3600"},
    )
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def secured() -> Iterator[StackProcess]:
    stack = StackProcess(
        runners=0,
        log_path=LOG_DIR / "stack-schemathesis-secured.log",
        extra_env={
            "SLIPWAY_RECONCILE_AFTER_SECONDS": "3600",
            "SLIPWAY_AUTH_BASIC_USERS": f"{USER}:{PASSWORD}",
            "SLIPWAY_AUTH_API_KEYS": "fuzz-key",
        },
    )
    stack.start()
    yield stack
    stack.stop()


def _schemathesis(base_url: str, workdir: Path, checks: tuple[str, ...], examples: str, *extra: str) -> str:
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        ",".join(checks),
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        examples,
        "--seed",
        SEED,
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(workdir / "junit.xml"),
        *extra,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=workdir, check=False)
    summary = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, summary
    # Every operation schemathesis found in the served document was selected and tested.
    selected = re.search(r"Selected: (\d+)/(\d+)", result.stdout)
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert selected and tested, summary
    assert selected[1] == selected[2] == tested[1] and int(tested[1]) >= 30, summary
    assert " passed" in result.stdout and "failed" not in result.stdout.split("SUMMARY")[-1], summary
    return result.stdout


def test_every_operation_answers_as_documented_and_never_5xx(fuzzed: StackProcess, tmp_path: Path):
    _schemathesis(fuzzed.base_url, tmp_path, CHECKS, EXAMPLES)


def test_with_auth_on_the_document_still_holds_and_no_route_ignores_it(secured: StackProcess, tmp_path: Path):
    # ignored_auth: each operation is also sent without (and with wrong) credentials and must refuse.
    output = _schemathesis(
        secured.base_url, tmp_path, (*CHECKS, "ignored_auth"), SECURED_EXAMPLES, "--auth", f"{USER}:{PASSWORD}"
    )
    assert "Authentication declared but not enforced" not in output
