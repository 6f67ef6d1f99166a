"""The ``cloudwatch`` metrics sink: what a process recorded, sent with ``PutMetricData``.

For the runner in AWS. A Lambda's stdout goes to its log group, where CloudWatch reads the EMF
documents; a runner's stdout goes to its Docker host's journal, where nothing does. So the runner
sends its values itself, under the namespace, names, units and dimensions the EMF documents use
(``domain/metric_data.py``), and the dashboard and alarms see one metric whichever process wrote
it.

A send never fails the work it measures: the flush that cannot reach CloudWatch (endpoint down,
throttled, credentials not there yet) logs it and keeps the values for the next flush, within
``metrics_backlog_values``; what CloudWatch refuses as malformed is logged and dropped (sending it
again would be refused again). Calls use ``METRICS_CONFIG``'s short timeouts, and the first call of
a flush that fails ends that flush: the rest waits with it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters import aws
from chalicelib.adapters.client_config import METRICS_CONFIG
from chalicelib.domain import metric_data
from chalicelib.domain.metric_data import Backlog, Datum
from chalicelib.domain.metrics import Metric
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)

# Errors that say "not now" rather than "never": the values are kept for the next flush.
_RETRYABLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable", "InternalFailure"}
)

# One flush sends at a time (the flusher thread and a stopping runner's last flush may meet).
_sending = threading.Lock()
_backlog: Backlog | None = None


def publish(recorded: Mapping[tuple[Metric, str | None], Sequence[float]], now: float | None = None) -> int:
    """Send what was recorded since the last flush, after what earlier flushes could not send;
    answers how many recorded values reached CloudWatch."""
    settings = get_settings()
    now = time.time() if now is None else now
    entries, refused = metric_data.datums(recorded, settings.metrics_service_name, now)
    if refused:
        logger.warning("left out %d metric values that CloudWatch refuses (NaN or infinite)", refused)
    with _sending:
        backlog = _the_backlog(settings.metrics_backlog_values)
        kept, expired = backlog.take(now)
        if expired:
            logger.error("dropped %d metric values older than CloudWatch accepts", _recorded(expired))
        pending = kept + entries  # oldest first
        if not pending:
            return 0
        sent, unsent = _send(metric_data.calls(pending, settings.metrics_namespace), settings.metrics_namespace)
        if unsent:
            _log_dropped(backlog.keep(unsent), backlog)
        return sent


def waiting() -> int:
    """How many recorded values wait for the next flush (what earlier flushes could not send)."""
    with _sending:
        return 0 if _backlog is None else _backlog.recorded


def forget_backlog() -> None:
    """Drop what waits and take ``metrics_backlog_values`` anew (tests that change the settings)."""
    global _backlog
    with _sending:
        _backlog = None


def _send(batches: list[list[Datum]], namespace: str) -> tuple[int, list[Datum]]:
    """Make the calls in order; answers (recorded values sent, the entries to keep)."""
    client = aws.client("cloudwatch", config=METRICS_CONFIG)
    sent = 0
    for index, batch in enumerate(batches):
        try:
            client.put_metric_data(Namespace=namespace, MetricData=[as_api_entry(entry) for entry in batch])
        except ClientError as error:
            if _retryable(error):
                return sent, _keep(batches[index:], error)
            logger.error("CloudWatch refused %d metric values (%s); dropped", _recorded(batch), _describe(error))
            continue
        except (BotoCoreError, OSError) as error:
            return sent, _keep(batches[index:], error)
        except Exception as error:  # a metric never fails the work it measures
            logger.exception("sending metric values to CloudWatch failed")
            return sent, _keep(batches[index:], error)
        sent += _recorded(batch)
    return sent, []


def _keep(batches: list[list[Datum]], error: BaseException) -> list[Datum]:
    kept = [entry for batch in batches for entry in batch]
    logger.warning(
        "could not send %d metric values to CloudWatch (%s); kept for the next flush",
        _recorded(kept),
        _describe(error),
    )
    return kept


def _retryable(error: ClientError) -> bool:
    response: dict[str, Any] = error.response
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return code in _RETRYABLE_CODES or status >= 500 or status == 429


def as_api_entry(entry: Datum) -> dict[str, Any]:
    """One ``MetricData`` entry of a ``PutMetricData`` call."""
    return {
        "MetricName": entry.name,
        "Unit": entry.unit,
        "Dimensions": [{"Name": name, "Value": value} for name, value in entry.dimensions],
        "Timestamp": datetime.fromtimestamp(entry.timestamp, tz=UTC),
        "Values": list(entry.values),
        "Counts": list(entry.counts),
    }


def _the_backlog(max_values: int) -> Backlog:
    global _backlog
    if _backlog is None:
        _backlog = Backlog(max_values)
    return _backlog


def _log_dropped(dropped: list[Datum], backlog: Backlog) -> None:
    if dropped:
        logger.error(
            "dropped the oldest %d metric values: at most %d distinct values wait for CloudWatch "
            "(SLIPWAY_METRICS_BACKLOG_VALUES)",
            _recorded(dropped),
            backlog.max_values,
        )


def _recorded(entries: Sequence[Datum]) -> int:
    return sum(entry.recorded for entry in entries)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]
