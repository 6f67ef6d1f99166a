"""The metrics as CloudWatch's ``PutMetricData`` takes them, as pure data (the ``cloudwatch``
sink of ``adapters/metrics.py``; ``adapters/cloudwatch_metrics.py`` makes the calls).

- ``datums``: the values a process recorded since its last flush, as ``MetricDatum`` entries with
  the namespace, names, units and dimensions of the EMF documents the Lambdas write (``service``,
  plus the metric's own dimension when it has a value), each distinct value once with its count
  (``Values``/``Counts``: CloudWatch keeps the distribution, so percentiles work as with EMF).
- ``calls``: those entries packed into calls within the API's limits.
- ``Backlog``: what could not be sent yet, bounded, oldest first.

The limits, from the ``PutMetricData`` reference: at most 150 values per metric with one request,
at most 1000 metrics per request, 1 MB per HTTP POST, timestamps no older than two weeks, and no
NaN or infinite value. "150 values per metric with one request" is read strictly: a call holds at
most one entry of a metric (name and dimensions), so a metric with more distinct values than that
goes out over several calls.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from chalicelib.domain.metrics import Metric

MAX_VALUES_PER_METRIC = 150
MAX_METRICS_PER_CALL = 1000
# 1 MB per call; what is packed stays under this estimate, which leaves room for the headers.
MAX_CALL_BYTES = 900_000
# CloudWatch refuses data points older than two weeks; an hour's margin for clocks and the send.
MAX_AGE_SECONDS = 14 * 24 * 3600 - 3600
SERVICE_DIMENSION = "service"

# The longest key of a field in the Query protocol's form encoding (the wordiest of the three
# encodings botocore may use: Query, JSON, CBOR), with its "=" and "&": sizes are estimated on it.
_FIELD_OVERHEAD = len("MetricData.member.1000.Dimensions.member.30.Value=&")
_NUMBER_CHARS = 24  # repr() of a float, at most


@dataclass(frozen=True)
class Datum:
    """One ``MetricDatum``: a metric's distinct values at one instant, each with its count."""

    name: str
    unit: str
    # (name, value) pairs, ``service`` first.
    dimensions: tuple[tuple[str, str], ...]
    # Seconds since the epoch (the flush that made it).
    timestamp: float
    values: tuple[float, ...]
    counts: tuple[float, ...]

    @property
    def identity(self) -> tuple[str, frozenset[tuple[str, str]]]:
        """What CloudWatch tells one metric from another by (the namespace aside)."""
        return self.name, frozenset(self.dimensions)

    @property
    def recorded(self) -> int:
        """How many recorded values this entry carries."""
        return int(sum(self.counts))

    def estimated_bytes(self) -> int:
        """An upper bound of this entry's size in a call (every text as if percent-encoded)."""
        texts = [self.name, self.unit, "2026-01-01T00:00:00.000000Z"]
        texts += [part for pair in self.dimensions for part in pair]
        numbers = 2 * len(self.values)
        return sum(_FIELD_OVERHEAD + 3 * len(text) for text in texts) + numbers * (_FIELD_OVERHEAD + _NUMBER_CHARS)


def datums(
    recorded: Mapping[tuple[Metric, str | None], Sequence[float]], service: str, timestamp: float
) -> tuple[list[Datum], int]:
    """The entries of what was recorded (by metric and dimension value), and how many values
    were left out because CloudWatch refuses them (NaN, infinities)."""
    made: list[Datum] = []
    refused = 0
    for (metric, dimension_value), values in recorded.items():
        finite = [float(v) for v in values if math.isfinite(v)]
        refused += len(values) - len(finite)
        if not finite:
            continue
        dimensions: tuple[tuple[str, str], ...] = ((SERVICE_DIMENSION, service),)
        if metric.dimension is not None and dimension_value is not None:
            dimensions += ((metric.dimension, dimension_value),)
        distinct = sorted(Counter(finite).items())
        for start in range(0, len(distinct), MAX_VALUES_PER_METRIC):
            chunk = distinct[start : start + MAX_VALUES_PER_METRIC]
            made.append(
                Datum(
                    name=metric.name,
                    unit=metric.unit.value,
                    dimensions=dimensions,
                    timestamp=timestamp,
                    values=tuple(value for value, _ in chunk),
                    counts=tuple(float(count) for _, count in chunk),
                )
            )
    return made, refused


def calls(entries: Sequence[Datum], namespace: str) -> list[list[Datum]]:
    """``entries`` packed into as few calls as the limits allow, in their order (an entry goes
    into the first call that has room and no entry of its metric yet)."""
    envelope = len("Action=PutMetricData&Version=2010-08-01&Namespace=") + 3 * len(namespace)
    packed: list[list[Datum]] = []
    sizes: list[int] = []
    # The first call an entry of each metric may still go into.
    first_free: dict[tuple[str, frozenset[tuple[str, str]]], int] = {}
    for entry in entries:
        size = entry.estimated_bytes()
        index = first_free.get(entry.identity, 0)
        while index < len(packed) and (
            len(packed[index]) >= MAX_METRICS_PER_CALL or (packed[index] and sizes[index] + size > MAX_CALL_BYTES)
        ):
            index += 1
        if index == len(packed):
            packed.append([])
            sizes.append(envelope)
        packed[index].append(entry)
        sizes[index] += size
        first_free[entry.identity] = index + 1
    return packed


def distinct_values(entries: Iterable[Datum]) -> int:
    return sum(len(entry.values) for entry in entries)


class Backlog:
    """The entries a flush could not send, oldest first, for the next flush: at most
    ``max_values`` distinct values, beyond which the oldest entries go (a CloudWatch outage costs
    the runner bounded memory). What is new in a flush is always sent; the bound applies to what
    is kept."""

    def __init__(self, max_values: int) -> None:
        self.max_values = max_values
        self._entries: list[Datum] = []

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def values(self) -> int:
        """The distinct values held (what the bound counts)."""
        return distinct_values(self._entries)

    @property
    def recorded(self) -> int:
        """The recorded values held (a distinct value counts as often as it was recorded)."""
        return sum(entry.recorded for entry in self._entries)

    def keep(self, entries: Sequence[Datum]) -> list[Datum]:
        """Keep ``entries`` (oldest first; taken earlier, so older than any held) before those
        held; answers the entries dropped to stay within the bound, the oldest."""
        self._entries[:0] = entries
        return self._trim()

    def take(self, now: float) -> tuple[list[Datum], list[Datum]]:
        """Everything held, emptying the backlog: (the entries to send, those too old for
        CloudWatch, dropped)."""
        held, self._entries = self._entries, []
        fresh = [entry for entry in held if now - entry.timestamp <= MAX_AGE_SECONDS]
        expired = [entry for entry in held if now - entry.timestamp > MAX_AGE_SECONDS]
        return fresh, expired

    def _trim(self) -> list[Datum]:
        excess = self.values - self.max_values
        cut = 0
        while excess > 0 and cut < len(self._entries):
            excess -= len(self._entries[cut].values)
            cut += 1
        dropped, self._entries = self._entries[:cut], self._entries[cut:]
        return dropped
