"""The health check: each dependency is tried and reported on its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters import job_queue, log_store, task_repository
from chalicelib.services.views import Health
from chalicelib.settings import get_settings


def _checks() -> dict[str, Callable[[], object]]:
    return {
        "dynamodb": task_repository.ping,
        # The first pool's job queue (the default pool's when no pools are configured).
        "sqs": lambda: job_queue.approximate_length(get_settings().pool_queue(get_settings().pool_list[0].name)),
        "s3": log_store.bucket_reachable,
    }


def check() -> tuple[bool, Health]:
    errors: list[dict[str, Any]] = []
    reached: dict[str, bool] = {}
    for name, probe in _checks().items():
        try:
            probe()
            reached[name] = True
        except Exception as exc:  # noqa: BLE001 - any failure is the answer here
            reached[name] = False
            errors.append({"dependency": name, "error": f"{type(exc).__name__}: {exc}"})
    report: Health = {"errors": errors, "dynamodb": reached["dynamodb"], "sqs": reached["sqs"], "s3": reached["s3"]}
    return not errors, report
