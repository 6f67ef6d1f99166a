"""Webhook delivery latency: execution end (its ``finishedAt``) → the POST's arrival at a real
HTTP receiver in this process; likewise container start (``startedAt``) → the ``starts`` POST.

Runs ``--jobs`` jobs (default 20), one after the other, on a fresh local stack, each with a
``starts`` and a ``finishes`` hook, and prints p50/p90/max. Also times the one thing the
runner adds to its own path per execution that asks for notifications: one SQS send of the
event to the notifications queue (after the end is stored).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from bench.figures import IMAGE, RESULTS, iso_seconds, percentile
from infra.local.harness import StackProcess


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.time()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.arrivals[(body["executionId"], body["event"])] = (arrived, body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait(self, key: tuple[str, str], timeout: float = 60.0) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if key in self.arrivals:
                return self.arrivals[key]
            time.sleep(0.005)
        raise TimeoutError(f"no {key[1]} POST for {key[0]} within {timeout} s")


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p90_ms": round(percentile(values, 90) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def _publish_cost(stack: StackProcess, sends: int) -> list[float]:
    os.environ.update(stack.client_env())
    from chalicelib.adapters import notification_queue

    notification_queue.publish({"type": "bench-warm-up"})
    costs = []
    for _ in range(sends):
        started = time.perf_counter()
        notification_queue.publish({"type": "bench", "note": "ignored by the consumer (reported, then parked)"})
        costs.append(time.perf_counter() - started)
    return costs


def run(jobs: int) -> dict[str, Any]:
    receiver = Receiver()
    hooks = {"starts": [{"url": receiver.url("/starts")}], "finishes": [{"url": receiver.url("/finishes")}]}
    with StackProcess(log_path=RESULTS / "webhook_latency_stack.log") as stack:
        session = requests.Session()
        ends: list[float] = []
        starts: list[float] = []
        for _ in range(jobs):
            body = session.post(
                f"{stack.base_url}/tasks/webhook-latency/",
                json={"image": IMAGE, "command": "true", "webhooks": hooks},
                timeout=30,
            ).json()
            execution_id = body["executionId"]
            arrived, payload = receiver.wait((execution_id, "finishes"))
            ends.append(arrived - iso_seconds(payload["finishedAt"]))
            started_arrival, started_payload = receiver.wait((execution_id, "starts"))
            starts.append(started_arrival - iso_seconds(started_payload["startedAt"]))
        publish = _publish_cost(stack, 50)
    receiver.server.shutdown()
    return {
        "end_to_finishes_post": _summary(ends),
        "start_to_starts_post": _summary(starts),
        "runner_event_publish": _summary(publish),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    figures = run(args.jobs)
    for name, summary in figures.items():
        print(
            f"{name:24} n={summary['n']:3}  p50 {summary['p50_ms']:7.1f} ms  "
            f"p90 {summary['p90_ms']:7.1f} ms  max {summary['max_ms']:7.1f} ms"
        )
    (RESULTS / "webhook_latency.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
