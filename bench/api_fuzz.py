"""Bad input against a real local stack: no answer ≥ 500, and nothing stored that strict JSON cannot read.

Two sources of requests, on one stack without a runner (nothing is run, only stored and queued):

1. hand-made bodies a new user (or an attacker) sends: metadata nested deep, huge, with NaN and
   Infinity (and numbers beyond a float), unicode of every kind, wrong types for every field,
   and a forged ``X-Forwarded-Host``;
2. schemathesis over the served ``/openapi.json`` (``--examples`` per operation).

Then every item of every table is read back and each JSON-bearing attribute is parsed strictly
(no NaN/Infinity, no lone surrogates): the count of items that fail is printed with the count of
answers ≥ 500. Usage: ``python -m bench.api_fuzz [--examples 25] [--seed N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from bench.figures import IMAGE
from infra.local.harness import StackProcess
from tests.conftest import LOG_DIR

FORGED_HOST = "attacker.example"


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    headers: dict[str, str]


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"n": value}
    return value


def _job(**fields: Any) -> dict[str, Any]:
    return {"image": IMAGE, "command": "true", **fields}


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def cases() -> Iterator[Case]:
    plain = {"Content-Type": "application/json"}

    def case(name: str, body: Any, headers: dict[str, str] | None = None) -> Case:
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        return Case(name, data, {**plain, **(headers or {})})

    yield case("metadata nested 600 deep", _job(metadata=_nested(600)))
    yield case("metadata nested 60 deep", _job(metadata=_nested(60)))
    yield case("envs value nested 600 deep", _job(envs={"A": _nested(600)}))
    yield case("80,000 CJK characters of metadata", _job(metadata={"text": "漢" * 80_000}))
    yield case("metadata of 5,000 keys", _job(metadata={f"k{i}": i for i in range(5000)}))
    yield case("NaN in metadata", b'{"image": "%s", "command": "true", "metadata": {"x": NaN}}' % IMAGE.encode())
    yield case(
        "Infinity in metadata", b'{"image": "%s", "command": "true", "metadata": {"x": Infinity}}' % IMAGE.encode()
    )
    yield case("-Infinity in envs", b'{"image": "%s", "command": "true", "envs": {"A": -Infinity}}' % IMAGE.encode())
    yield case("1e400 in metadata", b'{"image": "%s", "command": "true", "metadata": {"x": 1e400}}' % IMAGE.encode())
    yield case("NaN as timeout", b'{"image": "%s", "command": "true", "timeout": NaN}' % IMAGE.encode())
    yield case("1e400 as startAt", b'{"image": "%s", "command": "true", "startAt": 1e400}' % IMAGE.encode())
    surrogate = '{"image": "' + IMAGE + '", "command": "true", "metadata": {"x": "\\ud800"}}'
    yield case("lone surrogate in metadata", _raw(surrogate))
    yield case("NUL, RTL and emoji in metadata", _job(metadata={"x": "a\u0000b\u202e🦀\U0010ffff"}))
    yield case("NUL in command", _job(command="echo a\u0000b"))
    yield case("NUL in an env name", _job(envs={"A\u0000B": "x"}))
    yield case("duplicate keys", b'{"image": "%s", "image": 5, "command": "true"}' % IMAGE.encode())
    for field, value in [
        ("image", 5),
        ("image", ""),
        ("image", "x" * 5000),
        ("command", []),
        ("command", {"a": 1}),
        ("envs", "A=B"),
        ("envs", {"A": {"b": 1}}),
        ("retries", "3"),
        ("retries", -1),
        ("retries", 10**30),
        ("timeout", -1),
        ("timeout", 1.5),
        ("startAt", "tomorrow"),
        ("startIn", 5),
        ("startIn", "9999999999h"),
        ("cron", 5),
        ("cron", "* * * * * * * *"),
        ("webhooks", "http://x"),
        ("webhooks", {"succeeds": [{"url": 5}]}),
        ("notify", {"succeeds": ["not-an-address"]}),
        ("metadata", []),
        ("retryBackoff", {"minMs": "x"}),
    ]:
        yield case(f"{field} = {json.dumps(value)[:30]}", _job(**{field: value}))
    yield case("a JSON array", [1, 2])
    yield case("a JSON string", "job")
    yield case("not JSON", b"{image: busybox")
    yield case("invalid UTF-8", b'{"image": "\xff\xfe"}')
    yield case("forged X-Forwarded-Host", _job(), {"X-Forwarded-Host": FORGED_HOST})
    yield case("X-Forwarded-Host with a path", _job(), {"X-Forwarded-Host": 'a.example/"><script>'})


def run_cases(stack: StackProcess) -> list[tuple[str, int, bool]]:
    """(case, status, forged host echoed) of each hand-made request."""
    results = []
    session = requests.Session()
    for n, item in enumerate(cases()):
        response = session.post(f"{stack.base_url}/tasks/fuzz-{n}/", data=item.body, headers=item.headers, timeout=60)
        echoed = FORGED_HOST in response.text or "<script>" in response.text
        results.append((item.name, response.status_code, echoed))
    return results


def run_schemathesis(stack: StackProcess, examples: int, seed: int) -> tuple[int, int]:
    """(operations' requests with an answer ≥ 500, exit code) of a schemathesis run."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{stack.base_url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(examples),
        "--seed",
        str(seed),
        "--phases",
        "examples,coverage,fuzzing",
        "--no-color",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False)
    output = completed.stdout + completed.stderr
    (LOG_DIR / "api-fuzz-schemathesis.log").write_text(output)
    server_errors = len(re.findall(r"Server error", output))
    return server_errors, completed.returncode


def _strict(text: str) -> bool:
    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        value = json.loads(text, parse_constant=refuse)
        json.dumps(value, allow_nan=False).encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return False
    return True


def stored_items_failing_strict_json(stage: str) -> tuple[int, int]:
    """(items read, items with an attribute strict JSON cannot read) over every table of ``stage``."""
    from boto3.dynamodb.types import TypeDeserializer

    from chalicelib.adapters.aws import client

    dynamodb = client("dynamodb")
    deserializer = TypeDeserializer()
    seen = failing = 0
    for table in dynamodb.list_tables()["TableNames"]:
        if not table.startswith(f"{stage}-"):
            continue
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for raw in page["Items"]:
                seen += 1
                item = {key: deserializer.deserialize(value) for key, value in raw.items()}
                texts = [v for v in item.values() if isinstance(v, str) and v[:1] in "{["]
                if not all(_strict(text) for text in texts):
                    failing += 1
    return seen, failing


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.api_fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=25, help="schemathesis examples per operation")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--no-schemathesis", action="store_true", help="the hand-made bodies only")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stack = StackProcess(
        runners=0,
        log_path=LOG_DIR / "api-fuzz.log",
        extra_env={"SLIPWAY_RECONCILE_AFTER_SECONDS": "3600"},
    )
    os.environ.update(stack.client_env())
    with stack:
        results = run_cases(stack)
        width = max(len(name) for name, _, _ in results)
        print(f"{'hand-made request':<{width}}  status  forged host in answer")
        for name, status, echoed in results:
            print(f"{name:<{width}}  {status:>6}  {'YES' if echoed else 'no'}")
        hand_5xx = sum(1 for _, status, _ in results if status >= 500)
        echoed = sum(1 for _, _, e in results if e)
        fuzz_5xx, code = (0, 0) if args.no_schemathesis else run_schemathesis(stack, args.examples, args.seed)
        seen, failing = stored_items_failing_strict_json(stack.stage)
    print()
    print(f"hand-made requests: {len(results)}, answers >= 500: {hand_5xx}, forged host echoed: {echoed}")
    if not args.no_schemathesis:
        run = f"schemathesis ({args.examples} examples/operation, seed {args.seed})"
        print(f"{run}: server errors {fuzz_5xx}, exit {code}")
    print(f"stored items read back: {seen}, failing a strict JSON round trip: {failing}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
